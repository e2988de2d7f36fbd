// A minimal Majordomo (MDP/0.2) broker on zeromq.js, for comparison with `purezmq broker` in the bench:
// the same logic (one ROUTER, a queue and LRU idle workers per service, FINAL/PARTIAL relayed to the
// client), without heartbeats, expiry or MMI, which the bench does not need.
//
//   node bench/zeromq-broker.mjs --bind tcp://127.0.0.1:5555
//
// Prints "listening on EP" once bound, like `purezmq broker`.
import { Router } from 'zeromq';

process.on('SIGTERM', () => process.exit(0)); // lets --cpu-prof write its profile

const bindAt = process.argv.indexOf('--bind');
const endpoint = bindAt > 0 ? process.argv[bindAt + 1] : 'tcp://127.0.0.1:5555';

const C = Buffer.from('MDPC02');
const W = Buffer.from('MDPW02');
const EMPTY = Buffer.alloc(0);
const REQUEST = Buffer.of(0x02);
const TO_CLIENT = { 0x03: Buffer.of(0x02), 0x04: Buffer.of(0x03) }; // worker PARTIAL/FINAL -> client PARTIAL/FINAL

/** service name -> { name, requests: [[client, ...body]], idle: [worker] } */
const services = new Map();
/** worker identity (latin1) -> { id, service } */
const workers = new Map();

function serviceFor(name) {
  let s = services.get(name);
  if (!s) services.set(name, (s = { name: Buffer.from(name, 'latin1'), requests: [], idle: [] }));
  return s;
}

const router = new Router({ sendHighWaterMark: 1000, receiveHighWaterMark: 1000 });
await router.bind(endpoint);
console.log(`listening on ${router.lastEndpoint}`);

async function dispatch(service) {
  while (service.requests.length > 0 && service.idle.length > 0) {
    const worker = service.idle.shift(); // least recently used
    const [client, ...body] = service.requests.shift();
    await router.send([worker.id, W, REQUEST, client, EMPTY, ...body]);
  }
}

for await (const [sender, header, command, ...rest] of router) {
  if (header === undefined || command === undefined) continue;
  if (header.equals(C)) {
    if (command[0] !== 0x01 || rest.length < 1) continue;
    const [name, ...body] = rest;
    const service = serviceFor(name.toString('latin1'));
    service.requests.push([sender, ...body]);
    await dispatch(service);
  } else if (header.equals(W)) {
    const key = sender.toString('latin1');
    const cmd = command[0];
    if (cmd === 0x01 && rest.length === 1 && !workers.has(key)) {
      const service = serviceFor(rest[0].toString('latin1'));
      const worker = { id: sender, service };
      workers.set(key, worker);
      service.idle.push(worker);
      await dispatch(service);
    } else if ((cmd === 0x03 || cmd === 0x04) && rest.length >= 2) {
      const worker = workers.get(key);
      if (!worker) continue;
      const [client, , ...body] = rest;
      await router.send([client, C, TO_CLIENT[cmd], worker.service.name, ...body]);
      if (cmd === 0x04) {
        worker.service.idle.push(worker);
        await dispatch(worker.service);
      }
    } else if (cmd === 0x06) {
      const worker = workers.get(key);
      if (worker) {
        workers.delete(key);
        const i = worker.service.idle.indexOf(worker);
        if (i >= 0) worker.service.idle.splice(i, 1);
      }
    }
    // HEARTBEAT (0x05): nothing to do without liveness tracking
  }
}

// One side of a loopback benchmark, in its own process.
// node bench/peer.mjs <impl: purezmq|zeromq> <role> <endpoint> <size> <count>
// roles: router-recv (bind ROUTER, count messages), dealer-send (connect DEALER, await send() each),
//        router-echo (bind ROUTER, echo), dealer-ping (connect DEALER, ping-pong, report latencies),
//        pub-send / sub-recv (PUB binds, SUBs connect)
import { performance } from 'node:perf_hooks';

const [impl, role, endpoint, sizeText, countText] = process.argv.slice(2);
const size = Number(sizeText);
const count = Number(countText);
const zmq = impl === 'zeromq' ? await import('zeromq') : await import('../dist/mod.js');

function send(msg) {
  try {
    process.send?.(msg);
  } catch {
    // the harness went away; nothing to report to
  }
}

const payload = Buffer.alloc(size, 0x61);

async function main() {
  switch (role) {
    case 'router-recv': {
      const s = new zmq.Router({ receiveHighWaterMark: 10000 });
      await s.bind(endpoint);
      send({ ready: s.lastEndpoint });
      let n = 0;
      let t0 = 0;
      for await (const msg of s) {
        if (n === 0) t0 = performance.now();
        n++;
        if (n === count) {
          const ms = performance.now() - t0;
          send({ done: true, ms, bytes: msg[1].length });
          break;
        }
      }
      s.close();
      break;
    }
    case 'dealer-send': {
      const s = new zmq.Dealer({ sendHighWaterMark: 10000 });
      s.connect(endpoint);
      for (let i = 0; i < count; i++) await s.send(payload);
      send({ sent: true });
      // stay until told to stop, so linger does not cut the tail
      process.on('message', (m) => m === 'stop' && (s.close(), process.exit(0)));
      break;
    }
    case 'router-echo': {
      const s = new zmq.Router();
      await s.bind(endpoint);
      send({ ready: s.lastEndpoint });
      for await (const msg of s) await s.send(msg);
      break;
    }
    case 'dealer-ping': {
      const s = new zmq.Dealer();
      s.connect(endpoint);
      const samples = [];
      for (let i = 0; i < count + 200; i++) {
        const t = performance.now();
        await s.send(payload);
        await s.receive();
        if (i >= 200) samples.push(performance.now() - t); // first 200 warm up
      }
      samples.sort((a, b) => a - b);
      send({ done: true, p50: samples[samples.length >> 1] * 1000, p99: samples[Math.floor(samples.length * 0.99)] * 1000 });
      s.close();
      break;
    }
    case 'pub-send': {
      const s = new zmq.Publisher({ sendHighWaterMark: 100000 });
      await s.bind(endpoint);
      send({ ready: s.lastEndpoint });
      process.on('message', async (m) => {
        if (m !== 'go') return;
        for (let i = 0; i < count; i++) await s.send(payload);
        send({ sent: true });
      });
      break;
    }
    case 'sub-recv': {
      const s = new zmq.Subscriber({ receiveHighWaterMark: 100000 });
      s.connect(endpoint);
      s.subscribe();
      send({ subscribed: true });
      let n = 0;
      let t0 = 0;
      for await (const msg of s) {
        if (msg.length === 1 && msg[0].length === 0) continue; // warm-up probes
        if (n === 0) t0 = performance.now();
        n++;
        if (n === count) {
          send({ done: true, ms: performance.now() - t0 });
          break;
        }
      }
      s.close();
      break;
    }
    default:
      throw new Error(`unknown role ${role}`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

// Memory benchmarks, each run in a child process started with --expose-gc by bench/loopback.mjs.
//
//   node --expose-gc bench/memory.mjs '{"mode":"heap","impl":"purezmq","count":1000000,"size":16}'
//     In-process DEALER -> ROUTER over tcp, `await send()` / `await receive()`: heapUsed after a
//     warm-up and gc, the peak sampled every 10 k messages over `count` messages, and after gc.
//   node --expose-gc bench/memory.mjs '{"mode":"conns-router","impl":"zeromq"}'
//     Binds a ROUTER, answers one message per peer, and on 'measure' reports memory after gc; the
//     baseline is taken after bind, so the delta is what the connections cost.
//   node bench/memory.mjs '{"mode":"conns-swarm","endpoint":"tcp://...","conns":10000,"batch":100}'
//     purezmq DEALERs (one socket = one fd), connected in batches, each doing one round trip.
import { setTimeout as sleep } from 'node:timers/promises';

const cfg = JSON.parse(process.argv[2]);
const zmq = cfg.impl === 'zeromq' ? await import('zeromq') : await import('../dist/mod.js');

function report(msg) {
  try {
    process.send?.(msg);
  } catch {
    // harness gone
  }
}
process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0)); // the harness stops a profiled peer this way (--cpu-prof writes at exit)

async function settle() {
  // let close/free callbacks run, then collect twice (weak callbacks free external memory on the second)
  await sleep(50);
  global.gc?.();
  await sleep(10);
  global.gc?.();
  return process.memoryUsage();
}

async function heap() {
  const size = cfg.size ?? 16;
  const payload = Buffer.alloc(size, 0x61);
  const r = new zmq.Router();
  await r.bind('tcp://127.0.0.1:*');
  const d = new zmq.Dealer();
  d.connect(r.lastEndpoint);
  let peak = 0;
  let peakExternal = 0;
  const pump = async (n, sample) => {
    const recv = (async () => {
      for (let k = 1; k <= n; k++) {
        const msg = await r.receive();
        if (msg[1].length !== size) throw new Error('bad message');
        if (sample && k % 10000 === 0) {
          const m = process.memoryUsage();
          if (m.heapUsed > peak) peak = m.heapUsed;
          if (m.external > peakExternal) peakExternal = m.external;
        }
      }
    })();
    for (let i = 0; i < n; i++) await d.send(payload);
    await recv;
  };
  await pump(Math.min(50000, cfg.count), false); // warm-up: JIT, buffers, pools
  const before = await settle();
  const t0 = performance.now();
  await pump(cfg.count, true);
  const ms = performance.now() - t0;
  const after = await settle();
  d.close();
  r.close();
  report({
    done: true,
    before: before.heapUsed,
    after: after.heapUsed,
    peak,
    externalBefore: before.external,
    externalAfter: after.external,
    peakExternal,
    rssBefore: before.rss,
    rssAfter: after.rss,
    msgsPerSec: (cfg.count / ms) * 1000,
  });
}

async function connsRouter() {
  const r = new zmq.Router(cfg.options ?? {});
  await r.bind('tcp://127.0.0.1:*');
  const base = await settle();
  report({ ready: r.lastEndpoint });
  process.on('message', async (m) => {
    if (m !== 'measure') return;
    await sleep(200); // let every handshake and its buffers settle
    const now = await settle();
    report({
      done: true,
      heapDelta: now.heapUsed - base.heapUsed,
      externalDelta: now.external - base.external,
      arrayBuffersDelta: now.arrayBuffers - base.arrayBuffers,
      rssDelta: now.rss - base.rss,
    });
  });
  const ok = Buffer.from('ok');
  for await (const [id] of r) await r.send([id, ok]);
}

async function connsSwarm() {
  // more sockets than a context allows by default (1023, as libzmq): a context sized for them
  const context = new zmq.Context({ maxSockets: cfg.conns + 10 });
  const dealers = [];
  const t0 = performance.now();
  for (let i = 0; i < cfg.conns; i += cfg.batch) {
    const batch = [];
    for (let j = i; j < Math.min(cfg.conns, i + cfg.batch); j++) {
      const d = new zmq.Dealer({ context });
      d.connect(cfg.endpoint);
      batch.push(d);
    }
    await Promise.all(
      batch.map(async (d) => {
        await d.send('hi');
        await d.receive();
      }),
    );
    dealers.push(...batch);
  }
  report({ connected: dealers.length, ms: performance.now() - t0 });
  await new Promise(() => {}); // hold the connections until killed
}

const modes = { heap, 'conns-router': connsRouter, 'conns-swarm': connsSwarm };
modes[cfg.mode]().catch((err) => {
  console.error(`memory ${cfg.mode} ${cfg.impl ?? ''}:`, err);
  report({ error: String(err?.stack ?? err) });
  process.exit(1);
});

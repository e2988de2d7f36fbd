// One side of a loopback benchmark, in its own process, written the way users write it:
// `await send()` for every message, `for await` / `await receive()` on the other side.
//
//   node bench/peer.mjs '<json config>'
//
// config: { impl: 'purezmq' | 'zeromq', role, endpoint, size, options?, warmupMs, windowMs, count, ... }
// Reports to the harness over the fork() IPC channel; the harness SIGKILLs the peer when it is done.
//
// roles
//   router-recv     bind ROUTER, count messages; after warmupMs from the first message, time a window of
//                   windowMs from one message to a later one (messages/s, MB/s)
//   router-first    bind ROUTER, time the first `count` messages it receives (cold start)
//   dealer-send     connect DEALER, `await send(payload)` forever
//   router-echo     bind ROUTER, echo every message
//   dealer-ping     connect DEALER, ping-pong: `count` round trips after `warmup` ones; p50/p99
//   handshake-loop  new DEALER, connect, send, receive the echo, close; repeated for windowMs after warmupMs
//   pub-send        bind PUB; send probes every 20 ms until 'go', then `count` messages
//   sub-recv        connect SUB; report the first probe; time messages count/10 .. count
//   mdp-workers     `workers` MDP/0.2 echo workers (frame by frame, on either library)
//   mdp-wait        polls mmi.service `service` until it answers 200 (a cluster has spread the news)
//   mdp-clients     `clients` MDP/0.2 clients with `inflight` requests outstanding each; requests/s over a window
//   mdp-probe       one synchronous MDP/0.2 client timing each round trip; after an 'attack' message from the
//                   harness its samples go to a second bucket; 'report' ends it: p50/p99 before and during
//   mdp-attack      abuse of the broker (kind: spray = new service names, bytes = 256 KiB requests to
//                   worker-less services, unknown = requests to one worker-less service, mmi = 16 clients
//                   asking mmi.broker in a loop), until killed
//   titanic-clients `clients` loops of titanic.request, titanic.reply until 200, titanic.close (MDP/0.2);
//                   cycles/s over a window, and the p50 of titanic.request
import { performance } from 'node:perf_hooks';

const cfg = JSON.parse(process.argv[2]);
const { role, endpoint } = cfg;
const size = cfg.size ?? 16;
const zmq = cfg.impl === 'zeromq' ? await import('zeromq') : await import('../dist/mod.js');

function report(msg) {
  try {
    process.send?.(msg);
  } catch {
    // the harness went away; nothing to report to
  }
}
process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0)); // the harness stops a profiled peer this way (--cpu-prof writes at exit)

const payload = Buffer.alloc(size, 0x61);
const opts = cfg.options ?? {};

/**
 * Time a window of `windowMs` after `warmupMs` of traffic; `tick()` is called per message and returns
 * true once the window is over. Reading the clock costs ~40 ns, so it looks every `every` (a power of 2)
 * messages.
 */
function windowTimer(warmupMs, windowMs, onDone, every = size < 16384 ? 32 : 1) {
  let n = 0;
  let first = 0;
  let t0 = 0;
  let n0 = 0;
  let finished = false;
  return {
    tick() {
      n++;
      if (finished || (n & (every - 1)) !== 0) return finished;
      const now = performance.now();
      if (first === 0) first = now;
      else if (t0 === 0) {
        if (now - first >= warmupMs) {
          t0 = now;
          n0 = n;
        }
      } else if (now - t0 >= windowMs) {
        finished = true;
        onDone(n - n0, now - t0);
      }
      return finished;
    },
  };
}

async function main() {
  switch (role) {
    case 'router-recv': {
      const s = new zmq.Router(opts);
      await s.bind(endpoint);
      report({ ready: s.lastEndpoint });
      let result = null;
      const timer = windowTimer(cfg.warmupMs, cfg.windowMs, (msgs, ms) => (result = { msgs, ms }));
      let checked = false;
      for await (const msg of s) {
        if (!checked) {
          checked = true;
          if (msg.length !== 2 || msg[1].length !== size) throw new Error(`bad message: ${msg.length} frames, body ${msg[1]?.length}`);
        }
        if (timer.tick()) break;
      }
      report({ done: true, ...result, msgsPerSec: (result.msgs / result.ms) * 1000, mbPerSec: (result.msgs * size) / 1e3 / result.ms });
      break;
    }
    case 'router-first': {
      // cold start: the first `count` messages a fresh process receives, first to last (JIT warm-up included)
      const s = new zmq.Router(opts);
      await s.bind(endpoint);
      report({ ready: s.lastEndpoint });
      let n = 0;
      let t0 = 0;
      for await (const _ of s) {
        if (n++ === 0) t0 = performance.now();
        if (n === cfg.count) break;
      }
      const ms = performance.now() - t0;
      report({ done: true, ms, msgsPerSec: ((cfg.count - 1) / ms) * 1000 });
      break;
    }
    case 'dealer-send': {
      const s = new zmq.Dealer(opts);
      s.connect(endpoint);
      for (;;) await s.send(payload);
    }
    case 'router-echo': {
      const s = new zmq.Router(opts);
      await s.bind(endpoint);
      report({ ready: s.lastEndpoint });
      for await (const msg of s) await s.send(msg);
      break;
    }
    case 'dealer-ping': {
      const s = new zmq.Dealer(opts);
      s.connect(endpoint);
      const samples = [];
      const warmup = cfg.warmup ?? 500;
      for (let i = 0; i < cfg.count + warmup; i++) {
        const t = performance.now();
        await s.send(payload);
        const [reply] = await s.receive();
        if (i >= warmup) samples.push(performance.now() - t);
        else if (reply.length !== size) throw new Error('bad echo');
      }
      samples.sort((a, b) => a - b);
      report({ done: true, p50us: samples[samples.length >> 1] * 1000, p99us: samples[Math.floor(samples.length * 0.99)] * 1000 });
      break;
    }
    case 'handshake-loop': {
      // connect + CURVE handshake + first message + close, one connection at a time
      const once = async () => {
        const s = new zmq.Dealer({ ...opts, linger: 0 });
        try {
          s.connect(endpoint);
          await s.send(payload);
          await s.receive();
        } finally {
          s.close();
        }
      };
      let result = null;
      const timer = windowTimer(cfg.warmupMs, cfg.windowMs, (n, ms) => (result = { n, ms }), 1);
      for (;;) {
        await once();
        if (timer.tick()) break;
      }
      report({ done: true, perSec: (result.n / result.ms) * 1000 });
      break;
    }
    case 'pub-send': {
      const s = new zmq.Publisher(opts);
      await s.bind(endpoint);
      report({ ready: s.lastEndpoint });
      const probe = Buffer.from('p');
      let probing = null;
      const probeTimer = setInterval(() => {
        if (!probing) probing = s.send(probe).finally(() => (probing = null));
      }, 20);
      process.on('message', async (m) => {
        if (m !== 'go') return;
        clearInterval(probeTimer);
        await probing;
        for (let i = 0; i < cfg.count; i++) await s.send(payload);
        report({ sent: true });
      });
      return; // stays up until killed
    }
    case 'sub-recv': {
      const s = new zmq.Subscriber(opts);
      s.connect(endpoint);
      s.subscribe();
      let n = 0;
      let t0 = 0;
      const warm = Math.floor(cfg.count / 10);
      let probed = false;
      for await (const msg of s) {
        if (msg[0].length !== size) {
          if (!probed) report({ probed: (probed = true) });
          continue;
        }
        n++;
        if (n === warm) t0 = performance.now();
        if (n === cfg.count) {
          const ms = performance.now() - t0;
          report({ done: true, ms, msgsPerSec: ((cfg.count - warm) / ms) * 1000 });
          break;
        }
      }
      break;
    }
    case 'mdp-workers': {
      const W = Buffer.from('MDPW02');
      const service = Buffer.from(cfg.service ?? 'echo');
      const ready = Buffer.of(0x01);
      const final = Buffer.of(0x04);
      const heartbeat = Buffer.of(0x05);
      const run = async () => {
        const s = new zmq.Dealer(opts);
        s.connect(endpoint);
        await s.send([W, ready, service]);
        for await (const [header, cmd, ...rest] of s) {
          if (!header.equals(W)) throw new Error('worker: bad header');
          if (cmd[0] === 0x02) await s.send([W, final, ...rest]); // rest = client, '', body...
          else if (cmd[0] === 0x05) await s.send([W, heartbeat]);
          else if (cmd[0] === 0x06) break;
        }
      };
      report({ ready: true });
      await Promise.all(Array.from({ length: cfg.workers }, run));
      break;
    }
    case 'mdp-clients': {
      const C = Buffer.from('MDPC02');
      const request = Buffer.of(0x01);
      const service = Buffer.from(cfg.service ?? 'echo');
      const inflight = cfg.inflight ?? 1;
      let result = null;
      let done = false;
      let replies = 0;
      let first = 0;
      let t0 = 0;
      let n0 = 0;
      const tick = () => {
        replies++;
        const now = performance.now();
        if (first === 0) first = now;
        else if (t0 === 0) {
          if (now - first >= cfg.warmupMs) {
            [t0, n0] = [now, replies];
            report({ windowStart: true }); // the harness reads the broker's CPU time now and at 'done'
          }
        } else if (now - t0 >= cfg.windowMs) {
          done = true;
          result = { n: replies - n0, ms: now - t0 };
        }
      };
      const run = async () => {
        const s = new zmq.Dealer(opts);
        s.connect(endpoint);
        const samples = [];
        // `inflight` requests outstanding: send them, then one more for each reply (FINAL)
        for (let i = 0; i < inflight; i++) await s.send([C, request, service, payload]);
        let sentAt = performance.now();
        while (!done) {
          const [header, cmd, , body] = await s.receive();
          if (!header.equals(C) || cmd[0] !== 0x03 || body.length !== size) throw new Error('client: bad reply');
          tick();
          if (inflight === 1 && t0 !== 0) samples.push(performance.now() - sentAt); // round trips in the window
          if (done) break;
          sentAt = performance.now();
          await s.send([C, request, service, payload]);
        }
        s.close();
        return samples;
      };
      const all = (await Promise.all(Array.from({ length: cfg.clients }, run))).flat().sort((a, b) => a - b);
      report({ done: true, perSec: (result.n / result.ms) * 1000, p50us: all.length ? all[all.length >> 1] * 1000 : undefined });
      break;
    }
    case 'mdp-wait': {
      // polls mmi.service until the service has a worker (anywhere in a cluster), for up to 20 s
      const C = Buffer.from('MDPC02');
      const end = Date.now() + 20000;
      for (;;) {
        const s = new zmq.Dealer({ receiveTimeout: 1000, linger: 0 });
        s.connect(endpoint);
        let code = '';
        try {
          await s.send([C, Buffer.of(1), Buffer.from('mmi.service'), Buffer.from(cfg.service ?? 'echo')]);
          const reply = await s.receive();
          code = reply[reply.length - 1].toString();
        } catch {
          // no answer yet
        }
        s.close();
        if (code === '200') break;
        if (Date.now() > end) throw new Error(`mdp-wait: ${cfg.service ?? 'echo'} never got a worker`);
        await new Promise((r) => setTimeout(r, 50));
      }
      report({ done: true });
      break;
    }
    case 'mdp-probe': {
      const C = Buffer.from('MDPC02');
      const s = new zmq.Dealer({ receiveTimeout: 5000 });
      s.connect(endpoint);
      const buckets = [[], []];
      let phase = 0;
      let stop = false;
      process.on('message', (m) => {
        if (m === 'attack') phase = 1;
        if (m === 'report') stop = true;
      });
      report({ ready: true });
      while (!stop) {
        const t0 = performance.now();
        await s.send([C, Buffer.of(1), Buffer.from('echo'), payload]);
        try {
          await s.receive();
        } catch {
          // no reply in 5 s (refused, or lost): counted as a 5 s round trip; a late reply is then out of step, so start over
          buckets[phase].push(5000);
          break;
        }
        buckets[phase].push(performance.now() - t0);
        if (buckets[phase].length % 64 === 0) await new Promise((r) => setImmediate(r)); // let 'report' in
      }
      const pct = (xs, q) => {
        const sorted = [...xs].sort((a, b) => a - b);
        return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] * 1000 : NaN;
      };
      report({ done: true, before: { p50us: pct(buckets[0], 0.5), p99us: pct(buckets[0], 0.99), n: buckets[0].length }, during: { p50us: pct(buckets[1], 0.5), p99us: pct(buckets[1], 0.99), n: buckets[1].length } });
      break;
    }
    case 'mdp-attack': {
      const C = Buffer.from('MDPC02');
      const request = Buffer.of(1);
      report({ ready: true });
      if (cfg.kind === 'mmi') {
        await Promise.all(
          Array.from({ length: 16 }, async () => {
            const s = new zmq.Dealer();
            s.connect(endpoint);
            for (;;) {
              await s.send([C, request, Buffer.from('mmi.broker'), Buffer.alloc(0)]);
              await s.receive();
            }
          }),
        );
      }
      const s = new zmq.Dealer({ sendHighWaterMark: 1000 });
      s.connect(endpoint);
      const big = Buffer.alloc(256 * 1024, 0x62);
      for (let i = 0; ; i++) {
        if (cfg.kind === 'spray') await s.send([C, request, Buffer.from(`spray-${i}`), payload]);
        else if (cfg.kind === 'bytes') await s.send([C, request, Buffer.from(`hoard-${i % 2000}`), big]);
        else await s.send([C, request, Buffer.from('nobody'), payload]);
      }
    }
    case 'titanic-clients': {
      const C = Buffer.from('MDPC02');
      const request = Buffer.of(0x01);
      const call = async (s, service, body) => {
        await s.send([C, request, Buffer.from(service), ...body]);
        const [header, cmd, , ...reply] = await s.receive();
        if (!header.equals(C) || cmd[0] !== 0x03) throw new Error('titanic client: bad reply');
        return reply;
      };
      let done = false;
      let cycles = 0;
      let t0 = 0;
      let n0 = 0;
      let result = null;
      const started = performance.now();
      const samples = [];
      const run = async () => {
        const s = new zmq.Dealer();
        s.connect(endpoint);
        while (!done) {
          const sentAt = performance.now();
          const [status, uuid] = await call(s, 'titanic.request', [Buffer.from('echo'), payload]);
          if (String(status) !== '200') throw new Error(`titanic.request answered ${status}`);
          if (t0 !== 0) samples.push(performance.now() - sentAt);
          for (;;) {
            const [code] = await call(s, 'titanic.reply', [uuid]);
            if (String(code) === '200') break;
            if (String(code) !== '300') throw new Error(`titanic.reply answered ${code}`);
            await new Promise((r) => setTimeout(r, 1));
          }
          await call(s, 'titanic.close', [uuid]);
          cycles++;
          const now = performance.now();
          if (t0 === 0 && now - started >= cfg.warmupMs) [t0, n0] = [now, cycles];
          else if (t0 !== 0 && now - t0 >= cfg.windowMs && !done) {
            done = true;
            result = { n: cycles - n0, ms: now - t0 };
          }
        }
        s.close();
      };
      await Promise.all(Array.from({ length: cfg.clients }, run));
      samples.sort((a, b) => a - b);
      report({ done: true, perSec: (result.n / result.ms) * 1000, requestP50us: samples[samples.length >> 1] * 1000 });
      break;
    }
    default:
      throw new Error(`unknown role ${role}`);
  }
}

main().catch((err) => {
  console.error(`${cfg.impl} ${role}:`, err);
  report({ error: String(err?.stack ?? err) });
  process.exit(1);
});

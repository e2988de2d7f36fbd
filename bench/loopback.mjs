// Loopback harness: purezmq and zeromq.js (native libzmq) measured side by side in the same run,
// each peer in its own process, DEALER -> ROUTER over TCP (and IPC), written the way users write it.
import { fork } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';

const PEER = new URL('./peer.mjs', import.meta.url).pathname;

function start(impl, role, endpoint, size, count) {
  const child = fork(PEER, [impl, role, endpoint, String(size), String(count)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  child.on('error', () => {}); // a peer that already exited is fine
  const messages = [];
  const waiters = [];
  child.on('message', (m) => {
    const w = waiters.findIndex((x) => x.match(m));
    if (w >= 0) waiters.splice(w, 1)[0].resolve(m);
    else messages.push(m);
  });
  return {
    child,
    wait(key, ms = 120000) {
      const found = messages.findIndex((m) => key in m);
      if (found >= 0) return Promise.resolve(messages.splice(found, 1)[0]);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`${impl} ${role}: no '${key}' within ${ms} ms`)), ms);
        waiters.push({ match: (m) => key in m, resolve: (m) => (clearTimeout(t), resolve(m)) });
      });
    },
    kill() {
      try {
        if (child.connected) child.send('stop');
      } catch {
        // already gone
      }
      setTimeout(() => child.kill('SIGKILL'), 500).unref();
    },
  };
}

function endpointFor(transport) {
  return transport === 'ipc' ? `ipc://${path.join(os.tmpdir(), `purezmq-bench-${process.pid}-${Math.random().toString(36).slice(2)}`)}` : 'tcp://127.0.0.1:*';
}

export async function throughput(impl, transport, size, count) {
  const recv = start(impl, 'router-recv', endpointFor(transport), size, count);
  const { ready } = await recv.wait('ready');
  const sender = start(impl, 'dealer-send', ready, size, count);
  const done = await recv.wait('done');
  sender.kill();
  recv.kill();
  return { msgsPerSec: (count / done.ms) * 1000, mbPerSec: (count * size) / 1e6 / (done.ms / 1000) };
}

export async function latency(impl, transport, size, count) {
  const echo = start(impl, 'router-echo', endpointFor(transport), size, count);
  const { ready } = await echo.wait('ready');
  const ping = start(impl, 'dealer-ping', ready, size, count);
  const done = await ping.wait('done');
  ping.kill();
  echo.kill();
  return { p50us: done.p50, p99us: done.p99 };
}

export async function fanout(impl, transport, size, count, subscribers) {
  const pub = start(impl, 'pub-send', endpointFor(transport), size, count);
  const { ready } = await pub.wait('ready');
  const subs = Array.from({ length: subscribers }, () => start(impl, 'sub-recv', ready, size, count));
  await Promise.all(subs.map((s) => s.wait('subscribed')));
  // let subscriptions reach the publisher before timing starts
  await new Promise((r) => setTimeout(r, 300));
  pub.child.send('go');
  const results = await Promise.all(subs.map((s) => s.wait('done')));
  pub.kill();
  for (const s of subs) s.kill();
  const slowest = Math.max(...results.map((r) => r.ms));
  return { msgsPerSec: (count / slowest) * 1000 };
}

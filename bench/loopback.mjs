// Loopback harness: every measurement runs its peers in separate processes (bench/peer.mjs,
// bench/memory.mjs, the brokers), purezmq or zeromq.js (native libzmq) on both sides, and returns
// one number. bench/run.mjs pairs them up, interleaved, and prints the table.
import { execFileSync, fork, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.dirname(HERE);
const PEER = path.join(HERE, 'peer.mjs');
const MEMORY = path.join(HERE, 'memory.mjs');

// BENCH_CPU_PROF=<dir>: every child (or, with BENCH_CPU_PROF_MATCH=<regex>, those whose label matches,
// e.g. 'purezmq router-recv') runs with --cpu-prof and is stopped with SIGTERM so that it writes its
// profile; summarise with `node bench/profile-summary.mjs <file>`.
const PROF_DIR = process.env.BENCH_CPU_PROF ? path.resolve(process.env.BENCH_CPU_PROF) : null;
const PROF_MATCH = process.env.BENCH_CPU_PROF_MATCH ? new RegExp(process.env.BENCH_CPU_PROF_MATCH) : null;
let profSeq = 0;
function profArgs(label) {
  if (!PROF_DIR || (PROF_MATCH && !PROF_MATCH.test(label))) return [];
  return ['--cpu-prof', '--cpu-prof-dir', PROF_DIR, '--cpu-prof-name', `${label.replace(/[^\w]+/g, '-')}-${process.pid}-${++profSeq}.cpuprofile`];
}

/** A child process speaking to us over the IPC channel; `wait(key)` resolves with the first message that has `key`. */
class Child {
  constructor(proc, label) {
    this.proc = proc;
    this.label = label;
    this.messages = [];
    this.waiters = [];
    this.exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
    proc.on('error', () => {}); // reported through exit
    proc.on('message', (m) => {
      if (m && typeof m === 'object' && 'error' in m) return this.failAll(new Error(`${label}: ${m.error}`));
      const w = this.waiters.findIndex((x) => x.key in m);
      if (w >= 0) this.waiters.splice(w, 1)[0].resolve(m);
      else this.messages.push(m);
    });
    this.exited.then(({ code, signal }) => this.failAll(new Error(`${label}: exited (${code ?? signal}) before answering`)));
  }
  failAll(err) {
    this.failure ??= err;
    for (const w of this.waiters.splice(0)) w.reject(err);
  }
  wait(key, ms = 60000) {
    const found = this.messages.findIndex((m) => key in m);
    if (found >= 0) return Promise.resolve(this.messages.splice(found, 1)[0]);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`${this.label}: no '${key}' within ${ms} ms`)), ms);
      this.waiters.push({ key, resolve: (m) => (clearTimeout(t), resolve(m)), reject: (e) => (clearTimeout(t), reject(e)) });
    });
  }
  send(m) {
    try {
      this.proc.send(m);
    } catch {
      // gone
    }
  }
  /** SIGKILL (SIGTERM first when profiled) and wait for the exit, so the next measurement has the CPUs to itself. */
  async kill() {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    if (this.profiled) {
      this.proc.kill('SIGTERM');
      const t = setTimeout(() => this.proc.kill('SIGKILL'), 5000);
      await this.exited;
      clearTimeout(t);
      return;
    }
    this.proc.kill('SIGKILL');
    await this.exited;
  }
}

function peer(cfg) {
  const label = `${cfg.impl} ${cfg.role}`;
  const execArgv = profArgs(label);
  const child = new Child(fork(PEER, [JSON.stringify(cfg)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv }), label);
  child.profiled = execArgv.length > 0;
  return child;
}

/** bench/memory.mjs in a child with --expose-gc, through bash so that `ulimit -n` can be raised first. */
function memoryChild(cfg) {
  const label = `${cfg.impl} memory ${cfg.mode}`;
  const prof = profArgs(label);
  const script = `ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$0" --expose-gc "$@"`;
  const proc = spawn('bash', ['-c', script, process.execPath, ...prof, MEMORY, JSON.stringify(cfg)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const child = new Child(proc, label);
  child.profiled = prof.length > 0;
  return child;
}

async function stopAll(children) {
  await Promise.all(children.map((c) => c.kill()));
}

/** Run `fn(track)`; every child passed to `track` is killed afterwards, whatever happened. */
async function session(fn) {
  const children = [];
  try {
    return await fn((c) => (children.push(c), c));
  } finally {
    await stopAll(children);
  }
}

let ipcSeq = 0;
const ipcPaths = [];
function endpointFor(transport) {
  if (transport !== 'ipc') return 'tcp://127.0.0.1:*';
  const file = path.join(os.tmpdir(), `purezmq-bench-${process.pid}-${++ipcSeq}`);
  ipcPaths.push(file);
  return `ipc://${file}`;
}

/** Remove the ipc:// socket files (peers are SIGKILLed, so they cannot unlink their own). */
export function cleanup() {
  for (const file of ipcPaths.splice(0)) rmSync(file, { force: true });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** DEALER -> ROUTER, `await send()` per message; the ROUTER times a window after a warm-up. */
export function throughput(impl, { transport, size, warmupMs, windowMs, server = {}, client = {} }) {
  return session(async (track) => {
    const recv = track(peer({ impl, role: 'router-recv', endpoint: endpointFor(transport), size, warmupMs, windowMs, options: server }));
    const { ready } = await recv.wait('ready');
    track(peer({ impl, role: 'dealer-send', endpoint: ready, size, options: client }));
    return recv.wait('done');
  });
}

/** Cold start: the first `count` DEALER -> ROUTER messages two fresh processes exchange (msgs/s). */
export function coldStart(impl, { transport, size, count }) {
  return session(async (track) => {
    const recv = track(peer({ impl, role: 'router-first', endpoint: endpointFor(transport), size, count }));
    const { ready } = await recv.wait('ready');
    track(peer({ impl, role: 'dealer-send', endpoint: ready, size }));
    return recv.wait('done');
  });
}

/** 16 B ping-pong DEALER -> ROUTER (echo); p50 and p99 in µs. */
export function latency(impl, { transport, size, count, warmup, server = {}, client = {} }) {
  return session(async (track) => {
    const echo = track(peer({ impl, role: 'router-echo', endpoint: endpointFor(transport), size, options: server }));
    const { ready } = await echo.wait('ready');
    const ping = track(peer({ impl, role: 'dealer-ping', endpoint: ready, size, count, warmup, options: client }));
    return ping.wait('done');
  });
}

/** Full connections per second: connect, handshake, one message and its echo, close; one at a time. */
export function handshakes(impl, { transport, warmupMs, windowMs, server = {}, client = {} }) {
  return session(async (track) => {
    const echo = track(peer({ impl, role: 'router-echo', endpoint: endpointFor(transport), size: 16, options: server }));
    const { ready } = await echo.wait('ready');
    const loop = track(peer({ impl, role: 'handshake-loop', endpoint: ready, size: 16, warmupMs, windowMs, options: client }));
    return loop.wait('done');
  });
}

/**
 * PUB -> N SUB, each subscriber its own process. The publisher sends probes until every subscriber
 * has received one (so every subscription has reached it), then `count` messages; HWMs are above
 * `count`, so nothing is dropped. Result: the slowest subscriber's messages/s (after 10 % warm-up).
 */
export function fanout(impl, { transport, size, count, subscribers }) {
  return session(async (track) => {
    const hwm = count + 10000;
    const pub = track(peer({ impl, role: 'pub-send', endpoint: endpointFor(transport), size, count, options: { sendHighWaterMark: hwm } }));
    const { ready } = await pub.wait('ready');
    const subs = Array.from({ length: subscribers }, () =>
      track(peer({ impl, role: 'sub-recv', endpoint: ready, size, count, options: { receiveHighWaterMark: hwm } })),
    );
    await Promise.all(subs.map((s) => s.wait('probed')));
    pub.send('go');
    const results = await Promise.all(subs.map((s) => s.wait('done')));
    return { msgsPerSec: Math.min(...results.map((r) => r.msgsPerSec)) };
  });
}

/** CPU time (user + system, all threads) of a process in ms, from /proc (Linux); NaN elsewhere. */
function cpuMs(pid) {
  const { user, system } = cpuSplitMs(pid);
  return user + system;
}
/** The same, split into user and system (kernel) time. */
function cpuSplitMs(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return { user: (Number(fields[11]) * 1000) / CLK_TCK, system: (Number(fields[12]) * 1000) / CLK_TCK };
  } catch {
    return { user: NaN, system: NaN };
  }
}
const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** Start a broker process and resolve once it prints "listening on". */
function startBroker(impl, endpoint, extraArgs = [], countLogs = false) {
  const args =
    impl === 'purezmq'
      ? [path.join(ROOT, 'dist/cli.js'), 'broker', '--bind', endpoint, '--log-level', 'error', ...extraArgs]
      : [path.join(HERE, 'zeromq-broker.mjs'), '--bind', endpoint];
  const prof = profArgs(`${impl} broker`);
  const proc = spawn(process.execPath, [...prof, ...args], { stdio: ['ignore', 'pipe', countLogs ? 'pipe' : 'inherit'] });
  const child = new Child(proc, `${impl} broker`);
  child.logBytes = 0;
  if (countLogs) proc.stderr.on('data', (d) => (child.logBytes += d.length));
  child.profiled = prof.length > 0;
  let out = '';
  child.listening = new Promise((resolve, reject) => {
    proc.stdout.on('data', (d) => {
      out += d;
      if (/listening on/.test(out)) resolve();
    });
    child.exited.then(() => reject(new Error(`${impl} broker exited: ${out}`)));
    setTimeout(() => reject(new Error(`${impl} broker: not listening after 20 s`)), 20000).unref();
  });
  return child;
}

/**
 * Majordomo requests/s through a broker (purezmq's CLI or bench/zeromq-broker.mjs); the clients and
 * echo workers (`peers`: purezmq or zeromq.js) speak MDP/0.2 frame by frame, the same for both brokers.
 * Also the CPU time per request of the broker, and of the client and worker processes together.
 * `extraArgs` go to the broker's command line; `workerOptions` / `clientOptions` are the peers' socket
 * options (CURVE keys for the security rows).
 */
export function broker(impl, { clients, inflight, workers, size, warmupMs, windowMs, peers, durable = false, extraArgs = [], workerOptions = {}, clientOptions = {}, prewarm = false }) {
  return session(async (track) => {
    const endpoint = `tcp://127.0.0.1:${await freePort()}`;
    const b = track(startBroker(impl, endpoint, [...(durable ? ['--data-dir', track(tempDir()).path] : []), ...extraArgs]));
    await b.listening;
    const w = track(peer({ impl: peers, role: 'mdp-workers', endpoint, workers, options: workerOptions }));
    await w.wait('ready');
    if (prewarm) {
      // the same unmeasured first load as clusterHop() gives its brokers
      const warm = track(peer({ impl: peers, role: 'mdp-clients', endpoint, ...WARM_LOAD, size, options: clientOptions }));
      await warm.wait('done');
    }
    const c = track(peer({ impl: peers, role: 'mdp-clients', endpoint, clients, inflight, size, warmupMs, windowMs, options: clientOptions }));
    await c.wait('windowStart');
    const peersCpu = () => cpuMs(w.proc.pid) + cpuMs(c.proc.pid);
    const [cpu0, peers0] = [cpuSplitMs(b.proc.pid), peersCpu()];
    const done = await c.wait('done');
    const [cpu1, peers1] = [cpuSplitMs(b.proc.pid), peersCpu()];
    // CPU time (all threads: libzmq's I/O thread for zeromq.js) per request in the window
    const perRequest = (ms) => (ms * 1000) / ((done.perSec * windowMs) / 1000);
    const user = perRequest(cpu1.user - cpu0.user);
    const system = perRequest(cpu1.system - cpu0.system);
    return { ...done, cpuUsPerRequest: user + system, systemUsPerRequest: system, peersCpuUsPerRequest: perRequest(peers1 - peers0) };
  });
}

/** The unmeasured first load of `prewarm` and clusterHop(): pipelined, so that V8 compiles the request path. */
const WARM_LOAD = { clients: 8, inflight: 16, warmupMs: 100, windowMs: 2000 };

/**
 * Cluster (issue 11): the same Majordomo load as broker(), but the clients talk to broker A and the echo
 * workers to broker B; A forwards every request to B over the cluster link (one hop) and relays the
 * replies. Both brokers are purezmq processes on loopback; the peers are the same as broker()'s.
 */
export function clusterHop({ clients, inflight, workers, size, warmupMs, windowMs, peers }) {
  return session(async (track) => {
    const [epA, epB, clA, clB] = [await freePort(), await freePort(), await freePort(), await freePort()].map((p) => `tcp://127.0.0.1:${p}`);
    const a = track(startBroker('purezmq', epA, ['--cluster-bind', clA, '--node-id', 'A', '--cluster-heartbeat', '200']));
    await a.listening;
    const b = track(startBroker('purezmq', epB, ['--cluster-bind', clB, '--peer', clA, '--node-id', 'B', '--cluster-heartbeat', '200']));
    await b.listening;
    const w = track(peer({ impl: peers, role: 'mdp-workers', endpoint: epB, workers }));
    await w.wait('ready');
    // A must have heard of B's workers before the clients start (otherwise the first requests queue)
    const wait = track(peer({ impl: 'purezmq', role: 'mdp-wait', endpoint: epA, service: 'echo' }));
    await wait.wait('done');
    // two brokers and the federation's code to compile: a first load, unmeasured, so that the window
    // times compiled code as it does for the single broker (whose code is all on the one path)
    const warm = track(peer({ impl: peers, role: 'mdp-clients', endpoint: epA, ...WARM_LOAD, size }));
    await warm.wait('done');
    const c = track(peer({ impl: peers, role: 'mdp-clients', endpoint: epA, clients, inflight, size, warmupMs, windowMs }));
    await c.wait('windowStart');
    const cpu = () => cpuMs(a.proc.pid) + cpuMs(b.proc.pid);
    const cpu0 = cpu();
    const done = await c.wait('done');
    const perRequest = (ms) => (ms * 1000) / ((done.perSec * windowMs) / 1000);
    return { ...done, cpuUsPerRequest: perRequest(cpu() - cpu0) };
  });
}

function rssOf(pid) {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) * 1024;
  } catch {
    return NaN;
  }
}

/**
 * A legitimate synchronous client's round trips (p50/p99) before and during an abuse of a purezmq broker
 * (`kind`: spray, bytes, unknown, mmi; see bench/peer.mjs mdp-attack), with the broker's RSS before and its
 * peak during the attack, and the bytes it logged (info level, as an operator runs it).
 */
export function abuse(kind, { windowMs, brokerArgs = [] }) {
  return session(async (track) => {
    const endpoint = `tcp://127.0.0.1:${await freePort()}`;
    const b = track(startBroker('purezmq', endpoint, ['--log-level', 'info', ...brokerArgs], true));
    await b.listening;
    const w = track(peer({ impl: 'purezmq', role: 'mdp-workers', endpoint, workers: 1 }));
    await w.wait('ready');
    const probe = track(peer({ impl: 'purezmq', role: 'mdp-probe', endpoint, size: 16 }));
    await probe.wait('ready');
    await new Promise((r) => setTimeout(r, windowMs));
    const rssBefore = rssOf(b.proc.pid);
    const logBefore = b.logBytes;
    const attacker = track(peer({ impl: 'purezmq', role: 'mdp-attack', endpoint, kind, size: 16 }));
    await attacker.wait('ready');
    probe.send('attack');
    let rssPeak = rssBefore;
    const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, rssOf(b.proc.pid))), 50);
    await new Promise((r) => setTimeout(r, windowMs));
    clearInterval(sampler);
    probe.send('report');
    const r = await probe.wait('done');
    return { ...r, rssBefore, rssPeak, logBytes: b.logBytes - logBefore };
  });
}

/** A temporary directory, removed when its session ends (track() calls kill()). */
function tempDir() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pz-bench-'));
  return { path: dir, proc: { pid: 0 }, kill: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Titanic through a durable purezmq broker (--data-dir, fsync batch, or --store nats:// with `jetstream`): `clients` loops of
 * titanic.request, titanic.reply until 200, titanic.close, with `workers` echo workers; cycles/s and
 * the p50 of titanic.request (send to 200, which the broker gives once the request is on disk).
 */
export function titanic({ clients, workers, warmupMs, windowMs, jetstream = false }) {
  return session(async (track) => {
    const endpoint = `tcp://127.0.0.1:${await freePort()}`;
    // jetstream: the broker on --store nats:// (a nats-server with JetStream, one replica) instead of --data-dir
    const store = jetstream ? ['--store', track(await (await import('./nats.mjs')).startNats()).url] : ['--data-dir', track(tempDir()).path];
    const b = track(startBroker('purezmq', endpoint, store));
    await b.listening;
    const w = track(peer({ impl: 'purezmq', role: 'mdp-workers', endpoint, workers }));
    await w.wait('ready');
    const c = track(peer({ impl: 'purezmq', role: 'titanic-clients', endpoint, clients, warmupMs, windowMs }));
    return c.wait('done', 60000);
  });
}

/** Heap over `count` in-process DEALER -> ROUTER messages (tcp), with gc before and after. */
export function heap(impl, { count, size }) {
  return session(async (track) => track(memoryChild({ mode: 'heap', impl, count, size })).wait('done', 120000));
}

/** Memory per idle connection: a ROUTER (impl) with `conns` purezmq DEALERs from another process. */
export function connections(impl, { conns, batch }) {
  return session(async (track) => {
    const router = track(memoryChild({ mode: 'conns-router', impl }));
    const { ready } = await router.wait('ready');
    const swarm = track(memoryChild({ mode: 'conns-swarm', impl: 'purezmq', endpoint: ready, conns, batch }));
    const { ms } = await swarm.wait('connected', 120000);
    router.send('measure');
    const r = await router.wait('done');
    return { ...r, connectMs: ms, conns };
  });
}

// `npm run bench`: purezmq beside zeromq.js (native libzmq 4.3.5) in one table, every comparison with its
// ratio and the issue-5 target, in about 6 minutes on a 2-core machine (half of it the purezmq-alone durability, security and abuse rows). Builds dist/ first so that the
// numbers are for the current sources, and writes the table to bench/results.md.
//
//   node bench/run.mjs            full run (~2.5 min), writes bench/results.md
//   node bench/run.mjs --quick    ~30 s smoke: short windows, one run per side, nothing written
//   node bench/run.mjs --only REGEX [--no-build] [--reps N]   a subset (rows whose name matches), nothing written
//
// Each comparison row runs purezmq, zeromq.js, purezmq, zeromq.js (interleaved, so that load from other
// work on the machine hits both sides alike) and keeps the best of each side.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.dirname(HERE);
const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const onlyAt = argv.indexOf('--only');
const only = onlyAt >= 0 ? new RegExp(argv[onlyAt + 1], 'i') : null;
const repsAt = argv.indexOf('--reps');
const reps = repsAt >= 0 ? Number(argv[repsAt + 1]) : quick ? 1 : 2;
const started = Date.now();
const loadAtStart = os.loadavg()[0];
let buildWarning = null;

if (!argv.includes('--no-build')) {
  const build = spawnSync(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', path.join(ROOT, 'tsconfig.build.json')], {
    stdio: 'inherit',
    cwd: ROOT,
  });
  if (build.status !== 0) {
    // tsc still emits on type errors (often someone's work in progress in a shared tree): go on with the
    // emitted dist/, but say so in the output and in results.md
    if (!existsSync(path.join(ROOT, 'dist/mod.js'))) process.exit(1);
    buildWarning = 'tsc reported type errors; these numbers are for the JavaScript it emitted anyway';
    process.stdout.write(`warning: ${buildWarning}\n`);
  }
}

const { throughput, latency, handshakes, fanout, broker, clusterHop, titanic, abuse, coldStart, heap, connections, cleanup } = await import('./loopback.mjs');
const zmq = await import('zeromq');

// ---- parameters -------------------------------------------------------------------------------------
const P = quick
  ? { warmupMs: 100, windowMs: 250, pings: 1000, pingWarmup: 200, fanCount: { 16: 15000, 1024: 5000, 65536: 500 }, heapCount: 100000, conns: 1000 }
  : { warmupMs: 300, windowMs: 1000, pings: 4000, pingWarmup: 500, fanCount: { 16: 300000, 1024: 100000, 65536: 5000 }, heapCount: 1000000, conns: 10000 };
const serverKeys = zmq.curveKeyPair();
const clientKeys = zmq.curveKeyPair();
const CURVE = {
  server: { curveServer: true, curveSecretKey: serverKeys.secretKey, curvePublicKey: serverKeys.publicKey },
  client: { curveServerKey: serverKeys.publicKey, curvePublicKey: clientKeys.publicKey, curveSecretKey: clientKeys.secretKey },
};
const win = { warmupMs: P.warmupMs, windowMs: P.windowMs };
// a broker process has more code to warm up (JIT) than a bare socket loop
const brokerWin = { warmupMs: Math.max(300, P.warmupMs), windowMs: P.windowMs };

// ---- formatting -------------------------------------------------------------------------------------
function fmt(v, unit) {
  if (v === undefined || v === null || Number.isNaN(v)) return '—';
  switch (unit) {
    case 'µs':
      return `${v.toFixed(0)} µs`;
    case 'ms':
      return `${v.toFixed(v < 10 ? 2 : 0)} ms`;
    case 'MB/s':
      return `${v.toFixed(0)} MB/s`;
    case 'ms/MiB':
      return `${v.toFixed(1)} ms/MiB (${(1000 / v).toFixed(0)} MiB/s)`;
    case 'B': {
      const a = Math.abs(v);
      if (a >= 1 << 20) return `${(v / (1 << 20)).toFixed(1)} MiB`;
      if (a >= 1024) return `${(v / 1024).toFixed(1)} KiB`;
      return `${v.toFixed(0)} B`;
    }
    default: {
      const s = v >= 1e6 ? `${(v / 1e6).toFixed(2)} M` : v >= 1e4 ? `${(v / 1e3).toFixed(0)} k` : v >= 1e3 ? `${(v / 1e3).toFixed(1)} k` : v.toFixed(0);
      return `${s} ${unit}`;
    }
  }
}
const log = (s) => process.stdout.write(s + '\n');

// ---- comparison rows --------------------------------------------------------------------------------
const T = (op, x) => ({ op, x });
const rows = [];
for (const transport of ['tcp', 'ipc']) {
  const T16 = transport.toUpperCase();
  rows.push(
    { name: `DEALER→ROUTER ${T16} 16 B`, unit: 'msg/s', target: T('≥', 5), run: (i) => throughput(i, { transport, size: 16, ...win }).then((r) => r.msgsPerSec) },
    { name: `DEALER→ROUTER ${T16} 1 KiB`, unit: 'msg/s', target: T('≥', 3), run: (i) => throughput(i, { transport, size: 1024, ...win }).then((r) => r.msgsPerSec) },
    { name: `DEALER→ROUTER ${T16} 64 KiB`, unit: 'MB/s', target: T('≥', 1), run: (i) => throughput(i, { transport, size: 65536, ...win }).then((r) => r.mbPerSec) },
    ...(transport === 'tcp'
      ? [{ name: 'DEALER→ROUTER TCP 1 KiB, first 100 k messages of fresh processes', unit: 'msg/s', target: null, run: (i) => coldStart(i, { transport, size: 1024, count: quick ? 20_000 : 100_000 }).then((r) => r.msgsPerSec) }]
      : []),
    {
      name: `round trip ${T16} 16 B, p50`,
      unit: 'µs',
      lower: true,
      target: T('≤', 0.8),
      run: (i) => latency(i, { transport, size: 16, count: P.pings, warmup: P.pingWarmup }).then((r) => r.p50us),
    },
  );
}
const SIZES = [
  // size, unit, label, target ratio (the DEALER→ROUTER targets apply to fan-out too)
  [16, 'msg/s', '16 B', 5],
  [1024, 'msg/s', '1 KiB', 3],
  [65536, 'MB/s', '64 KiB', 1],
];
for (const [size, unit, label, x] of SIZES) {
  const count = P.fanCount[size];
  rows.push({
    name: `PUB→10 SUB TCP ${label}, per subscriber`,
    unit,
    target: T('≥', x),
    run: (i) => fanout(i, { transport: 'tcp', size, count, subscribers: 10 }).then((r) => (unit === 'MB/s' ? (r.msgsPerSec * size) / 1e6 : r.msgsPerSec)),
  });
}
for (const [size, unit, label] of SIZES) {
  rows.push({
    name: `CURVE DEALER→ROUTER TCP ${label}`,
    unit,
    target: T('≥', 0.5),
    run: (i) => throughput(i, { transport: 'tcp', size, ...win, ...CURVE }).then((r) => (unit === 'MB/s' ? r.mbPerSec : r.msgsPerSec)),
  });
}
rows.push({
  // the latency counterpart of "CURVE at ≥ 0.5×"
  name: 'CURVE round trip TCP 16 B, p50',
  unit: 'µs',
  lower: true,
  target: T('≤', 2),
  run: (i) => latency(i, { transport: 'tcp', size: 16, count: P.pings, warmup: P.pingWarmup, ...CURVE }).then((r) => r.p50us),
});
rows.push({
  name: 'NULL connections (connect+first msg+close)',
  unit: 'conn/s',
  target: null,
  run: (i) => handshakes(i, { transport: 'tcp', warmupMs: P.warmupMs, windowMs: P.windowMs }).then((r) => r.perSec),
});
rows.push({
  name: 'CURVE connections (connect+handshake+first msg+close)',
  unit: 'conn/s',
  target: null,
  run: (i) => handshakes(i, { transport: 'tcp', warmupMs: P.warmupMs, windowMs: P.windowMs, ...CURVE }).then((r) => r.perSec),
});
// Majordomo: 8 asynchronous clients (a window of requests outstanding each, as a busy front end keeps
// them) saturate the broker; the clients and workers are purezmq processes, and a second run has
// zeromq.js ones. The same peers drive both brokers.
const MDP_WINDOW = 16;
rows.push(
  {
    run: (i) => broker(i, { clients: 8, inflight: MDP_WINDOW, workers: 4, size: 16, peers: 'purezmq', ...brokerWin }),
    outputs: [
      { name: 'Majordomo broker, 8 clients × 4 workers', unit: 'req/s', target: T('≥', 2), pick: (r) => r.perSec },
      { name: 'Majordomo broker, 8 clients: broker CPU / request', unit: 'µs', lower: true, target: T('≤', 0.5), pick: (r) => r.cpuUsPerRequest },
      { name: 'Majordomo broker, 8 clients: … of which in the kernel', unit: 'µs', lower: true, target: null, pick: (r) => r.systemUsPerRequest },
      { name: 'Majordomo broker, 8 clients: clients+workers CPU / request', unit: 'µs', lower: true, target: null, pick: (r) => r.peersCpuUsPerRequest },
    ],
  },
  {
    run: (i) => broker(i, { clients: 8, inflight: MDP_WINDOW, workers: 4, size: 16, peers: 'zeromq', ...brokerWin }),
    outputs: [
      { name: 'Majordomo broker, 8 zeromq.js clients × 4 zeromq.js workers', unit: 'req/s', target: null, pick: (r) => r.perSec },
      { name: 'Majordomo broker, zeromq.js peers: broker CPU / request', unit: 'µs', lower: true, target: null, pick: (r) => r.cpuUsPerRequest },
    ],
  },
  {
    // the whole stack, as a user choosing one library for broker, clients and workers would run it
    run: (i) => broker(i, { clients: 8, inflight: MDP_WINDOW, workers: 4, size: 16, peers: i, ...brokerWin }),
    outputs: [{ name: 'Majordomo, whole stack: broker, clients and workers all on one library', unit: 'req/s', target: null, pick: (r) => r.perSec }],
  },
  {
    run: (i) => broker(i, { clients: 1, inflight: 1, workers: 4, size: 16, peers: 'purezmq', ...brokerWin }),
    outputs: [
      { name: 'Majordomo broker, 1 synchronous client', unit: 'req/s', target: null, pick: (r) => r.perSec },
      { name: 'Majordomo broker, 1 synchronous client, p50', unit: 'µs', lower: true, target: null, pick: (r) => r.p50us },
    ],
  },
);

// ---- run --------------------------------------------------------------------------------------------
const table = []; // { name, ours, theirs, ratio, target }
const notes = buildWarning ? [buildWarning] : [];

function verdict(ratio, target) {
  if (!target) return 'report';
  const ok = target.op === '≥' ? ratio >= target.x : ratio <= target.x;
  return `${target.op} ${target.x}× ${Number.isFinite(ratio) ? (ok ? '✓' : '✗') : ''}`.trim();
}

async function measure(row, impl) {
  try {
    return await row.run(impl);
  } catch (err) {
    notes.push(`${row.outputs[0].name}, ${impl}: ${String(err.message ?? err).split('\n')[0]}`);
    return null;
  }
}

log(`purezmq bench (${quick ? 'quick' : 'full'}), ${reps} run(s) per side, interleaved`);

let micro = [];
if (!only || only.test('micro tweetnacl encode decode')) {
  const { runMicro } = await import('./micro.mjs');
  const microStarted = Date.now();
  micro = await runMicro(quick);
  log(`  (micro: ${((Date.now() - microStarted) / 1000).toFixed(1)} s)`);
  for (const m of micro) log(`  micro ${m.name}: ${m.error ?? fmt(m.value, m.unit)}`);
}

for (const row of rows) {
  row.outputs ??= [{ ...row, pick: (x) => x }];
  if (only && !row.outputs.some((o) => only.test(o.name))) continue;
  const got = { purezmq: [], zeromq: [] };
  const rowStarted = Date.now();
  for (let k = 0; k < reps; k++) {
    for (const impl of ['purezmq', 'zeromq']) got[impl].push(await measure(row, impl));
  }
  for (const out of row.outputs) {
    const values = (impl) => got[impl].map((r) => (r === null || r === undefined ? NaN : out.pick(r)));
    const best = (xs) => {
      const ok = xs.filter(Number.isFinite);
      return ok.length === 0 ? NaN : out.lower ? Math.min(...ok) : Math.max(...ok);
    };
    const ours = best(values('purezmq'));
    const theirs = best(values('zeromq'));
    const ratio = ours / theirs;
    table.push({ name: out.name, ours: fmt(ours, out.unit), theirs: fmt(theirs, out.unit), ratio: Number.isFinite(ratio) ? `${ratio.toFixed(2)}×` : '—', target: verdict(ratio, out.target) });
    const runs = (xs) => xs.map((x) => fmt(x, out.unit)).join(', ');
    log(`  ${out.name}: purezmq [${runs(values('purezmq'))}]  zeromq.js [${runs(values('zeromq'))}]  → ${Number.isFinite(ratio) ? ratio.toFixed(2) + '×' : 'n/a'}  (${((Date.now() - rowStarted) / 1000).toFixed(1)} s)`);
  }
}

// memory: once per side (not timing-sensitive)
if (!only || only.test('memory heap connection')) {
  const memStarted = Date.now();
  const h = {};
  for (const impl of ['purezmq', 'zeromq']) {
    try {
      h[impl] = await heap(impl, { count: P.heapCount, size: 16 });
      const r = h[impl];
      log(`  heap ${impl}: before ${fmt(r.before, 'B')}, peak ${fmt(r.peak, 'B')}, after ${fmt(r.after, 'B')}; external ${fmt(r.externalBefore, 'B')} → ${fmt(r.externalAfter, 'B')}; rss ${fmt(r.rssBefore, 'B')} → ${fmt(r.rssAfter, 'B')}`);
    } catch (err) {
      notes.push(`heap ${impl}: ${String(err.message ?? err).split('\n')[0]}`);
    }
  }
  const heapCell = (r) => (r ? `${fmt(r.before, 'B')} → ${fmt(r.peak, 'B')} → ${fmt(r.after, 'B')}` : '—');
  const growth = h.purezmq ? h.purezmq.after - h.purezmq.before : NaN;
  const count = P.heapCount >= 1e6 ? `${P.heapCount / 1e6} M` : `${P.heapCount / 1e3} k`;
  table.push({
    name: `JS heap over ${count} msgs: before → peak → after gc`,
    ours: heapCell(h.purezmq),
    theirs: heapCell(h.zeromq),
    ratio: '—',
    target: Number.isFinite(growth) ? `flat (${growth >= 0 ? '+' : ''}${fmt(growth, 'B')}) ${Math.abs(growth) < 1 << 20 ? '✓' : '✗'}` : 'flat',
  });

  const c = {};
  for (const impl of ['purezmq', 'zeromq']) {
    try {
      c[impl] = await connections(impl, { conns: P.conns, batch: 100 });
      const r = c[impl];
      log(`  ${r.conns} connections ${impl}: connected in ${r.connectMs.toFixed(0)} ms; heap ${fmt(r.heapDelta / r.conns, 'B')}/conn, external ${fmt(r.externalDelta / r.conns, 'B')}/conn, rss ${fmt(r.rssDelta / r.conns, 'B')}/conn`);
    } catch (err) {
      notes.push(`connections ${impl}: ${String(err.message ?? err).split('\n')[0]}`);
    }
  }
  log(`  (memory: ${((Date.now() - memStarted) / 1000).toFixed(1)} s)`);
  const conns = P.conns >= 1000 ? `${P.conns / 1000} k` : String(P.conns);
  const rss = (r) => (r ? r.rssDelta / r.conns : NaN);
  const rssRatio = rss(c.purezmq) / rss(c.zeromq);
  table.push({
    name: `idle connection, ROUTER with ${conns} peers: RSS / conn`,
    ours: fmt(rss(c.purezmq), 'B'),
    theirs: fmt(rss(c.zeromq), 'B'),
    ratio: Number.isFinite(rssRatio) ? `${rssRatio.toFixed(2)}×` : '—',
    target: 'report',
  });
  table.push({
    name: `idle connection, ROUTER with ${conns} peers: JS heap+external / conn`,
    ours: c.purezmq ? fmt((c.purezmq.heapDelta + c.purezmq.externalDelta) / c.purezmq.conns, 'B') : '—',
    theirs: c.zeromq ? `${fmt((c.zeromq.heapDelta + c.zeromq.externalDelta) / c.zeromq.conns, 'B')} (rest native)` : '—',
    ratio: '—',
    target: 'report',
  });
}

for (const m of micro) {
  table.push({ name: `micro: ${m.name}`, ours: m.error ? 'error' : fmt(m.value, m.unit), theirs: '—', ratio: '—', target: 'report' });
}

// ---- durability (issue 10): purezmq against itself -------------------------------------------------
// The durable broker (--data-dir, fsync batch) beside the same broker in memory, interleaved, with the
// same pipelined clients; Titanic cycles through a durable broker; the journal on its own.
const durability = []; // { name, ours, base, ratio, target }
if (!only || only.test('durable titanic journal recovery store')) {
  const durableStarted = Date.now();
  const runs = { durable: [], memory: [] };
  for (let k = 0; k < reps; k++) {
    for (const mode of ['durable', 'memory']) {
      try {
        runs[mode].push((await broker('purezmq', { clients: 8, inflight: MDP_WINDOW, workers: 4, size: 16, peers: 'purezmq', durable: mode === 'durable', ...brokerWin })).perSec);
      } catch (err) {
        notes.push(`durable broker (${mode}): ${String(err.message ?? err).split('\n')[0]}`);
      }
    }
  }
  const best = (xs) => (xs.length ? Math.max(...xs) : NaN);
  const [d, m] = [best(runs.durable), best(runs.memory)];
  log(`  durable broker: --data-dir [${runs.durable.map((x) => fmt(x, 'req/s')).join(', ')}]  in memory [${runs.memory.map((x) => fmt(x, 'req/s')).join(', ')}]  → ${(d / m).toFixed(2)}×`);
  durability.push({ name: 'Majordomo broker, 8 clients × 4 workers: --data-dir (fsync batch) / in memory', ours: fmt(d, 'req/s'), base: fmt(m, 'req/s'), ratio: Number.isFinite(d / m) ? `${(d / m).toFixed(2)}×` : '—', target: verdict(d / m, T('≥', 0.5)) });
  try {
    const t = await titanic({ clients: 4, workers: 4, ...brokerWin });
    log(`  titanic: ${fmt(t.perSec, 'cycles/s')}, titanic.request p50 ${fmt(t.requestP50us / 1000, 'ms')}`);
    durability.push({ name: 'Titanic request + reply + close, 4 clients, --data-dir', ours: fmt(t.perSec, 'cycles/s'), base: '—', ratio: '—', target: 'report' });
    const p50 = t.requestP50us / 1000;
    durability.push({ name: 'titanic.request p50 (answered once on disk)', ours: fmt(p50, 'ms'), base: '—', ratio: '—', target: `< 2 ms ${p50 < 2 ? '✓' : '✗'}` });
  } catch (err) {
    notes.push(`titanic: ${String(err.message ?? err).split('\n')[0]}`);
  }
  try {
    const { runStoreBench } = await import('./store.mjs');
    for (const r of await runStoreBench({ quick })) {
      log(`  store ${r.name}: ${fmt(r.value, r.unit)}`);
      // a store row may carry an absolute target: { op: '≥' | '≤', x } in its own unit
      const met = r.target && (r.target.op === '≥' ? r.value >= r.target.x : r.value <= r.target.x);
      const target = r.target ? `${r.target.op} ${fmt(r.target.x, r.unit)} ${met ? '✓' : '✗'}` : 'report';
      durability.push({ name: `journal: ${r.name}`, ours: fmt(r.value, r.unit), base: '—', ratio: '—', target });
    }
  } catch (err) {
    notes.push(`store bench: ${String(err.message ?? err).split('\n')[0]}`);
  }
  log(`  (durability: ${((Date.now() - durableStarted) / 1000).toFixed(1)} s)`);
}

// ---- cluster (issue 11): purezmq against itself -----------------------------------------------------
// A client on broker A served by workers on broker B (one forwarding hop) beside the same peers on a
// single broker, interleaved: requests/s with pipelined clients, and p50 with one synchronous client.
const cluster = []; // { name, ours, base, ratio, target }
if (!only || only.test('cluster hop')) {
  const clusterStarted = Date.now();
  const loads = {
    pipelined: { clients: 8, inflight: MDP_WINDOW, workers: 4, size: 16, peers: 'purezmq', ...brokerWin },
    sync: { clients: 1, inflight: 1, workers: 4, size: 16, peers: 'purezmq', ...brokerWin },
  };
  const runs = { hop: { pipelined: [], sync: [] }, single: { pipelined: [], sync: [] } };
  for (let k = 0; k < reps; k++) {
    for (const load of ['pipelined', 'sync']) {
      for (const mode of ['hop', 'single']) {
        try {
          runs[mode][load].push(await (mode === 'hop' ? clusterHop(loads[load]) : broker('purezmq', { ...loads[load], prewarm: true })));
        } catch (err) {
          notes.push(`cluster (${mode}, ${load}): ${String(err.message ?? err).split('\n')[0]}`);
        }
      }
    }
  }
  const best = (xs, pick, lower = false) => (xs.length ? (lower ? Math.min : Math.max)(...xs.map(pick)) : NaN);
  const ratio = (a, b) => (Number.isFinite(a / b) ? `${(a / b).toFixed(2)}×` : '—');
  const [hq, sq] = [best(runs.hop.pipelined, (r) => r.perSec), best(runs.single.pipelined, (r) => r.perSec)];
  const [hp, sp] = [best(runs.hop.sync, (r) => r.p50us, true), best(runs.single.sync, (r) => r.p50us, true)];
  const [hc, sc] = [best(runs.hop.pipelined, (r) => r.cpuUsPerRequest, true), best(runs.single.pipelined, (r) => r.cpuUsPerRequest, true)];
  log(`  cluster: hop [${runs.hop.pipelined.map((r) => fmt(r.perSec, 'req/s')).join(', ')}] single [${runs.single.pipelined.map((r) => fmt(r.perSec, 'req/s')).join(', ')}]; p50 hop [${runs.hop.sync.map((r) => fmt(r.p50us, 'µs')).join(', ')}] single [${runs.single.sync.map((r) => fmt(r.p50us, 'µs')).join(', ')}]`);
  cluster.push({ name: 'Majordomo, 8 clients × 4 workers: client on A, workers on B (one hop) / one broker', ours: fmt(hq, 'req/s'), base: fmt(sq, 'req/s'), ratio: ratio(hq, sq), target: verdict(hq / sq, T('≥', 0.6)) });
  cluster.push({ name: 'Majordomo, 1 synchronous client, p50: one hop / one broker', ours: fmt(hp, 'µs'), base: fmt(sp, 'µs'), ratio: ratio(hp, sp), target: verdict(hp / sp, T('≤', 1.5)) });
  cluster.push({ name: 'Majordomo, 8 clients: broker CPU / request, both brokers of the hop / one broker', ours: fmt(hc, 'µs'), base: fmt(sc, 'µs'), ratio: ratio(hc, sc), target: 'report' });
  log(`  (cluster: ${((Date.now() - clusterStarted) / 1000).toFixed(1)} s)`);
}

// ---- the JetStream store (issue 11): Titanic on --store nats:// beside --data-dir, interleaved -------
// One local nats-server (R1): what JetStream's acknowledgements cost against the local journal's group commit.
if (!only || only.test('jetstream titanic')) {
  const { natsServerBinary } = await import('./nats.mjs');
  if (!natsServerBinary()) notes.push('jetstream: nats-server not installed, rows skipped');
  else {
    const started = Date.now();
    const runs = { jetstream: [], journal: [] };
    for (let k = 0; k < reps; k++) {
      for (const mode of ['jetstream', 'journal']) {
        try {
          runs[mode].push(await titanic({ clients: 4, workers: 4, jetstream: mode === 'jetstream', ...brokerWin }));
        } catch (err) {
          notes.push(`titanic (${mode}): ${String(err.message ?? err).split('\n')[0]}`);
        }
      }
    }
    const p50 = (xs) => (xs.length ? Math.min(...xs.map((x) => x.requestP50us / 1000)) : NaN);
    const rate = (xs) => (xs.length ? Math.max(...xs.map((x) => x.perSec)) : NaN);
    const [jp, dp] = [p50(runs.jetstream), p50(runs.journal)];
    const [jr, dr] = [rate(runs.jetstream), rate(runs.journal)];
    log(`  titanic.request p50: --store nats:// ${fmt(jp, 'ms')}  --data-dir ${fmt(dp, 'ms')};  cycles/s ${fmt(jr, 'cycles/s')} / ${fmt(dr, 'cycles/s')}  (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    durability.push({ name: 'titanic.request p50: --store nats:// (1 NATS server, R1) / --data-dir', ours: fmt(jp, 'ms'), base: fmt(dp, 'ms'), ratio: Number.isFinite(jp / dp) ? `${(jp / dp).toFixed(2)}×` : '—', target: 'report' });
    durability.push({ name: 'Titanic request + reply + close, 4 clients: --store nats:// / --data-dir', ours: fmt(jr, 'cycles/s'), base: fmt(dr, 'cycles/s'), ratio: Number.isFinite(jr / dr) ? `${(jr / dr).toFixed(2)}×` : '—', target: 'report' });
  }
}

// ---- security (issue 12): purezmq against itself ----------------------------------------------------
// The broker with CURVE on every connection (a clients directory) and a 20-rule access policy beside the
// same broker without either, interleaved, with the same pipelined clients; the peers are CURVE clients
// of the secure one.
const security = []; // { name, ours, base, ratio, target }
if (!only || only.test('security curve policy')) {
  const securityStarted = Date.now();
  const fx = await securityFixture();
  const runs = { secure: [], plain: [], curve: [] };
  try {
    for (let k = 0; k < reps; k++) {
      for (const mode of ['secure', 'plain', 'curve']) {
        try {
          // curve: CURVE alone (any client key, no policy), to tell the policy's cost from CURVE's
          const args = mode === 'secure' ? fx.args : mode === 'curve' ? [...fx.args.slice(0, 2), '--curve-clients', 'any'] : undefined;
          const extra = args ? { extraArgs: args, workerOptions: fx.workerOptions, clientOptions: fx.clientOptions } : {};
          runs[mode].push(await broker('purezmq', { clients: 8, inflight: MDP_WINDOW, workers: 4, size: 16, peers: 'purezmq', ...brokerWin, ...extra }));
        } catch (err) {
          notes.push(`security broker (${mode}): ${String(err.message ?? err).split('\n')[0]}`);
        }
      }
    }
  } finally {
    fx.cleanup();
  }
  const best = (xs, pick, lower = false) => (xs.length ? (lower ? Math.min : Math.max)(...xs.map(pick)) : NaN);
  const [sq, pq, cq] = [best(runs.secure, (r) => r.perSec), best(runs.plain, (r) => r.perSec), best(runs.curve, (r) => r.perSec)];
  const [sc, pc] = [best(runs.secure, (r) => r.cpuUsPerRequest, true), best(runs.plain, (r) => r.cpuUsPerRequest, true)];
  log(`  security: CURVE + policy [${runs.secure.map((r) => fmt(r.perSec, 'req/s')).join(', ')}]  plain [${runs.plain.map((r) => fmt(r.perSec, 'req/s')).join(', ')}]  CURVE alone [${runs.curve.map((r) => fmt(r.perSec, 'req/s')).join(', ')}]  → ${(sq / pq).toFixed(2)}×`);
  const ratio = (a, b) => (Number.isFinite(a / b) ? `${(a / b).toFixed(2)}×` : '—');
  security.push({ name: 'Majordomo broker, 8 clients × 4 workers: CURVE + 20-rule policy / plain', ours: fmt(sq, 'req/s'), base: fmt(pq, 'req/s'), ratio: ratio(sq, pq), target: verdict(sq / pq, T('≥', 0.6)) });
  security.push({ name: 'Majordomo broker: broker CPU / request, CURVE + policy / plain', ours: fmt(sc, 'µs'), base: fmt(pc, 'µs'), ratio: ratio(sc, pc), target: 'report' });
  security.push({ name: 'Majordomo broker: CURVE + ZAP + 20-rule policy / CURVE alone (any key)', ours: fmt(sq, 'req/s'), base: fmt(cq, 'req/s'), ratio: ratio(sq, cq), target: 'report' });
  const check = await accessCheckCost(fx.policyText);
  log(`  access check: ${check.check.toFixed(1)} ns (a Map.get of the service name: ${check.map.toFixed(1)} ns)`);
  security.push({ name: 'access check per request (20 rules, cached) / a Map.get', ours: fmt(check.check, 'ns'), base: fmt(check.map, 'ns'), ratio: ratio(check.check, check.map), target: `≤ 2× ${check.check <= 2 * check.map ? '✓' : '✗'}` });
  log(`  (security: ${((Date.now() - securityStarted) / 1000).toFixed(1)} s)`);
}

/**
 * What the broker pays per request for the policy: AccessControl.request() on one connection that keeps
 * asking for the same service (a pipelined client), against a Map.get keyed by the service name built
 * from its bytes; ns per call, best of 5 rounds of 1 M.
 */
async function accessCheckCost(policyText) {
  const { AccessControl, compilePolicyText, silentLogger } = await import('../dist/mdp/mod.js');
  const { policy } = compilePolicyText(policyText, 'bench');
  const access = new AccessControl({ policy, source: 'bench', logger: silentLogger, lookup: () => ({ roles: ['client'] }) });
  const peer = { socketType: 'DEALER', identity: new Uint8Array(0), metadata: null, userId: 'client', publicKey: 'k', remoteAddress: '127.0.0.1', minor: 1 };
  const service = new TextEncoder().encode('echo');
  const body = [new Uint8Array(16)];
  const map = new Map([['echo', 1]]);
  const latin1 = (b) => {
    let s = '';
    for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]);
    return s;
  };
  const N = 1_000_000;
  const time = (fn) => {
    let best = Infinity;
    for (let round = 0; round < 5; round++) {
      const t0 = performance.now();
      fn();
      best = Math.min(best, ((performance.now() - t0) * 1e6) / N);
    }
    return best;
  };
  let sink = 0;
  const check = time(() => {
    for (let i = 0; i < N; i++) if (access.request(peer, service, body) === undefined) sink++;
  });
  const base = time(() => {
    for (let i = 0; i < N; i++) sink += map.get(latin1(service)) ?? 0;
  });
  if (sink === 42) log('');
  return { check, map: base };
}

/**
 * Keys and a policy for the secure broker: certificates written by purezmq's own keygen code into a
 * temporary directory (clients with role client, workers with role worker), and 20 rules of which the
 * one for `echo` is the last, so that a decision that were not cached would walk all of them.
 */
async function securityFixture() {
  const { newCertificate, writeCertificatePair } = await import('../dist/mdp/node.js');
  const { formatCurveCertificate } = await import('../dist/mdp/mod.js');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pz-bench-sec-'));
  mkdirSync(path.join(dir, 'clients'));
  const brokerCert = newCertificate('broker');
  await writeCertificatePair(path.join(dir, 'broker'), brokerCert);
  // the peers' public certificates are all the broker needs of them
  const cert = (name, role) => {
    const c = newCertificate(name, { role });
    writeFileSync(path.join(dir, 'clients', name), formatCurveCertificate(c, { secret: false }));
    return c;
  };
  const client = cert('client', 'client');
  const worker = cert('worker', 'worker');
  const rules = [];
  for (let i = 0; i < 19; i++) {
    rules.push(i % 2 ? `  - service: "team${i}.*"\n    request: [role:team${i}, user:lead${i}]\n    serve: [role:svc${i}]` : `  - service: "svc-${i}"\n    request: [role:client, user:u${i}]`);
  }
  rules.push('  - service: "echo"\n    request: [role:client]\n    serve: [role:worker]');
  const policyText = `default: deny\nrules:\n${rules.join('\n')}\n`;
  writeFileSync(path.join(dir, 'policy.yaml'), policyText);
  const keys = (c) => ({ curveServerKey: brokerCert.publicKey, curvePublicKey: c.publicKey, curveSecretKey: c.secretKey });
  return {
    args: ['--curve-cert', path.join(dir, 'broker_secret'), '--curve-clients', path.join(dir, 'clients'), '--access-policy', path.join(dir, 'policy.yaml')],
    clientOptions: keys(client),
    workerOptions: keys(worker),
    policyText,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

// ---- abuse (issue 13): a legitimate client's latency and the broker's memory while it is attacked --------
const abuseRows = []; // { name, p50, p99, rss, logged, target }
if (!only || only.test('abuse spray flood amplification')) {
  const abuseStarted = Date.now();
  const MIB = 1 << 20;
  const cases = [
    ['spray: new service names as fast as one client can send', 'spray', [], 'p99'],
    ['spray, never held back (--refusals-per-peer 0)', 'spray', ['--refusals-per-peer', '0'], 'report'],
    ['bytes: 256 KiB requests to 2000 worker-less services (budget 64 MiB, never held back)', 'bytes', ['--max-queued-bytes', '64MiB', '--refusals-per-peer', '0'], 'rss'],
    ['log flood: requests to a worker-less service', 'unknown', [], 'log'],
    ['mmi.broker amplification: 16 askers in a loop', 'mmi', [], 'p50'],
  ];
  for (const [label, kind, brokerArgs, focus] of cases) {
    try {
      const r = await abuse(kind, { windowMs: quick ? 1000 : 3000, brokerArgs });
      const ratio = (x, y) => (Number.isFinite(x / y) ? `${(x / y).toFixed(1)}×` : '—');
      const target =
        focus === 'p99'
          ? `p99 ≤ 2× ${r.during.p99us <= 2 * r.before.p99us ? '✓' : '✗'}`
          : focus === 'rss'
            ? `peak ≤ budget + start + 128 MiB ${r.rssPeak <= r.rssBefore + 64 * MIB + 128 * MIB ? '✓' : '✗'}`
            : focus === 'log'
              ? 'report'
              : 'report';
      abuseRows.push({
        name: label,
        p50: `${fmt(r.before.p50us, 'µs')} → ${fmt(r.during.p50us, 'µs')} (${ratio(r.during.p50us, r.before.p50us)})`,
        p99: `${fmt(r.before.p99us, 'µs')} → ${fmt(r.during.p99us, 'µs')} (${ratio(r.during.p99us, r.before.p99us)})`,
        rss: `${fmt(r.rssBefore, 'B')} → ${fmt(r.rssPeak, 'B')}`,
        logged: fmt(r.logBytes, 'B'),
        target,
      });
      log(`  abuse ${kind}: legit p50 ${abuseRows.at(-1).p50}, p99 ${abuseRows.at(-1).p99}, broker rss ${abuseRows.at(-1).rss}, logged ${abuseRows.at(-1).logged}`);
    } catch (err) {
      notes.push(`abuse ${kind}: ${String(err.message ?? err).split('\n')[0]}`);
    }
  }
  log(`  (abuse: ${((Date.now() - abuseStarted) / 1000).toFixed(1)} s)`);
}

cleanup();

// ---- print and write ----------------------------------------------------------------------------------
const zmqPkg = JSON.parse(readFileSync(path.join(ROOT, 'node_modules/zeromq/package.json'), 'utf8'));
const cpus = os.cpus();
const machine = `${cpus[0]?.model?.trim() ?? 'unknown CPU'}, ${cpus.length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.type()} ${os.release()} ${os.arch()}`;
const versions = `Node ${process.version}, zeromq.js ${zmqPkg.version} (libzmq ${zmq.version})`;
const when = new Date(started).toISOString().replace(/\.\d+Z$/, 'Z').replace('T', ' ');
const elapsed = ((Date.now() - started) / 1000).toFixed(0);

const header = ['', 'purezmq', 'zeromq.js', 'ratio', 'target'];
const body = table.map((r) => [r.name, r.ours, r.theirs, r.ratio, r.target]);
const widths = header.map((h, i) => Math.max([...h].length, ...body.map((b) => [...b[i]].length)));
const line = (cells) => `| ${cells.map((c, i) => c + ' '.repeat(widths[i] - [...c].length)).join(' | ')} |`;
const md = [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n');
/** A markdown table, columns padded to their widest cell; '' without rows. */
function mdTable(head, cells) {
  if (!cells.length) return '';
  const w = head.map((h, i) => Math.max([...h].length, ...cells.map((b) => [...b[i]].length)));
  const row = (cs) => `| ${cs.map((c, i) => c + ' '.repeat(w[i] - [...c].length)).join(' | ')} |`;
  return [row(head), `|${w.map((x) => '-'.repeat(x + 2)).join('|')}|`, ...cells.map(row)].join('\n');
}
/** A purezmq-alone table: measured against a baseline of its own. */
const aloneTable = (title, rows) => mdTable([title, 'measured', 'baseline', 'ratio', 'target'], rows.map((r) => [r.name, r.ours, r.base, r.ratio, r.target]));
const dMd = [aloneTable('durability (purezmq alone)', durability), aloneTable('security (purezmq alone)', security), aloneTable('cluster (purezmq alone)', cluster)].filter((t) => t !== '').join('\n\n');
const aMd = mdTable(
  ['abuse (purezmq alone)', 'legit p50 before → during', 'legit p99 before → during', 'broker RSS before → peak', 'logged', 'target'],
  abuseRows.map((r) => [r.name, r.p50, r.p99, r.rss, r.logged, r.target]),
);

const about = [
  `- Machine: ${machine}; ${versions}.`,
  `- Date: ${when}; ${quick ? 'quick' : 'full'} run, ${elapsed} s, load average ${loadAtStart.toFixed(2)} at start (the machine is shared).`,
];
log('');
if (table.length) {
  log(md);
  log('');
}
if (dMd) {
  log(dMd);
  log('');
}
if (aMd) {
  log(aMd);
  log('');
}
for (const a of about) log(a);
for (const n of notes) log(`note: ${n}`);

if (!quick && !only) {
  const method = `How it is measured:

- Every comparison runs its peers in separate processes on loopback, the same code for both libraries,
  written the way users write it: \`await send()\` per message, \`for await\` or \`await receive()\` on the
  other side, default options. Each row runs purezmq, zeromq.js, purezmq, zeromq.js (interleaved, so that
  load from elsewhere on the shared machine hits both alike) and keeps the best of each side.
  ratio = purezmq / zeromq.js; for latency, CPU and memory lower is better.
- Throughput (DEALER→ROUTER): the DEALER sends without end; the ROUTER times a ${P.windowMs} ms window that
  starts ${P.warmupMs} ms after its first message, from one message to a later one.
- Round trip: ${P.pings} DEALER→ROUTER→DEALER ping-pongs of 16 B after ${P.pingWarmup} warm-up ones; p50.
- Fan-out: one PUB process, 10 SUB processes. The publisher sends probes until every subscriber has received
  one (so every subscription has arrived), then ${Object.entries(P.fanCount).map(([size, n]) => `${n / 1000} k of ${size} B`).join(', ')}
  messages, with HWMs above that count (nothing dropped); the slowest subscriber's rate over the last 90 %.
  The counts keep each purezmq run above a second: shorter runs mostly time V8 compiling the code in 11
  processes that share 2 cores.
- CURVE round trip: as the round trip above, with CURVE on both sides.
- CURVE: curveServer/curveSecretKey/curvePublicKey on the ROUTER, curveServerKey/curvePublicKey/curveSecretKey
  on the DEALER. Connections/s: one at a time, a new DEALER, connect, (handshake,) one message and its echo,
  close; the NULL row is the same without CURVE, for scale.
- Majordomo: \`node dist/cli.js broker\` against bench/zeromq-broker.mjs (the same logic on zeromq.js: one
  ROUTER, a queue and LRU idle workers per service, no heartbeats). The same MDP/0.2 clients and echo
  workers, frame by frame, drive both brokers: 8 asynchronous clients with ${MDP_WINDOW} requests outstanding each
  (so that the broker, not the clients' round trips, is what is busy) in one process, 4 echo workers in
  another; 16 B bodies. They are purezmq sockets, and zeromq.js ones in the second run. The "whole stack"
  row instead gives each library its own clients and workers (all purezmq against all zeromq.js). CPU per request is a
  process's user+system time (all threads, so libzmq's I/O thread counts) over the window. On 2 cores the
  broker shares the machine with its clients and workers, so requests/s moves with their CPU as well as
  the broker's; the broker's own CPU per request is what isolates the broker. The single synchronous
  client sends a request and waits for its reply, as RFC 18's synchronous client does.
- Memory: DEALER→ROUTER over tcp in one process, ${P.heapCount / 1e6} M messages, JS heap after gc before and after,
  peak sampled every 10 k messages. Idle connections: a ROUTER process with ${P.conns / 1000} k purezmq DEALERs
  connected from another process, each after one round trip; deltas after gc from just after bind.
- Micro rows: tinybench in one process, purezmq alone (no zeromq.js counterpart).
- Durability (purezmq alone): the Majordomo row's set-up against \`broker --data-dir\` (a fresh temporary
  directory, fsync batch) and against the same broker in memory, interleaved, best of each. Titanic: 4
  client loops of titanic.request, titanic.reply until 200, titanic.close against a durable broker with 4
  echo workers; titanic.request p50 is from sending it to the 200, which the broker gives once the
  request is synced. Journal rows: bench/store.mjs on the journal alone (no broker, no sockets).
- Security (purezmq alone): the Majordomo row's set-up against \`broker --curve-cert … --curve-clients DIR
  --access-policy FILE\` (CURVE on every connection, each client and worker authenticated through ZAP
  against the certificate directory, a 20-rule policy whose rule for the benchmarked service is the
  last), against the same broker without either, and against CURVE alone (\`--curve-clients any\`, no
  policy), interleaved, best of each; the peers are CURVE clients of the secure brokers. The access check row times AccessControl.request() in one process for
  a connection that keeps asking for the same service (what the broker does per request), against a
  Map.get keyed by the service name built from its bytes.`;
  const doc = `# Benchmarks\n\n<!-- written by \`npm run bench\` (bench/run.mjs); do not edit by hand -->\n\n${about.join('\n')}\n\n${md}\n\n${dMd ? `${dMd}\n\n` : ''}${aMd ? `${aMd}\n\n` : ''}${method}\n${
    notes.length ? `\nProblems in this run:\n${notes.map((n) => `- ${n}`).join('\n')}\n` : ''
  }`;
  writeFileSync(path.join(HERE, 'results.md'), doc);
  log(`\nwrote bench/results.md`);
}
process.exit(0);

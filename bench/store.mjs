// Request store benchmarks on the built dist/ (run `npm run build` first):
//
//   node bench/store.mjs            full: append rates per fsync policy, recovery of 1 M records
//   node bench/store.mjs --quick    short: fewer appends, recovery of 100 k records
//   node bench/store.mjs --recover DIR   (internal) opens DIR and prints {records, durationMs}
//
// Rows are { name, value, unit, target? } (target: { op: '≥' | '≤', x } in the row's unit); runStoreBench({ quick }) returns them for bench/run.mjs.
// - append: REQUEST records with a 256-byte body, kept 64 in flight (the broker appends one per
//   request, many clients at once), into a journal in a fresh directory under the OS temp dir.
// - recovery: open() of a journal of N records, in a fresh process, two shapes: "closed as they
//   go" (what a broker's journal holds: REQUEST and DONE pairs, 64 requests live at the end) and
//   "all live" (the worst case: N pending requests, every record decoded, checksummed, copied and
//   kept in the live state).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const DIST = path.join(HERE, '..', 'dist', 'mdp', 'store');
const BODY_BYTES = 256;
const IN_FLIGHT = 64;

const SERVICE = new TextEncoder().encode('echo');
const CLIENT = new TextEncoder().encode('client-0001');
const BODY = new Uint8Array(BODY_BYTES).fill(0x5a);

function idOf(n) {
  const id = new Uint8Array(16);
  const dv = new DataView(id.buffer);
  dv.setUint32(8, (n / 2 ** 32) >>> 0);
  dv.setUint32(12, n >>> 0);
  id[0] = 0xbe;
  return id;
}

const request = (n) => ({ type: 1, id: idOf(n), kind: 'plain', service: SERVICE, body: [BODY], client: CLIENT, dialect: 'rfc18', createdAt: Date.now() });
const doneRecord = (n) => ({ type: 3, id: idOf(n) });

/**
 * Appends `count` records with `inFlight` appends outstanding at any time; returns records/s.
 * With `live` set, request n is closed (DONE) once `live` newer ones exist, as a broker's traffic
 * does: each request costs two records and the live set stays that small.
 */
async function appendRate(store, count, inFlight, { from = 0, live } = {}) {
  let next = from;
  let records = 0;
  const started = performance.now();
  async function worker() {
    while (records < count) {
      const n = next++;
      // both records are counted before the first await, so that the workers stop at `count` exactly
      const close = live !== undefined && n - from >= live && records + 2 <= count;
      records += close ? 2 : 1;
      await store.append(request(n));
      if (close) await store.append(doneRecord(n - live));
    }
  }
  await Promise.all(Array.from({ length: inFlight }, worker));
  return records / ((performance.now() - started) / 1000);
}

/** Runs `node bench/store.mjs --recover DIR` and returns what it reports ({ records, durationMs }). */
function recoverInChild(dir) {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--recover', dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`recovery child failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

async function recoverMain(dir) {
  const { JournalStore } = await import(pathToFileURL(path.join(DIST, 'journal.js')).href);
  const store = new JournalStore({ dir, maxBytes: 8 * 1024 ** 3 });
  const recovery = await store.open();
  await store.close();
  process.stdout.write(JSON.stringify({ records: recovery.records, durationMs: recovery.durationMs }) + '\n');
}

export async function runStoreBench({ quick = false } = {}) {
  const { JournalStore } = await import(pathToFileURL(path.join(DIST, 'journal.js')).href);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'purezmq-store-bench-'));
  const rows = [];
  const journal = async (name, options) => {
    const store = new JournalStore({ dir: path.join(tmp, name), maxBytes: 8 * 1024 ** 3, ...options });
    await store.open();
    return store;
  };
  try {
    const counts = quick ? { always: 200, batch: 20_000, never: 50_000, recovery: 100_000 } : { always: 1000, batch: 200_000, never: 500_000, recovery: 1_000_000 };
    for (const fsync of ['always', 'batch', 'never']) {
      const store = await journal(`append-${fsync}`, { fsync });
      await appendRate(store, Math.min(1000, counts[fsync]), IN_FLIGHT, { from: 1e9 }); // warm-up (JIT)
      const rate = await appendRate(store, counts[fsync], IN_FLIGHT);
      const stats = store.stats();
      await store.close();
      const per = fsync === 'never' ? '' : `, ${stats.recordsPerSync.toFixed(0)}/sync`;
      rows.push({ name: `store append, fsync ${fsync} (${IN_FLIGHT} in flight, ${BODY_BYTES} B body${per})`, value: rate, unit: 'records/s' });
    }

    // recovery: a journal of n records written as a broker would (a segment large enough that no
    // compaction folds them away first), then a fresh store's open() timed
    const n = counts.recovery;
    const label = n >= 1e6 ? `${n / 1e6} M` : `${n / 1e3} k`;
    const cases = [
      ['closed as they go', { live: 64 }],
      ['all live', {}],
    ];
    for (const [what, shape] of cases) {
      const dir = `recovery-${rows.length}`;
      const writer = await journal(dir, { fsync: 'never', segmentBytes: 4 * 1024 ** 3 });
      await appendRate(writer, n, 256, shape);
      const bytes = writer.stats().bytes;
      await writer.close();
      // in a fresh process, as a broker starts: a heap full of the writer's leftovers would tax the
      // recovery with collections that a restart does not have
      const recovery = recoverInChild(path.join(tmp, dir));
      fs.rmSync(path.join(tmp, dir), { recursive: true, force: true });
      if (recovery.records !== n) throw new Error(`recovered ${recovery.records} records, expected ${n}`);
      const name = `store recovery, ${label} records ${what} (${(bytes / 2 ** 20).toFixed(0)} MiB)`;
      rows.push({ name: `${name}, time`, value: recovery.durationMs, unit: 'ms' });
      rows.push({ name: `${name}, rate`, value: recovery.records / (recovery.durationMs / 1000), unit: 'records/s', target: { op: '≥', x: 200_000 } });
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return rows;
}

if (process.argv[1] && pathToFileURL(path.resolve(process.argv[1])).href === import.meta.url) {
  if (!fs.existsSync(path.join(DIST, 'journal.js'))) {
    process.stderr.write('dist/mdp/store/journal.js is missing: run `npm run build` first\n');
    process.exit(1);
  }
  const at = process.argv.indexOf('--recover');
  if (at >= 0) {
    await recoverMain(process.argv[at + 1]);
    process.exit(0);
  }
  const rows = await runStoreBench({ quick: process.argv.includes('--quick') });
  const width = Math.max(...rows.map((r) => r.name.length));
  for (const r of rows) {
    const v = r.unit === 'ms' ? r.value.toFixed(0) : r.value >= 1e4 ? `${(r.value / 1e3).toFixed(0)} k` : r.value.toFixed(0);
    process.stdout.write(`${r.name.padEnd(width)}  ${v} ${r.unit}\n`);
  }
}

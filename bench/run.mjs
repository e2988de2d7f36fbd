// `npm run bench`: micro-benchmarks (tinybench) and the loopback harness, purezmq beside zeromq.js,
// every row with its ratio. Builds dist/ first so the numbers are for the current sources.
import { spawnSync } from 'node:child_process';
import * as os from 'node:os';
import { throughput, latency, fanout } from './loopback.mjs';

const quick = process.argv.includes('--quick');
const build = spawnSync(process.execPath, ['node_modules/.bin/tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
if (build.status !== 0) process.exit(1);

const { runMicro } = await import('./micro.mjs');
await runMicro(quick);

const rows = [];
function fmt(n, unit) {
  if (unit === 'µs') return `${n.toFixed(0)} µs`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(0)} k`;
  return n.toFixed(0);
}
async function row(name, fn, key, unit, lowerIsBetter = false) {
  const ours = await fn('purezmq');
  const theirs = await fn('zeromq');
  const ratio = lowerIsBetter ? ours[key] / theirs[key] : ours[key] / theirs[key];
  rows.push({ name, purezmq: fmt(ours[key], unit) + (unit && unit !== 'µs' ? ` ${unit}` : ''), 'zeromq.js': fmt(theirs[key], unit) + (unit && unit !== 'µs' ? ` ${unit}` : ''), ratio: `${ratio.toFixed(2)}×` });
  console.log(`${name}: purezmq ${fmt(ours[key], unit)} / zeromq.js ${fmt(theirs[key], unit)} = ${ratio.toFixed(2)}×`);
}

const n = quick ? 0.2 : 1;
for (const transport of ['tcp', 'ipc']) {
  await row(`DEALER→ROUTER ${transport} 16 B (msg/s)`, (impl) => throughput(impl, transport, 16, Math.round(300000 * n)), 'msgsPerSec', 'msg/s');
  await row(`DEALER→ROUTER ${transport} 1 KiB (msg/s)`, (impl) => throughput(impl, transport, 1024, Math.round(150000 * n)), 'msgsPerSec', 'msg/s');
  await row(`DEALER→ROUTER ${transport} 64 KiB (MB/s)`, (impl) => throughput(impl, transport, 65536, Math.round(8000 * n)), 'mbPerSec', 'MB/s');
  await row(`round trip ${transport} 16 B p50 (lower is better)`, (impl) => latency(impl, transport, 16, Math.round(5000 * n)), 'p50us', 'µs', true);
}
await row('PUB→10 SUB tcp 16 B (msg/s per subscriber)', (impl) => fanout(impl, 'tcp', 16, Math.round(100000 * n), 10), 'msgsPerSec', 'msg/s');

console.log(`\nmachine: ${os.cpus()[0]?.model ?? 'unknown'} × ${os.cpus().length}, ${os.platform()} ${os.arch()}, node ${process.version}, ${new Date().toISOString().slice(0, 10)}`);
console.table(rows);

// Runs the runtime smoke suite under Node (built dist/), Bun and Deno (TypeScript sources).
// The bun and deno npm packages (devDependencies) provide the runtimes.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';

const bin = (name) => `node_modules/.bin/${name}`;
const runs = [
  { name: 'node', cmd: process.execPath, args: ['test/runtime/smoke.mjs', 'dist/mod.js'] },
  { name: 'bun', cmd: bin('bun'), args: ['test/runtime/smoke.mjs', 'src/mod.ts'] },
  { name: 'deno', cmd: bin('deno'), args: ['run', '-A', 'test/runtime/smoke.mjs', 'src/mod.ts'] },
];

// dist/ must reflect the current sources
const build = spawnSync(process.execPath, [bin('tsc'), '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
if (build.status !== 0) process.exit(1);

let passed = 0;
let failed = 0;
for (const run of runs) {
  if (!fs.existsSync(run.cmd)) {
    console.log(`not ok - ${run.name}: runtime missing at ${run.cmd} (npm ci installs it)`);
    failed++;
    continue;
  }
  const r = spawnSync(run.cmd, run.args, {
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
    timeout: 120000,
    env: { ...process.env, DENO_NO_UPDATE_CHECK: '1' },
  });
  process.stdout.write(r.stdout ?? '');
  // count the cases each runtime ran, so the summary says how many checks passed in all
  const counts = /(\d+) passed, (\d+) failed/.exec(r.stdout ?? '');
  passed += counts ? Number(counts[1]) : 0;
  failed += counts ? Number(counts[2]) : 0;
  if (r.status !== 0) {
    if (!counts || Number(counts[2]) === 0) failed++;
    console.log(`not ok - ${run.name}: exit ${r.status ?? r.signal}`);
  }
}
console.log(`smoke: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);

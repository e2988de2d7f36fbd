/**
 * The real majortomo (Python) client and worker against the real `purezmq broker`, where the machine
 * has them: a Python 3 with pyzmq (Debian: `apt-get install python3-zmq`) and majortomo importable
 * (`pip install majortomo`; PyPI is not reachable from every machine). Set PUREZMQ_PYTHON to pick the
 * interpreter. Without them these tests skip with the reason; the frame-exact copies in
 * dialects.e2e.test.ts run everywhere. The scripts below use majortomo's public API only.
 *
 * plantd (Go, goczmq/CZMQ) is not run here: it needs its Go module and cgo toolchain, which this
 * project's machines cannot fetch; dialects.e2e.test.ts covers its wire format frame for frame.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Worker } from '../../src/mdp/mod.ts';
import { buildCli, libMmi, startBroker, waitFor, type BrokerProcess } from './helpers.ts';
import { peerRequest, str } from './dialects.peers.ts';

function findPython(): { python?: string; reason: string } {
  const candidates = [process.env.PUREZMQ_PYTHON, '/usr/bin/python3', 'python3'].filter((c): c is string => !!c);
  const reasons: string[] = [];
  for (const python of candidates) {
    const r = spawnSync(python, ['-c', 'import zmq, majortomo.client, majortomo.worker'], { encoding: 'utf8', timeout: 10000 });
    if (r.status === 0) return { python, reason: '' };
    const err = (r.stderr || r.error?.message || '').trim().split('\n').at(-1) ?? '';
    reasons.push(`${python}: ${err || `exit ${r.status}`}`);
  }
  return { reason: `majortomo is not importable (${reasons.join('; ')}); install python3-zmq and majortomo, or set PUREZMQ_PYTHON` };
}

const found = findPython();
if (!found.python) console.warn(`skipping the real-majortomo tests: ${found.reason}`);

const WORKER_PY = `
import sys
from majortomo.worker import Worker, WorkerRequestsIterator
worker = Worker(sys.argv[1], sys.argv[2], heartbeat_interval=0.1, heartbeat_timeout=2.0)
requests = WorkerRequestsIterator(worker)
requests.stop_on_signal()
for request in requests:
    requests.send_reply_partial([b'py-partial'] + request)
    requests.send_reply_final([b'py-final'] + request)
`;

const CLIENT_PY = `
import json, sys
from majortomo.client import Client
with Client(sys.argv[1]) as client:
    client.send(sys.argv[2].encode('ascii'), *[a.encode() for a in sys.argv[3:]])
    parts = list(client.recv_all(timeout=5.0))
print(json.dumps([[frame.decode() for frame in part] for part in parts]))
`;

describe.skipIf(!found.python)('the real majortomo client and worker with purezmq broker', () => {
  let cli: string;
  let cleanup: () => void;
  let broker: BrokerProcess;
  let dir: string;
  const stops: (() => unknown)[] = [];

  beforeAll(async () => {
    ({ cli, cleanup } = buildCli());
    broker = await startBroker(cli, ['--bind', 'tcp://127.0.0.1:*', '--heartbeat-interval', '100', '--heartbeat-liveness', '20']);
    dir = mkdtempSync(join(tmpdir(), 'purezmq-majortomo-'));
    writeFileSync(join(dir, 'worker.py'), WORKER_PY);
    writeFileSync(join(dir, 'client.py'), CLIENT_PY);
  }, 60000);

  afterAll(async () => {
    for (const s of stops) await s();
    await broker?.stop('SIGTERM');
    cleanup?.();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function runClient(service: string, body: string[]): Promise<string[][]> {
    return new Promise((resolve, reject) => {
      const p = spawn(found.python!, [join(dir, 'client.py'), broker.endpoint, service, ...body], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      p.stdout.on('data', (c: Buffer) => (out += c.toString()));
      p.stderr.on('data', (c: Buffer) => (err += c.toString()));
      p.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as string[][]) : reject(new Error(`majortomo client exited ${code}: ${err}`))));
    });
  }

  it('a majortomo worker serves an RFC 18 client and an RFC 7 client', async () => {
    const w = spawn(found.python!, [join(dir, 'worker.py'), broker.endpoint, 'py-echo'], { stdio: 'ignore' });
    const exited = new Promise((r) => w.on('exit', r));
    stops.push(() => {
      w.kill('SIGTERM');
      return exited;
    });
    await waitFor(async () => (await libMmi(broker.endpoint, 'mmi.workers', ['py-echo']))[1] === '1', 'majortomo worker READY', 10000);
    const parts = await peerRequest('rfc18', broker.endpoint, 'py-echo', ['hello']);
    expect(parts.map((p) => [p.final, p.body])).toEqual([
      [false, ['py-partial', 'hello']],
      [true, ['py-final', 'hello']],
    ]);
    const [merged] = await peerRequest('rfc7', broker.endpoint, 'py-echo', ['x']);
    expect(merged!.body).toEqual(['py-partial', 'x', 'py-final', 'x']);
    const m = JSON.parse((await libMmi(broker.endpoint, 'mmi.broker'))[1]!);
    expect(m.dialects.majortomo.workers).toBe(1);
  });

  it('a majortomo client is served by a purezmq RFC 18 worker, PARTIALs and FINAL', async () => {
    const ours = new Worker(broker.endpoint, 'ts-echo', async (req, ctx) => {
      await ctx.partial(['ts-partial', ...req]);
      return ['ts-final', ...req.map(str)];
    }, { heartbeatInterval: 100 });
    stops.push(() => ours.close(0));
    await waitFor(async () => (await libMmi(broker.endpoint, 'mmi.workers', ['ts-echo']))[1] === '1', 'worker');
    expect(await runClient('ts-echo', ['a', 'b'])).toEqual([
      ['ts-partial', 'a', 'b'],
      ['ts-final', 'a', 'b'],
    ]);
  });
});


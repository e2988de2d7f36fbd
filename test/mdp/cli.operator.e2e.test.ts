/**
 * The operator's first hour with `purezmq broker` (issue 13 items 14 and 15), on the real process:
 * the start-up banner, signals (SIGHUP, a second SIGTERM), what a failed start looks like, and debug
 * traces.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as net from 'node:net';
import { spawn } from 'node:child_process';
import { buildCli, runCli, startBroker, waitFor, type BrokerProcess } from './helpers.ts';
import { NamedClient, ReviveWorker } from './durable.peers.ts';

let cli: string;
let cleanup: () => void;
const running: BrokerProcess[] = [];

beforeAll(() => {
  ({ cli, cleanup } = buildCli());
}, 60_000);

afterAll(async () => {
  for (const b of running) await b.stop('SIGKILL');
  cleanup?.();
});

async function broker(args: string[]): Promise<BrokerProcess> {
  const b = await startBroker(cli, ['--bind', 'tcp://127.0.0.1:*', ...args]);
  running.push(b);
  return b;
}

/** A TCP port that is in use for as long as the returned server lives. */
function busyPort(): Promise<{ port: number; close: () => void }> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => resolve({ port: (srv.address() as net.AddressInfo).port, close: () => srv.close() }));
  });
}

describe('purezmq broker for an operator', () => {
  it('starts with a banner: version, where the configuration came from, endpoints, dialects, heartbeat, store', async () => {
    const b = await broker(['--log-format', 'json', '--heartbeat-interval', '1s']);
    await waitFor(() => b.stderr().includes('purezmq broker starting'), 'the banner');
    const banner = JSON.parse(b.stderr().split('\n').find((l) => l.includes('purezmq broker starting'))!);
    expect(banner).toMatchObject({
      level: 'info',
      version: expect.stringMatching(/^\d+\.\d+\.\d+$/),
      flags: expect.stringContaining('--heartbeat-interval'),
      bind: 'tcp://127.0.0.1:*',
      dialects: 'rfc18,rfc7,majortomo,plantd',
      heartbeat: '1000ms x 3',
      store: 'memory',
    });
  });

  it('ignores PUREZMQ_CLIENT_* variables (they are for clients), but still checks its own', async () => {
    const env = { ...process.env, PUREZMQ_CLIENT_TIMEOUT: 'soon' };
    const ok = await new Promise<string>((resolve, reject) => {
      const p = spawn(process.execPath, [cli, 'broker', '--bind', 'tcp://127.0.0.1:*'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      p.stdout.on('data', (d: Buffer) => {
        p.kill('SIGKILL');
        resolve(d.toString());
      });
      p.on('exit', (code) => reject(new Error(`exited ${code}`)));
    });
    expect(ok).toMatch(/^listening on /);
    const bad = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const p = spawn(process.execPath, [cli, 'broker', '--bind', 'tcp://127.0.0.1:*'], { env: { ...process.env, PUREZMQ_BROKER_MAX_WORKERS: 'lots' }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      p.stderr.on('data', (d: Buffer) => (stderr += d));
      p.on('exit', (code) => resolve({ code, stderr }));
    });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('PUREZMQ_BROKER_MAX_WORKERS');
  });

  it('announces no endpoint when a later bind fails, and says so in JSON when logs are JSON', async () => {
    const busy = await busyPort();
    try {
      const r = await runCli(cli, ['broker', '--bind', 'tcp://127.0.0.1:*', '--bind', `tcp://127.0.0.1:${busy.port}`, '--log-format', 'json']);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/cannot bind tcp:\/\/127\.0\.0\.1:\d+/);
    } finally {
      busy.close();
    }
    const usage = await runCli(cli, ['broker', '--bind', 'udp://x', '--log-format', 'json']);
    expect(usage.code).toBe(2);
    const last = JSON.parse(usage.stderr.trim().split('\n').at(-1)!);
    expect(last).toMatchObject({ level: 'error', exitCode: 2, code: 'MDP_CONFIG' });
    const missing = await runCli(cli, ['request']);
    expect(missing.stderr.match(/--help/g)).toHaveLength(1); // the hint once
  });

  it('ignores SIGHUP with a log line, and a second SIGTERM during the drain exits 1 at once', async () => {
    const b = await broker(['--shutdown-grace', '30s', '--heartbeat-interval', '100']);
    b.proc.kill('SIGHUP');
    await waitFor(() => b.stderr().includes('SIGHUP ignored'), 'the SIGHUP line');
    expect(b.proc.exitCode).toBeNull();
    // a request that never finishes keeps the drain waiting
    const w = new ReviveWorker(b.endpoint, 'forever', () => new Promise(() => undefined));
    const c = new NamedClient(b.endpoint, 'op-client');
    try {
      await waitFor(() => w.registrations === 1, 'the worker');
      await c.send('forever', 'x');
      await waitFor(() => w.served.length === 1, 'the dispatch');
      b.proc.kill('SIGTERM');
      await waitFor(() => b.stderr().includes('draining'), 'the drain');
      expect(await b.stop('SIGTERM')).toBe(1);
      expect(b.stderr()).toMatch(/second signal: exiting without finishing the drain/);
    } finally {
      w.stop();
      await c.close();
    }
  });

  it('--log-level debug traces connections and every request with its worker, attempt and latency', async () => {
    const b = await broker(['--log-level', 'debug', '--heartbeat-interval', '100']);
    const w = new ReviveWorker(b.endpoint, 'traced', (body) => body);
    const c = new NamedClient(b.endpoint, 'tracer');
    try {
      await waitFor(() => w.registrations === 1, 'the worker');
      await c.send('traced', 'hello');
      expect(await c.waitFor('hello', 5000)).toBe(true);
      await waitFor(() => /delivered=true/.test(b.stderr()), 'the delivery line');
      const err = b.stderr();
      expect(err).toMatch(/DEBUG connection ready/);
      expect(err).toMatch(/DEBUG request from=queued to=dispatched kind=plain service=traced client=\w+ attempt=1 worker=\w+/);
      expect(err).toMatch(/DEBUG request from=dispatched to=gone .*delivered=true latencyMs=[\d.]+/);
    } finally {
      w.stop();
      await c.close();
    }
  });
});

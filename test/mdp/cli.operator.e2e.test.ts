/**
 * The operator's first hour with `purezmq broker` (issue 13 items 14 and 15), on the real process:
 * the start-up banner, signals (SIGHUP, a second SIGTERM), what a failed start looks like, and debug
 * traces.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as net from 'node:net';
import { spawn } from 'node:child_process';
import { buildCli, runCli, spawnCli, startBroker, waitFor, type BrokerProcess } from './helpers.ts';
import { execFileSync } from 'node:child_process';
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

describe("the README's run command", () => {
  it('npm start runs the built broker, and a SIGTERM to npm stops the broker too (no orphan)', async () => {
    const npm = spawn('npm', ['start', '--silent', '--', '--bind', 'tcp://127.0.0.1:*'], { stdio: ['ignore', 'pipe', 'pipe'], cwd: process.cwd() });
    let out = '';
    npm.stdout.on('data', (d: Buffer) => (out += d));
    const exited = new Promise<void>((r) => npm.on('exit', () => r()));
    try {
      await waitFor(() => /listening on tcp:\/\/127\.0\.0\.1:\d+/.test(out), 'the broker', 15_000);
      // npm runs the script through sh, which execs node: the broker is npm's child
      const broker = execFileSync('pgrep', ['-P', String(npm.pid)], { encoding: 'utf8' }).trim().split('\n').map(Number);
      expect(broker).toHaveLength(1);
      const alive = (): boolean => {
        try {
          process.kill(broker[0]!, 0);
          return true;
        } catch {
          return false;
        }
      };
      expect(alive()).toBe(true);
      npm.kill('SIGTERM');
      await exited;
      await waitFor(() => !alive(), 'the broker to stop with npm', 10_000);
    } finally {
      if (npm.exitCode === null) npm.kill('SIGKILL');
    }
  });
});

describe('purezmq worker and request tell the truth', () => {
  const workers: ReturnType<typeof spawnCli>[] = [];
  const worker = (args: string[]): ReturnType<typeof spawnCli> => {
    const w = spawnCli(cli, ['worker', ...args]);
    workers.push(w);
    return w;
  };
  afterAll(async () => {
    for (const w of workers) await w.stop();
  });

  it('says "worker ready" only once the broker answered, and logs why it cannot reach one', async () => {
    const busy = await busyPort();
    busy.close(); // a port nobody listens on
    const lost = worker(['lonely', '--exec', 'cat', '--broker', `tcp://127.0.0.1:${busy.port}`, '--heartbeat-interval', '100']);
    await waitFor(() => /cannot reach the broker/.test(lost.stderr()), 'the connection failure', 10_000);
    expect(lost.stderr()).toContain(`tcp://127.0.0.1:${busy.port}`);
    expect(lost.stderr()).not.toMatch(/worker ready/);
    const b = await broker(['--heartbeat-interval', '100']);
    const found = worker(['found', '--exec', 'cat', '--broker', b.endpoint, '--heartbeat-interval', '100']);
    await waitFor(() => /worker ready/.test(found.stderr()), 'worker ready');
  });

  it('a failing command fails the request (exit 7, with its stderr); requeue hands it to another worker', async () => {
    const b = await broker(['--heartbeat-interval', '100', '--retry-backoff', '20']);
    const bad = worker(['flaky', '--exec', 'echo oops >&2; exit 3', '--broker', b.endpoint, '--heartbeat-interval', '100']);
    await waitFor(() => /worker ready/.test(bad.stderr()), 'the failing worker');
    const r = await runCli(cli, ['request', 'flaky', 'x', '--broker', b.endpoint, '--timeout', '5s']);
    expect(r.code).toBe(7);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/oops/);
    expect(r.stderr).toMatch(/"flaky" failed: the command exited with 3/);
    await bad.stop();
    // requeue: a worker that fails hands the request back; the broker gives it to the other one
    const quitter = worker(['shared', '--exec', 'exit 1', '--on-error', 'requeue', '--broker', b.endpoint, '--heartbeat-interval', '100']);
    await waitFor(() => /worker ready/.test(quitter.stderr()), 'the quitter');
    const good = worker(['shared', '--exec', 'echo served', '--broker', b.endpoint, '--heartbeat-interval', '100']);
    await waitFor(() => /worker ready/.test(good.stderr()), 'the good worker');
    for (let i = 0; i < 3; i++) {
      const ok = await runCli(cli, ['request', 'shared', String(i), '--broker', b.endpoint, '--timeout', '10s']);
      expect([ok.code, ok.stdout]).toEqual([0, 'served\n']);
    }
  });

  it('--exec-timeout ends the whole process group, not only the shell', async () => {
    const b = await broker(['--heartbeat-interval', '100']);
    const marker = `107.${process.pid}`;
    const w = worker(['slowpoke', '--exec', `sleep ${marker}; echo never`, '--exec-timeout', '300ms', '--kill-grace', '300ms', '--broker', b.endpoint, '--heartbeat-interval', '100']);
    await waitFor(() => /worker ready/.test(w.stderr()), 'worker');
    const r = await runCli(cli, ['request', 'slowpoke', 'x', '--broker', b.endpoint, '--timeout', '5s']);
    expect(r.code).toBe(7);
    expect(r.stderr).toMatch(/did not finish within 300 ms/);
    expect(w.stderr()).toMatch(/command timed out: terminating its process group/);
    const left = (): string => {
      try {
        return execFileSync('pgrep', ['-f', `^sleep ${marker}`], { encoding: 'utf8' });
      } catch {
        return ''; // pgrep exits 1 when nothing matches
      }
    };
    await waitFor(() => left() === '', 'the sleep to be gone');
  });

  it('a retry keeps its connection: a reply that comes after the first timeout is taken', async () => {
    const b = await broker(['--heartbeat-interval', '100']);
    const w = worker(['slow', '--exec', 'sleep 1.5; echo done', '--broker', b.endpoint, '--heartbeat-interval', '100']);
    await waitFor(() => /worker ready/.test(w.stderr()), 'worker');
    // the first attempt times out after 1 s; its reply comes during the second attempt
    const r = await runCli(cli, ['request', 'slow', 'x', '--broker', b.endpoint, '--timeout', '1s', '--retries', '2']);
    expect([r.code, r.stdout]).toEqual([0, 'done\n']);
  });
});


/**
 * purezmq's own Majordomo Client and Worker, and the `purezmq` command line, against the real
 * broker process.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as net from 'node:net';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Worker, MdpError, MdpErrorCode, type WorkerEvent } from '../../src/mdp/mod.ts';
import { buildCli, libMmi, libServiceMetrics, runCli, spawnCli, startBroker, waitFor, type BrokerProcess } from './helpers.ts';
import { PeerWorker } from './dialects.peers.ts';

const HB = 100;
let cli: string;
let cleanup: () => void;
let broker: BrokerProcess;
let ep: string;
const closers: (() => unknown)[] = [];

function track<T extends { close(): unknown }>(x: T): T {
  closers.push(() => x.close());
  return x;
}

const str = (frames: Uint8Array[]): string[] => frames.map((f) => Buffer.from(f).toString());

async function workerCount(endpoint: string, service: string): Promise<number> {
  return Number((await libMmi(endpoint, 'mmi.workers', [service]))[1]);
}

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

beforeAll(async () => {
  ({ cli, cleanup } = buildCli());
  broker = await startBroker(cli, ['--bind', 'tcp://127.0.0.1:*', '--heartbeat-interval', String(HB), '--heartbeat-liveness', '5', '--busy-worker-timeout', '10s']);
  ep = broker.endpoint;
}, 60000);

afterAll(async () => {
  for (const c of closers.reverse()) await c();
  await broker?.stop('SIGTERM');
  cleanup?.();
});

const workerOptions = { heartbeatInterval: HB, heartbeatLiveness: 5, reconnectInterval: 100 };

describe('Client and Worker against purezmq broker', () => {
  it('MDP/0.2: stream() yields each PARTIAL then the FINAL; request() returns them merged', async () => {
    track(
      new Worker(ep, 'count', async (req, ctx) => {
        const n = Number(Buffer.from(req[0]!).toString());
        for (let i = 0; i < n; i++) await ctx.partial(`part ${i}`);
        return ['end'];
      }, workerOptions),
    );
    const client = track(new Client(ep, { timeout: 2000 }));
    const chunks: [boolean, string[]][] = [];
    for await (const c of client.stream('count', '3')) chunks.push([c.final, str(c.body)]);
    expect(chunks).toEqual([
      [false, ['part 0']],
      [false, ['part 1']],
      [false, ['part 2']],
      [true, ['end']],
    ]);
    expect(str(await client.request('count', '2'))).toEqual(['part 0', 'part 1', 'end']);
  });

  it('MDP/0.1 client and worker; mixed with 0.2 give the same request() result', async () => {
    track(new Worker(ep, 'v1-upper', async (req, ctx) => {
      await ctx.partial('p');
      return req.map((f) => Buffer.from(f).toString().toUpperCase());
    }, { ...workerOptions, version: '0.1' }));
    const c1 = track(new Client(ep, { version: '0.1', timeout: 2000 }));
    const c2 = track(new Client(ep, { version: '0.2', timeout: 2000 }));
    expect(str(await c1.request('v1-upper', ['a', 'b']))).toEqual(['p', 'A', 'B']);
    expect(str(await c2.request('v1-upper', ['a', 'b']))).toEqual(['p', 'A', 'B']);
    const chunks = [];
    for await (const c of c1.stream('v1-upper', 'x')) chunks.push(c.final);
    expect(chunks).toEqual([true]);
  });

  it('keeps many requests in flight over a bounded pool without mixing replies', async () => {
    for (let i = 0; i < 3; i++) {
      track(new Worker(ep, 'pool', async (req) => {
        await new Promise((r) => setTimeout(r, Math.random() * 10));
        return ['re', ...req];
      }, workerOptions));
    }
    await waitFor(async () => (await workerCount(ep, 'pool')) === 3, 'workers');
    const client = track(new Client(ep, { timeout: 5000, maxInFlight: 4 }));
    const replies = await Promise.all(Array.from({ length: 40 }, (_, i) => client.request('pool', [`req-${i}`])));
    replies.forEach((r, i) => expect(str(r)).toEqual(['re', `req-${i}`]));
    expect(client.stats).toMatchObject({ requests: 40, replies: 40, retries: 0 });
  });

  it('retries on a new socket when no reply comes, with backoff', async () => {
    const deaf = track(new PeerWorker('rfc18', ep, 'flaky', () => 'ignore', { heartbeatMs: HB }));
    await waitFor(async () => (await workerCount(ep, 'flaky')) === 1, 'deaf worker');
    const good = track(new PeerWorker('rfc18', ep, 'flaky', (body) => body, { heartbeatMs: HB }));
    await waitFor(async () => (await workerCount(ep, 'flaky')) === 2, 'good worker');
    const client = track(new Client(ep, { timeout: 300, retries: 2, retryBackoff: 50 }));
    expect(str(await client.request('flaky', 'x'))).toEqual(['x']);
    expect(client.stats.retries).toBe(1);
    expect(client.stats.timeouts).toBe(1);
    expect(deaf.requests).toHaveLength(1);
    expect(good.requests).toHaveLength(1);
  });

  it('a stream whose worker dies after a PARTIAL: the broker does not run it again, stream() fails MDP_STREAM_INTERRUPTED', async () => {
    const dying = track(new PeerWorker('rfc18', ep, 'fragile', async (_body, partial) => {
      await partial(['first half']);
      return 'ignore' as const;
    }, { heartbeatMs: HB }));
    await waitFor(async () => (await workerCount(ep, 'fragile')) === 1, 'the dying worker');
    const client = track(new Client(ep, { timeout: 1500, retries: 2, retryBackoff: 10 }));
    const seen: string[][] = [];
    let healthyWorker: PeerWorker | undefined;
    const outcome = (async () => {
      for await (const chunk of client.stream('fragile', 'x')) {
        seen.push(str(chunk.body));
        if (seen.length === 1) {
          // a healthy worker joins, then the first one dies mid-stream
          const healthy = track(new PeerWorker('rfc18', ep, 'fragile', (body) => body, { heartbeatMs: HB }));
          await waitFor(async () => (await workerCount(ep, 'fragile')) === 2, 'the healthy worker');
          dying.kill();
          healthyWorker = healthy;
        }
      }
    })().catch((e: unknown) => e);
    const err = await outcome;
    expect(err).toBeInstanceOf(MdpError);
    expect((err as MdpError).code).toBe(MdpErrorCode.STREAM_INTERRUPTED);
    expect(seen).toEqual([['first half']]);
    expect(client.stats.retries).toBe(0);
    // the request was not handed to the healthy worker: its PARTIAL would have reached the client twice
    expect(healthyWorker!.requests).toHaveLength(0);
    expect((await libServiceMetrics(ep, 'fragile'))!.drops.interrupted).toBe(1);
  });

  it('request() after a stream went silent mid-way retries from the start: no PARTIAL twice', async () => {
    let calls = 0;
    track(new PeerWorker('rfc18', ep, 'stutter', async (_body, partial) => {
      calls++;
      await partial([`part of try ${calls}`]);
      return calls === 1 ? ('ignore' as const) : ['end'];
    }, { heartbeatMs: HB }));
    track(new PeerWorker('rfc18', ep, 'stutter', async (_body, partial) => {
      calls++;
      await partial([`part of try ${calls}`]);
      return calls === 1 ? ('ignore' as const) : ['end'];
    }, { heartbeatMs: HB }));
    await waitFor(async () => (await workerCount(ep, 'stutter')) === 2, 'workers');
    const client = track(new Client(ep, { timeout: 300, retries: 2, retryBackoff: 10 }));
    expect(str(await client.request('stutter', 'x'))).toEqual(['part of try 2', 'end']);
    expect(client.stats.retries).toBe(1);
  });

  it('gives typed errors after the last retry: unreachable, unknown service, timeout', async () => {
    const port = await freePort();
    const nowhere = track(new Client(`tcp://127.0.0.1:${port}`, { timeout: 200, retries: 1, retryBackoff: 10 }));
    await expect(nowhere.request('echo', 'x')).rejects.toMatchObject({ name: 'MdpError', code: MdpErrorCode.BROKER_UNREACHABLE });

    const client = track(new Client(ep, { timeout: 200, retries: 1, retryBackoff: 10 }));
    const unknown = await client.request('no-such-service', 'x').catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(MdpError);
    expect((unknown as MdpError).code).toBe(MdpErrorCode.UNKNOWN_SERVICE);
    expect((unknown as MdpError).service).toBe('no-such-service');

    track(new PeerWorker('rfc18', ep, 'mute', () => 'ignore', { heartbeatMs: HB }));
    await waitFor(async () => (await workerCount(ep, 'mute')) === 1, 'worker');
    await expect(client.request('mute', 'x')).rejects.toMatchObject({ code: MdpErrorCode.TIMEOUT });
  });

  it('worker: close() sends DISCONNECT, the broker forgets it at once', async () => {
    const w = new Worker(ep, 'bye', (req) => req, workerOptions);
    await waitFor(async () => (await workerCount(ep, 'bye')) === 1, 'worker');
    await w.close();
    expect(w.closed).toBe(true);
    await waitFor(async () => (await workerCount(ep, 'bye')) === 0, 'the broker to forget the worker', 1000);
  });

  it('worker: a throwing handler re-registers (request re-queued to another worker), or replies with errorReply', async () => {
    let calls = 0;
    track(new Worker(ep, 'boom', () => {
      calls++;
      throw new Error('boom');
    }, workerOptions));
    await waitFor(async () => (await workerCount(ep, 'boom')) === 1, 'first worker');
    track(new Worker(ep, 'boom', (req) => ['ok', ...req], workerOptions));
    await waitFor(async () => (await workerCount(ep, 'boom')) === 2, 'second worker');
    const client = track(new Client(ep, { timeout: 3000 }));
    expect(str(await client.request('boom', 'x'))).toEqual(['ok', 'x']);
    expect(calls).toBe(1);

    track(new Worker(ep, 'boom-reply', () => {
      throw new Error('nope');
    }, { ...workerOptions, errorReply: (e) => ['error', (e as Error).message] }));
    expect(str(await client.request('boom-reply', 'x'))).toEqual(['error', 'nope']);
  });

  it('worker: re-registers after the broker restarts, gracefully (DISCONNECT) or not (silence)', async () => {
    const port = await freePort();
    const endpoint = `tcp://127.0.0.1:${port}`;
    const args = ['--bind', endpoint, '--heartbeat-interval', String(HB), '--heartbeat-liveness', '5'];
    let b = await startBroker(cli, args);
    const events: WorkerEvent['type'][] = [];
    const reasons: string[] = [];
    const w = track(new Worker(endpoint, 'phoenix', (req) => ['alive', ...req], workerOptions));
    w.on((e) => {
      events.push(e.type);
      if (e.type === 'disconnect') reasons.push(e.reason);
    });
    const client = track(new Client(endpoint, { timeout: 1000, retries: 3, retryBackoff: 100 }));
    try {
      expect(str(await client.request('phoenix', '1'))).toEqual(['alive', '1']);
      expect(await b.stop('SIGTERM')).toBe(0); // sends DISCONNECT to workers
      await waitFor(() => reasons.includes('broker-disconnect'), 'DISCONNECT from the broker');
      b = await startBroker(cli, args);
      expect(str(await client.request('phoenix', '2'))).toEqual(['alive', '2']);
      await b.stop('SIGKILL'); // no goodbye: the worker must notice the silence
      await waitFor(() => reasons.includes('broker-silent'), 'the worker to notice a silent broker', 3000);
      b = await startBroker(cli, args);
      expect(str(await client.request('phoenix', '3'))).toEqual(['alive', '3']);
      expect(w.stats.reconnects).toBeGreaterThanOrEqual(2);
      // the first READY happened in the constructor, before the listener
      expect(events.filter((t) => t === 'ready').length).toBeGreaterThanOrEqual(2);
    } finally {
      await w.close(100);
      await b.stop('SIGKILL');
    }
  });
});

describe('purezmq command line', () => {
  it('--help everywhere exits 0; no command or an unknown one exits 2', async () => {
    for (const args of [['--help'], ['broker', '--help'], ['request', '--help'], ['worker', '--help'], ['mmi', '-h']]) {
      const r = await runCli(cli, args);
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.stdout).toMatch(/Usage: purezmq/);
      expect(r.stdout).toMatch(/Exit codes:/);
    }
    expect((await runCli(cli, [])).code).toBe(2);
    const bad = await runCli(cli, ['frobnicate']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/unknown command 'frobnicate'/);
    expect((await runCli(cli, ['request'])).code).toBe(2);
    expect((await runCli(cli, ['broker', '--no-such-flag'])).code).toBe(2);
  });

  it('configuration: file < flags, --print-config, one message per bad field', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pzmq-cfg-'));
    try {
      const file = join(dir, 'broker.yaml');
      writeFileSync(file, 'broker:\n  heartbeat_interval: 1s\n  heartbeat_liveness: 4\n  max_workers: 7\nlog:\n  level: warn\n');
      const r = await runCli(cli, ['broker', '--config', file, '--heartbeat-liveness', '5', '--print-config']);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/heartbeatInterval: 1000/);
      expect(r.stdout).toMatch(/heartbeatLiveness: 5/);
      expect(r.stdout).toMatch(/maxWorkers: 7/);
      expect(r.stdout).toMatch(/level: warn/);

      writeFileSync(file, 'broker:\n  heartbeat_interval: soon\n  max_workers: -3\n  colour: blue\n');
      const bad = await runCli(cli, ['broker', '--config', file, '--log-level', 'loud']);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(/broker\.heartbeat_interval \(in .*broker\.yaml\): must be a duration/);
      expect(bad.stderr).toMatch(/broker\.max_workers .*must be at least 1/);
      expect(bad.stderr).toMatch(/broker\.colour .*unknown field/);
      expect(bad.stderr).toMatch(/log\.level \(from --log-level\): must be one of silent, error, warn, info, debug/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('request, worker --exec and mmi from the shell, with their exit codes', async () => {
    const w = spawnCli(cli, ['worker', 'shout', '--exec', 'tr a-z A-Z', '--broker', ep, '--heartbeat-interval', String(HB), '--heartbeat-liveness', '5']);
    try {
      await waitFor(async () => (await workerCount(ep, 'shout')) === 1, 'the CLI worker');
      const r = await runCli(cli, ['request', 'shout', 'hello', '--broker', ep]);
      expect(r).toMatchObject({ code: 0, stdout: 'HELLO\n' });
      const piped = await runCli(cli, ['request', 'shout', '-', '--broker', ep], 'from stdin');
      expect(piped).toMatchObject({ code: 0, stdout: 'FROM STDIN\n' });

      const services = await runCli(cli, ['mmi', 'services', '--broker', ep]);
      expect(services.code).toBe(0);
      expect(services.stdout).toMatch(/^SERVICE\s+WORKERS\s+IDLE\s+QUEUED/);
      expect(services.stdout).toMatch(/^shout\s+1\s+1\s+0\s+2\s+2/m);
      expect((await runCli(cli, ['mmi', 'service', 'shout', '--broker', ep])).code).toBe(0);
      const missing = await runCli(cli, ['mmi', 'service', 'nope', '--broker', ep]);
      expect(missing.code).toBe(5);
      expect(missing.stdout).toMatch(/nope\s+404/);
      const hb = await runCli(cli, ['mmi', 'heartbeat', '--broker', ep, '--json']);
      expect(JSON.parse(hb.stdout)).toEqual({ intervalMs: HB, liveness: 5 });
      expect((await runCli(cli, ['mmi', 'mmi.nothing', '--broker', ep])).code).toBe(5);

      const unknown = await runCli(cli, ['request', 'nope', 'x', '--broker', ep, '--timeout', '200ms', '--retries', '0']);
      expect(unknown.code).toBe(5);
      expect(unknown.stderr).toMatch(/no worker serves "nope"/);
      const port = await freePort();
      const unreachable = await runCli(cli, ['request', 'shout', 'x', '--broker', `tcp://127.0.0.1:${port}`, '--timeout', '200ms', '--retries', '0']);
      expect(unreachable.code).toBe(3);
    } finally {
      expect(await w.stop()).toBe(0);
    }
    await waitFor(async () => (await workerCount(ep, 'shout')) === 0, 'the CLI worker to say goodbye', 2000);
  });

  it('request exits 4 on timeout when the service exists but never answers', async () => {
    track(new PeerWorker('rfc18', ep, 'sleepy', () => 'ignore', { heartbeatMs: HB }));
    await waitFor(async () => (await workerCount(ep, 'sleepy')) === 1, 'worker');
    const r = await runCli(cli, ['request', 'sleepy', 'x', '--broker', ep, '--timeout', '200ms', '--retries', '0']);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/no reply from "sleepy"/);
  });
});

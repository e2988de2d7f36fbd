/**
 * End to end: the real `purezmq broker` process, driven by Majordomo clients and workers written
 * frame by frame on libzmq (RFC 7 / RFC 18 framing spelled out in the test helpers, not taken from
 * our codec; the workers are dialects.peers.ts's PeerWorker as rfc18 = MDP/0.2 or rfc7 = MDP/0.1).
 * Each test uses its own service names, so tests share one broker without interfering.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as net from 'node:net';
import * as lib from 'zeromq';
import {
  buildCli,
  bytes,
  E,
  libMmi,
  libServiceMetrics,
  libRequest01,
  libRequest02,
  s,
  startBroker,
  waitFor,
  type BrokerProcess,
} from './helpers.ts';
import { B, PeerWorker } from './dialects.peers.ts';

const HB = 100;
/** Generous, so that a loaded CI machine does not expire live workers. */
const LIVENESS = 5;
let cli: string;
let cleanup: () => void;
let broker: BrokerProcess;
let ep: string;
const workers: PeerWorker[] = [];

function worker(...args: ConstructorParameters<typeof PeerWorker>): PeerWorker {
  const w = new PeerWorker(...args);
  workers.push(w);
  return w;
}

async function workerCount(service: string): Promise<number> {
  const [code, n] = await libMmi(ep, 'mmi.workers', [service]);
  expect(code).toBe('200');
  return Number(n);
}

beforeAll(async () => {
  ({ cli, cleanup } = buildCli());
  broker = await startBroker(cli, [
    '--bind', 'tcp://127.0.0.1:*',
    '--bind', 'tcp://127.0.0.1:*',
    '--heartbeat-interval', String(HB),
    '--heartbeat-liveness', String(LIVENESS),
    '--busy-worker-timeout', '2000',
    '--request-timeout', '1s',
    '--max-frame-size', String(1024 * 1024),
    '--log-level', 'debug',
  ], 2);
  ep = broker.endpoint;
}, 60000);

afterAll(async () => {
  for (const w of workers) w.kill();
  const code = await broker?.stop('SIGTERM');
  cleanup?.();
  expect(code).toBe(0);
});

describe('purezmq broker (process) with libzmq Majordomo peers', () => {
  it('binds every --bind endpoint and serves on each', async () => {
    expect(broker.endpoints).toHaveLength(2);
    expect(broker.endpoints[0]).not.toBe(broker.endpoints[1]);
    const w = worker('rfc18', broker.endpoints[1]!, 'echo-both', (body) => body);
    await waitFor(async () => (await workerCount('echo-both')) === 1, 'worker');
    for (const e of broker.endpoints) {
      const { replies } = await libRequest02(e, 'echo-both', ['via', e]);
      expect(replies.at(-1)!.slice(3).map(s)).toEqual(['via', e]);
    }
    w.kill();
  });

  it('echo, MDP/0.2 both ends, byte-exact frames', async () => {
    const w = worker('rfc18', ep, 'echo', (body) => body);
    await waitFor(async () => (await workerCount('echo')) === 1, 'worker');
    const { replies } = await libRequest02(ep, 'echo', ['hello', E, 'world']);
    expect(replies).toHaveLength(1);
    const final = replies[0]!;
    expect(s(final[0])).toBe('MDPC02');
    expect([...final[1]!]).toEqual([0x03]);
    expect(final.slice(2).map(s)).toEqual(['echo', 'hello', '', 'world']);
    // what the worker saw: MDPW02, 0x02, client address, "", body
    const got = w.requests[0]!.frames;
    expect(s(got[0])).toBe('MDPW02');
    expect([...got[1]!]).toEqual([0x02]);
    expect(got[2]!.length).toBeGreaterThan(0);
    expect(got[3]!.length).toBe(0);
    expect(got.slice(4).map(s)).toEqual(['hello', '', 'world']);
  });

  it('streams PARTIALs then the FINAL, in order', async () => {
    worker('rfc18', ep, 'stream', async (body, partial) => {
      for (let i = 0; i < 20; i++) await partial([`p${i}`]);
      return ['done', ...body];
    });
    await waitFor(async () => (await workerCount('stream')) === 1, 'worker');
    const { replies } = await libRequest02(ep, 'stream', ['x']);
    expect(replies).toHaveLength(21);
    replies.slice(0, 20).forEach((m, i) => {
      expect(s(m[0])).toBe('MDPC02');
      expect([...m[1]!]).toEqual([0x02]);
      expect(m.slice(2).map(s)).toEqual(['stream', `p${i}`]);
    });
    expect([...replies[20]![1]!]).toEqual([0x03]);
    expect(replies[20]!.slice(2).map(s)).toEqual(['stream', 'done', 'x']);
  });

  it('answers MMI: service (even when busy), workers, heartbeat, broker, services, 501 — over 0.2 and 0.1', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    worker('rfc18', ep, 'mmi-busy', async (body) => {
      await gate;
      return body;
    });
    await waitFor(async () => (await workerCount('mmi-busy')) === 1, 'worker');
    const pending = libRequest02(ep, 'mmi-busy', ['x']);
    await waitFor(() => workers.at(-1)!.requests.length === 1, 'the request to reach the worker');
    // 8/MMI: 200 when the service has a worker, even if all are busy; the body's last frame is replaced
    expect(await libMmi(ep, 'mmi.service', ['mmi-busy'])).toEqual(['200']);
    expect(await libMmi(ep, 'mmi.service', ['keep', 'nosuch'])).toEqual(['keep', '404']);
    expect(await libMmi(ep, 'mmi.workers', ['mmi-busy'])).toEqual(['200', '1']);
    expect(await libMmi(ep, 'mmi.heartbeat')).toEqual(['200', String(HB), String(LIVENESS)]);
    expect(await libMmi(ep, 'mmi.nosuch', ['a', 'b'])).toEqual(['a', '501']);
    const services = await libMmi(ep, 'mmi.services');
    expect(services[0]).toBe('200');
    expect(services).toContain('mmi-busy');
    const [code, doc] = await libMmi(ep, 'mmi.broker');
    expect(code).toBe('200');
    const m = JSON.parse(doc!);
    expect(m.version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(m.protocols).toEqual(['MDP/0.1', 'MDP/0.2']);
    expect(m.uptimeMs).toBeGreaterThan(0);
    expect(m.services).toEqual({}); // the default answer is a summary: detail comes a page at a time
    expect(m.servicesSummary).toMatchObject({ withWorkers: expect.any(Number), busiest: expect.any(Array) });
    expect(await libServiceMetrics(ep, 'mmi-busy')).toMatchObject({ workers: 1, busyWorkers: 1, idleWorkers: 0 });
    // the same over MDP/0.1 from a REQ socket: "" MDPC01 service body (REQ strips the "")
    const r01 = await libRequest01(ep, 'mmi.service', ['mmi-busy']);
    expect(r01.map(s)).toEqual(['MDPC01', 'mmi.service', '200']);
    expect((await libRequest01(ep, 'mmi.service', ['nosuch'])).map(s)).toEqual(['MDPC01', 'mmi.service', '404']);
    expect((await libRequest01(ep, 'mmi.foo', ['x'])).map(s)).toEqual(['MDPC01', 'mmi.foo', '501']);
    release();
    const { replies } = await pending;
    expect(replies.at(-1)!.slice(3).map(s)).toEqual(['x']);
  });

  it('a request waits for a worker that comes late', async () => {
    const pending = libRequest02(ep, 'late', ['early bird']);
    await new Promise((r) => setTimeout(r, 300));
    worker('rfc18', ep, 'late', (body) => ['served', ...body]);
    const { replies } = await pending;
    expect(replies.at(-1)!.slice(2).map(s)).toEqual(['late', 'served', 'early bird']);
  });

  it('a queued request expires after --request-timeout when no worker comes', async () => {
    const sock = new lib.Dealer({ linger: 0 });
    sock.connect(ep);
    try {
      await sock.send([Buffer.from('MDPC02'), bytes(1), Buffer.from('expire'), Buffer.from('x')]);
      await new Promise((r) => setTimeout(r, 1500));
      const w = worker('rfc18', ep, 'expire', (body) => body);
      await waitFor(async () => (await workerCount('expire')) === 1, 'worker');
      await new Promise((r) => setTimeout(r, 200));
      expect(w.requests).toHaveLength(0);
      expect((await libServiceMetrics(ep, 'expire'))!.drops.expired).toBe(1);
    } finally {
      sock.close();
    }
  });

  it('spreads requests over idle workers, least recently used first', async () => {
    const ws: PeerWorker[] = [];
    for (let i = 0; i < 3; i++) {
      ws.push(worker('rfc18', ep, 'lru', (body) => [`w${i}`, ...body]));
      await waitFor(async () => (await workerCount('lru')) === i + 1, `worker ${i}`);
    }
    const servedBy: string[] = [];
    for (let i = 0; i < 9; i++) {
      const { replies } = await libRequest02(ep, 'lru', [String(i)]);
      servedBy.push(s(replies.at(-1)![3]));
    }
    // each reply puts its worker at the back of the idle list: strict rotation
    expect(servedBy).toEqual(['w0', 'w1', 'w2', 'w0', 'w1', 'w2', 'w0', 'w1', 'w2']);
    expect(ws.map((w) => w.requests.length)).toEqual([3, 3, 3]);
  });

  it('many concurrent clients each get their own reply', async () => {
    for (let i = 0; i < 3; i++) {
      worker('rfc18', ep, 'conc', async (body) => {
        await new Promise((r) => setTimeout(r, Math.random() * 5));
        return ['re', ...body];
      });
    }
    await waitFor(async () => (await workerCount('conc')) === 3, 'workers');
    const n = 60;
    const results = await Promise.all(
      Array.from({ length: n }, (_, i) => libRequest02(ep, 'conc', [`client-${i}`, String(i * 7)], 10000)),
    );
    results.forEach(({ replies }, i) => {
      expect(replies).toHaveLength(1);
      expect(replies[0]!.slice(2).map(s)).toEqual(['conc', 're', `client-${i}`, String(i * 7)]);
    });
  });

  it('broker heartbeats reach idle workers (0.2: MDPW02 0x05; 0.1: "" MDPW01 0x04)', async () => {
    const w2 = worker('rfc18', ep, 'hb2', (body) => body, { heartbeatMs: HB });
    const w1 = worker('rfc7', ep, 'hb1', (body) => body, { heartbeatMs: HB });
    await waitFor(() => w2.heartbeats >= 3 && w1.heartbeats >= 3, 'three heartbeats each');
    const hb2 = w2.received.find((m) => m.length === 2)!;
    expect([s(hb2[0]), [...hb2[1]!]]).toEqual(['MDPW02', [0x05]]);
    const hb1 = w1.received.find((m) => m.length === 3)!;
    expect([hb1[0]!.length, s(hb1[1]), [...hb1[2]!]]).toEqual([0, 'MDPW01', [0x04]]);
  });

  it('a silent idle worker is purged after liveness x interval', async () => {
    const w = worker('rfc18', ep, 'silent', (body) => body, { heartbeatMs: 0 });
    await waitFor(async () => (await workerCount('silent')) === 1, 'worker');
    await waitFor(async () => (await workerCount('silent')) === 0, 'the worker to expire', 3000);
    expect(w.sock.closed).toBe(false);
  });

  it('a worker killed mid-request: the request is served by another worker', async () => {
    const victim = worker('rfc18', ep, 'crash', () => {
      setTimeout(() => victim.kill(), 10);
      return 'ignore';
    });
    await waitFor(async () => (await workerCount('crash')) === 1, 'victim');
    const rescuer = worker('rfc18', ep, 'crash', (body) => ['rescued', ...body]);
    await waitFor(async () => (await workerCount('crash')) === 2, 'rescuer');
    const { replies } = await libRequest02(ep, 'crash', ['job-1']);
    expect(victim.requests).toHaveLength(1);
    expect(rescuer.requests).toHaveLength(1);
    expect(replies.at(-1)!.slice(2).map(s)).toEqual(['crash', 'rescued', 'job-1']);
    expect((await libServiceMetrics(ep, 'crash'))!.requeued).toBe(1);
  });

  it('a hung busy worker (connected, silent) is expired after --busy-worker-timeout and its request re-served', async () => {
    const hung = worker('rfc18', ep, 'hang', () => {
      hung.stopHeartbeats();
      return 'ignore';
    });
    await waitFor(async () => (await workerCount('hang')) === 1, 'hung worker');
    const pending = libRequest02(ep, 'hang', ['job'], 8000);
    await waitFor(() => hung.requests.length === 1, 'the request to reach the hung worker');
    // not expired at liveness x interval (500 ms): busy workers get the longer grace
    await new Promise((r) => setTimeout(r, 800));
    expect(await workerCount('hang')).toBe(1);
    worker('rfc18', ep, 'hang', (body) => ['second', ...body]);
    const { replies } = await pending;
    expect(replies.at(-1)!.slice(3).map(s)).toEqual(['second', 'job']);
  });

  it('mixes MDP/0.1 and 0.2: 0.1 REQ client <- 0.2 streaming worker (PARTIALs merged), 0.2 client <- 0.1 worker (REPLY -> FINAL)', async () => {
    const w02 = worker('rfc18', ep, 'mix-02', async (body, partial) => {
      await partial(['a', 'b']);
      await partial(['c']);
      return ['z', ...body];
    });
    const w01 = worker('rfc7', ep, 'mix-01', (body) => ['from-0.1', ...body]);
    await waitFor(async () => (await workerCount('mix-02')) === 1 && (await workerCount('mix-01')) === 1, 'workers');

    const r = await libRequest01(ep, 'mix-02', ['q']);
    expect(r.map(s)).toEqual(['MDPC01', 'mix-02', 'a', 'b', 'c', 'z', 'q']);
    expect(w02.requests[0]!.frames[0]!.toString()).toBe('MDPW02');

    const { replies } = await libRequest02(ep, 'mix-01', ['q2']);
    expect(replies).toHaveLength(1);
    expect(s(replies[0]![0])).toBe('MDPC02');
    expect([...replies[0]![1]!]).toEqual([0x03]);
    expect(replies[0]!.slice(2).map(s)).toEqual(['mix-01', 'from-0.1', 'q2']);
    // the 0.1 worker got "" MDPW01 0x02 client "" body
    const f = w01.requests[0]!.frames;
    expect([f[0]!.length, s(f[1]), [...f[2]!], f[4]!.length, s(f[5])]).toEqual([0, 'MDPW01', [0x02], 0, 'q2']);

    // 0.1 client and 0.1 worker, as in the Guide
    const r11 = await libRequest01(ep, 'mix-01', ['hello', 'world']);
    expect(r11.map(s)).toEqual(['MDPC01', 'mix-01', 'from-0.1', 'hello', 'world']);
  });

  it('refuses bad workers with DISCONNECT: mmi.* READY, HEARTBEAT before READY, second READY, FINAL with no request', async () => {
    const evil = worker('rfc18', ep, 'mmi.evil', (body) => body, { heartbeatMs: 0 });
    await waitFor(() => evil.disconnects === 1, 'DISCONNECT for mmi.* READY');
    expect(evil.received[0]!.map((f) => [...f])).toEqual([[...Buffer.from('MDPW02')], [0x06]]);
    expect(await libMmi(ep, 'mmi.service', ['mmi.evil'])).toEqual(['404']);

    const early = worker('rfc7', ep, 'x', (body) => body, { ready: false, heartbeatMs: 0 });
    await early.send('HEARTBEAT'); // "" MDPW01 0x04
    await waitFor(() => early.disconnects === 1, 'DISCONNECT for HEARTBEAT before READY');
    expect(early.received[0]!.map((f) => [...f])).toEqual([[], [...Buffer.from('MDPW01')], [0x05]]);

    const twice = worker('rfc18', ep, 'twice', (body) => body, { heartbeatMs: 0 });
    await waitFor(async () => (await workerCount('twice')) === 1, 'worker');
    await twice.send('READY', [B('twice')]); // MDPW02 0x01 twice
    await waitFor(() => twice.disconnects === 1, 'DISCONNECT for a second READY');
    expect(await workerCount('twice')).toBe(0);

    const stray = worker('rfc18', ep, 'stray', (body) => body, { heartbeatMs: 0 });
    await waitFor(async () => (await workerCount('stray')) === 1, 'worker');
    await stray.send('FINAL', [B('nobody'), B('x')]); // MDPW02 0x04 nobody "" x
    await waitFor(() => stray.disconnects === 1, 'DISCONNECT for a FINAL with no request');
  });

  it('drops malformed and hostile messages and keeps serving', async () => {
    const good = worker('rfc18', ep, 'survivor', (body) => body);
    await waitFor(async () => (await workerCount('survivor')) === 1, 'worker');
    const before = JSON.parse((await libMmi(ep, 'mmi.broker'))[1]!).counters;

    const bad = new lib.Dealer({ linger: 0, sendHighWaterMark: 100000 });
    bad.connect(ep);
    const junk: Buffer[][] = [
      [Buffer.from('MDPC03'), bytes(1), Buffer.from('survivor'), Buffer.from('x')], // wrong header
      [Buffer.from('mdpc02'), bytes(1), Buffer.from('survivor'), Buffer.from('x')],
      [E, Buffer.from('MDPC02'), Buffer.from('REQUEST')], // plantd dialect (accepted since issue 6) but no service or body
      [bytes(1), Buffer.from('MDPC02'), Buffer.from('survivor'), Buffer.from('x')], // command before header
      [Buffer.from('MDPC02'), bytes(0x09), Buffer.from('survivor'), Buffer.from('x')], // unknown command
      [Buffer.from('MDPC02'), bytes(1), Buffer.from('survivor')], // missing body
      [Buffer.from('MDPC02'), bytes(1)], // missing service
      [Buffer.from('MDPC02')],
      [E],
      [Buffer.from('MDPW02'), bytes(0x04), Buffer.from('id'), Buffer.from('not-empty'), Buffer.from('x')],
      [Buffer.from('MDPW02'), bytes(0x01)], // READY without service
      [Buffer.from('MDPW02'), bytes(0x07)],
      [E, Buffer.from('MDPW01'), bytes(0x06)],
      [Buffer.from('MDPC01'), Buffer.from('survivor'), Buffer.from('x')], // 0.1 without its empty frame
      Array.from({ length: 1000 }, () => Buffer.from('garbage')), // many frames, under the frame limit
    ];
    for (const m of junk) await bad.send(m);
    // thousands of frames: over the broker's frame limit, the socket layer drops that connection
    const flood = new lib.Dealer({ linger: 0 });
    flood.connect(ep);
    await flood.send([Buffer.from('MDPC02'), bytes(1), Buffer.from('survivor'), ...Array.from({ length: 5000 }, () => E)]);
    // a 2 MiB frame: over --max-frame-size (1 MiB)
    const huge = new lib.Dealer({ linger: 0 });
    huge.connect(ep);
    await huge.send([Buffer.from('MDPC02'), bytes(1), Buffer.from('survivor'), Buffer.alloc(2 * 1024 * 1024, 0x61)]);
    // raw garbage on TCP, then a truncated greeting
    const port = Number(ep.split(':').at(-1));
    for (const payload of [Buffer.from('GET / HTTP/1.1\r\n\r\n'), Buffer.from([0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 3])]) {
      await new Promise<void>((resolve) => {
        const c = net.connect(port, '127.0.0.1', () => c.end(payload));
        c.on('close', () => resolve());
        c.on('error', () => resolve());
        c.resume();
      });
    }

    await waitFor(async () => {
      const c = JSON.parse((await libMmi(ep, 'mmi.broker'))[1]!).counters;
      return c.invalid - before.invalid >= junk.length && c.connectionErrors - before.connectionErrors >= 2;
    }, 'every bad message to be counted');
    const after = JSON.parse((await libMmi(ep, 'mmi.broker'))[1]!).counters;
    expect(after.invalid - before.invalid).toBe(junk.length);
    expect(after.invalidByReason['bad-header']).toBeGreaterThan(0);
    expect(after.invalidByReason['bad-command']).toBeGreaterThan(0);
    expect(after.invalidByReason['too-few-frames']).toBeGreaterThan(0);
    expect(after.invalidByReason['missing-empty-frame']).toBeGreaterThan(0);
    expect(good.requests).toHaveLength(0); // nothing malformed reached the worker
    bad.close();
    flood.close();
    huge.close();

    const { replies } = await libRequest02(ep, 'survivor', ['still', 'here']);
    expect(replies.at(-1)!.slice(2).map(s)).toEqual(['survivor', 'still', 'here']);
    expect(good.requests).toHaveLength(1);
  });
});

describe('purezmq broker shutdown', () => {
  it('SIGTERM lets an in-flight request finish, DISCONNECTs workers and exits 0', async () => {
    const b = await startBroker(cli, ['--bind', 'tcp://127.0.0.1:*', '--heartbeat-interval', String(HB), '--shutdown-grace', '3s']);
    const w = worker('rfc18', b.endpoint, 'slow', async (body) => {
      await new Promise((r) => setTimeout(r, 300));
      return ['finished', ...body];
    });
    try {
      await waitFor(async () => (await libMmi(b.endpoint, 'mmi.workers', ['slow']))[1] === '1', 'worker');
      const pending = libRequest02(b.endpoint, 'slow', ['job']);
      await waitFor(() => w.requests.length === 1, 'dispatch');
      const exit = b.stop('SIGTERM');
      const { replies } = await pending;
      expect(replies.at(-1)!.slice(3).map(s)).toEqual(['finished', 'job']);
      expect(await exit).toBe(0);
      expect(w.disconnects).toBe(1);
      expect(b.stderr()).toMatch(/shutting down/);
    } finally {
      await b.stop('SIGKILL');
    }
  });

  it('SIGINT with nothing in flight exits 0 at once', async () => {
    const b = await startBroker(cli, ['--bind', 'tcp://127.0.0.1:*', '--log-format', 'json']);
    const t0 = Date.now();
    expect(await b.stop('SIGINT')).toBe(0);
    expect(Date.now() - t0).toBeLessThan(3000);
    const lines = b.stderr().trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.find((l) => l.msg === 'listening')).toMatchObject({ level: 'info', msg: 'listening' });
    // the in-memory store says at start-up that nothing survives a restart
    expect(lines.find((l) => l.msg.startsWith('request store in memory'))).toMatchObject({ level: 'warn' });
  });
});

/**
 * Clients and workers with several brokers (issue 11): option checks, the worker's failover when its
 * broker goes silent (also with a request running), the client's failover on an unreachable broker,
 * a silent one and a dropped connection, per-broker statistics. In process: real purezmq brokers, and
 * brokers written frame by frame on libzmq (a 0.2 "broker" that can be made to hang, and the
 * majortomo/plantd PeerBroker of dialects.peers.ts).
 */
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import * as lib from 'zeromq';
import { Broker, Client, Worker, createLogger, isMdpError, MdpErrorCode, resolveConfig, type WorkerEvent } from '../../src/mdp/mod.ts';
import { waitFor } from './helpers.ts';
import { PeerBroker, peerRequest } from './dialects.peers.ts';

const B = (s: string): Buffer => Buffer.from(s);
const HB = 50;
const WORKER_TIMING = { heartbeatInterval: HB, heartbeatLiveness: 3, reconnectInterval: HB } as const;

function issuesOf(f: () => unknown): string[] {
  try {
    f();
  } catch (e) {
    if (isMdpError(e) && e.code === MdpErrorCode.CONFIG) return [...e.issues];
    throw e;
  }
  throw new Error('no error');
}

/** An endpoint where nothing listens (bound once, then closed). */
/**
 * A loopback endpoint nobody listens on. node:net's close() has let go of the port when it calls
 * back; a libzmq socket's close() returns before its I/O thread stops listening, so a port freed
 * that way can still accept a connection for a moment (and the "dead" broker then looks alive).
 */
async function deadEndpoint(): Promise<string> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return `tcp://127.0.0.1:${port}`;
}

/**
 * An MDP/0.2 broker on libzmq that registers workers, heartbeats them (idle or busy) until `hang()`,
 * dispatches what the test gives it, and records every message: a broker that stops answering.
 */
class HangingBroker {
  readonly sock = new lib.Router({ linger: 0 });
  readonly received: Buffer[][] = [];
  readonly workers: Buffer[] = [];
  endpoint = '';
  silent = false;
  private timer: ReturnType<typeof setInterval> | undefined;

  async start(): Promise<string> {
    await this.sock.bind('tcp://127.0.0.1:*');
    this.endpoint = this.sock.lastEndpoint!;
    this.timer = setInterval(() => {
      if (this.silent) return;
      for (const id of this.workers) void this.sock.send([id, B('MDPW02'), Buffer.of(5)]).catch(() => undefined);
    }, HB);
    void (async () => {
      for (;;) {
        let msg: Buffer[];
        try {
          msg = await this.sock.receive();
        } catch {
          return;
        }
        this.received.push(msg);
        if (msg[1]?.toString() === 'MDPW02' && msg[2]?.[0] === 1 && !this.workers.some((w) => w.equals(msg[0]!))) this.workers.push(msg[0]!);
      }
    })();
    return this.endpoint;
  }

  /** Sends a REQUEST to the first registered worker. */
  dispatch(body: string): Promise<void> {
    return this.sock.send([this.workers[0]!, B('MDPW02'), Buffer.of(2), B('client-1'), Buffer.alloc(0), B(body)]);
  }

  /** Worker messages with this command byte (0x04 FINAL, 0x01 READY …). */
  commands(cmd: number): Buffer[][] {
    return this.received.filter((m) => m[1]?.toString() === 'MDPW02' && m[2]?.[0] === cmd);
  }

  hang(): void {
    this.silent = true;
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    if (!this.sock.closed) this.sock.close();
  }
}

/**
 * A "broker" that accepts connections and never answers (reached, then silent), recording requests;
 * with `partial`, it answers each 0.2 request with one PARTIAL first, then goes silent.
 */
class SilentRouter {
  readonly sock = new lib.Router({ linger: 0 });
  readonly received: Buffer[][] = [];
  private readonly partial: string | undefined;
  constructor(partial?: string) {
    this.partial = partial;
  }
  async start(): Promise<string> {
    await this.sock.bind('tcp://127.0.0.1:*');
    void (async () => {
      for (;;) {
        let msg: Buffer[];
        try {
          msg = await this.sock.receive();
        } catch {
          return;
        }
        this.received.push(msg);
        if (this.partial !== undefined && msg[1]?.toString() === 'MDPC02' && !msg[3]!.toString().startsWith('mmi.')) {
          void this.sock.send([msg[0]!, B('MDPC02'), Buffer.of(2), msg[3]!, B(this.partial)]).catch(() => undefined);
        }
      }
    })();
    return this.sock.lastEndpoint!;
  }
  close(): void {
    if (!this.sock.closed) this.sock.close();
  }
}

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Whether `ep` has a worker for `service` (mmi.service), on a client of its own. */
async function serviceUp(ep: string, service: string): Promise<boolean> {
  const c = new Client(ep, { timeout: 1000, retries: 0 });
  try {
    return String((await c.request('mmi.service', service))[0]) === '200';
  } catch {
    return false;
  } finally {
    c.close();
  }
}

async function broker(): Promise<{ broker: Broker; ep: string }> {
  const b = new Broker({ heartbeatInterval: HB, heartbeatLiveness: 3 });
  const ep = await b.bind('tcp://127.0.0.1:*');
  cleanups.push(() => b.close(0));
  return { broker: b, ep };
}

describe('options', () => {
  it('Client and Worker take brokers: [...], broker: ep, a list or a string as the endpoint', () => {
    const a = 'tcp://127.0.0.1:5001';
    const b = 'tcp://127.0.0.1:5002';
    const clients = [new Client([a, b]), new Client({ brokers: [a, b] }), new Client(undefined, { brokers: [a, b] }), new Client({ broker: [a, b] })];
    for (const c of clients) {
      expect(c.brokers.map((x) => [x.endpoint, x.current, x.connected, x.failures, x.lastSeen])).toEqual([
        [a, true, false, 0, null],
        [b, false, false, 0, null],
      ]);
      expect(c.endpoint).toBe(a);
      c.close();
    }
    const single = [new Client(a), new Client({ broker: a })];
    for (const c of single) {
      expect(c.brokers.map((x) => x.endpoint)).toEqual([a]);
      c.close();
    }
    // no broker named: the config's default
    const d = new Client();
    expect(d.endpoint).toBe('tcp://127.0.0.1:5555');
    d.close();
    const w = new Worker(undefined, 'svc', () => 'x', { brokers: [a, b], ...WORKER_TIMING });
    expect(w.brokers.map((x) => [x.endpoint, x.current])).toEqual([
      [a, true],
      [b, false],
    ]);
    expect(w.endpoint).toBe(a);
    void w.close(0);
    const w2 = new Worker([a, b], 'svc', () => 'x', WORKER_TIMING);
    expect(w2.brokers).toHaveLength(2);
    void w2.close(0);
  });

  it('bad lists, a typo and brokers named twice are MDP_CONFIG errors', () => {
    expect(issuesOf(() => new Client({ brokers: ['tcp://127.0.0.1:5001', 'udp://x'] }))).toEqual([expect.stringMatching(/^Client option brokers: must be endpoints .* got "udp:\/\/x"$/)]);
    expect(issuesOf(() => new Client({ brokers: [] }))[0]).toMatch(/brokers: must be a list of endpoints/);
    expect(issuesOf(() => new Client({ brokerz: ['tcp://127.0.0.1:1'] } as never))).toEqual(['Client option brokerz: unknown (did you mean broker?)']);
    expect(issuesOf(() => new Client({ brokerss: ['tcp://127.0.0.1:1'] } as never))).toEqual(['Client option brokerss: unknown (did you mean brokers?)']);
    expect(issuesOf(() => new Client('tcp://127.0.0.1:1', { brokers: ['tcp://127.0.0.1:2'] }))[0]).toMatch(/name the brokers once/);
    expect(issuesOf(() => new Client(['tcp://127.0.0.1:1', 'tcp://127.0.0.1:1']))[0]).toMatch(/listed twice/);
    expect(issuesOf(() => new Client(['tcp://127.0.0.1:1', 'nope']))[0]).toMatch(/Client option endpoint: must be endpoints/);
    expect(issuesOf(() => new Client({ brokers: ['tcp://127.0.0.1:1'] }, { timeout: 5 }))[0]).toMatch(/given twice/);
    expect(issuesOf(() => new Client({ broker: 'nope' }))[0]).toMatch(/Client option broker: must be endpoints/);
    expect(issuesOf(() => new Worker(undefined, 's', () => 'x', { brokers: ['tcp://127.0.0.1:1', 'x'] }))[0]).toMatch(/Worker option brokers: must be endpoints/);
    expect(issuesOf(() => new Worker('tcp://127.0.0.1:1', 's', () => 'x', { brokers: ['tcp://127.0.0.1:2'] }))[0]).toMatch(/name the brokers once/);
    expect(issuesOf(() => new Worker(42 as unknown as string, 's', () => 'x'))[0]).toBe('endpoint');
  });

  it('config: PUREZMQ_CLIENT_BROKER takes a comma-separated list, flags and YAML a list', () => {
    expect(resolveConfig({ env: { PUREZMQ_CLIENT_BROKER: 'tcp://127.0.0.1:1, tcp://127.0.0.1:2' } }).client.broker).toEqual(['tcp://127.0.0.1:1', 'tcp://127.0.0.1:2']);
    expect(resolveConfig({ env: { PUREZMQ_WORKER_BROKER: 'tcp://127.0.0.1:1' } }).worker.broker).toEqual(['tcp://127.0.0.1:1']);
    expect(resolveConfig({ flags: { worker: { broker: ['tcp://127.0.0.1:1', 'tcp://127.0.0.1:2'] } } }).worker.broker).toHaveLength(2);
    expect(resolveConfig({ yaml: 'client:\n  broker: [tcp://127.0.0.1:1, tcp://127.0.0.1:2]\n' }).client.broker).toHaveLength(2);
    expect(resolveConfig({ yaml: 'client:\n  broker: tcp://127.0.0.1:1\n' }).client.broker).toEqual(['tcp://127.0.0.1:1']);
    expect(resolveConfig().client.broker).toEqual(['tcp://127.0.0.1:5555']);
    expect(issuesOf(() => resolveConfig({ flags: { client: { broker: ['tcp://127.0.0.1:1', 'udp://x'] } } }))[0]).toMatch(/^client\.broker \(from --broker\): must be endpoints/);
  });
});

describe('Worker with several brokers', () => {
  it('moves to the next broker when its broker stops heartbeating, and serves requests there', async () => {
    const a = new HangingBroker();
    cleanups.push(() => a.close());
    const epA = await a.start();
    const { ep: epB } = await broker();
    const events: WorkerEvent[] = [];
    const lines: string[] = [];
    const logger = createLogger({ level: 'info', format: 'human', write: (l) => lines.push(l) });
    const worker = new Worker([epA, epB], 'echo', (req) => req, { ...WORKER_TIMING, logger });
    cleanups.push(() => worker.close(0));
    worker.on((e) => events.push(e));
    await waitFor(() => events.some((e) => e.type === 'ready'), 'registered with A');
    expect(a.commands(1)).toHaveLength(1);
    expect(worker.brokers[0]).toMatchObject({ endpoint: epA, current: true, connected: true, failures: 0 });
    expect(worker.brokers[0]!.lastSeen).not.toBeNull();
    a.hang();
    await waitFor(() => events.some((e) => e.type === 'broker-changed'), 'moved to B');
    expect(events.find((e) => e.type === 'broker-changed')).toEqual({ type: 'broker-changed', from: epA, to: epB, reason: 'broker-silent' });
    expect(lines.find((l) => l.includes('moved to broker'))).toMatch(new RegExp(`INFO +moved to broker ${epB} service=echo from=${epA} to=${epB} reason=broker-silent`));
    const client = new Client(epB, { timeout: 5000 });
    cleanups.push(() => client.close());
    expect((await client.request('echo', 'via-b')).map(String)).toEqual(['via-b']);
    const [sa, sb] = worker.brokers;
    expect(sa).toMatchObject({ endpoint: epA, current: false, connected: false, failures: 1, lastFailure: 'silent', selected: 1 });
    expect(sb).toMatchObject({ endpoint: epB, current: true, connected: true, failures: 0, selected: 1, requests: 1, replies: 1 });
    expect(sb!.lastSeen).not.toBeNull();
    expect(worker.endpoint).toBe(epB);
    // A got nothing but the READY and heartbeats: no reply went the wrong way
    expect(a.commands(4)).toHaveLength(0);
  });

  it('a request running when the broker goes silent: its reply is dropped, not sent to the next broker', async () => {
    const a = new HangingBroker();
    cleanups.push(() => a.close());
    const epA = await a.start();
    const b = new HangingBroker();
    cleanups.push(() => b.close());
    const epB = await b.start();
    let aborted = false;
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const events: WorkerEvent[] = [];
    const worker = new Worker([epA, epB], 'slow', async (req, ctx) => {
      ctx.signal.addEventListener('abort', () => (aborted = true));
      await released;
      return ['done', ...req];
    }, WORKER_TIMING);
    cleanups.push(() => worker.close(0));
    worker.on((e) => events.push(e));
    await waitFor(() => a.workers.length === 1 && events.some((e) => e.type === 'ready'), 'registered with A');
    await a.dispatch('job-1');
    await waitFor(() => events.some((e) => e.type === 'request'), 'request running');
    // A heartbeats the busy worker (as purezmq's broker does), then hangs
    const beats = a.received.length;
    await waitFor(() => worker.brokers[0]!.lastSeen !== null && a.received.length > beats, 'a heartbeat while busy');
    a.hang();
    await waitFor(() => b.workers.length === 1, 'READY at B while the request runs');
    expect(aborted).toBe(true);
    release();
    await waitFor(() => worker.stats.staleReplies === 1, 'stale reply dropped');
    // the reply went to neither broker
    expect(b.commands(4)).toHaveLength(0);
    expect(a.commands(4)).toHaveLength(0);
    // and the worker serves B's requests (the next one is not stuck behind the stale one)
    await b.dispatch('job-2');
    await waitFor(() => b.commands(4).length === 1, 'FINAL to B');
    expect(b.commands(4)[0]!.slice(3).map(String)).toEqual(['client-1', '', 'done', 'job-2']);
  });

  it('tries the brokers round robin while none answers; a live one after a dead one is found', async () => {
    const epA = await deadEndpoint();
    const epB = await deadEndpoint();
    const events: WorkerEvent[] = [];
    const worker = new Worker([epA, epB], 'echo', (req) => req, WORKER_TIMING);
    cleanups.push(() => worker.close(0));
    worker.on((e) => events.push(e));
    await waitFor(() => events.filter((e) => e.type === 'broker-changed').length >= 2, 'a full round');
    const moves = events.filter((e): e is Extract<WorkerEvent, { type: 'broker-changed' }> => e.type === 'broker-changed');
    expect(moves.slice(0, 2).map((m) => [m.from, m.to])).toEqual([
      [epA, epB],
      [epB, epA],
    ]);
    expect(worker.brokers.map((b) => b.lastFailure)).toEqual(['unreachable', 'unreachable']);
    // a worker on [dead, live] ends up on the live one after one failure
    const { ep } = await broker();
    const w2 = new Worker([await deadEndpoint(), ep], 'echo2', (req) => req, WORKER_TIMING);
    cleanups.push(() => w2.close(0));
    const client = new Client(ep, { timeout: 5000 });
    cleanups.push(() => client.close());
    expect((await client.request('echo2', 'x')).map(String)).toEqual(['x']);
    expect(w2.brokers[0]).toMatchObject({ failures: 1, lastFailure: 'unreachable', connected: false });
  });

  it('MDP/0.1: a worker on two purezmq brokers moves to the second when the first is closed', async () => {
    const a = new Broker({ heartbeatInterval: HB, heartbeatLiveness: 3 });
    const epA = await a.bind('tcp://127.0.0.1:*');
    cleanups.push(() => a.close(0));
    const { ep: epB } = await broker();
    const events: WorkerEvent[] = [];
    const worker = new Worker([epA, epB], 'echo01', (req) => ['v1', ...req], { ...WORKER_TIMING, version: '0.1' });
    cleanups.push(() => worker.close(0));
    worker.on((e) => events.push(e));
    const clientA = new Client(epA, { timeout: 5000, version: '0.1' });
    cleanups.push(() => clientA.close());
    expect((await clientA.request('echo01', 'a')).map(String)).toEqual(['v1', 'a']);
    await a.close(0);
    await waitFor(() => events.some((e) => e.type === 'broker-changed'), 'moved to B');
    const clientB = new Client(epB, { timeout: 5000, version: '0.1' });
    cleanups.push(() => clientB.close());
    expect((await clientB.request('echo01', 'b')).map(String)).toEqual(['v1', 'b']);
    expect(worker.dialect).toBe('rfc7');
    expect(worker.brokers.map((x) => [x.current, x.failures, x.replies])).toEqual([
      [false, 1, 1],
      [true, 0, 1],
    ]);
  });

  it.each(['majortomo', 'plantd'] as const)('interop: a %s worker fails over between two libzmq-written brokers of that dialect', async (dialect) => {
    const a = new PeerBroker(dialect);
    const b = new PeerBroker(dialect);
    cleanups.push(() => a.close(), () => b.close());
    const epA = await a.start(HB);
    const epB = await b.start(HB);
    const events: WorkerEvent[] = [];
    const worker = new Worker([epA, epB], 'echo', (req) => ['m', ...req], { ...WORKER_TIMING, dialect });
    cleanups.push(() => worker.close(0));
    worker.on((e) => events.push(e));
    await waitFor(() => a.workerCount('echo') === 1, 'registered with A');
    expect((await peerRequest(dialect, epA, 'echo', ['1'])).flatMap((p) => p.body)).toEqual(['m', '1']);
    a.close();
    await waitFor(() => b.workerCount('echo') === 1, 'registered with B');
    expect((await peerRequest(dialect, epB, 'echo', ['2'])).flatMap((p) => p.body)).toEqual(['m', '2']);
    expect(worker.brokers.map((x) => [x.current, x.failures])).toEqual([
      [false, 1],
      [true, 0],
    ]);
  });
});

describe('Client with several brokers', () => {
  it('fails over when the first broker cannot be reached, and stays with the one that answers', async () => {
    const dead = await deadEndpoint();
    const { ep } = await broker();
    const worker = new Worker(ep, 'echo', (req) => req, WORKER_TIMING);
    cleanups.push(() => worker.close(0));
    const lines: string[] = [];
    const logger = createLogger({ level: 'debug', format: 'json', write: (l) => lines.push(l) });
    const client = new Client([dead, ep], { timeout: 1000, retries: 0, logger });
    cleanups.push(() => client.close());
    // retries: 0, yet each broker gets one try: an unreachable one does not use up the retries
    expect((await client.request('echo', 'one')).map(String)).toEqual(['one']);
    // the move is in the debug log, with every broker's statistics
    const moved = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'client moved to the next broker');
    expect(moved).toMatchObject({ level: 'debug', from: dead, to: ep, reason: 'unreachable' });
    expect(moved!.brokers).toMatch(new RegExp(`^${dead} connected=false failures=1 lastSeen=-; ${ep}\\* connected=false failures=0 lastSeen=-$`));
    expect((await client.request('echo', 'two')).map(String)).toEqual(['two']);
    const [sa, sb] = client.brokers;
    expect(sa).toMatchObject({ endpoint: dead, current: false, connected: false, failures: 1, lastFailure: 'unreachable', requests: 1, replies: 0, lastSeen: null });
    expect(sb).toMatchObject({ endpoint: ep, current: true, connected: true, failures: 0, requests: 2, replies: 2, selected: 1 });
    expect(client.endpoint).toBe(ep);
  });

  it('fails over on a timeout, sends the request there once, and does not go back while the second answers', async () => {
    const silent = new SilentRouter();
    cleanups.push(() => silent.close());
    const epA = await silent.start();
    const { ep: epB } = await broker();
    let served = 0;
    const worker = new Worker(epB, 'echo', (req) => {
      served++;
      return req;
    }, WORKER_TIMING);
    cleanups.push(() => worker.close(0));
    const client = new Client({ brokers: [epA, epB], timeout: 300, retries: 1, retryBackoff: 10 });
    cleanups.push(() => client.close());
    expect((await client.request('echo', 'x')).map(String)).toEqual(['x']);
    expect((await client.request('echo', 'y')).map(String)).toEqual(['y']);
    expect(served).toBe(2);
    // A got the first attempt and an mmi.service question, nothing more
    const requests = silent.received.filter((m) => m[1]?.toString() === 'MDPC02').map((m) => m[3]!.toString());
    expect(requests).toEqual(['echo', 'mmi.service']);
    expect(client.brokers.map((b) => [b.failures, b.lastFailure, b.current])).toEqual([
      [1, 'timeout', false],
      [0, null, true],
    ]);
    expect(client.stats).toMatchObject({ requests: 2, replies: 2, timeouts: 1, retries: 1 });
  });

  it('fails over at once when the connection drops while it waits', async () => {
    const a = new Broker({ heartbeatInterval: HB });
    const epA = await a.bind('tcp://127.0.0.1:*');
    cleanups.push(() => a.close(0));
    const { ep: epB } = await broker();
    let started!: () => void;
    const running = new Promise<void>((r) => (started = r));
    // A's worker never answers; B's does
    const stuck = new Worker(epA, 'job', async (_req, ctx) => {
      started();
      await new Promise((r) => ctx.signal.addEventListener('abort', r));
      return 'never';
    }, WORKER_TIMING);
    cleanups.push(() => stuck.close(0));
    const good = new Worker(epB, 'job', (req) => ['b', ...req], WORKER_TIMING);
    cleanups.push(() => good.close(0));
    await waitFor(() => serviceUp(epA, 'job'), 'worker on A');
    // a timeout far longer than the test: only the dropped connection can end the first attempt
    const client = new Client([epA, epB], { timeout: 60_000, retries: 1, retryBackoff: 10 });
    cleanups.push(() => client.close());
    const reply = client.request('job', 'z');
    await running;
    await a.close(0);
    expect((await reply).map(String)).toEqual(['b', 'z']);
    expect(client.brokers.map((b) => [b.failures, b.lastFailure, b.current])).toEqual([
      [1, 'connection-lost', false],
      [0, null, true],
    ]);
  });

  it('early UNKNOWN_SERVICE only when every broker says 404; a 404 from one is a failover', async () => {
    const { ep: epA } = await broker();
    const { ep: epB } = await broker();
    const client = new Client([epA, epB], { timeout: 300, retries: 5, retryBackoff: 10 });
    cleanups.push(() => client.close());
    const err = await client.request('nobody', 'x').then(() => undefined, (e: unknown) => e);
    expect(err).toMatchObject({ code: MdpErrorCode.UNKNOWN_SERVICE });
    expect(client.stats.retries).toBe(1); // A, then B, then both said 404
    const worker = new Worker(epA, 'onlyA', (req) => req, WORKER_TIMING);
    cleanups.push(() => worker.close(0));
    await waitFor(() => serviceUp(epA, 'onlyA'), 'worker on A');
    // the client is on B now (it failed over); B has no worker, A has: served by A after one timeout
    expect(client.endpoint).toBe(epA);
    const c2 = new Client([epB, epA], { timeout: 300, retries: 2, retryBackoff: 10 });
    cleanups.push(() => c2.close());
    expect((await c2.request('onlyA', 'q')).map(String)).toEqual(['q']);
    expect(c2.brokers.map((b) => [b.endpoint, b.failures, b.current])).toEqual([
      [epB, 1, false],
      [epA, 0, true],
    ]);
  });

  it('a broker that sent PARTIALs and went silent: request() starts again on the next broker, stream() fails', async () => {
    const a = new SilentRouter('from-a');
    cleanups.push(() => a.close());
    const epA = await a.start();
    const { ep: epB } = await broker();
    const worker = new Worker(epB, 'parts', async (req, ctx) => {
      await ctx.partial('from-b');
      return req;
    }, WORKER_TIMING);
    cleanups.push(() => worker.close(0));
    const client = new Client([epA, epB], { timeout: 300, retries: 1, retryBackoff: 10 });
    cleanups.push(() => client.close());
    expect((await client.request('parts', 'x')).map(String)).toEqual(['from-b', 'x']);
    const streaming = new Client([epA, epB], { timeout: 300, retries: 1, retryBackoff: 10 });
    cleanups.push(() => streaming.close());
    const seen: string[] = [];
    const err = await (async () => {
      for await (const c of streaming.stream('parts', 'y')) seen.push(...c.body.map(String));
    })().then(() => undefined, (e: unknown) => e);
    expect(err).toMatchObject({ code: MdpErrorCode.STREAM_INTERRUPTED, address: epA });
    expect(seen).toEqual(['from-a']);
    // the stream was not sent to B
    expect(streaming.brokers.map((b) => b.requests)).toEqual([1, 0]);
  });

  it('MDP_BROKER_UNREACHABLE names every broker when none can be reached', async () => {
    const client = new Client([await deadEndpoint(), await deadEndpoint()], { timeout: 200, retries: 0 });
    cleanups.push(() => client.close());
    const err = await client.request('echo', 'x').then(() => undefined, (e: unknown) => e);
    expect(err).toMatchObject({ code: MdpErrorCode.BROKER_UNREACHABLE });
    expect((err as Error).message).toMatch(/no connection to any of the brokers \(tcp:.*, tcp:.*\) after 2 attempt\(s\)/);
    expect(client.brokers.map((b) => b.failures)).toEqual([1, 1]);
  });

  it('a stable routing id is used on every broker', async () => {
    const a = new SilentRouter();
    const b = new SilentRouter();
    cleanups.push(() => a.close(), () => b.close());
    const epA = await a.start();
    const epB = await b.start();
    const client = new Client([epA, epB], { timeout: 200, retries: 2, retryBackoff: 10, routingId: 'me', diagnose: false });
    cleanups.push(() => client.close());
    const err = await client.request('echo', 'x').then(() => undefined, (e: unknown) => e);
    expect(err).toMatchObject({ code: MdpErrorCode.TIMEOUT });
    // A, B, then A again on a new socket (the first one was closed when the client failed over)
    expect(a.received.map((m) => m[0]!.toString())).toEqual(['me', 'me.1']);
    expect(b.received.map((m) => m[0]!.toString())).toEqual(['me']);
  });
});

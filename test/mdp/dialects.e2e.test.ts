/**
 * Dialects end to end: the real `purezmq broker` process, driven by frame-exact copies of each
 * dialect's client and worker on libzmq (test/mdp/dialects.peers.ts): every dialect as client against
 * every dialect as worker, streaming where both ends have it, heartbeats, DISCONNECT both ways, the
 * per-dialect metrics, and the strict (RFC-only) mode. Then purezmq's own Client and Worker in each
 * dialect against the same broker.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, Worker } from '../../src/mdp/mod.ts';
import { buildCli, libMmi, runCli, spawnCli, startBroker, waitFor, type BrokerProcess } from './helpers.ts';
import { B, byte, DIALECT_NAMES, E, PeerClient, peerRequest, PeerWorker, STREAMS, str, type DialectName, type ReplyPart } from './dialects.peers.ts';

const HB = 100;
const LIVENESS = 5;
let cli: string;
let cleanup: () => void;
let broker: BrokerProcess;
let ep: string;
const peers: PeerWorker[] = [];
const closers: (() => unknown)[] = [];

function peerWorker(...args: ConstructorParameters<typeof PeerWorker>): PeerWorker {
  const w = new PeerWorker(...args);
  peers.push(w);
  return w;
}

async function workerCount(service: string, endpoint = ep): Promise<number> {
  const [code, n] = await libMmi(endpoint, 'mmi.workers', [service]);
  expect(code).toBe('200');
  return Number(n);
}

async function metrics(endpoint = ep): Promise<any> {
  return JSON.parse((await libMmi(endpoint, 'mmi.broker'))[1]!);
}

/** A streaming worker sends p1 (echoing the body), p2, then FINAL done + body; RFC 7 only the FINAL. */
function streamingHandler(dialect: DialectName) {
  return async (body: string[], partial: (p: string[]) => Promise<void>): Promise<string[]> => {
    if (STREAMS[dialect]) {
      await partial(['p1', ...body]);
      await partial(['p2']);
    }
    return ['done', ...body];
  };
}

/** What a client of `c` must get from a worker of `w` for a request with `body`. */
function expected(c: DialectName, w: DialectName, body: string[]): { final: boolean; body: string[] }[] {
  if (!STREAMS[w]) return [{ final: true, body: ['done', ...body] }];
  if (!STREAMS[c]) return [{ final: true, body: ['p1', ...body, 'p2', 'done', ...body] }]; // merged into the one REPLY
  return [
    { final: false, body: ['p1', ...body] },
    { final: false, body: ['p2'] },
    { final: true, body: ['done', ...body] },
  ];
}

const simplify = (parts: ReplyPart[]): { final: boolean; body: string[] }[] => parts.map((p) => ({ final: p.final, body: p.body }));

beforeAll(async () => {
  ({ cli, cleanup } = buildCli());
  broker = await startBroker(cli, [
    '--bind', 'tcp://127.0.0.1:*',
    '--heartbeat-interval', String(HB),
    '--heartbeat-liveness', String(LIVENESS),
    '--busy-worker-timeout', '3000',
    '--request-timeout', '3s',
    '--log-level', 'info',
  ]);
  ep = broker.endpoint;
}, 60000);

afterAll(async () => {
  for (const w of peers) w.kill();
  for (const c of closers) await c();
  const code = await broker?.stop('SIGTERM');
  cleanup?.();
  expect(code).toBe(0);
});

describe('purezmq broker (process): every dialect as client against every dialect as worker', () => {
  it('4 x 4: requests bridged across dialects, PARTIAL/FINAL in order where both ends stream, merged for RFC 7 clients', async () => {
    const workers = new Map<DialectName, PeerWorker>();
    for (const w of DIALECT_NAMES) workers.set(w, peerWorker(w, ep, `m-${w}`, streamingHandler(w)));
    for (const w of DIALECT_NAMES) await waitFor(async () => (await workerCount(`m-${w}`)) === 1, `${w} worker`);

    const runs = DIALECT_NAMES.flatMap((c) =>
      DIALECT_NAMES.map(async (w) => {
        const body = [`${c}->${w}`, '', 'tail'];
        const parts = await peerRequest(c, ep, `m-${w}`, body);
        return { c, w, body, parts };
      }),
    );
    for (const { c, w, body, parts } of await Promise.all(runs)) {
      expect(simplify(parts), `${c} client, ${w} worker`).toEqual(expected(c, w, body));
    }
    for (const [w, peer] of workers) {
      expect(peer.violations, `${w} worker`).toEqual([]);
      expect(peer.requests.map((r) => r.body[0]).sort()).toEqual(DIALECT_NAMES.map((c) => `${c}->${w}`).sort());
      // the request reached the worker with the body intact, empty frame included
      for (const r of peer.requests) expect(r.body.slice(1)).toEqual(['', 'tail']);
    }
  });

  it('byte-exact replies in each client dialect (one streaming worker)', async () => {
    const w = peerWorker('rfc18', ep, 'exact', async (body, partial) => {
      await partial(['part']);
      return ['fin', ...body];
    });
    await waitFor(async () => (await workerCount('exact')) === 1, 'worker');
    const frames = async (c: DialectName): Promise<Buffer[][]> => (await peerRequest(c, ep, 'exact', ['x'])).map((p) => p.frames);
    expect(await frames('rfc18')).toEqual([
      [B('MDPC02'), byte(0x02), B('exact'), B('part')],
      [B('MDPC02'), byte(0x03), B('exact'), B('fin'), B('x')],
    ]);
    // REQ strips the leading empty frame of RFC 7
    expect(await frames('rfc7')).toEqual([[B('MDPC01'), B('exact'), B('part'), B('fin'), B('x')]]);
    expect(await frames('majortomo')).toEqual([
      [E, B('MDPC02'), byte(0x03), B('part')],
      [E, B('MDPC02'), byte(0x04), B('fin'), B('x')],
    ]);
    expect(await frames('plantd')).toEqual([
      [B('MDPC02'), B('PARTIAL'), B('exact'), B('part')],
      [B('MDPC02'), B('FINAL'), B('exact'), B('fin'), B('x')],
    ]);
    expect(w.violations).toEqual([]);
  });

  it('byte-exact REQUEST in each worker dialect', async () => {
    const ws = DIALECT_NAMES.map((d) => peerWorker(d, ep, `req-${d}`, (body) => body));
    for (const d of DIALECT_NAMES) await waitFor(async () => (await workerCount(`req-${d}`)) === 1, `${d} worker`);
    for (const d of DIALECT_NAMES) await peerRequest('rfc18', ep, `req-${d}`, ['a', 'b']);
    const got = ws.map((w) => w.requests[0]!.frames);
    // the client address is the ROUTER identity of the (libzmq) client: 5 bytes, first one 0
    const addr = ws.map((w) => w.requests[0]!.client);
    for (const a of addr) expect(a.length === 5 && a[0] === 0).toBe(true);
    expect(got[0]).toEqual([B('MDPW02'), byte(0x02), addr[0], E, B('a'), B('b')]);
    expect(got[1]).toEqual([E, B('MDPW01'), byte(0x02), addr[1], E, B('a'), B('b')]);
    expect(got[2]).toEqual([E, B('MDPW02'), byte(0x02), addr[2], E, B('a'), B('b')]);
    expect(got[3]).toEqual([B('MDPW02'), B('REQUEST'), addr[3], E, B('a'), B('b')]);
  });

  it('MMI answers every client dialect in its own framing', async () => {
    peerWorker('plantd', ep, 'mmi-target', (body) => body);
    await waitFor(async () => (await workerCount('mmi-target')) === 1, 'worker');
    for (const c of DIALECT_NAMES) {
      const [part] = await peerRequest(c, ep, 'mmi.service', ['mmi-target']);
      expect(part!.body, c).toEqual(['200']);
      const [missing] = await peerRequest(c, ep, 'mmi.service', ['nowhere']);
      expect(missing!.body, c).toEqual(['404']);
    }
  });

  it('heartbeats reach each worker in its dialect; a worker that stops heartbeating expires, one that keeps on stays', async () => {
    const ws = DIALECT_NAMES.map((d) => peerWorker(d, ep, `hb-${d}`, (body) => body));
    const keep = DIALECT_NAMES.map((d) => peerWorker(d, ep, `hb-keep-${d}`, (body) => body));
    for (const d of DIALECT_NAMES) {
      await waitFor(async () => (await workerCount(`hb-${d}`)) === 1 && (await workerCount(`hb-keep-${d}`)) === 1, `${d} workers`);
    }
    await waitFor(() => ws.every((w) => w.heartbeats >= 2), 'broker heartbeats at every worker');
    for (const w of ws) expect(w.violations, w.dialect).toEqual([]);
    // what the broker's heartbeat looks like in each dialect
    const hb = (w: PeerWorker): Buffer[] => w.received.find((m) => m.some((x) => x.equals(byte(0x05)) || x.equals(byte(0x04)) || str(x) === 'HEARTBEAT'))!;
    expect(hb(ws[0]!)).toEqual([B('MDPW02'), byte(0x05)]);
    expect(hb(ws[1]!)).toEqual([E, B('MDPW01'), byte(0x04)]);
    expect(hb(ws[2]!)).toEqual([E, B('MDPW02'), byte(0x05)]);
    expect(hb(ws[3]!)).toEqual([B('MDPW02'), B('HEARTBEAT')]);

    for (const w of ws) w.stopHeartbeats();
    for (const d of DIALECT_NAMES) await waitFor(async () => (await workerCount(`hb-${d}`)) === 0, `silent ${d} worker to expire`, 8000);
    for (const d of DIALECT_NAMES) expect(await workerCount(`hb-keep-${d}`), d).toBe(1);
  });

  it('DISCONNECT from a worker of each dialect unregisters it', async () => {
    const ws = DIALECT_NAMES.map((d) => peerWorker(d, ep, `bye-${d}`, (body) => body, { heartbeatMs: 0 }));
    for (const d of DIALECT_NAMES) await waitFor(async () => (await workerCount(`bye-${d}`)) === 1, `${d} worker`);
    for (const w of ws) await w.send('DISCONNECT');
    for (const d of DIALECT_NAMES) await waitFor(async () => (await workerCount(`bye-${d}`)) === 0, `${d} worker gone`);
  });

  it("the broker's DISCONNECT (second READY) reaches each worker in its dialect", async () => {
    const ws = DIALECT_NAMES.map((d) => peerWorker(d, ep, `twice-${d}`, (body) => body, { heartbeatMs: 0 }));
    for (const d of DIALECT_NAMES) await waitFor(async () => (await workerCount(`twice-${d}`)) === 1, `${d} worker`);
    for (const w of ws) await w.send('READY', [B(w.service)]);
    await waitFor(() => ws.every((w) => w.disconnects === 1), 'DISCONNECT at every worker');
    const last = (w: PeerWorker): Buffer[] => w.received.at(-1)!;
    expect(last(ws[0]!)).toEqual([B('MDPW02'), byte(0x06)]);
    expect(last(ws[1]!)).toEqual([E, B('MDPW01'), byte(0x05)]);
    expect(last(ws[2]!)).toEqual([E, B('MDPW02'), byte(0x06)]);
    expect(last(ws[3]!)).toEqual([B('MDPW02'), B('DISCONNECT')]);
    for (const w of ws) expect(w.violations, w.dialect).toEqual([]);
    for (const d of DIALECT_NAMES) expect(await workerCount(`twice-${d}`)).toBe(0);
  });

  it('a worker of each dialect that heartbeats without READY (a broker restart) is told DISCONNECT in its dialect', async () => {
    // what a plantd or majortomo worker meets when purezmq broker replaces its old broker: its DEALER
    // reconnects under a new identity and the next HEARTBEAT is from an unknown worker
    const ws = DIALECT_NAMES.map((d) => peerWorker(d, ep, `restart-${d}`, (body) => body, { ready: false, heartbeatMs: 0 }));
    for (const w of ws) await w.send('HEARTBEAT');
    await waitFor(() => ws.every((w) => w.disconnects === 1), 'DISCONNECT at every worker');
    for (const w of ws) expect(w.violations, w.dialect).toEqual([]);
    expect(ws[3]!.received[0]).toEqual([B('MDPW02'), B('DISCONNECT')]);
  });

  it('a worker keeps the dialect of its READY: a command in another dialect gets DISCONNECT in the first one', async () => {
    const w = peerWorker('plantd', ep, 'switch', (body) => body, { heartbeatMs: 0 });
    await waitFor(async () => (await workerCount('switch')) === 1, 'worker');
    await w.sendRaw([E, B('MDPW02'), byte(0x05)]); // majortomo HEARTBEAT from a plantd worker
    await waitFor(() => w.disconnects === 1, 'DISCONNECT');
    expect(w.received.at(-1)).toEqual([B('MDPW02'), B('DISCONNECT')]);
    expect(await workerCount('switch')).toBe(0);
  });

  it('mmi.broker counts peers and messages per dialect', async () => {
    const m = await metrics();
    expect(m.acceptedDialects).toEqual(['rfc18', 'rfc7', 'majortomo', 'plantd']);
    expect(m.protocols).toEqual(['MDP/0.1', 'MDP/0.2']);
    for (const d of DIALECT_NAMES) {
      const x = m.dialects[d];
      expect(x.accepted, d).toBe(true);
      expect(x.workers, d).toBeGreaterThanOrEqual(1); // m-<dialect> and hb-keep-<dialect> are still registered
      expect(x.clients, d).toBeGreaterThanOrEqual(1);
      expect(x.requests, d).toBeGreaterThanOrEqual(4);
      expect(x.workersRegistered, d).toBeGreaterThanOrEqual(5);
      expect(x.messagesIn, d).toBeGreaterThan(x.requests);
      expect(x.messagesOut, d).toBeGreaterThan(0);
      expect(x.replies, d).toBeGreaterThanOrEqual(4);
      expect(x.refused, d).toBe(0);
    }
    expect(m.dialects.rfc7.partials).toBe(0); // RFC 7 clients never get a PARTIAL
    expect(m.dialects.majortomo.partials).toBeGreaterThan(0);
    expect(m.counters.dialectRefused).toBe(0);
  });
});

describe('purezmq broker --strict (RFC dialects only)', () => {
  it('serves RFC 7 and RFC 18 peers, refuses majortomo and plantd ones without an answer, logs and counts it', async () => {
    const b = await startBroker(cli, ['--bind', 'tcp://127.0.0.1:*', '--strict', '--heartbeat-interval', String(HB), '--log-level', 'warn', '--log-format', 'json']);
    closers.push(() => b.stop('SIGKILL'));
    const rfcWorker = peerWorker('rfc18', b.endpoint, 'strict-echo', (body) => body);
    const refusedWorkers = (['majortomo', 'plantd'] as const).map((d) => peerWorker(d, b.endpoint, 'strict-echo', (body) => body));
    await waitFor(async () => (await workerCount('strict-echo', b.endpoint)) === 1, 'rfc18 worker');
    const [reply] = await peerRequest('rfc7', b.endpoint, 'strict-echo', ['hi']);
    expect(reply!.body).toEqual(['hi']);
    for (const d of ['majortomo', 'plantd'] as const) {
      const c = new PeerClient(d, b.endpoint, { timeoutMs: 400 });
      try {
        await c.send('strict-echo', ['x']);
        await expect(c.receive('strict-echo')).rejects.toThrow(); // no answer of any kind
      } finally {
        c.close();
      }
    }
    await waitFor(async () => (await metrics(b.endpoint)).dialects.plantd.refused >= 2, 'refusals counted');
    expect(await workerCount('strict-echo', b.endpoint)).toBe(1); // the refused READYs registered nobody
    for (const w of refusedWorkers) {
      expect(w.disconnects, w.dialect).toBe(0); // refused silently: no DISCONNECT to bounce a reconnect loop
      expect(w.requests, w.dialect).toHaveLength(0);
    }
    expect(rfcWorker.requests).toHaveLength(1);
    const m = await metrics(b.endpoint);
    expect(m.acceptedDialects).toEqual(['rfc18', 'rfc7']);
    expect(m.dialects.majortomo).toMatchObject({ accepted: false, workers: 0, messagesIn: 0 });
    expect(m.dialects.majortomo.refused).toBeGreaterThanOrEqual(2); // READY, request (and heartbeats)
    expect(m.counters.dialectRefused).toBe(m.dialects.majortomo.refused + m.dialects.plantd.refused);
    expect(m.counters.invalid).toBe(0); // refused is not malformed
    const refusals = b.stderr().trim().split('\n').map((l) => JSON.parse(l)).filter((l) => l.msg === 'dialect refused');
    expect(refusals.map((l) => l.dialect).sort()).toEqual(['majortomo', 'plantd']); // one line per dialect (rate-limited)
    expect(refusals[0]).toMatchObject({ level: 'warn', code: 'MDP_DIALECT_REFUSED' });
    expect(await b.stop('SIGTERM')).toBe(0);
  });
});

describe("purezmq's Client and Worker in each dialect against the broker", () => {
  it('4 x 4: our Client of each dialect, our Worker of each dialect, streaming where both ends have it', async () => {
    const workers = DIALECT_NAMES.map(
      (d) =>
        new Worker(
          ep,
          `ours-${d}`,
          async (req, ctx) => {
            await ctx.partial(['p1', ...req.map(str)]);
            await ctx.partial('p2');
            return ['done', ...req.map(str)];
          },
          { dialect: d, heartbeatInterval: HB, heartbeatLiveness: LIVENESS, reconnectInterval: 100 },
        ),
    );
    const clients = DIALECT_NAMES.map((d) => new Client(ep, { dialect: d, timeout: 3000, retries: 0 }));
    closers.push(...workers.map((w) => () => w.close(0)), ...clients.map((c) => () => c.close()));
    for (const d of DIALECT_NAMES) await waitFor(async () => (await workerCount(`ours-${d}`)) === 1, `our ${d} worker`);
    const runs = clients.flatMap((client) =>
      DIALECT_NAMES.map(async (w) => {
        const body = [`${client.dialect}->${w}`, ''];
        const parts: { final: boolean; body: string[] }[] = [];
        for await (const chunk of client.stream(`ours-${w}`, body)) parts.push({ final: chunk.final, body: chunk.body.map(str) });
        return { c: client.dialect as DialectName, w, body, parts };
      }),
    );
    for (const { c, w, body, parts } of await Promise.all(runs)) {
      // our RFC 7 worker merges its partials into the one REPLY: the same frames a merged stream gives
      const want = w === 'rfc7' ? [{ final: true, body: ['p1', ...body, 'p2', 'done', ...body] }] : expected(c, w, body);
      expect(parts, `our ${c} client, our ${w} worker`).toEqual(want);
    }
    for (const w of workers) expect(w.stats.malformed, w.dialect).toBe(0);
    for (const c of clients) expect(c.stats.malformed, c.dialect).toBe(0);
  });
});

describe('purezmq command line with --dialect', () => {
  it('a plantd-dialect `purezmq worker` serves a majortomo-dialect `purezmq request`; `mmi broker` lists the dialects', async () => {
    const w = spawnCli(cli, ['worker', 'cli-shout', '--exec', 'tr a-z A-Z', '--broker', ep, '--dialect', 'plantd', '--heartbeat-interval', String(HB)]);
    closers.push(() => w.stop());
    await waitFor(async () => (await workerCount('cli-shout')) === 1, 'CLI worker', 10000);
    const r = await runCli(cli, ['request', 'cli-shout', 'hello', '--broker', ep, '--dialect', 'majortomo']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('HELLO\n');
    expect((await metrics()).dialects.plantd.workers).toBeGreaterThanOrEqual(1);
    const table = await runCli(cli, ['mmi', 'broker', '--broker', ep, '--dialect', 'rfc7']);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^dialects\s+rfc18 rfc7 majortomo plantd$/m);
    expect(table.stdout).toMatch(/^dialect\.plantd\s+accepted clients=\d+ workers=[1-9]/m);
    const bad = await runCli(cli, ['request', 'x', '--broker', ep, '--dialect', 'zmtp']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/client\.dialect \(from --dialect\): must be one of auto, rfc18, rfc7, majortomo, plantd/);
    const both = await runCli(cli, ['broker', '--strict', '--dialects', 'plantd']);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/--strict and --dialects cannot be combined/);
  });
});

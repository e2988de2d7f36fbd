/**
 * Regression tests for the broker's limits under abuse (issue 13): memory bounded by bytes, service
 * name spraying that stays O(1) per name. In process, with libzmq peers; the memory measurement uses
 * the real broker process.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import * as lib from 'zeromq';
import { Broker, Client, RateLimitedLog, Worker, boundedSink, createLogger } from '../../src/mdp/mod.ts';
import { PeerWorker } from './dialects.peers.ts';
import { buildCli, libMmi, startBroker, waitFor, type BrokerProcess } from './helpers.ts';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function dealer(ep: string): lib.Dealer {
  const sock = new lib.Dealer({ linger: 0, sendHighWaterMark: 100_000 });
  sock.connect(ep);
  cleanups.push(() => sock.close());
  return sock;
}

const request02 = (service: string, ...body: (string | Buffer)[]): (string | Buffer)[] => ['MDPC02', Buffer.of(1), service, ...body];

describe('max_queued_bytes: requests are bounded by bytes, not only by count', () => {
  it('refuses plain requests past the budget, answers Titanic 500, and lets dead letters give way', async () => {
    const broker = new Broker({ heartbeatInterval: 50, maxQueuedBytes: 1024 * 1024, requestTimeout: 0 });
    const ep = await broker.bind('tcp://127.0.0.1:*');
    cleanups.push(() => broker.close(0));
    const sock = dealer(ep);
    const body = Buffer.alloc(300 * 1024, 1);
    for (let i = 0; i < 5; i++) await sock.send(request02(`nobody-${i}`, body));
    await waitFor(() => broker.metrics().counters.requests === 5, 'requests');
    const m = broker.metrics();
    expect(m.counters.bytesRefused).toBe(2);
    expect(m.requests.queued).toBe(3);
    expect(m.requests.bytes).toBe(3 * body.length);
    const client = new Client(ep, { timeout: 2000 });
    cleanups.push(() => client.close());
    const [status] = (await client.request('titanic.request', ['t', body])).map(String);
    expect(status).toMatch(/^500 MDP_LIMIT/);
    // the budget is for what waits: a service with an idle worker is still served while it is full
    const w = new Worker(ep, 'served', (req) => req, { heartbeatInterval: 50 });
    cleanups.push(() => w.close());
    expect((await client.request('served', body)).map((f) => f.length)).toEqual([body.length]);
  });

  it('keeps the broker process under the budget plus a constant while it is flooded', async () => {
    const { cli, cleanup } = buildCli();
    cleanups.push(cleanup);
    const budget = 32 * 1024 * 1024;
    // the budget alone: the flooder is not held back for its refusals (refusals_per_peer 0), or it
    // would be read at a few MiB a second and never reach the budget's edge for long
    const b: BrokerProcess = await startBroker(cli, ['--bind', 'tcp://127.0.0.1:*', '--max-queued-bytes', String(budget), '--request-timeout', '0', '--refusals-per-peer', '0', '--log-level', 'error']);
    cleanups.push(() => b.stop('SIGKILL'));
    const rss = (): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${b.proc.pid}/status`, 'utf8'))![1]) * 1024;
    // warm up (JIT, socket buffers) before the baseline
    await libMmi(b.endpoint, 'mmi.broker');
    const before = rss();
    const sock = dealer(b.endpoint);
    const body = Buffer.alloc(1024 * 1024, 7);
    const offer = async (from: number, count: number): Promise<number> => {
      for (let i = from; i < from + count; i++) await sock.send(request02(`flood-${i}`, body));
      await waitFor(async () => {
        const [, doc] = await libMmi(b.endpoint, 'mmi.broker');
        return JSON.parse(doc!).counters.requests === from + count;
      }, 'the flood to be read', 30_000);
      return rss() - before;
    };
    // 256 MiB offered to worker-less services (8 times the budget), then 512 MiB more: what the
    // broker holds stays at the budget, and its memory does not grow with what is offered
    const first = await offer(0, 256);
    const second = await offer(256, 512);
    const [, doc] = await libMmi(b.endpoint, 'mmi.broker');
    const m = JSON.parse(doc!);
    expect(m.requests.bytes).toBeLessThanOrEqual(budget);
    expect(m.counters.bytesRefused).toBeGreaterThanOrEqual(768 - 32);
    // a constant for garbage not yet collected and socket buffers; without the budget the broker
    // would hold the 768 MiB itself
    expect(first).toBeLessThan(budget + 160 * 1024 * 1024);
    expect(second).toBeLessThan(budget + 160 * 1024 * 1024);
  }, 60_000);
});

describe('max_message_bytes: one message is bounded as its frames arrive', () => {
  it('closes the connection that sends a larger message, and only that one', async () => {
    const broker = new Broker({ heartbeatInterval: 50, maxMessageBytes: 1024 * 1024 });
    const ep = await broker.bind('tcp://127.0.0.1:*');
    cleanups.push(() => broker.close(0));
    const sock = new lib.Dealer({ linger: 0 });
    sock.connect(ep);
    cleanups.push(() => sock.close());
    const half = Buffer.alloc(512 * 1024, 1);
    await sock.send(request02('big', half, half, half)); // 1.5 MiB in frames of 0.5 MiB
    await waitFor(() => broker.metrics().counters.connectionErrors === 1, 'the connection to be closed');
    expect(broker.metrics().counters.requests).toBe(0);
    // anyone else is still served, and the same client after its reconnect with a message that fits
    const w = new Worker(ep, 'big', (req) => [String(req.reduce((n, f) => n + f.length, 0))], { heartbeatInterval: 50 });
    cleanups.push(() => w.close());
    const client = new Client(ep, { timeout: 5000 });
    cleanups.push(() => client.close());
    expect((await client.request('big', [half])).map(String)).toEqual([String(half.length)]);
  });
});

describe('service-name spraying', () => {
  it('a new name never scans the service table, even when every record holds a request', async () => {
    const broker = new Broker({ heartbeatInterval: 50, maxServices: 500, requestTimeout: 0 });
    const ep = await broker.bind('tcp://127.0.0.1:*');
    cleanups.push(() => broker.close(0));
    // count how often the broker walks its service table (white box: the table is private)
    const table = (broker as unknown as { services: Map<string, unknown> }).services;
    let walks = 0;
    const values = table.values.bind(table);
    table.values = () => {
      walks++;
      return values();
    };
    const sock = dealer(ep);
    for (let i = 0; i < 500; i++) await sock.send(request02(`held-${i}`, 'x')); // fills the table with records that hold a request
    for (let i = 0; i < 2000; i++) await sock.send(request02(`spray-${i}`, 'x')); // each refused: no record is free
    await waitFor(() => broker.metrics().counters.requests === 2500, 'requests');
    walks = 0;
    const m = broker.metrics(); // metrics() itself walks the table once
    expect(walks).toBe(1);
    expect(m.counters.requestsDropped).toBe(2000);
    expect(Object.keys(m.services)).toHaveLength(500);
  });

  it('evicts a record that holds nothing, and keeps the ones that do', async () => {
    const broker = new Broker({ heartbeatInterval: 50, maxServices: 2, requestTimeout: 100 });
    const ep = await broker.bind('tcp://127.0.0.1:*');
    cleanups.push(() => broker.close(0));
    const sock = dealer(ep);
    await sock.send(request02('a', 'x'));
    await waitFor(() => broker.metrics().requests.deadLetters === 1, 'a to expire'); // a holds nothing now
    await sock.send(request02('b', 'x')); // b holds a request
    await sock.send(request02('c', 'x')); // the table is full: a goes
    await waitFor(() => broker.metrics().counters.requests === 3, 'requests');
    expect(Object.keys(broker.metrics().services).sort()).toEqual(['b', 'c']);
  });
});

describe('a peer whose messages keep being refused', () => {
  it('is held back (not read) for a while, without losing its messages, and the others are served meanwhile', async () => {
    const lines: string[] = [];
    const logger = createLogger({ level: 'info', format: 'json', write: (l) => lines.push(l) });
    const broker = new Broker({ heartbeatInterval: 50, maxServices: 5, refusalsPerPeer: 100, receiveHighWaterMark: 100, requestTimeout: 0, logger });
    const ep = await broker.bind('tcp://127.0.0.1:*');
    cleanups.push(() => broker.close(0));
    const w = new Worker(ep, 'echo', (req) => req, { heartbeatInterval: 50 });
    cleanups.push(() => w.close());
    const client = new Client(ep, { timeout: 2000 });
    cleanups.push(() => client.close());
    expect((await client.request('echo', 'warm')).map(String)).toEqual(['warm']);
    // a service-name spray: 4 names fill the table, every one after that is refused
    const sock = dealer(ep);
    const N = 600;
    for (let i = 0; i < N; i++) await sock.send(request02(`spray-${i}`, 'x'));
    await waitFor(() => broker.metrics().counters.peersHeld === 1, 'the sprayer held back');
    // the sprayer's last messages wait in its connection: a hold lets through what the broker had
    // read already (up to the HWM of 100), then its budget refilled during the hold, then it is
    // held again, longer each time: 100 ms, 200 ms, ...
    expect(broker.metrics().counters.requests).toBeLessThan(N + 1);
    // the others are served meanwhile
    for (let i = 0; i < 20; i++) expect((await client.request('echo', `r${i}`)).map(String)).toEqual([`r${i}`]);
    const held = lines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'peer held back: too many refused messages');
    expect(held[0]).toMatchObject({ level: 'warn', holdMs: 100, limit: '100/s' });
    // nothing is lost: every one is read in the end
    await waitFor(() => broker.metrics().counters.requests === N + 21, 'every request read', 10_000);
    const m = broker.metrics();
    expect(m.counters.peersHeld).toBeGreaterThanOrEqual(2);
    expect(m.counters.requestsDropped).toBe(N - 4); // all refused but the 4 queued (and the 21 echo ones, served)
    expect(m.requests.queued).toBe(4);
  });

  it('refusals_per_peer 0 never holds anyone back', async () => {
    const broker = new Broker({ heartbeatInterval: 50, maxServices: 1, refusalsPerPeer: 0, requestTimeout: 0 });
    const ep = await broker.bind('tcp://127.0.0.1:*');
    cleanups.push(() => broker.close(0));
    const sock = dealer(ep);
    for (let i = 0; i < 5000; i++) await sock.send(request02(`spray-${i}`, 'x'));
    await waitFor(() => broker.metrics().counters.requests === 5000, 'every request read');
    expect(broker.metrics().counters.peersHeld).toBe(0);
  });
});

describe('mmi.broker amplification', () => {
  it('answers a summary by default, and the per-service detail a page at a time', async () => {
    const broker = new Broker({ heartbeatInterval: 50, requestTimeout: 0 });
    const ep = await broker.bind('tcp://127.0.0.1:*');
    cleanups.push(() => broker.close(0));
    const sock = dealer(ep);
    for (let i = 0; i < 3000; i++) await sock.send(request02(`svc-${String(i).padStart(4, '0')}`, 'x'));
    await waitFor(() => broker.metrics().counters.requests === 3000, 'requests');
    const [code, doc] = await libMmi(ep, 'mmi.broker');
    expect(code).toBe('200');
    // a 40-byte question gets a few kilobytes, not a line per service
    expect(doc!.length).toBeLessThan(16 * 1024);
    const summary = JSON.parse(doc!);
    expect(summary.services).toEqual({});
    expect(summary.servicesSummary.count).toBe(3000);
    expect(summary.servicesSummary.busiest).toHaveLength(10);
    // the detail: pages in name order, a cursor from one to the next
    const seen: string[] = [];
    let after = '';
    for (;;) {
      const [c, page] = await libMmi(ep, 'mmi.broker', ['services', '700', after]);
      expect(c).toBe('200');
      const p = JSON.parse(page!);
      expect(p.total).toBe(3000);
      seen.push(...Object.keys(p.services));
      if (!p.next) break;
      after = p.next;
    }
    expect(seen).toHaveLength(3000);
    expect(seen).toEqual([...seen].sort());
    const [, filtered] = await libMmi(ep, 'mmi.broker', ['services', '100', '', 'svc-29']);
    expect(Object.keys(JSON.parse(filtered!).services)).toHaveLength(100);
    const [, tail] = await libMmi(ep, 'mmi.broker', ['services', '100', 'svc-2950', 'svc-29']);
    expect(Object.keys(JSON.parse(tail!).services)).toEqual(Array.from({ length: 49 }, (_, i) => `svc-29${51 + i}`));
    expect((await libMmi(ep, 'mmi.broker', ['nonsense']))[0]).toBe('400');
  });
});


describe('log floods', () => {
  it('a flood of refused requests costs a few log lines, not one each', async () => {
    const lines: string[] = [];
    const logger = createLogger({ level: 'info', format: 'json', write: (l) => lines.push(l) });
    const broker = new Broker({ heartbeatInterval: 50, maxQueuedRequests: 10, requestTimeout: 100, logger });
    const ep = await broker.bind('tcp://127.0.0.1:*');
    cleanups.push(() => broker.close(0));
    const sock = dealer(ep);
    for (let i = 0; i < 5000; i++) await sock.send(request02('nobody', String(i)));
    await waitFor(() => broker.metrics().counters.requests === 5000, 'requests');
    // each request is refused (queue full) or queued and then expired into the dead letters
    await waitFor(() => broker.metrics().services.nobody!.drops.overflow + broker.metrics().lifecycle.deadLettered === 5000, 'every request settled');
    const warns = lines.map((l) => JSON.parse(l)).filter((l) => l.level === 'warn');
    expect(warns.length).toBeLessThan(10);
    expect(warns.find((l) => l.msg === 'request dropped: queue full')).toBeDefined();
  });

  it('RateLimitedLog lets a burst through per period, then counts what it suppressed', () => {
    const lines: { msg: string; fields?: Record<string, unknown> }[] = [];
    const log = { error() {}, warn: (msg: string, fields?: Record<string, unknown>) => lines.push({ msg, fields }), info() {}, debug() {}, enabled: () => true };
    let t = 0;
    const limited = new RateLimitedLog(log, 1000, 3, () => t);
    for (let i = 0; i < 10; i++) limited.warn('k', 'm', { i });
    expect(lines.map((l) => l.fields!.i)).toEqual([0, 1, 2]);
    t = 1000;
    limited.warn('k', 'm', { i: 10 });
    expect(lines.at(-1)!.fields).toEqual({ i: 10, suppressedSimilar: 7 });
    limited.warn('other', 'm', { i: 11 }); // kinds are limited apart
    expect(lines).toHaveLength(5);
  });

  it('a log stream nobody reads does not grow memory: lines are dropped, then counted once it drains', () => {
    const written: string[] = [];
    let drain: (() => void) | undefined;
    const stream = {
      writableLength: 0,
      write(chunk: string) {
        written.push(chunk);
        this.writableLength += chunk.length; // nobody reads: it only grows
        return false;
      },
      once(_event: 'drain', fn: () => void) {
        drain = fn;
      },
    };
    const write = boundedSink(stream, 'json', 1000);
    for (let i = 0; i < 10_000; i++) write('x'.repeat(99) + '\n');
    expect(written).toHaveLength(11); // up to the bound, then dropped
    stream.writableLength = 0;
    drain!();
    const last = JSON.parse(written.at(-1)!);
    expect(last).toMatchObject({ level: 'warn', dropped: 10_000 - 11 });
  });
});

describe('connections that close', () => {
  it('a busy worker whose connection closes has its request run again at once, not at the next heartbeat', async () => {
    // heartbeats every 10 s: only the connection's close can explain a quick re-dispatch
    const broker = new Broker({ heartbeatInterval: 10_000, busyWorkerTimeout: 60_000, retryBackoff: 1 });
    const ep = await broker.bind('tcp://127.0.0.1:*');
    cleanups.push(() => broker.close(0));
    const dying = new PeerWorker('rfc18', ep, 'job', () => 'ignore', { heartbeatMs: 0 });
    cleanups.push(() => dying.kill());
    await waitFor(() => broker.metrics().workers === 1, 'the first worker');
    const sock = dealer(ep);
    await sock.send(request02('job', 'x'));
    await waitFor(() => dying.requests.length === 1, 'the dispatch');
    const rescuer = new PeerWorker('rfc18', ep, 'job', (body) => body, { heartbeatMs: 0 });
    cleanups.push(() => rescuer.kill());
    await waitFor(() => broker.metrics().workers === 2, 'the second worker');
    dying.kill();
    await waitFor(() => rescuer.requests.length === 1, 'the re-dispatch', 3000);
    const c = broker.metrics().counters;
    expect([c.workersLost, c.workersExpired]).toEqual([1, 0]);
  });

  it('a queued request whose client (a ROUTER-made id) has gone is dropped, not dispatched', async () => {
    const broker = new Broker({ heartbeatInterval: 100 });
    const ep = await broker.bind('tcp://127.0.0.1:*');
    cleanups.push(() => broker.close(0));
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const w = new PeerWorker('rfc18', ep, 'one-at-a-time', async (body) => {
      if (body[0] === 'first') await gate;
      return body;
    }, { heartbeatMs: 100 });
    cleanups.push(() => w.kill());
    await waitFor(() => broker.metrics().workers === 1, 'worker');
    const staying = dealer(ep);
    await staying.send(request02('one-at-a-time', 'first'));
    await waitFor(() => w.requests.length === 1, 'the first dispatch');
    const leaving = new lib.Dealer({ linger: 0 });
    leaving.connect(ep);
    await leaving.send(request02('one-at-a-time', 'abandoned'));
    await waitFor(() => broker.metrics().requests.queued === 1, 'the queued request');
    leaving.close();
    await waitFor(() => broker.metrics().connections === 2, 'the close to be seen'); // the worker and the staying client
    release();
    await waitFor(() => broker.metrics().lifecycle.clientGone === 1, 'the drop');
    expect(w.requests.map((r) => r.body[0])).toEqual(['first']);
  });
});

/**
 * Request lifecycle in the broker (one process, in-memory store, libzmq peers): retries with backoff
 * after workers die, dead letters (list, replay, purge through MMI), TTL and queue expiry, replies
 * kept for clients that come back, and dispatch during the shutdown grace.
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as lib from 'zeromq';
import { Broker, Client, type DeadLetterPage } from '../../src/mdp/mod.ts';
import { s, waitFor } from './helpers.ts';
import { PeerWorker } from './dialects.peers.ts';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function start(options: ConstructorParameters<typeof Broker>[0]): Promise<{ broker: Broker; ep: string; mmi: (service: string, body?: string[]) => Promise<string[]> }> {
  const broker = new Broker({ heartbeatInterval: 50, ...options });
  const ep = await broker.bind('tcp://127.0.0.1:*');
  const client = new Client(ep, { timeout: 2000, diagnose: false });
  cleanups.push(() => broker.close(0), () => client.close());
  return { broker, ep, mmi: async (service, body = ['']) => (await client.request(service, body)).map(String) };
}

function worker(...args: ConstructorParameters<typeof PeerWorker>): PeerWorker {
  const w = new PeerWorker(...args);
  cleanups.push(() => w.kill());
  return w;
}

function dealer(ep: string, routingId?: string): lib.Dealer {
  const sock = new lib.Dealer({ linger: 0, receiveTimeout: 5000, ...(routingId ? { routingId } : {}) });
  sock.connect(ep);
  cleanups.push(() => sock.close());
  return sock;
}

const request02 = (service: string, ...body: string[]): (string | Buffer)[] => ['MDPC02', Buffer.of(1), service, ...body];

/**
 * Resolves once the broker's ROUTER has seen `count` connections end. A reply sent before the broker
 * notices a client's close goes into that connection's queue and is lost with it (as with libzmq),
 * so the tests that need "the client is gone" wait for this (white box: the ROUTER is private).
 */
function disconnects(broker: Broker, count: number): Promise<void> {
  const events = (broker as unknown as { router: { events: { on(type: 'disconnect', fn: () => void): void } } }).router.events;
  let seen = 0;
  return new Promise((resolve) => events.on('disconnect', () => ++seen === count && resolve()));
}

describe('retries and dead letters', () => {
  it('retries a request whose workers die, after a backoff, then dead-letters it with its last error; replay runs it again, purge deletes', async () => {
    const { broker, ep, mmi } = await start({ maxRetries: 2, retryBackoff: 200, retryBackoffMax: 1000 });
    const dispatchedAt: number[] = [];
    const killers: PeerWorker[] = [];
    for (let i = 0; i < 3; i++) {
      const w: PeerWorker = worker('rfc18', ep, 'poison', () => {
        dispatchedAt.push(Date.now());
        w.kill(); // dies holding the request
        return 'ignore';
      }, { heartbeatMs: 50 });
      killers.push(w);
    }
    await waitFor(() => broker.metrics().services.poison?.workers === 3, 'workers');
    const client = dealer(ep);
    await client.send(request02('poison', 'pill'));
    await waitFor(() => broker.metrics().requests.deadLetters === 1, 'the dead letter', 10_000);
    expect(killers.filter((k) => k.requests.length === 1)).toHaveLength(3); // 1 + maxRetries dispatches
    // equal jitter: each retry waits at least half its backoff step (200, then 400 ms)
    expect(dispatchedAt[1]! - dispatchedAt[0]!).toBeGreaterThanOrEqual(100);
    expect(dispatchedAt[2]! - dispatchedAt[1]!).toBeGreaterThanOrEqual(200);
    const m = broker.metrics();
    expect(m.lifecycle).toMatchObject({ accepted: 1, dispatched: 3, retried: 2, deadLettered: 1 });
    expect(m.services.poison!.drops.abandoned).toBe(1);

    const [code, doc] = await mmi('mmi.dlq.list');
    expect(code).toBe('200');
    const page = JSON.parse(doc!) as DeadLetterPage;
    expect(page.total).toBe(1);
    expect(page.items[0]).toMatchObject({ kind: 'plain', service: 'poison', reason: 'retries-exhausted', attempts: 3, bodyBytes: 4 });
    expect(page.items[0]!.error).toMatch(/worker/);
    const uuid = page.items[0]!.uuid;

    // replay: a healthy worker now serves it, and the reply reaches the original client
    const healthy = worker('rfc18', ep, 'poison', (body) => body.map((b) => b + "-ok"), { heartbeatMs: 50 });
    const [rc, rdoc] = await mmi('mmi.dlq.replay', [uuid]);
    expect([rc, JSON.parse(rdoc!)]).toEqual(['200', { replayed: 1, notFound: 0 }]);
    const reply = await client.receive();
    expect(reply.slice(2).map(s)).toEqual(['poison', 'pill-ok']);
    expect(healthy.requests).toHaveLength(1);
    expect(broker.metrics().requests.deadLetters).toBe(0);
    expect(broker.metrics().lifecycle.replayed).toBe(1);

    // purge, and the answers for what is not there
    expect(JSON.parse((await mmi('mmi.dlq.purge', [uuid]))[1]!)).toEqual({ purged: 0, notFound: 1 });
    expect((await mmi('mmi.dlq.purge', ['']))[0]).toBe('400');
  });

  it('expires a queued request past request_ttl, or past request_timeout, into the dead letters', async () => {
    const { broker, ep, mmi } = await start({ requestTtl: 150, requestTimeout: 0 });
    const client = dealer(ep);
    await client.send(request02('nobody', 'a'));
    await waitFor(() => broker.metrics().requests.deadLetters === 1, 'ttl expiry');
    const page = JSON.parse((await mmi('mmi.dlq.list'))[1]!) as DeadLetterPage;
    expect(page.items[0]).toMatchObject({ reason: 'expired', service: 'nobody' });
    expect(page.items[0]!.error).toMatch(/request_ttl/);
    expect(broker.metrics().services.nobody!.drops.expired).toBe(1);

    const b2 = await start({ requestTtl: 0, requestTimeout: 150 });
    const c2 = dealer(b2.ep);
    await c2.send(request02('nobody', 'b'));
    await waitFor(() => b2.broker.metrics().requests.deadLetters === 1, 'queue timeout');
    expect((JSON.parse((await b2.mmi('mmi.dlq.list'))[1]!) as DeadLetterPage).items[0]!.error).toMatch(/in the queue/);
  });

  it('keeps at most max_dead_letters, dropping the oldest; lists them a page at a time', async () => {
    const { broker, ep, mmi } = await start({ requestTimeout: 100, maxDeadLetters: 5 });
    const client = dealer(ep);
    for (let i = 0; i < 8; i++) await client.send(request02('nobody', String(i)));
    await waitFor(() => broker.metrics().lifecycle.deadLettered === 8, 'expiries');
    expect(broker.metrics().requests.deadLetters).toBe(5);
    expect(broker.metrics().lifecycle.evicted).toBe(3);
    const first = JSON.parse((await mmi('mmi.dlq.list', ['2']))[1]!) as DeadLetterPage;
    expect(first.items).toHaveLength(2);
    expect(first.total).toBe(5);
    const rest = JSON.parse((await mmi('mmi.dlq.list', ['10', first.next!]))[1]!) as DeadLetterPage;
    expect(rest.items).toHaveLength(3);
    expect(rest.next).toBeNull();
    expect(new Set([...first.items, ...rest.items].map((d) => d.uuid)).size).toBe(5);
    expect((await mmi('mmi.dlq.list', ['x']))[0]).toBe('400');
    expect(JSON.parse((await mmi('mmi.dlq.purge', ['all']))[1]!)).toEqual({ purged: 5, notFound: 0 });
    expect(broker.metrics().requests.deadLetters).toBe(0);
  });
});

describe('replies for clients that are not connected', () => {
  it('keeps the reply for a client with its own routing id and sends it when the client is back', async () => {
    const { broker, ep } = await start({});
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    worker('rfc18', ep, 'slow', async (body) => {
      await gate;
      return body;
    }, { heartbeatMs: 50 });
    const first = dealer(ep, 'client-held');
    await first.send(request02('slow', 'kept'));
    await waitFor(() => broker.metrics().requests.inFlight === 1, 'dispatch');
    const gone = disconnects(broker, 1);
    first.close();
    await gone;
    release();
    await waitFor(() => broker.metrics().requests.heldReplies === 1, 'the reply to be held');
    const again = dealer(ep, 'client-held');
    const reply = await again.receive();
    expect(reply.slice(2).map(s)).toEqual(['slow', 'kept']);
    await waitFor(() => broker.metrics().requests.heldReplies === 0, 'delivery');
    expect(broker.metrics().lifecycle).toMatchObject({ held: 1, delivered: 1 });
  });

  it('drops the reply at once for a ROUTER-made id, and after reply_ttl for one that does not come back', async () => {
    const { broker, ep } = await start({ replyTtl: 200 });
    const gates: (() => void)[] = [];
    worker('rfc18', ep, 'slow2', async (body) => {
      await new Promise<void>((r) => gates.push(r));
      return body;
    }, { heartbeatMs: 50 });
    worker('rfc18', ep, 'slow2', async (body) => {
      await new Promise<void>((r) => gates.push(r));
      return body;
    }, { heartbeatMs: 50 });
    const anonymous = dealer(ep);
    const named = dealer(ep, 'client-gone');
    await anonymous.send(request02('slow2', 'a'));
    await named.send(request02('slow2', 'b'));
    await waitFor(() => gates.length === 2, 'both dispatched');
    const gone = disconnects(broker, 2);
    anonymous.close();
    named.close();
    await gone;
    for (const g of gates) g();
    await waitFor(() => broker.metrics().lifecycle.heldExpired === 1, 'reply_ttl');
    const m = broker.metrics();
    expect(m.lifecycle.held).toBe(1);
    expect(m.services.slow2!.drops.undeliverable).toBe(2);
  });
});

describe('shutdown grace', () => {
  it('keeps dispatching queued requests to idle workers while the grace lasts', async () => {
    const broker = new Broker({ heartbeatInterval: 50 });
    const ep = await broker.bind('tcp://127.0.0.1:*');
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const w = worker('rfc18', ep, 'drain', async (body) => {
      if (body[0] === 'first') await gate;
      return body;
    }, { heartbeatMs: 50 });
    await waitFor(() => broker.metrics().workers === 1, 'worker');
    const client = dealer(ep);
    await client.send(request02('drain', 'first'));
    await client.send(request02('drain', 'second'));
    await waitFor(() => broker.metrics().requests.inFlight === 1 && broker.metrics().requests.queued === 1, 'one running, one queued');
    const closed = broker.close(5000);
    release();
    const replies = [await client.receive(), await client.receive()].map((m) => s(m[3]));
    expect(replies).toEqual(['first', 'second']);
    await closed;
    expect(w.requests).toHaveLength(2);
    expect(broker.metrics().counters.requestsDropped).toBe(0);
  });
});

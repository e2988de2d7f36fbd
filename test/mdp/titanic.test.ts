/**
 * Titanic (9/TSP) served by the broker itself, in one process with the in-memory store: the three
 * services' answers byte for byte, from libzmq clients in both RFC dialects (frames spelled out here,
 * not taken from our codec), execution through the broker's own dispatch, and TitanicClient.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as lib from 'zeromq';
import { Broker, TitanicClient, Worker } from '../../src/mdp/mod.ts';
import { libMmi, libRequest01, libRequest02, s, waitFor } from './helpers.ts';
import { PeerWorker } from './dialects.peers.ts';

let broker: Broker;
let ep: string;
const closers: (() => unknown)[] = [];

beforeAll(async () => {
  broker = new Broker({ heartbeatInterval: 100, retryBackoff: 10, maxRetries: 0 });
  ep = await broker.bind('tcp://127.0.0.1:*');
});

afterAll(async () => {
  for (const c of closers) await c();
  await broker.close(0);
});

/** A Titanic call over MDP/0.2 from libzmq: the FINAL's body as strings. */
async function tsp02(service: string, body: string[]): Promise<string[]> {
  const { replies } = await libRequest02(ep, service, body);
  const final = replies.at(-1)!;
  expect(s(final[0])).toBe('MDPC02');
  expect(final[1]).toEqual(Buffer.of(0x03));
  expect(s(final[2])).toBe(service);
  return final.slice(3).map(s);
}

/** The same over MDP/0.1 from a libzmq REQ socket (RFC 9 is written over 7/MDP). */
async function tsp01(service: string, body: string[]): Promise<string[]> {
  const reply = await libRequest01(ep, service, body);
  expect(s(reply[0])).toBe('MDPC01');
  expect(s(reply[1])).toBe(service);
  return reply.slice(2).map(s);
}

describe('Titanic services (libzmq clients, MDP/0.2 and MDP/0.1)', () => {
  it('titanic.request answers 200 and a 32-hex UUID; reply is 300 until a worker answers, then 200 with the reply, every time', async () => {
    const [code, uuid] = await tsp02('titanic.request', ['t-echo', 'hello', 'world']);
    expect(code).toBe('200');
    expect(uuid).toMatch(/^[0-9A-F]{32}$/);
    expect(await tsp01('titanic.reply', [uuid!])).toEqual(['300']);
    const w = new PeerWorker('rfc18', ep, 't-echo', (body) => body.map((b) => b.toUpperCase()), { heartbeatMs: 100 });
    closers.push(() => w.kill());
    await waitFor(async () => (await tsp02('titanic.reply', [uuid!]))[0] === '200', 'the reply');
    // idempotent, in either dialect and either case of the UUID
    expect(await tsp02('titanic.reply', [uuid!])).toEqual(['200', 'HELLO', 'WORLD']);
    expect(await tsp01('titanic.reply', [uuid!.toLowerCase()])).toEqual(['200', 'HELLO', 'WORLD']);
    expect(w.requests).toHaveLength(1);
    expect(await tsp01('titanic.close', [uuid!])).toEqual(['200']);
    expect(await tsp02('titanic.reply', [uuid!])).toEqual(['400']);
  });

  it('unknown and malformed UUIDs: reply 400, close 200', async () => {
    expect(await tsp02('titanic.reply', ['0123456789ABCDEF0123456789ABCDEF'])).toEqual(['400']);
    expect(await tsp02('titanic.reply', ['not-a-uuid'])).toEqual(['400']);
    expect(await tsp01('titanic.close', ['0123456789ABCDEF0123456789ABCDEF'])).toEqual(['200']);
    expect(await tsp02('titanic.close', ['zzz'])).toEqual(['200']);
  });

  it('a request without a service, or for a service the broker answers itself, gets 400 and is not stored', async () => {
    const before = broker.metrics().lifecycle.accepted;
    expect((await tsp02('titanic.request', ['']))[0]).toMatch(/^400 /);
    expect((await tsp02('titanic.request', ['mmi.service', 'x']))[0]).toMatch(/^400 /);
    expect((await tsp01('titanic.request', ['titanic.reply', 'x']))[0]).toMatch(/^400 /);
    expect(broker.metrics().lifecycle.accepted).toBe(before);
    // an unknown titanic.* service is 8/MMI-style 501, like an unknown mmi.*
    expect(await tsp02('titanic.nope', ['x'])).toEqual(['501']);
  });

  it('mmi.service says the broker serves titanic.*, and a worker may not register in that namespace', async () => {
    expect(await libMmi(ep, 'mmi.service', ['titanic.request'])).toEqual(['200']);
    const w = new PeerWorker('rfc18', ep, 'titanic.request', () => ['x'], { heartbeatMs: 0 });
    closers.push(() => w.kill());
    await waitFor(() => w.disconnects === 1, 'DISCONNECT');
  });

  it('closing a request that waits for a worker cancels it: the worker never sees it', async () => {
    const [, uuid] = await tsp02('titanic.request', ['t-cancel', 'never']);
    expect(await tsp02('titanic.close', [uuid!])).toEqual(['200']);
    const w = new PeerWorker('rfc18', ep, 't-cancel', (body) => body, { heartbeatMs: 100 });
    closers.push(() => w.kill());
    const [, other] = await tsp02('titanic.request', ['t-cancel', 'second']);
    await waitFor(async () => (await tsp02('titanic.reply', [other!]))[0] === '200', 'the second reply');
    expect(w.requests.map((r) => r.body)).toEqual([['second']]);
    expect(broker.metrics().services['t-cancel']!.queueDepth).toBe(0);
  });

  it('a streaming worker\'s PARTIALs are merged into the stored reply', async () => {
    const w = new PeerWorker('rfc18', ep, 't-stream', async (body, partial) => {
      await partial(['p1']);
      await partial(['p2']);
      return body;
    }, { heartbeatMs: 100 });
    closers.push(() => w.kill());
    const [, uuid] = await tsp02('titanic.request', ['t-stream', 'last']);
    await waitFor(async () => (await tsp02('titanic.reply', [uuid!]))[0] === '200', 'the reply');
    expect(await tsp02('titanic.reply', [uuid!])).toEqual(['200', 'p1', 'p2', 'last']);
  });

  it('a dead-lettered request answers "400 dead-lettered: …", so that the client stops polling', async () => {
    const w: PeerWorker = new PeerWorker('rfc18', ep, 't-poison', () => {
      w.kill(); // dies with the request; maxRetries 0 dead-letters it at once
      return 'ignore';
    }, { heartbeatMs: 100 });
    const [, uuid] = await tsp02('titanic.request', ['t-poison', 'pill']);
    await waitFor(async () => (await tsp02('titanic.reply', [uuid!]))[0] !== '300', 'the dead letter');
    expect(await tsp02('titanic.reply', [uuid!])).toEqual(['400 dead-lettered: retries-exhausted']);
    expect(await tsp02('titanic.close', [uuid!])).toEqual(['200']);
    expect(await tsp02('titanic.reply', [uuid!])).toEqual(['400']);
  });

  it('counts answers by status in mmi.broker', async () => {
    const m = broker.metrics();
    expect(m.titanic.requests).toBeGreaterThan(0);
    expect(m.titanic.status['200']).toBeGreaterThan(0);
    expect(m.titanic.status['300']).toBeGreaterThan(0);
    expect(m.titanic.status['400']).toBeGreaterThan(0);
  });
});

describe('TitanicClient', () => {
  it('request, reply, close and call', async () => {
    const worker = new Worker(ep, 't-client', (req) => req.map((f) => Buffer.from(String(f) + '!')), { heartbeatInterval: 100 });
    const t = new TitanicClient(ep, { timeout: 2000, version: '0.1' });
    closers.push(() => worker.close(), () => t.dispose());
    const uuid = await t.request('t-client', ['a']);
    await waitFor(async () => (await t.reply(uuid)).status === '200', 'the reply');
    const r = await t.reply(uuid);
    expect(r.status === '200' && r.body.map(String)).toEqual(['a!']);
    await t.close(uuid);
    expect((await t.reply(uuid)).status).toBe('400');
    expect((await t.call('t-client', ['b', 'c'], { pollInterval: 10 })).map(String)).toEqual(['b!', 'c!']);
  });

  it('request() on a broker that refuses it throws MDP_TITANIC with the status', async () => {
    const t = new TitanicClient(ep, { timeout: 2000 });
    closers.push(() => t.dispose());
    await expect(t.request('mmi.service', 'x')).rejects.toMatchObject({ code: 'MDP_TITANIC', status: expect.stringMatching(/^400 /) });
  });
});

describe('Titanic on a libzmq DEALER that pipelines its calls', () => {
  // a request is answered once it is stored, a close of an unknown UUID at once: answers to different
  // services may overtake each other (as replies from different workers do), and carry their service
  it('answers each call on one connection, each answer naming its service', async () => {
    const sock = new lib.Dealer({ linger: 0, receiveTimeout: 5000 });
    sock.connect(ep);
    closers.push(() => sock.close());
    await sock.send(['MDPC02', Buffer.of(1), 'titanic.request', 't-pipe', 'x']);
    await sock.send(['MDPC02', Buffer.of(1), 'titanic.close', 'FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF']);
    const answers = [await sock.receive(), await sock.receive()].map((m) => [s(m[2]), s(m[3])]);
    expect(answers.sort()).toEqual([['titanic.close', '200'], ['titanic.request', '200']]);
  });
});

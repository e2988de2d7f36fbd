/**
 * The JetStream request store against a real nats-server (test/_helpers/nats.ts): Titanic requests
 * through the shared queue (submit, take, attempts, reply, close, a lost taker's request going to
 * another store), the node journal of plain requests against the same model as the journal's
 * model-based test (appends, compaction, reopen), a NATS restart (bounded failures, then back), and
 * the byte budget. Each test uses its own stream and bucket on one server.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Broker } from '../../src/mdp/broker/broker.ts';
import { resolveConfig } from '../../src/mdp/config.ts';
import { isMdpError } from '../../src/mdp/errors.ts';
import { openRequestStore } from '../../src/mdp/store/index.ts';
import { JetStreamStore, parseNatsUrl, type JetStreamStoreOptions } from '../../src/mdp/store/jetstream.ts';
import { RecordType, RequestKind, requestKey, type RequestRecord, type StoreRecord, type StoredRequest } from '../../src/mdp/store/records.ts';
import type { SharedQueueHost } from '../../src/mdp/store/store.ts';
import { startNats, type NatsSetup } from '../_helpers/nats.ts';
import { idOf, keyOf } from './helpers.ts';
import { AppendCommand, CompactCommand, recordArbitrary, view, type Model } from './model.ts';

let nats: NatsSetup;
let seq = 0;
const open: JetStreamStore[] = [];

beforeAll(async () => {
  nats = await startNats();
}, 30_000);

afterAll(async () => {
  for (const s of open) await s.close().catch(() => undefined);
  await nats?.cleanup();
});

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const text = (b: Uint8Array | undefined): string => (b === undefined ? '' : new TextDecoder().decode(b));

/** Options for a store on a stream and bucket no other test uses (`names` shares them between stores). */
function fresh(extra: Partial<JetStreamStoreOptions> = {}): Partial<JetStreamStoreOptions> & { stream: string; bucket: string } {
  seq++;
  return { stream: `T${seq}`, bucket: `t${seq}`, ...extra };
}

async function store(options: Partial<JetStreamStoreOptions>): Promise<JetStreamStore> {
  const s = new JetStreamStore({ url: nats.storeUrl, timeout: 1500, nodeId: 'node-a', maxBytes: 4 * 1024 * 1024, ...options });
  open.push(s);
  await s.open();
  return s;
}

function titanicRecord(n: number, service = 'echo', bodyBytes = 16): RequestRecord {
  return {
    type: RecordType.REQUEST,
    id: idOf(n),
    kind: RequestKind.TITANIC,
    service: utf8(service),
    body: [utf8(`request ${n}`), new Uint8Array(bodyBytes).fill(n & 0xff)],
    client: new Uint8Array(0),
    dialect: '',
    createdAt: 1_700_000_000_000 + n,
  };
}

/** A host with `room` free slots per service that records what it is handed. */
class Host implements SharedQueueHost {
  readonly taken: StoredRequest[] = [];
  room: number;
  private readonly waiters: (() => void)[] = [];
  constructor(room: number) {
    this.room = room;
  }
  capacity(): number {
    return this.room;
  }
  take(request: StoredRequest): void {
    this.taken.push(request);
    this.room--;
    for (const w of this.waiters.splice(0)) w();
  }
  async waitTaken(n: number, ms = 10_000): Promise<void> {
    const end = Date.now() + ms;
    while (this.taken.length < n) {
      if (Date.now() > end) throw new Error(`${this.taken.length} of ${n} requests taken after ${ms} ms`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, 100);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }
}

describe('nats:// URLs', () => {
  it('takes servers and credentials, refuses anything else with MDP_CONFIG', () => {
    expect(parseNatsUrl('nats://127.0.0.1:4222')).toEqual({ servers: ['127.0.0.1:4222'] });
    expect(parseNatsUrl('nats://a:1,b:2,c')).toEqual({ servers: ['a:1', 'b:2', 'c'] });
    expect(parseNatsUrl('nats://bob:s%40cret@h:4222')).toEqual({ servers: ['h:4222'], user: 'bob', pass: 's@cret' });
    expect(parseNatsUrl('nats://tok@h:4222')).toEqual({ servers: ['h:4222'], token: 'tok' });
    for (const bad of ['http://h:1', 'nats://', 'h:4222', 'nats://h:1/x']) {
      expect(() => parseNatsUrl(bad), bad).toThrow(expect.objectContaining({ code: 'MDP_CONFIG' }));
    }
  });
});

describe('selecting the store', () => {
  it('--store and --data-dir exclude each other; --store takes nats:// only', async () => {
    const issues = (flags: Record<string, unknown>): string[] => {
      try {
        resolveConfig({ flags: { broker: flags } });
        return [];
      } catch (err) {
        return (err as { issues: string[] }).issues;
      }
    };
    expect(issues({ store: 'nats://127.0.0.1:4222', dataDir: '/tmp/x' })).toEqual([expect.stringMatching(/broker\.store: --store nats:\/\/… and --data-dir exclude each other/)]);
    expect(issues({ store: 'http://127.0.0.1:4222' })).toEqual([expect.stringMatching(/broker\.store: must be nats:\/\/host:port/)]);
    expect(issues({ store: 'nats://a:1,b:2', storeReplicas: '3', storeAckWait: '2s', nodeId: 'n1' })).toEqual([]);
    expect(issues({ storeReplicas: '9' })).toEqual([expect.stringMatching(/store_replicas.*at most 5/)]);
    await expect(openRequestStore({ store: 'nats://127.0.0.1:1', dataDir: '/tmp/x', fsync: 'batch', fsyncDelay: 0, segmentBytes: 1 << 20, maxBytes: 1 << 20, repair: false })).rejects.toMatchObject({ code: 'MDP_CONFIG' });
  });

  it('a library Broker takes the nats:// URL as its store option, and fails to start when NATS is not there', async () => {
    const names = fresh();
    const broker = new Broker({ store: nats.storeUrl, storeStream: names.stream, storeBucket: names.bucket, maxStoreBytes: 4 * 1024 * 1024, nodeId: 'lib' });
    await broker.ready;
    expect(broker.summary().store).toMatchObject({ kind: 'jetstream', durable: true });
    await broker.close();
    const nowhere = new Broker({ store: 'nats://127.0.0.1:1' });
    await expect(nowhere.ready).rejects.toMatchObject({ code: 'MDP_STORE', message: expect.stringMatching(/cannot connect to NATS at 127\.0\.0\.1:1/) });
    await nowhere.close();
  }, 20_000);
});

describe('credentials', () => {
  it('user and password in the URL reach a server that requires them; without them the store does not open', async () => {
    const secured = await startNats({ user: 'broker', pass: 's3cret:/@' });
    try {
      const port = secured.servers[0]!.port;
      const good = new JetStreamStore({ url: `nats://broker:${encodeURIComponent('s3cret:/@')}@127.0.0.1:${port}`, timeout: 1500, maxBytes: 1 << 20 });
      await good.open();
      await good.append(titanicRecord(51));
      expect(await good.lookup(keyOf(51))).toMatchObject({ key: keyOf(51) });
      await good.close();
      const bad = new JetStreamStore({ url: `nats://127.0.0.1:${port}`, timeout: 1500, maxBytes: 1 << 20 });
      await expect(bad.open()).rejects.toMatchObject({ code: 'MDP_STORE' });
      await bad.close();
    } finally {
      await secured.cleanup();
    }
  }, 30_000);
});

describe('Titanic requests through the shared queue', () => {
  it('submit → pending on any store; taken with its body by a store with room; attempts, reply and close are seen everywhere', async () => {
    const names = fresh();
    const a = await store({ ...names, nodeId: 'a' });
    const b = await store({ ...names, nodeId: 'b' });
    await a.append(titanicRecord(1));
    await a.append(titanicRecord(3, 'other'));
    // nothing local: the request lives in the queue and the bucket
    expect(a.get(keyOf(1))).toBeUndefined();
    expect((await b.lookup(keyOf(1)))).toMatchObject({ key: keyOf(1), kind: 'titanic', reply: undefined, dead: undefined });
    expect(await b.lookup(keyOf(2))).toBeUndefined();

    const host = new Host(1);
    b.attach(host);
    b.wake(utf8('echo'));
    await host.waitTaken(1);
    const got = host.taken[0]!;
    expect(got.key).toBe(keyOf(1));
    expect(got.body.map(text)).toEqual(['request 1', text(titanicRecord(1).body[1])]);
    expect(got.attempts).toBe(0);
    expect(b.get(keyOf(1))).toBeDefined();

    await b.append({ type: RecordType.ATTEMPT, id: idOf(1), attempts: 1, error: 'worker lost' });
    expect(await a.lookup(keyOf(1))).toMatchObject({ attempts: 1, lastError: 'worker lost', reply: undefined });
    await b.append({ type: RecordType.REPLY, id: idOf(1), body: [utf8('done'), utf8('!')] });
    const replied = await a.lookup(keyOf(1));
    expect(replied?.reply?.map(text)).toEqual(['done', '!']);
    expect(b.get(keyOf(1))).toBeUndefined(); // finished here: the bucket has it
    // the queue holds only the request for "other" now
    const nc = await (await import('@nats-io/transport-node')).connect({ servers: nats.servers[0]!.url });
    const jsm = await (await import('@nats-io/jetstream')).jetstreamManager(nc);
    expect((await jsm.streams.info(names.stream)).state.messages).toBe(1);

    // closed from the other store, which never held it
    await a.append({ type: RecordType.DONE, id: idOf(1) });
    expect(await b.lookup(keyOf(1))).toBeUndefined();
    await nc.close();
  }, 30_000);

  it('a request closed before anyone took it is not handed out; one taken by a store that is lost goes to another after AckWait, counted as an attempt', async () => {
    const names = fresh({ ackWait: 1000 });
    const a = await store({ ...names, nodeId: 'a' });
    const b = await store({ ...names, nodeId: 'b' });
    await a.append(titanicRecord(5));
    await a.append(titanicRecord(7));
    await a.append({ type: RecordType.DONE, id: idOf(5) });
    const hostA = new Host(1);
    a.attach(hostA);
    a.wake(utf8('echo'));
    await hostA.waitTaken(1);
    expect(hostA.taken[0]!.key).toBe(keyOf(7));
    // a is lost: its connection goes without a word (no nak), as when its machine dies
    await (a as unknown as { nc: { close(): Promise<void> } }).nc.close();

    const hostB = new Host(1);
    b.attach(hostB);
    b.wake(utf8('echo'));
    await hostB.waitTaken(1, 10_000);
    // the second delivery (after AckWait): the lost store counts as a failed dispatch
    expect(hostB.taken[0]).toMatchObject({ key: keyOf(7), attempts: 1 });
    expect(hostB.taken[0]!.lastError).toMatch(/lost/);
    await b.append({ type: RecordType.DEAD, id: idOf(7), reason: 'retries-exhausted', error: 'gave up', at: 1 });
    expect(await b.lookup(keyOf(7))).toMatchObject({ dead: { reason: 'retries-exhausted', error: 'gave up', at: 1 } });
    // a dead letter stays local (for a replay); replayed, it goes back to the queue
    expect(b.get(keyOf(7))).toBeDefined();
    hostB.room = 0;
    await b.append({ type: RecordType.REQUEUE, id: idOf(7), at: 1_800_000_000_000 });
    expect(b.get(keyOf(7))).toBeUndefined();
    expect(await b.lookup(keyOf(7))).toMatchObject({ dead: undefined, attempts: 0, ttlFrom: 1_800_000_000_000 });
    hostB.room = 1;
    b.wake(utf8('echo'));
    await hostB.waitTaken(2);
    expect(hostB.taken[1]).toMatchObject({ key: keyOf(7), attempts: 0, ttlFrom: 1_800_000_000_000 });
  }, 30_000);

  it('a close on another store while a request runs stands: its later attempt and reply are dropped, not written back', async () => {
    const names = fresh();
    const a = await store({ ...names, nodeId: 'a' });
    const b = await store({ ...names, nodeId: 'b' });
    await a.append(titanicRecord(41));
    await a.append(titanicRecord(43));
    const host = new Host(2);
    b.attach(host);
    b.wake(utf8('echo'));
    await host.waitTaken(2);
    await a.append({ type: RecordType.DONE, id: idOf(41) });
    await a.append({ type: RecordType.DONE, id: idOf(43) });
    await b.append({ type: RecordType.ATTEMPT, id: idOf(41), attempts: 1, error: 'worker lost' });
    await b.append({ type: RecordType.REPLY, id: idOf(43), body: [utf8('late')] });
    expect(await a.lookup(keyOf(41))).toBeUndefined();
    expect(await a.lookup(keyOf(43))).toBeUndefined();
    expect([...b.values()]).toEqual([]);
    const nc = await (await import('@nats-io/transport-node')).connect({ servers: nats.servers[0]!.url });
    const jsm = await (await import('@nats-io/jetstream')).jetstreamManager(nc);
    await expect.poll(async () => (await jsm.streams.info(names.stream)).state.messages).toBe(0);
    await nc.close();
  }, 30_000);

  it('takes only while the host has room', async () => {
    const names = fresh();
    const a = await store(names);
    for (let n = 11; n < 16; n += 2) await a.append(titanicRecord(n));
    const host = new Host(2);
    a.attach(host);
    a.wake(utf8('echo'));
    await host.waitTaken(2);
    await new Promise((r) => setTimeout(r, 1500)); // a pull that should not happen would have by now
    expect(host.taken.length).toBe(2);
    host.room = 1;
    a.wake(utf8('echo'));
    await host.waitTaken(3);
    expect(host.taken.map((r) => r.key)).toEqual([keyOf(11), keyOf(13), keyOf(15)]);
  }, 30_000);
});

// ---- the node journal against a model (plain requests; the journal's model-based test, abridged) ----

interface Real {
  store: JetStreamStore;
  readonly options: Partial<JetStreamStoreOptions>;
}

class ReopenCommand implements fc.AsyncCommand<Model, Real> {
  check(): boolean {
    return true;
  }
  async run(model: Model, real: Real): Promise<void> {
    await real.store.close();
    real.store = await store(real.options);
    const recovered = (real.store as unknown as { state: { values(): Iterable<object> } }).state;
    expect(view(recovered.values())).toEqual(view(model.values()));
  }
  toString(): string {
    return 'reopen';
  }
}

const plainRecord = recordArbitrary({ pool: 5, idByte: 0x22, kinds: [RequestKind.PLAIN] });

describe('plain requests: the node journal against a model', () => {
  it('replays to the model after every reopen and compaction', async () => {
    const commands = fc.commands(
      [
        fc.array(plainRecord, { minLength: 1, maxLength: 4 }).map((rs) => new AppendCommand(rs)),
        fc.constant(new CompactCommand()),
        fc.constant(new ReopenCommand()),
      ],
      { maxCommands: 25 },
    );
    await fc.assert(
      fc.asyncProperty(commands, async (cmds) => {
        const options = fresh({ nodeId: `model-${seq}` });
        const real: Real = { options, store: await store(options) };
        try {
          await fc.asyncModelRun(() => ({ model: new Map(), real }), [...cmds, new ReopenCommand()]);
        } finally {
          await real.store.close();
        }
      }),
      { numRuns: 12 },
    );
  }, 60_000);

  it('keeps creation order across concurrent appends about several requests (a counterexample the model found)', async () => {
    const names = fresh({ nodeId: 'order' });
    const a = await store(names);
    const plain = (n: number): StoreRecord => ({ ...titanicRecord(n), kind: RequestKind.PLAIN, client: utf8('c'), dialect: 'rfc18' });
    await Promise.all([a.append({ type: RecordType.DEAD, id: idOf(2), reason: 'r', error: 'e', at: 1 }), a.append(plain(2)), a.append(plain(4))]);
    expect([...a.values()].map((r) => r.key)).toEqual([keyOf(2), keyOf(4)]);
    await a.close();
    expect([...(await store(names)).values()].map((r) => r.key)).toEqual([keyOf(2), keyOf(4)]);
  }, 30_000);

  it('replays a journal longer than one read batch', async () => {
    const names = fresh({ nodeId: 'long' });
    const a = await store(names);
    const n = 2500;
    await Promise.all(Array.from({ length: n }, (_, i) => a.append({ ...titanicRecord(1000 + 2 * i), kind: RequestKind.PLAIN, client: utf8('c'), dialect: 'rfc18' })));
    await a.close();
    const again = await store(names);
    const keys = [...again.values()].map((r) => r.key);
    expect(keys).toHaveLength(n);
    expect(keys).toEqual(Array.from({ length: n }, (_, i) => keyOf(1000 + 2 * i)));
  }, 30_000);

  it('compacts by itself while plain requests come and go, and replays the same live requests', async () => {
    const names = fresh({ nodeId: 'busy', compactSlack: 40 });
    const a = await store(names);
    const plain = (n: number): StoreRecord => ({ ...titanicRecord(n), kind: RequestKind.PLAIN, client: utf8('c'), dialect: 'rfc18' });
    const live: string[] = [];
    // concurrent appends: requests, most of them delivered (DONE) as they go, while compactions run
    const writes: Promise<void>[] = [];
    for (let i = 0; i < 300; i++) {
      const n = 5000 + 2 * i;
      writes.push(a.append(plain(n)));
      if (i % 10 === 0) live.push(keyOf(n));
      else writes.push(a.append({ type: RecordType.DONE, id: idOf(n) }));
    }
    await Promise.all(writes);
    await expect.poll(() => a.stats().compactions).toBeGreaterThan(0);
    expect([...a.values()].map((r) => r.key)).toEqual(live);
    await a.close();
    const again = await store(names);
    expect([...again.values()].map((r) => r.key)).toEqual(live); // in creation order, as the contract says
    const nc = await (await import('@nats-io/transport-node')).connect({ servers: nats.servers[0]!.url });
    const jsm = await (await import('@nats-io/jetstream')).jetstreamManager(nc);
    const kept = (await jsm.streams.info(`${names.stream}_NODES`, { subjects_filter: '>' })).state.messages;
    await nc.close();
    expect(kept).toBeLessThan(300); // 570 records were written
  }, 30_000);

  it('another node id has a journal of its own', async () => {
    const names = fresh();
    const a = await store({ ...names, nodeId: 'a' });
    await a.append({ ...titanicRecord(2), kind: RequestKind.PLAIN, client: utf8('c'), dialect: 'rfc18' });
    await a.close();
    const b = await store({ ...names, nodeId: 'b' });
    expect([...b.values()]).toEqual([]);
    const again = await store({ ...names, nodeId: 'a' });
    expect([...again.values()].map((r) => r.key)).toEqual([keyOf(2)]);
  }, 30_000);
});

describe('failures and limits', () => {
  it('NATS down: appends and look-ups fail with MDP_STORE in bounded time; back up, the store works again and kept what it had', async () => {
    const names = fresh();
    const a = await store({ ...names, timeout: 1000 });
    await a.append(titanicRecord(21));
    const server = nats.servers[0]!;
    await server.stop('SIGKILL');
    try {
      const t = Date.now();
      const append = await a.append(titanicRecord(23)).then(() => undefined, (e: unknown) => e);
      const lookup = await a.lookup(keyOf(21)).then(() => undefined, (e: unknown) => e);
      expect(isMdpError(append) && append.code).toBe('MDP_STORE');
      expect(isMdpError(lookup) && lookup.code).toBe('MDP_STORE');
      expect(Date.now() - t).toBeLessThan(8000);
    } finally {
      await server.restart();
    }
    // the client reconnects by itself
    const end = Date.now() + 15_000;
    for (;;) {
      const ok = await a.lookup(keyOf(21)).then((r) => r, () => 'failed' as const);
      if (ok !== 'failed') {
        expect(ok).toMatchObject({ key: keyOf(21) });
        break;
      }
      if (Date.now() > end) throw new Error('store did not come back after the NATS restart');
      await new Promise((r) => setTimeout(r, 200));
    }
    await a.append(titanicRecord(25));
    expect(await a.lookup(keyOf(25))).toMatchObject({ key: keyOf(25) });
  }, 40_000);

  it('a reply that could not be stored (NATS down) is not lost: the request runs again once NATS is back', async () => {
    const names = fresh({ ackWait: 1000, timeout: 1000 });
    const a = await store(names);
    await a.append(titanicRecord(61));
    const host = new Host(1);
    a.attach(host);
    a.wake(utf8('echo'));
    await host.waitTaken(1);
    const server = nats.servers[0]!;
    await server.stop('SIGKILL');
    try {
      const failed = await a.append({ type: RecordType.REPLY, id: idOf(61), body: [utf8('lost?')] }).then(() => undefined, (e: unknown) => e);
      expect(isMdpError(failed) && failed.code).toBe('MDP_STORE');
      expect(a.get(keyOf(61))).toBeUndefined(); // let go: the queue has it again
    } finally {
      await server.restart();
    }
    host.room = 1;
    const end = Date.now() + 20_000;
    while (host.taken.length < 2) {
      if (Date.now() > end) throw new Error('the request was not handed out again');
      a.wake(utf8('echo'));
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(host.taken[1]!.key).toBe(keyOf(61));
    await a.append({ type: RecordType.REPLY, id: idOf(61), body: [utf8('stored')] });
    expect((await a.lookup(keyOf(61)))?.reply?.map(text)).toEqual(['stored']);
  }, 40_000);

  it('the budget (max_bytes) refuses new requests with MDP_STORE_FULL, never a reply to one already taken', async () => {
    const a = await store(fresh({ maxBytes: 64 * 1024 }));
    const host = new Host(1);
    a.attach(host);
    let accepted = 0;
    let refused: unknown;
    for (let n = 31; n < 31 + 40; n += 2) {
      try {
        await a.append(titanicRecord(n, 'big', 8 * 1024));
        accepted++;
      } catch (err) {
        refused = err;
        break;
      }
    }
    expect(accepted).toBeGreaterThan(3);
    expect(accepted).toBeLessThan(9);
    expect(isMdpError(refused) && refused.code).toBe('MDP_STORE_FULL');
    expect(a.stats().refusedFull).toBe(1);
    a.wake(utf8('big'));
    await host.waitTaken(1);
    await a.append({ type: RecordType.REPLY, id: host.taken[0]!.id, body: [new Uint8Array(16 * 1024)] });
    expect((await a.lookup(host.taken[0]!.key))?.reply?.[0]?.length).toBe(16 * 1024);
    // the reply freed its request's room in the queue: a new one fits again
    await a.append(titanicRecord(99, 'big', 8 * 1024));
  }, 30_000);
});

/**
 * The request store shared by several brokers (`--store nats://…`): NATS JetStream, replicated by
 * NATS itself (stream and bucket replicas), so that an acknowledged Titanic request survives the
 * machine of the broker that took it. Node-specific (the NATS client's Node transport, node:os);
 * src/mdp/store/index.ts loads this file only when such a store is asked for, and this file loads
 * the NATS packages only when a store is opened.
 *
 * What is where (NAME = --store-stream, BUCKET = --store-bucket):
 *   stream NAME, work-queue retention    NAME.req.<service hex>: one message per Titanic request
 *                                         waiting for a worker (its REQUEST record); removed when
 *                                         its reply or its dead letter is stored, or when closed.
 *   one durable pull consumer per service every broker with a worker for the service pulls from it,
 *                                         only when it has an idle worker; a message in progress is
 *                                         kept alive (working) while the broker holds it, and goes to
 *                                         another broker AckWait after its broker was lost.
 *   KV bucket BUCKET                      key = request key: the request's records without its body
 *                                         (REQUEST, ATTEMPT, REPLY, DEAD): what titanic.reply says on
 *                                         any broker. Removed by titanic.close.
 *   stream NAME_NODES, limits retention  NAME.node.<node id>: this broker's journal of plain
 *                                         requests (the same records as the on-disk journal),
 *                                         replayed by open(): a broker restarted with the same node
 *                                         id gets them back, wherever it runs.
 *
 * Writes are acknowledged by JetStream (PubAck: stored on a majority of the replicas) before the
 * append resolves. Every call to NATS has a bounded time (`timeout`): a NATS that is down turns into
 * MDP_STORE errors (Titanic 500), never a hang.
 *
 * The local state (get/values) holds this broker's plain requests and the Titanic requests it has
 * taken from the queue and not finished (plus its dead letters, for a replay); a Titanic request it
 * accepted lives in the queue, not here.
 */
import * as os from 'node:os';
import type { JetStreamClient, JetStreamManager, JsMsg, Consumer } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { concat, toHex } from '../../util/bytes.ts';
import { MdpErrorCode, isMdpError, mdpError, type MdpError } from '../errors.ts';
import { silentLogger, type Logger } from '../log.ts';
import { storeClosedError, storeFullError } from './common.ts';
import { decodeRecords, encodeRecord, recordSize } from './codec.ts';
import { DEFAULT_MAX_BYTES } from './memory.ts';
import { RecordType, RequestKind, RequestState, requestKey, snapshotRecords, type RequestRecord, type StoreRecord, type StoredRequest } from './records.ts';
import type { RequestStore, SharedQueue, SharedQueueHost, StoreRecovery, StoreStats } from './store.ts';

export interface JetStreamStoreOptions {
  /** `nats://[user:pass@]host:port[,host:port…]` (or `nats://token@host:port`). */
  url: string;
  /** Stream name; subjects are NAME.req.* and NAME.node.*; the node journal is NAME_NODES. */
  stream?: string;
  bucket?: string;
  /** Replicas of the stream, the node journal and the bucket (1, or 3 on a 3-node cluster). */
  replicas?: number;
  /** Names this broker's journal of plain requests (default: the host name). */
  nodeId?: string;
  /** Budget: max_bytes of the request stream and of the node journal; new requests are refused beyond. */
  maxBytes?: number;
  /** AckWait of the request consumers: how long a lost broker's request waits before another takes it. */
  ackWait?: number;
  /** Longest wait for any NATS operation, ms. */
  timeout?: number;
  /** The node journal is compacted once it holds this many more records than its live requests need. */
  compactSlack?: number;
  logger?: Logger;
}

export const DEFAULT_STREAM = 'PUREZMQ';
export const DEFAULT_BUCKET = 'purezmq';
export const DEFAULT_ACK_WAIT = 30_000;
const DEFAULT_TIMEOUT = 5000;
/** A pull waits this long for a message before asking again (the NATS client's minimum). */
const PULL_EXPIRES = 1000;
/** After a failed pull, wait this long before the next one. */
const PULL_RETRY_MS = 500;
/** The bucket's size is looked up at most this often (the budget check of new Titanic requests). */
const BUCKET_CHECK_MS = 1000;
/** Node journal records read per round trip when it is replayed. */
const REPLAY_BATCH = 1000;
/** A node journal with this many more records than live ones is compacted. */
const COMPACT_SLACK = 10_000;

const NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** Servers and credentials of a `nats://` store URL. Throws MDP_CONFIG on anything else. */
export function parseNatsUrl(url: string): { servers: string[]; user?: string; pass?: string; token?: string } {
  const m = /^nats:\/\/(?:([^@/]*)@)?([^/@]+)\/?$/.exec(url.trim());
  if (!m) throw mdpError(MdpErrorCode.CONFIG, `store: ${JSON.stringify(url)} is not nats://[user:password@]host:port[,host:port…]`);
  const servers = m[2]!.split(',').map((s) => s.trim());
  for (const s of servers) {
    if (!/^(?:\[[^\]]+\]|[^:[\]\s]+)(?::\d{1,5})?$/.test(s)) throw mdpError(MdpErrorCode.CONFIG, `store: bad NATS server ${JSON.stringify(s)} in ${url}`);
  }
  const out: { servers: string[]; user?: string; pass?: string; token?: string } = { servers };
  if (m[1] !== undefined && m[1] !== '') {
    const cred = decodeURIComponent(m[1]);
    const colon = cred.indexOf(':');
    if (colon < 0) out.token = cred;
    else {
      out.user = cred.slice(0, colon);
      out.pass = cred.slice(colon + 1);
    }
  }
  return out;
}

/** A subject token for any service name: its bytes in hex (names may hold dots, spaces, wildcards). */
function serviceToken(service: Uint8Array): string {
  return service.length === 0 ? '_' : toHex(service);
}

/** Consumer names are file names on the server: a long service name is hashed. */
async function consumerName(service: Uint8Array): Promise<string> {
  if (service.length <= 48) return `svc-${serviceToken(service)}`;
  const digest = new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', service as Uint8Array<ArrayBuffer>));
  return `svc-h-${toHex(digest.subarray(0, 20))}`;
}

function encode(records: readonly StoreRecord[]): Uint8Array {
  const chunks: Uint8Array[] = [];
  for (const r of records) chunks.push(...encodeRecord(r));
  return concat(chunks);
}

function decode(bytes: Uint8Array, onRecord: (r: StoreRecord) => void): void {
  const r = decodeRecords(bytes, 0, (record) => onRecord(record));
  if (r.end !== 'clean') throw mdpError(MdpErrorCode.STORE, `a stored record could not be decoded (${r.end} at byte ${r.offset})`);
}

/** What the bucket keeps for a request: its snapshot records, the body left out (it is in the queue). */
function statusRecords(req: StoredRequest): StoreRecord[] {
  const records = snapshotRecords(req);
  records[0] = { ...(records[0] as RequestRecord), body: [] };
  return records;
}

function message(err: unknown): string {
  return String((err as Error)?.message ?? err).split('\n')[0]!;
}

function nanos(ms: number): number {
  return Math.round(ms * 1_000_000);
}

export class JetStreamStore implements RequestStore, SharedQueue {
  readonly kind = 'jetstream';
  readonly durable = true;
  readonly shared: SharedQueue = this;
  private readonly options: Required<Omit<JetStreamStoreOptions, 'logger'>>;
  private readonly log: Logger;
  private readonly state = new RequestState(recordSize);
  private readonly nodeSubject: string;
  private nc: NatsConnection | undefined;
  private js!: JetStreamClient;
  private jsm!: JetStreamManager;
  private kv!: KV;
  private host: SharedQueueHost | undefined;
  /** Queue messages this broker took and has not finished, by request key. */
  private readonly held = new Map<string, JsMsg>();
  /**
   * The bucket revision of each Titanic status this broker writes (the requests in its local state):
   * a write expects it, so that a status removed meanwhile (titanic.close on any broker) stays removed.
   */
  private readonly revisions = new Map<string, number>();
  /** Services being pulled for now, by service token. */
  private readonly pulling = new Set<string>();
  private readonly consumers = new Map<string, Promise<Consumer>>();
  /** Plain requests appended and not closed: their records go to the node journal. */
  private readonly plainKeys = new Set<string>();
  /** Per request key, the last write about it: writes about one request reach NATS in order. */
  private readonly byKey = new Map<string, Promise<unknown>>();
  /** The last append: appends resolve in the order they were made. */
  private tail: Promise<unknown> = Promise.resolve();
  private inProgress: ReturnType<typeof setInterval> | undefined;
  private closed = false;
  private opened = false;
  /** A compaction of the node journal in progress: journal writes wait for it. */
  private compacting: Promise<void> | undefined;
  /** Node journal writes in flight. */
  private readonly journalling = new Set<Promise<unknown>>();
  private bucketBytes = 0;
  private bucketCheckedAt = -Infinity;
  private streamBytes = 0;
  private nodeRecords = 0;
  private appends = 0;
  private refusedFull = 0;
  private errors = 0;
  private compactions = 0;

  constructor(options: JetStreamStoreOptions) {
    const stream = options.stream ?? DEFAULT_STREAM;
    const bucket = options.bucket ?? DEFAULT_BUCKET;
    if (!NAME.test(stream)) throw mdpError(MdpErrorCode.CONFIG, `store_stream: ${JSON.stringify(stream)} must be 1-64 letters, digits, - or _`);
    if (!NAME.test(bucket)) throw mdpError(MdpErrorCode.CONFIG, `store_bucket: ${JSON.stringify(bucket)} must be 1-64 letters, digits, - or _`);
    parseNatsUrl(options.url);
    const nodeId = options.nodeId || defaultNodeId();
    this.options = {
      url: options.url,
      stream,
      bucket,
      replicas: options.replicas ?? 1,
      nodeId,
      maxBytes: options.maxBytes ?? DEFAULT_MAX_BYTES,
      ackWait: options.ackWait ?? DEFAULT_ACK_WAIT,
      timeout: options.timeout ?? DEFAULT_TIMEOUT,
      compactSlack: options.compactSlack ?? COMPACT_SLACK,
    };
    this.log = options.logger ?? silentLogger;
    // node ids are free text; a subject token is not
    this.nodeSubject = `${stream}.node.${/^[A-Za-z0-9_-]{1,64}$/.test(nodeId) ? nodeId : `x${toHex(new TextEncoder().encode(nodeId)).slice(0, 120)}`}`;
  }

  private reqSubject(service: Uint8Array): string {
    return `${this.options.stream}.req.${serviceToken(service)}`;
  }

  // ---- open, close ------------------------------------------------------------------------------

  async open(): Promise<StoreRecovery> {
    if (this.opened || this.closed) throw mdpError(MdpErrorCode.STORE, 'the JetStream store was opened already');
    this.opened = true;
    const started = performance.now();
    const o = this.options;
    const [{ connect }, jsmod, { Kvm }] = await Promise.all([import('@nats-io/transport-node'), import('@nats-io/jetstream'), import('@nats-io/kv')]);
    const { servers, ...auth } = parseNatsUrl(o.url);
    try {
      this.nc = await connect({
        servers,
        ...auth,
        name: `purezmq-broker ${o.nodeId}`,
        timeout: o.timeout,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
      });
    } catch (err) {
      throw mdpError(MdpErrorCode.STORE, `cannot connect to NATS at ${servers.join(',')}: ${message(err)}`);
    }
    const nc = this.nc;
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'disconnect') this.log.warn('store: NATS connection lost', { server: s.server });
        else if (s.type === 'reconnect') this.log.info('store: NATS connection back', { server: s.server });
      }
    })().catch(() => undefined);
    try {
      this.jsm = await jsmod.jetstreamManager(nc, { timeout: o.timeout });
      this.js = jsmod.jetstream(nc, { timeout: o.timeout });
      const { RetentionPolicy, DiscardPolicy, StorageType } = jsmod;
      await this.ensureStream({
        name: o.stream,
        subjects: [`${o.stream}.req.>`],
        retention: RetentionPolicy.Workqueue,
        // refused when full (MDP_STORE_FULL), never old requests dropped to make room
        discard: DiscardPolicy.New,
        storage: StorageType.File,
        num_replicas: o.replicas,
        max_bytes: o.maxBytes,
        duplicate_window: nanos(120_000),
      });
      await this.ensureStream({
        name: `${o.stream}_NODES`,
        subjects: [`${o.stream}.node.>`],
        retention: RetentionPolicy.Limits,
        discard: DiscardPolicy.New,
        storage: StorageType.File,
        num_replicas: o.replicas,
        max_bytes: o.maxBytes,
      });
      this.kv = await new Kvm(this.js).create(o.bucket, { replicas: o.replicas, history: 1, storage: StorageType.File });
      const recovered = await this.replayNode();
      this.inProgress = setInterval(() => this.keepAlive(), Math.max(250, Math.floor(o.ackWait / 3)));
      (this.inProgress as { unref?: () => void }).unref?.();
      return { ...recovered, durationMs: performance.now() - started, quarantined: [] };
    } catch (err) {
      await nc.close().catch(() => undefined);
      this.closed = true;
      throw isMdpError(err) ? err : mdpError(MdpErrorCode.STORE, `JetStream store ${o.stream} on ${servers.join(',')}: ${message(err)}`);
    }
  }

  /** Creates the stream, or brings an existing one to this configuration (replicas, budget). */
  private async ensureStream(config: Record<string, unknown> & { name: string }): Promise<void> {
    try {
      await this.jsm.streams.info(config.name);
    } catch {
      await this.jsm.streams.add(config as never);
      return;
    }
    await this.jsm.streams.update(config.name, config as never);
  }

  /** Reads this node's journal of plain requests and folds it. */
  private async replayNode(): Promise<Omit<StoreRecovery, 'durationMs' | 'quarantined'>> {
    const stream = `${this.options.stream}_NODES`;
    let last = 0;
    try {
      last = (await this.jsm.streams.getMessage(stream, { last_by_subj: this.nodeSubject }))?.seq ?? 0;
    } catch {
      last = 0; // no message on this subject
    }
    let records = 0;
    let bytes = 0;
    if (last > 0) {
      const consumer = await this.js.consumers.get(stream, { filter_subjects: this.nodeSubject });
      // in batches (one round trip per REPLAY_BATCH records), up to the last record there was at the start
      for (let done = false; !done; ) {
        const batch = await consumer.fetch({ max_messages: REPLAY_BATCH, expires: Math.max(PULL_EXPIRES, this.options.timeout) });
        let got = 0;
        for await (const m of batch) {
          got++;
          decode(m.data, (r) => {
            this.state.apply(r);
            records++;
          });
          bytes += m.data.length;
          if (m.seq >= last) {
            done = true;
            break;
          }
        }
        await batch.close().catch(() => undefined);
        if (!done && got === 0) throw mdpError(MdpErrorCode.STORE, `node journal ${this.nodeSubject}: read stopped before its last record (${last})`);
      }
      await consumer.delete().catch(() => undefined);
    }
    this.nodeRecords = records;
    for (const req of this.state.values()) if (req.kind === RequestKind.PLAIN) this.plainKeys.add(req.key);
    return { requests: [...this.state.values()].filter((r) => r.kind === RequestKind.PLAIN), records, files: 0, bytes };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.inProgress) clearInterval(this.inProgress);
    await Promise.race([this.tail, sleep(this.options.timeout)]);
    // what this broker took and did not finish goes to another broker now, not after AckWait
    for (const m of this.held.values()) m.nak();
    this.held.clear();
    const nc = this.nc;
    if (!nc) return;
    await Promise.race([nc.drain().catch(() => undefined), sleep(this.options.timeout)]);
    await nc.close().catch(() => undefined);
  }

  // ---- appending --------------------------------------------------------------------------------

  append(record: StoreRecord): Promise<void> {
    if (this.closed || !this.nc) return Promise.reject(storeClosedError());
    const key = requestKey(record.id);
    let write: Promise<void>;
    if (record.type === RecordType.REQUEST ? record.kind === RequestKind.PLAIN : this.plainKeys.has(key)) {
      // the node journal: published at once, in the order of the appends (replay order is creation order)
      if (record.type === RecordType.REQUEST) this.plainKeys.add(key);
      else if (record.type === RecordType.DONE) this.plainKeys.delete(key);
      write = this.journal(record);
    } else {
      // a Titanic request: its writes wait for each other (status revisions), not for other requests'
      const before = this.byKey.get(key) ?? Promise.resolve();
      write = before.then(
        () => this.write(record, key),
        () => this.write(record, key),
      );
      const mine = write.finally(() => {
        if (this.byKey.get(key) === mine) this.byKey.delete(key);
      });
      this.byKey.set(key, mine.catch(() => undefined));
    }
    const ordered = this.tail.then(() => write);
    this.tail = ordered.catch(() => undefined);
    return ordered.then(
      () => {
        this.appends++;
      },
      (err: unknown) => {
        throw this.failed(err);
      },
    );
  }

  private failed(err: unknown): MdpError {
    if (isMdpError(err)) {
      if (err.code === MdpErrorCode.STORE_FULL) this.refusedFull++;
      else this.errors++;
      return err;
    }
    const text = message(err);
    if (/maximum bytes|resource limits|insufficient (storage|resources)/i.test(text)) {
      this.refusedFull++;
      return storeFullError(this.streamBytes, 0, this.options.maxBytes);
    }
    this.errors++;
    return mdpError(MdpErrorCode.STORE, `JetStream: ${text}`);
  }

  /** A record about a Titanic request (the node journal's go through journal()). */
  private async write(record: StoreRecord, key: string): Promise<void> {
    const live = this.state.get(key);
    if (record.type === RecordType.REQUEST) return this.submit(record, key);
    if (!live) {
      // a close (titanic.close, a purge) of a request this broker does not hold: wherever it is
      if (record.type === RecordType.DONE) await this.forgetStatus(key);
      return;
    }
    // a Titanic request this broker took from the queue (or a dead letter it keeps)
    this.state.apply(record);
    if (record.type === RecordType.DONE) {
      this.revisions.delete(key);
      await this.forgetStatus(key);
      await this.finishMsg(key);
      return;
    }
    let written: boolean;
    try {
      written = await this.updateStatus(key, statusRecords(this.state.get(key)!));
    } catch (err) {
      // a reply or dead letter that is not on record must not be lost with this broker's memory: the
      // request goes back to the queue (after AckWait) and runs again, here or on another broker
      if (record.type === RecordType.REPLY || record.type === RecordType.DEAD) this.release(key);
      throw err;
    }
    if (!written) {
      // closed on some broker while it ran here: what it left is dropped, the close stands
      this.forgetLocal(key);
      await this.finishMsg(key);
      return;
    }
    switch (record.type) {
      case RecordType.REPLY:
      case RecordType.DEAD:
        // on record: out of the queue (a dead letter stays in the local state, for a replay)
        await this.finishMsg(key);
        if (record.type === RecordType.REPLY) this.forgetLocal(key);
        return;
      case RecordType.REQUEUE:
        await this.publishRequest(snapshotRecords(this.state.get(key)!)[0] as RequestRecord, `${key}.${record.at}`);
        this.forgetLocal(key);
        return;
    }
  }

  /** Lets go of a request this broker took without finishing it: JetStream delivers it again after AckWait. */
  private release(key: string): void {
    this.held.get(key)?.nak(this.options.ackWait);
    this.held.delete(key);
    this.forgetLocal(key);
  }

  private forgetLocal(key: string): void {
    const req = this.state.get(key);
    if (req) this.state.apply({ type: RecordType.DONE, id: req.id });
    this.revisions.delete(key);
  }

  /** Writes a status over the revision this broker last saw; false when it was removed or replaced meanwhile. */
  private async updateStatus(key: string, records: StoreRecord[]): Promise<boolean> {
    const revision = this.revisions.get(key);
    if (revision === undefined) return false;
    try {
      this.revisions.set(key, await this.kv.update(key, encode(records), revision, this.options.timeout));
      return true;
    } catch (err) {
      if (/wrong last sequence/i.test(message(err))) return false;
      throw err;
    }
  }

  /** A new Titanic request: its status first, then the queue (so whoever takes it finds its status). */
  private async submit(record: RequestRecord, key: string): Promise<void> {
    await this.checkBucket(recordSize(record));
    await this.kv.put(key, encode([{ ...record, body: [] }]), { timeout: this.options.timeout } as never);
    try {
      await this.publishRequest(record, key);
    } catch (err) {
      await this.forgetStatus(key).catch(() => undefined); // never handed out: no trace left
      throw err;
    }
  }

  private async publishRequest(record: RequestRecord, msgID: string): Promise<void> {
    const ack = await this.js.publish(this.reqSubject(record.service), encode([record]), { msgID, timeout: this.options.timeout });
    if (ack.duplicate) this.log.debug('store: duplicate request ignored by JetStream', { key: msgID });
  }

  /**
   * The bucket has no byte limit of its own (a reply, a dead letter or a close is never refused for
   * the budget); a new request is refused while the bucket holds more than the budget.
   */
  private async checkBucket(size: number): Promise<void> {
    const t = performance.now();
    if (t - this.bucketCheckedAt >= BUCKET_CHECK_MS) {
      this.bucketCheckedAt = t;
      // looked up beside the request, not before it: a NATS that does not answer costs one timeout, not three
      void this.refreshSizes();
    }
    if (this.bucketBytes + size > this.options.maxBytes) throw storeFullError(this.bucketBytes, size, this.options.maxBytes);
  }

  private async refreshSizes(): Promise<void> {
    try {
      const [bucket, stream] = await Promise.all([this.kv.status(), this.jsm.streams.info(this.options.stream)]);
      this.bucketBytes = bucket.size;
      this.streamBytes = stream.state.bytes;
    } catch {
      // the writes report what is wrong with NATS; the sizes stay as last seen
    }
  }

  /** Removes a request's status with its history (a purge of its subject leaves no marker behind). */
  private async forgetStatus(key: string): Promise<void> {
    await this.jsm.streams.purge(`KV_${this.options.bucket}`, { filter: `$KV.${this.options.bucket}.${key}` });
  }

  /** Acknowledges the queue message of a request this broker finished: JetStream removes it. */
  private async finishMsg(key: string): Promise<void> {
    const m = this.held.get(key);
    if (!m) return;
    this.held.delete(key);
    await m.ackAck({ timeout: this.options.timeout } as never);
  }

  /** A record of the node journal (plain requests); waits while a compaction rewrites the journal. */
  private async journal(record: StoreRecord): Promise<void> {
    while (this.compacting) await this.compacting.catch(() => undefined);
    const p = this.js.publish(this.nodeSubject, encode([record]), { timeout: this.options.timeout }).then(() => {
      this.state.apply(record);
      this.nodeRecords++;
    });
    this.journalling.add(p);
    try {
      await p;
    } finally {
      this.journalling.delete(p);
    }
    // what closed requests left behind is dropped now and then, so that the journal stays near the live size
    if (this.nodeRecords > 2 * this.state.size + this.options.compactSlack && !this.compacting) {
      this.compact().catch((err) => this.log.warn('store: node journal compaction failed', { error: message(err) }));
    }
  }

  /**
   * Rewrites the node journal as the snapshot of its live plain requests, then purges what came
   * before the snapshot. Titanic requests are not in it: they live in the queue and the bucket.
   */
  compact(): Promise<void> {
    if (this.closed || !this.nc) return Promise.reject(storeClosedError());
    if (this.compacting) return this.compacting;
    const run = this.rewrite().finally(() => {
      this.compacting = undefined;
    });
    this.compacting = run;
    return run;
  }

  private async rewrite(): Promise<void> {
    // no journal write runs meanwhile: a record between the snapshot and the purge would be lost
    await Promise.allSettled([...this.journalling]);
    const live = [...this.state.values()].filter((r) => r.kind === RequestKind.PLAIN);
    let first = 0;
    for (const req of live) {
      for (const r of snapshotRecords(req)) {
        const ack = await this.js.publish(this.nodeSubject, encode([r]), { timeout: this.options.timeout });
        if (first === 0) first = ack.seq;
      }
    }
    if (first === 0) {
      // nothing live: everything goes
      await this.jsm.streams.purge(`${this.options.stream}_NODES`, { filter: this.nodeSubject });
    } else {
      await this.jsm.streams.purge(`${this.options.stream}_NODES`, { filter: this.nodeSubject, seq: first });
    }
    this.nodeRecords = live.reduce((n, r) => n + snapshotRecords(r).length, 0);
    this.compactions++;
  }

  // ---- the shared queue ------------------------------------------------------------------------

  attach(host: SharedQueueHost): void {
    this.host = host;
  }

  wake(service: Uint8Array): void {
    const token = serviceToken(service);
    if (this.closed || !this.host || this.pulling.has(token)) return;
    if (this.host.capacity(service) <= 0) return;
    this.pulling.add(token);
    this.pull(service, token)
      .catch((err) => this.log.warn('store: taking requests from the queue failed', { error: message(err) }))
      .finally(() => this.pulling.delete(token));
  }

  private consumerFor(service: Uint8Array, token: string): Promise<Consumer> {
    let c = this.consumers.get(token);
    if (!c) {
      c = (async () => {
        const { AckPolicy, DeliverPolicy } = await import('@nats-io/jetstream');
        const name = await consumerName(service);
        const config = {
          durable_name: name,
          filter_subject: this.reqSubject(service),
          ack_policy: AckPolicy.Explicit,
          deliver_policy: DeliverPolicy.All,
          ack_wait: nanos(this.options.ackWait),
          // the broker counts deliveries into attempts and dead-letters (max_retries); the server never gives up on one
          max_deliver: -1,
          max_ack_pending: -1,
        };
        let existing: { config: { ack_wait?: number } } | undefined;
        try {
          existing = await this.jsm.consumers.info(this.options.stream, name);
        } catch {
          await this.jsm.consumers.add(this.options.stream, config as never);
        }
        // shared by every broker: the last one to start with another --store-ack-wait sets it
        if (existing && existing.config.ack_wait !== config.ack_wait) await this.jsm.consumers.update(this.options.stream, name, { ack_wait: config.ack_wait } as never);
        return this.js.consumers.get(this.options.stream, name);
      })();
      this.consumers.set(token, c);
      c.catch(() => this.consumers.delete(token));
    }
    return c;
  }

  /** Takes requests for `service` one at a time while this broker has room for them. */
  private async pull(service: Uint8Array, token: string): Promise<void> {
    while (!this.closed && this.host!.capacity(service) > 0) {
      let m: JsMsg | null;
      try {
        const consumer = await this.consumerFor(service, token);
        m = await consumer.next({ expires: PULL_EXPIRES });
      } catch (err) {
        this.errors++;
        this.log.debug('store: pull failed', { error: message(err) });
        await sleep(PULL_RETRY_MS);
        continue;
      }
      if (m) await this.takeMsg(m);
    }
  }

  private async takeMsg(m: JsMsg): Promise<void> {
    let request: RequestRecord | undefined;
    try {
      decode(m.data, (r) => {
        if (r.type === RecordType.REQUEST) request = r;
      });
    } catch (err) {
      this.log.error('store: undecodable message in the request queue, dropped', { seq: m.seq, error: message(err) });
    }
    if (!request) {
      m.term();
      return;
    }
    const key = requestKey(request.id);
    let status: StoredRequest | undefined;
    let revision = 0;
    try {
      ({ status, revision } = await this.readStatus(key));
    } catch (err) {
      m.nak(PULL_RETRY_MS);
      this.log.debug('store: status unreadable, request left in the queue', { key, error: message(err) });
      return;
    }
    if (this.closed) {
      m.nak();
      return;
    }
    if (!status || status.reply || status.dead || this.held.has(key) || this.state.get(key)) {
      // closed (or finished) meanwhile: nothing to run
      if (!this.held.has(key)) m.ack();
      return;
    }
    this.state.apply(request);
    if (status.ttlFrom !== request.createdAt) this.state.apply({ type: RecordType.REQUEUE, id: request.id, at: status.ttlFrom });
    // a broker that took it before and was lost counts as a failed dispatch
    const lost = Math.max(0, m.info.deliveryCount - 1);
    const attempts = Math.max(status.attempts, lost);
    if (attempts > 0) {
      const error = status.attempts >= lost ? status.lastError : `taken by ${lost} broker(s) that were lost before it finished`;
      this.state.apply({ type: RecordType.ATTEMPT, id: request.id, attempts, error });
    }
    this.held.set(key, m);
    this.revisions.set(key, revision);
    this.host!.take(this.state.get(key)!);
  }

  /** Tells JetStream the requests this broker holds are still being worked on (AckWait restarts). */
  private keepAlive(): void {
    for (const m of this.held.values()) m.working();
  }

  async lookup(key: string): Promise<StoredRequest | undefined> {
    if (this.closed || !this.nc) throw storeClosedError();
    return (await this.readStatus(key)).status;
  }

  /** A request's status in the bucket, and its revision there. */
  private async readStatus(key: string): Promise<{ status: StoredRequest | undefined; revision: number }> {
    let entry: Awaited<ReturnType<KV['get']>>;
    try {
      entry = await this.kv.get(key);
    } catch (err) {
      this.errors++;
      throw mdpError(MdpErrorCode.STORE, `JetStream: ${message(err)}`);
    }
    if (!entry || entry.operation !== 'PUT' || entry.value.length === 0) return { status: undefined, revision: 0 };
    const state = new RequestState(recordSize);
    decode(entry.value, (r) => state.apply(r));
    return { status: state.get(key), revision: entry.revision };
  }

  // ---- reading ---------------------------------------------------------------------------------

  get(key: string): StoredRequest | undefined {
    return this.state.get(key);
  }

  values(): IterableIterator<StoredRequest> {
    return this.state.values();
  }

  stats(): StoreStats {
    return {
      kind: this.kind,
      durable: this.durable,
      requests: this.state.size,
      liveBytes: this.state.liveBytes,
      bytes: this.bucketBytes + this.streamBytes,
      maxBytes: this.options.maxBytes,
      appends: this.appends,
      refusedFull: this.refusedFull,
      errors: this.errors,
      compactions: this.compactions,
    };
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    (t as { unref?: () => void }).unref?.();
  });
}

/** Without --node-id, the host name: a broker restarted on the same machine finds its journal again. */
function defaultNodeId(): string {
  return os.hostname() || 'broker';
}

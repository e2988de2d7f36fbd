/**
 * What a request store records, and the one reducer that turns records into the live state.
 *
 * Every record is about one request, named by its 16-byte id, and every record but REQUEST *sets*
 * part of that request's state instead of changing it by a delta. That makes replay idempotent in
 * the way compaction needs: a snapshot of any request taken at any moment after a segment was
 * closed, followed by every record written since, gives the same state as the full log. (A record
 * about a request the state does not hold is ignored: it was closed before.)
 *
 * No I/O here, and nothing about bytes on disk: src/mdp/store/codec.ts encodes these records.
 */
import { toHex } from '../../util/bytes.ts';

/** Record types, as they are numbered in the journal (the codec writes this byte). */
export const RecordType = {
  /** A request was accepted: creates it. */
  REQUEST: 1,
  /** The request's reply arrived and is kept (Titanic; a plain reply its client was not there for). */
  REPLY: 2,
  /** Delivered (plain) or closed (Titanic), purged from the dead letters: the request is forgotten. */
  DONE: 3,
  /** A dispatch failed: sets the count of failed dispatches and the last error. */
  ATTEMPT: 4,
  /** Moved to the dead-letter queue, with why. */
  DEAD: 5,
  /** Taken out of the dead-letter queue to run again: attempts reset, TTL counted from `at`. */
  REQUEUE: 6,
} as const;
export type RecordType = (typeof RecordType)[keyof typeof RecordType];

/** What kind of request: a plain MDP request from a client, or one taken by `titanic.request`. */
export const RequestKind = { PLAIN: 'plain', TITANIC: 'titanic' } as const;
export type RequestKind = (typeof RequestKind)[keyof typeof RequestKind];

/** Why a request went to the dead-letter queue. */
export const DeadReason = {
  /** Dispatched 1 + max_retries times, and every worker died or handed it back. */
  RETRIES: 'retries-exhausted',
  /** Older than its TTL (request_ttl), or it waited in a queue longer than request_timeout. */
  EXPIRED: 'expired',
  /** Its worker was lost after PARTIALs had reached a streaming client: running it again would repeat them. */
  INTERRUPTED: 'interrupted',
} as const;
export type DeadReason = (typeof DeadReason)[keyof typeof DeadReason];

/** Request ids are 16 bytes; a Titanic UUID is their 32 hex digits. */
export const REQUEST_ID_BYTES = 16;

export interface RequestRecord {
  readonly type: typeof RecordType.REQUEST;
  readonly id: Uint8Array;
  readonly kind: RequestKind;
  readonly service: Uint8Array;
  readonly body: readonly Uint8Array[];
  /** Plain requests: the client's routing id, replies go to it. Titanic: empty. */
  readonly client: Uint8Array;
  /** Plain requests: the client's dialect (its replies are encoded in it). Titanic: empty. */
  readonly dialect: string;
  /** Wall-clock ms (Date.now()) at acceptance; TTLs count from it across restarts. */
  readonly createdAt: number;
}

export interface ReplyRecord {
  readonly type: typeof RecordType.REPLY;
  readonly id: Uint8Array;
  readonly body: readonly Uint8Array[];
}

export interface DoneRecord {
  readonly type: typeof RecordType.DONE;
  readonly id: Uint8Array;
}

export interface AttemptRecord {
  readonly type: typeof RecordType.ATTEMPT;
  readonly id: Uint8Array;
  /** Failed dispatches so far (absolute, not an increment). */
  readonly attempts: number;
  readonly error: string;
}

export interface DeadRecord {
  readonly type: typeof RecordType.DEAD;
  readonly id: Uint8Array;
  readonly reason: string;
  readonly error: string;
  /** Wall-clock ms. */
  readonly at: number;
}

export interface RequeueRecord {
  readonly type: typeof RecordType.REQUEUE;
  readonly id: Uint8Array;
  /** Wall-clock ms; the TTL counts from here. */
  readonly at: number;
}

export type StoreRecord = RequestRecord | ReplyRecord | DoneRecord | AttemptRecord | DeadRecord | RequeueRecord;

export interface DeadLetter {
  readonly reason: string;
  readonly error: string;
  readonly at: number;
}

/** A live request as the store knows it: the fold of its records. */
export interface StoredRequest {
  readonly id: Uint8Array;
  /** The id's 32 lower-case hex digits: the map key, and the Titanic UUID. */
  readonly key: string;
  readonly kind: RequestKind;
  readonly service: Uint8Array;
  readonly body: readonly Uint8Array[];
  readonly client: Uint8Array;
  readonly dialect: string;
  readonly createdAt: number;
  /** Wall-clock ms the TTL counts from: acceptance, or the last replay out of the dead letters. */
  ttlFrom: number;
  attempts: number;
  lastError: string;
  reply: readonly Uint8Array[] | undefined;
  dead: DeadLetter | undefined;
  /** Bytes its snapshot records take (what compaction would write for it). */
  bytes: number;
}

/** Bytes one record takes when stored (the codec's measure); lets the state count live bytes. */
export type RecordMeasure = (record: StoreRecord) => number;

/**
 * A live request with the stored sizes of the records its snapshot is made of, by part (one object
 * per request: replaying a journal of a million live requests allocates little else).
 */
class LiveRequest implements StoredRequest {
  readonly id: Uint8Array;
  readonly key: string;
  readonly kind: RequestKind;
  readonly service: Uint8Array;
  readonly body: readonly Uint8Array[];
  readonly client: Uint8Array;
  readonly dialect: string;
  readonly createdAt: number;
  ttlFrom: number;
  attempts = 0;
  lastError = '';
  reply: readonly Uint8Array[] | undefined = undefined;
  dead: DeadLetter | undefined = undefined;
  bytes: number;
  // private fields: not properties, so a StoredRequest reads (and compares) as the interface says
  readonly #request: number;
  #requeue = 0;
  #attempt = 0;
  #reply = 0;
  #dead = 0;

  constructor(record: RequestRecord, key: string, size: number) {
    this.id = record.id;
    this.key = key;
    this.kind = record.kind;
    this.service = record.service;
    this.body = record.body;
    this.client = record.client;
    this.dialect = record.dialect;
    this.createdAt = record.createdAt;
    this.ttlFrom = record.createdAt;
    this.bytes = size;
    this.#request = size;
  }

  /** Sets the stored size of one part of the snapshot; returns how much `bytes` changed. */
  resize(part: 'requeue' | 'attempt' | 'reply' | 'dead', size: number): number {
    if (part === 'requeue') this.#requeue = size;
    else if (part === 'attempt') this.#attempt = size;
    else if (part === 'reply') this.#reply = size;
    else this.#dead = size;
    const bytes = this.#request + this.#requeue + this.#attempt + this.#reply + this.#dead;
    const delta = bytes - this.bytes;
    this.bytes = bytes;
    return delta;
  }
}

/** Whether a request's snapshot carries an ATTEMPT record (snapshotRecords and the byte count agree on it). */
function hasAttempt(req: { attempts: number; lastError: string }): boolean {
  return req.attempts > 0 || req.lastError !== '';
}

export function requestKey(id: Uint8Array): string {
  return toHex(id);
}

const HEX_ID = /^[0-9a-fA-F]{32}$/;

/** The 16 id bytes of a 32-hex-digit UUID (either case), or undefined if it is not one. */
export function parseRequestKey(text: string): string | undefined {
  return HEX_ID.test(text) ? text.toLowerCase() : undefined;
}

/**
 * The live requests, folded from records. Insertion order is creation order (a Map keeps it), which
 * is also the order replay hands requests back in.
 */
export class RequestState {
  private readonly requests = new Map<string, LiveRequest>();
  private readonly measure: RecordMeasure;
  private live = 0;

  constructor(measure: RecordMeasure) {
    this.measure = measure;
  }

  /** Live requests. */
  get size(): number {
    return this.requests.size;
  }

  /** Bytes a snapshot of every live request takes. */
  get liveBytes(): number {
    return this.live;
  }

  get(key: string): StoredRequest | undefined {
    return this.requests.get(key);
  }

  /** Live requests in creation order. */
  values(): IterableIterator<StoredRequest> {
    return this.requests.values();
  }

  keys(): IterableIterator<string> {
    return this.requests.keys();
  }

  /** Folds one record in. `size` is its stored size when the caller knows it already (else measured). */
  apply(record: StoreRecord, size: number = this.measure(record)): void {
    const key = requestKey(record.id);
    if (record.type === RecordType.REQUEST) {
      if (this.requests.has(key)) return; // replayed over a snapshot that already holds it
      this.requests.set(key, new LiveRequest(record, key, size));
      this.live += size;
      return;
    }
    const req = this.requests.get(key);
    if (!req) return; // closed before: a later record about it carries nothing
    switch (record.type) {
      case RecordType.DONE:
        this.requests.delete(key);
        this.live -= req.bytes;
        return;
      case RecordType.REPLY:
        req.reply = record.body;
        this.live += req.resize('reply', size);
        return;
      case RecordType.ATTEMPT:
        req.attempts = record.attempts;
        req.lastError = record.error;
        this.live += req.resize('attempt', hasAttempt(req) ? size : 0);
        return;
      case RecordType.DEAD:
        req.dead = { reason: record.reason, error: record.error, at: record.at };
        this.live += req.resize('dead', size);
        return;
      case RecordType.REQUEUE:
        req.attempts = 0;
        req.lastError = '';
        req.dead = undefined;
        req.ttlFrom = record.at;
        this.live += req.resize('attempt', 0) + req.resize('dead', 0);
        this.live += req.resize('requeue', record.at !== req.createdAt ? size : 0); // as snapshotRecords writes it
        return;
    }
  }
}

/**
 * The records that recreate one live request from nothing, in the order replay needs them. A
 * snapshot is these records for every live request, in creation order.
 */
export function snapshotRecords(req: StoredRequest): StoreRecord[] {
  const out: StoreRecord[] = [
    {
      type: RecordType.REQUEST,
      id: req.id,
      kind: req.kind,
      service: req.service,
      body: req.body,
      client: req.client,
      dialect: req.dialect,
      createdAt: req.createdAt,
    },
  ];
  if (req.ttlFrom !== req.createdAt) out.push({ type: RecordType.REQUEUE, id: req.id, at: req.ttlFrom });
  if (hasAttempt(req)) out.push({ type: RecordType.ATTEMPT, id: req.id, attempts: req.attempts, error: req.lastError });
  if (req.reply) out.push({ type: RecordType.REPLY, id: req.id, body: req.reply });
  if (req.dead) out.push({ type: RecordType.DEAD, id: req.id, reason: req.dead.reason, error: req.dead.error, at: req.dead.at });
  return out;
}

/**
 * The broker's tables: services with their FIFO queue and LRU list of idle workers, worker records,
 * and the requests they hold. Data and O(1) list operations only; what to do with them is in
 * broker.ts (dispatch) and lifecycle.ts (retries, expiry, dead letters).
 */
import type { ZmqError } from '../../errors.ts';
import type { MdpCodec } from '../codec.ts';
import { MMI_NAMESPACE } from '../constants.ts';
import type { LatencyHistogram, LatencyReservoir } from '../metrics.ts';
import type { RequestKind } from '../store/records.ts';
import { Deque } from './deque.ts';

/** latin1 string of some bytes: a Map key. */
export function key(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]!);
  return s;
}

/**
 * Map key of a peer's routing id, built per message without allocating in the common case: the 5-byte
 * ids a ROUTER generates (0x00 then a 32-bit number) become that number, any other id a latin1 string.
 * Numbers and strings never collide as Map keys, so the mapping stays one-to-one.
 */
export type PeerKey = string | number;
export function peerKey(id: Uint8Array): PeerKey {
  if (id.length === 5 && id[0] === 0) return ((id[1]! << 24) | (id[2]! << 16) | (id[3]! << 8) | id[4]!) >>> 0;
  return key(id);
}

/**
 * Whether the ROUTER made this routing id up. ZMTP reserves ids that start with a zero byte for the
 * ROUTER's own; a peer that chose its id never has one. A made-up id names a connection, not a
 * client: after a reconnect or a broker restart the same client gets another one, and the old one may
 * be handed to somebody else.
 */
export function isGeneratedId(id: Uint8Array): boolean {
  return id.length > 0 && id[0] === 0;
}

function prefixBytes(prefix: string): number[] {
  return Array.from(prefix, (c) => c.charCodeAt(0));
}

function hasPrefix(name: Uint8Array, prefix: readonly number[]): boolean {
  if (name.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (name[i] !== prefix[i]) return false;
  return true;
}

const MMI_PREFIX = prefixBytes(MMI_NAMESPACE);
export const TITANIC_NAMESPACE = 'titanic.';
const TITANIC_PREFIX = prefixBytes(TITANIC_NAMESPACE);

/** Whether a service name is in the mmi. namespace (answered by the broker, 8/MMI). */
export function isMmiName(name: Uint8Array): boolean {
  return hasPrefix(name, MMI_PREFIX);
}

/** Whether a service name is in the titanic. namespace (answered by the broker, 9/TSP). */
export function isTitanicName(name: Uint8Array): boolean {
  return hasPrefix(name, TITANIC_PREFIX);
}

export function hexId(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += bytes[i]!.toString(16).padStart(2, '0');
  return s;
}

/** Bytes of a list of frames. */
export function frameBytes(frames: readonly Uint8Array[]): number {
  let n = 0;
  for (let i = 0; i < frames.length; i++) n += frames[i]!.length;
  return n;
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Where a request is in its life (lifecycle.ts moves it; each move is logged at debug level). */
export const Phase = {
  /** Appended to the store, waiting until it is durable before anything acts on it. */
  JOURNALLING: 'journalling',
  QUEUED: 'queued',
  DISPATCHED: 'dispatched',
  /** Its worker died or handed it back: waiting out the backoff before it is queued again. */
  RETRY_WAIT: 'retry-wait',
  /** The FINAL arrived: waiting for the store before the reply goes out (durable plain requests). */
  REPLYING: 'replying',
  /** A plain reply kept for a client that was not connected when it arrived. */
  HELD: 'held',
  /** A Titanic reply, kept until titanic.close. */
  REPLIED: 'replied',
  DEAD: 'dead',
  /** Finished: delivered, closed, purged or dropped. Nothing refers to it any more. */
  GONE: 'gone',
} as const;
export type Phase = (typeof Phase)[keyof typeof Phase];

export interface Request {
  readonly kind: RequestKind;
  /** Client routing id (plain), or the synthetic address a Titanic request carries to its worker. */
  readonly client: Uint8Array;
  /** The dialect of the client: replies are encoded with it. Titanic: undefined. */
  readonly clientCodec: MdpCodec | undefined;
  readonly service: Service;
  readonly body: Uint8Array[];
  /** Bytes it keeps in memory: its body, and its reply once it has one (max_queued_bytes counts them). */
  bytes: number;
  /** performance.now() at arrival (latency). */
  readonly receivedAt: number;
  /** Wall-clock ms the TTL counts from (acceptance, or the last replay out of the dead letters). */
  ttlFrom: number;
  /** Store id and its key, once the request is in the store (durable plain, Titanic, dead letters). */
  id: Uint8Array | undefined;
  storeKey: string | undefined;
  phase: Phase;
  queuedAt: number;
  /** Dispatches started. */
  attempts: number;
  /** Dispatches that failed (worker died or handed it back). */
  failures: number;
  lastError: string;
  worker: WorkerRecord | undefined;
  /** Recovered after a restart from a client whose routing id the ROUTER made up: its reply has nowhere to go. */
  orphan: boolean;
  /** MDP/0.1 client (or Titanic) served by a streaming worker: PARTIAL frames kept for the single reply. */
  merged: Uint8Array[] | undefined;
  mergedBytes: number;
  /** A PARTIAL has been relayed to the (streaming) client: the request cannot be run again. */
  streamed: boolean;
  /** Retry heap position and due time (lifecycle.ts). */
  retryAt: number;
  heapIndex: number;
  /** Cluster: taken from another broker (origin node, its request id): replies go back over the link, never forwarded again. */
  peer: { readonly origin: string; readonly rid: number } | undefined;
  /** Cluster: dispatched to another broker rather than to a worker of this one. */
  remote: boolean;
  /** A reply waiting for its client (HELD) or for titanic.reply (REPLIED). */
  reply: Uint8Array[] | undefined;
  /** HELD: when to try delivering again, and when to give up (performance.now()). */
  heldUntil: number;
  nextDelivery: number;
  deliveryBackoff: number;
}

export interface WorkerRecord {
  readonly id: Uint8Array;
  readonly key: PeerKey;
  /** The dialect of its READY, spoken for the whole conversation. */
  readonly codec: MdpCodec;
  readonly service: Service;
  lastHeard: number;
  lastSent: number;
  request: Request | undefined;
  gone: boolean;
  /** Links of the service's idle list (meaningful while `idle`). */
  idle: boolean;
  prevIdle: WorkerRecord | undefined;
  nextIdle: WorkerRecord | undefined;
  /** Send failure handler, made once (not per dispatch). */
  readonly unreachable: (err: ZmqError) => void;
}

/** Requests dropped per reason. */
export interface ServiceDrops {
  /** Waited longer than request_timeout in the queue, or outlived request_ttl (to the dead letters). */
  expired: number;
  overflow: number;
  undeliverable: number;
  /** Dispatched 1 + max_retries times (to the dead letters), or caught in a shutdown. */
  abandoned: number;
  /** Their worker was lost after PARTIALs had reached a streaming client: not run again, since the client would see them twice. */
  interrupted: number;
  truncated: number;
}

export interface Service {
  readonly name: Uint8Array;
  readonly key: string;
  readonly display: string;
  /** FIFO of requests; closed Titanic requests stay until they reach the head (skipped), counted out of `queued`. */
  readonly queue: Deque<Request>;
  /** Requests accepted and not dispatched yet (being stored, or in `queue`). */
  queued: number;
  /** The plain ones among them (max_queued_requests bounds these; Titanic requests wait in the store's budget). */
  plainQueued: number;
  /** Requests that hold this record (accepted and not gone or dead): it is not evicted while any do. */
  live: number;
  readonly workers: Set<WorkerRecord>;
  /** Idle workers, a doubly linked list in LRU order: the head is the longest idle. */
  idleHead: WorkerRecord | undefined;
  idleTail: WorkerRecord | undefined;
  idleCount: number;
  /** Links in the broker's EvictionList while the record holds nothing (no request, no worker). */
  evictPrev: Service | undefined;
  evictNext: Service | undefined;
  evictable: boolean;
  readonly latency: LatencyReservoir;
  readonly histogram: LatencyHistogram;
  requests: number;
  replies: number;
  partials: number;
  requeued: number;
  drops: ServiceDrops;
}

export function appendIdle(service: Service, w: WorkerRecord): void {
  w.idle = true;
  w.prevIdle = service.idleTail;
  w.nextIdle = undefined;
  if (service.idleTail) service.idleTail.nextIdle = w;
  else service.idleHead = w;
  service.idleTail = w;
  service.idleCount++;
}

/**
 * The service records that hold nothing, oldest first: the one to evict when the registry is full.
 * An intrusive doubly linked list, so that adding, removing and taking the oldest are O(1) whatever
 * happened before. (A Map in insertion order is not: V8 leaves a hole for each deleted entry until it
 * rehashes, and finding the first live entry walks the holes, so a spray of new names that are
 * added and at once taken out again made every eviction a scan.)
 */
export class EvictionList {
  private head: Service | undefined;
  private tail: Service | undefined;
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** Appends `s` as the newest (no-op if it is in already). */
  add(s: Service): void {
    if (s.evictable) return;
    s.evictable = true;
    s.evictPrev = this.tail;
    s.evictNext = undefined;
    if (this.tail) this.tail.evictNext = s;
    else this.head = s;
    this.tail = s;
    this.count++;
  }

  /** Takes `s` out (no-op if it is not in). */
  delete(s: Service): void {
    if (!s.evictable) return;
    s.evictable = false;
    if (s.evictPrev) s.evictPrev.evictNext = s.evictNext;
    else this.head = s.evictNext;
    if (s.evictNext) s.evictNext.evictPrev = s.evictPrev;
    else this.tail = s.evictPrev;
    s.evictPrev = undefined;
    s.evictNext = undefined;
    this.count--;
  }

  /** The record that has held nothing for longest. */
  oldest(): Service | undefined {
    return this.head;
  }
}

export function unlinkIdle(service: Service, w: WorkerRecord): void {
  if (!w.idle) return;
  w.idle = false;
  if (w.prevIdle) w.prevIdle.nextIdle = w.nextIdle;
  else service.idleHead = w.nextIdle;
  if (w.nextIdle) w.nextIdle.prevIdle = w.prevIdle;
  else service.idleTail = w.prevIdle;
  w.prevIdle = undefined;
  w.nextIdle = undefined;
  service.idleCount--;
}

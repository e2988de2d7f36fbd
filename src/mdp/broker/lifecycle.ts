/**
 * A request's life, and the policy that decides it: accepted → (journalling) → queued → dispatched
 * (attempt n) → replied → delivered or closed; or, on the way, retried after a backoff, expired, or
 * dead-lettered. The broker calls in here at each step: `move` logs the transition (debug level, the
 * seed plan's transaction log) and counts it; `afterFailure` and `expiry` say what happens next;
 * the retry heap and the dead-letter index keep the requests that wait on time or on an operator.
 *
 * Policy:
 * - A dispatch fails when the worker dies, is lost, or hands the request back (DISCONNECT while busy).
 *   The request is tried again after `retryBackoff × 2^(failures−1)` ms, capped at `retryBackoffMax`,
 *   with "equal jitter" (a random half of it), so that the retries of a crashed worker's requests
 *   spread out instead of hitting the next worker at once. After `maxRetries` retries it goes to the
 *   dead letters with its last error.
 * - A request that already streamed PARTIALs to its client is not run again (the client would see
 *   them twice; MDP has no request id): dead-lettered as interrupted.
 * - TTL (`requestTtl`, 0 = none) counts from acceptance, or from the last replay out of the dead
 *   letters, in wall-clock time so that it holds across restarts. A request that outlives it while it
 *   is not on a worker is dead-lettered as expired; one on a worker is let finish.
 * - Plain requests also wait at most `requestTimeout` in a queue (their clients have given up by
 *   then); Titanic requests wait for a worker as long as their TTL allows.
 */
import type { Logger } from '../log.ts';
import { DeadReason, RequestKind } from '../store/records.ts';
import { hexId, Phase, type Request } from './registry.ts';

export interface LifecyclePolicy {
  maxRetries: number;
  retryBackoff: number;
  retryBackoffMax: number;
  requestTtl: number;
  requestTimeout: number;
}

/** Transitions counted since start (mmi.broker `lifecycle`). */
export interface LifecycleCounters {
  /** Requests taken (plain and Titanic). */
  accepted: number;
  /** Dispatches to a worker (a retried request counts once per dispatch). */
  dispatched: number;
  /** Failed dispatches that were scheduled to run again. */
  retried: number;
  /** FINALs received. */
  replied: number;
  /** Plain replies handed to their client. */
  delivered: number;
  /** Plain replies kept for a client that was not connected. */
  held: number;
  /** Held replies dropped after reply_ttl (or for lack of room). */
  heldExpired: number;
  /** Titanic requests closed (titanic.close). */
  closed: number;
  expired: number;
  deadLettered: number;
  /** Dead letters run again (mmi.dlq.replay). */
  replayed: number;
  /** Dead letters deleted (mmi.dlq.purge). */
  purged: number;
  /** Dead letters dropped, oldest first, to stay within max_dead_letters. */
  evicted: number;
  /** Requests the store refused (budget or I/O error). */
  refused: number;
  /** Replies to a recovered request whose client had a ROUTER-made id: executed, reply not sent. */
  orphaned: number;
  /** Queued requests dropped before dispatch because their client's connection (a ROUTER-made id) was gone. */
  clientGone: number;
}

export function newLifecycleCounters(): LifecycleCounters {
  return {
    accepted: 0,
    dispatched: 0,
    retried: 0,
    replied: 0,
    delivered: 0,
    held: 0,
    heldExpired: 0,
    closed: 0,
    expired: 0,
    deadLettered: 0,
    replayed: 0,
    purged: 0,
    evicted: 0,
    refused: 0,
    orphaned: 0,
    clientGone: 0,
  };
}

/** Backoff before retry number `failures` (1-based): exponential, capped, equal jitter. */
export function retryDelay(failures: number, base: number, max: number, random: () => number = Math.random): number {
  const full = Math.min(max, base * 2 ** Math.min(30, failures - 1));
  return full / 2 + random() * (full / 2);
}

export type FailureOutcome = { retryIn: number } | { dead: DeadReason };

export class Lifecycle {
  readonly counters = newLifecycleCounters();
  private readonly policy: LifecyclePolicy;
  private readonly log: Logger;
  private readonly random: () => number;
  private readonly heap: Request[] = [];

  constructor(policy: LifecyclePolicy, log: Logger, random: () => number = Math.random) {
    this.policy = policy;
    this.log = log;
    this.random = random;
  }

  /** Moves a request to `phase`, logging the transition at debug level. */
  move(req: Request, phase: Phase, detail?: Record<string, unknown>): void {
    const from = req.phase;
    req.phase = phase;
    if (this.log.enabled('debug')) {
      this.log.debug('request', {
        from,
        to: phase,
        id: req.storeKey ?? undefined,
        kind: req.kind,
        service: req.service.display,
        client: req.kind === RequestKind.PLAIN ? hexId(req.client) : undefined,
        attempt: req.attempts,
        ...detail,
      });
    }
  }

  /** A dispatch of `req` failed; says whether to run it again, and when, or why it is dead. */
  afterFailure(req: Request): FailureOutcome {
    if (req.streamed) return { dead: DeadReason.INTERRUPTED };
    if (req.failures > this.policy.maxRetries) return { dead: DeadReason.RETRIES };
    return { retryIn: retryDelay(req.failures, this.policy.retryBackoff, this.policy.retryBackoffMax, this.random) };
  }

  /**
   * Whether a request that is not on a worker has expired: its TTL (wall clock) or, for a plain
   * request in a queue, request_timeout (performance clock).
   */
  expired(req: Request, now: number, wallNow: number): boolean {
    if (this.policy.requestTtl > 0 && wallNow - req.ttlFrom > this.policy.requestTtl) return true;
    return req.phase === Phase.QUEUED && req.kind === RequestKind.PLAIN && this.policy.requestTimeout > 0 && now - req.queuedAt > this.policy.requestTimeout;
  }

  // ---- requests waiting out a backoff: a binary min-heap on retryAt ----------------------------

  get waiting(): number {
    return this.heap.length;
  }

  schedule(req: Request, at: number): void {
    req.retryAt = at;
    req.heapIndex = this.heap.length;
    this.heap.push(req);
    this.up(req.heapIndex);
  }

  /** Takes a request out of the heap (closed, or dead-lettered while waiting). */
  unschedule(req: Request): void {
    const i = req.heapIndex;
    if (i < 0 || this.heap[i] !== req) return;
    const last = this.heap.pop()!;
    req.heapIndex = -1;
    if (last === req) return;
    this.heap[i] = last;
    last.heapIndex = i;
    this.down(i);
    this.up(i);
  }

  /** When the earliest retry is due, or undefined. */
  nextDue(): number | undefined {
    return this.heap[0]?.retryAt;
  }

  /** Removes and returns the requests due at `now`, earliest first. */
  takeDue(now: number): Request[] {
    const due: Request[] = [];
    while (this.heap.length > 0 && this.heap[0]!.retryAt <= now) {
      const req = this.heap[0]!;
      this.unschedule(req);
      due.push(req);
    }
    return due;
  }

  private up(i: number): void {
    const h = this.heap;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p]!.retryAt <= h[i]!.retryAt) break;
      this.swap(i, p);
      i = p;
    }
  }

  private down(i: number): void {
    const h = this.heap;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && h[l]!.retryAt < h[m]!.retryAt) m = l;
      if (r < h.length && h[r]!.retryAt < h[m]!.retryAt) m = r;
      if (m === i) return;
      this.swap(i, m);
      i = m;
    }
  }

  private swap(a: number, b: number): void {
    const h = this.heap;
    const x = h[a]!;
    const y = h[b]!;
    h[a] = y;
    h[b] = x;
    x.heapIndex = b;
    y.heapIndex = a;
  }
}

/**
 * The dead-letter queue: entries by store key, oldest first, with O(1) add and remove and a page
 * read that starts after a cursor (so listing page k does not walk pages 1..k−1). Every dead letter
 * is also written to the store; the index keeps its own copy of what it shows, because the store's
 * live state only has it once the write is durable.
 */
export class DeadLetterIndex<V = unknown> {
  /** Keys by position; removed ones leave a hole until the next repack. */
  private slots: (string | undefined)[] = [];
  private readonly position = new Map<string, number>();
  private readonly values = new Map<string, V>();
  private readonly sizeOf: (value: V) => number;
  private total = 0;

  /** `sizeOf`: the bytes one entry keeps in memory (the broker's byte budget counts them). */
  constructor(sizeOf: (value: V) => number = () => 0) {
    this.sizeOf = sizeOf;
  }

  /** Bytes the entries keep. */
  get bytes(): number {
    return this.total;
  }
  /** No live key sits before this slot (evicting the oldest does not rescan the holes it leaves). */
  private first = 0;

  get size(): number {
    return this.position.size;
  }

  has(key: string): boolean {
    return this.position.has(key);
  }

  get(key: string): V | undefined {
    return this.values.get(key);
  }

  add(key: string, value: V): void {
    const old = this.values.get(key);
    if (old !== undefined) this.total -= this.sizeOf(old);
    this.values.set(key, value);
    this.total += this.sizeOf(value);
    if (this.position.has(key)) return;
    this.position.set(key, this.slots.length);
    this.slots.push(key);
  }

  remove(key: string): boolean {
    const at = this.position.get(key);
    if (at === undefined) return false;
    this.position.delete(key);
    this.total -= this.sizeOf(this.values.get(key)!);
    this.values.delete(key);
    this.slots[at] = undefined;
    if (this.slots.length > 64 && this.position.size < this.slots.length / 2) this.repack();
    return true;
  }

  oldest(): string | undefined {
    while (this.first < this.slots.length && this.slots[this.first] === undefined) this.first++;
    return this.slots[this.first];
  }

  /** Up to `limit` keys after `after` (from the start when undefined or unknown). */
  page(after: string | undefined, limit: number): string[] {
    const out: string[] = [];
    let i = after === undefined ? 0 : (this.position.get(after) ?? -1) + 1;
    for (; i < this.slots.length && out.length < limit; i++) {
      const k = this.slots[i];
      if (k !== undefined) out.push(k);
    }
    return out;
  }

  keys(): string[] {
    return this.slots.filter((k): k is string => k !== undefined);
  }

  private repack(): void {
    const keys = this.keys();
    this.slots = keys;
    this.first = 0;
    keys.forEach((k, i) => this.position.set(k, i));
  }
}

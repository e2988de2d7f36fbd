/**
 * The broker's lifecycle pieces on their own: the retry policy, the retry heap, the dead-letter index
 * and the service queue's deque, each against a plain model (fast-check).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DeadLetterIndex, Lifecycle, retryDelay } from '../../../src/mdp/broker/lifecycle.ts';
import { Deque } from '../../../src/mdp/broker/deque.ts';
import { Phase, type Request } from '../../../src/mdp/broker/registry.ts';
import { silentLogger } from '../../../src/mdp/log.ts';
import { DeadReason } from '../../../src/mdp/store/records.ts';

const policy = { maxRetries: 3, retryBackoff: 100, retryBackoffMax: 1000, requestTtl: 0, requestTimeout: 0 };

/** Just the fields the lifecycle reads. */
function req(extra: Partial<Request> = {}): Request {
  return {
    kind: 'plain',
    phase: Phase.QUEUED,
    failures: 0,
    streamed: false,
    ttlFrom: 0,
    queuedAt: 0,
    retryAt: 0,
    heapIndex: -1,
    service: { display: 'svc' },
    ...extra,
  } as unknown as Request;
}

describe('retry policy', () => {
  it('backs off exponentially, capped, with equal jitter: always between half and all of the step', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 0, max: 10_000 }), fc.integer({ min: 0, max: 100_000 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (n, base, max, r) => {
        const full = Math.min(max, base * 2 ** Math.min(30, n - 1));
        const d = retryDelay(n, base, max, () => r);
        expect(d).toBeGreaterThanOrEqual(full / 2);
        expect(d).toBeLessThanOrEqual(full);
      }),
    );
    expect(retryDelay(1, 100, 1000, () => 0)).toBe(50);
    expect(retryDelay(3, 100, 1000, () => 0.999999)).toBeCloseTo(400, 2);
    expect(retryDelay(10, 100, 1000, () => 0)).toBe(500);
  });

  it('retries up to maxRetries, then dead-letters; a streamed request is never run again', () => {
    const life = new Lifecycle(policy, silentLogger, () => 0.5);
    for (let failures = 1; failures <= policy.maxRetries; failures++) expect(life.afterFailure(req({ failures }))).toHaveProperty('retryIn');
    expect(life.afterFailure(req({ failures: policy.maxRetries + 1 }))).toEqual({ dead: DeadReason.RETRIES });
    expect(life.afterFailure(req({ failures: 1, streamed: true }))).toEqual({ dead: DeadReason.INTERRUPTED });
  });

  it('expires on the wall-clock TTL, and plain queued requests on the queue timeout', () => {
    const life = new Lifecycle({ ...policy, requestTtl: 1000, requestTimeout: 100 }, silentLogger);
    expect(life.expired(req({ ttlFrom: 0 }), 0, 1001)).toBe(true);
    expect(life.expired(req({ ttlFrom: 0 }), 0, 999)).toBe(false);
    expect(life.expired(req({ queuedAt: 0 }), 101, 0)).toBe(true);
    expect(life.expired(req({ queuedAt: 0, kind: 'titanic' }), 101, 0)).toBe(false);
    expect(life.expired(req({ queuedAt: 0, phase: Phase.RETRY_WAIT }), 101, 0)).toBe(false);
  });
});

describe('retry heap', () => {
  it('hands requests back in due order, whatever was scheduled and unscheduled (model)', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('schedule' as const), at: fc.integer({ min: 0, max: 1000 }) }),
      fc.record({ kind: fc.constant('unschedule' as const), pick: fc.nat() }),
      fc.record({ kind: fc.constant('take' as const), now: fc.integer({ min: 0, max: 1000 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const life = new Lifecycle(policy, silentLogger);
        const model = new Set<Request>();
        for (const o of ops) {
          if (o.kind === 'schedule') {
            const r = req();
            life.schedule(r, o.at);
            model.add(r);
          } else if (o.kind === 'unschedule') {
            const all = [...model];
            if (all.length === 0) continue;
            const r = all[o.pick % all.length]!;
            life.unschedule(r);
            model.delete(r);
          } else {
            const due = life.takeDue(o.now);
            const expected = [...model].filter((r) => r.retryAt <= o.now);
            expect(new Set(due)).toEqual(new Set(expected));
            for (let i = 1; i < due.length; i++) expect(due[i]!.retryAt).toBeGreaterThanOrEqual(due[i - 1]!.retryAt);
            for (const r of due) model.delete(r);
          }
          expect(life.waiting).toBe(model.size);
          const next = life.nextDue();
          expect(next).toBe(model.size === 0 ? undefined : Math.min(...[...model].map((r) => r.retryAt)));
        }
      }),
    );
  });
});

describe('dead-letter index', () => {
  it('keeps insertion order across adds and removes, and pages after a cursor (model)', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('add' as const), key: fc.integer({ min: 0, max: 300 }) }),
      fc.record({ kind: fc.constant('remove' as const), key: fc.integer({ min: 0, max: 300 }) }),
      fc.record({ kind: fc.constant('evict' as const) }),
      fc.record({ kind: fc.constant('page' as const), after: fc.option(fc.integer({ min: 0, max: 300 })), limit: fc.integer({ min: 1, max: 20 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 400 }), (ops) => {
        const index = new DeadLetterIndex();
        let model: string[] = [];
        for (const o of ops) {
          if (o.kind === 'add') {
            const k = String(o.key);
            index.add(k, o.key);
            expect(index.get(k)).toBe(o.key);
            if (!model.includes(k)) model.push(k);
          } else if (o.kind === 'remove') {
            const k = String(o.key);
            expect(index.remove(k)).toBe(model.includes(k));
            model = model.filter((m) => m !== k);
          } else if (o.kind === 'evict') {
            const oldest = index.oldest();
            expect(oldest).toBe(model[0]);
            if (oldest !== undefined) index.remove(oldest);
            model = model.slice(1);
          } else {
            const after = o.after === null ? undefined : String(o.after);
            const at = after === undefined ? -1 : model.indexOf(after);
            // an unknown cursor reads from the start
            expect(index.page(after, o.limit)).toEqual(model.slice(at + 1, at + 1 + o.limit));
          }
          expect(index.size).toBe(model.length);
          expect(index.keys()).toEqual(model);
        }
      }),
    );
  });
});

describe('deque', () => {
  it('behaves as an array with push, unshift and shift (model)', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('push' as const), v: fc.integer() }),
      fc.record({ kind: fc.constant('unshift' as const), v: fc.integer() }),
      fc.record({ kind: fc.constant('shift' as const) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 500 }), (ops) => {
        const d = new Deque<number>();
        const model: number[] = [];
        for (const o of ops) {
          if (o.kind === 'push') {
            d.push(o.v);
            model.push(o.v);
          } else if (o.kind === 'unshift') {
            d.unshift(o.v);
            model.unshift(o.v);
          } else {
            expect(d.shift()).toBe(model.shift());
          }
          expect(d.length).toBe(model.length);
          expect(d.peek()).toBe(model[0]);
        }
        expect([...d]).toEqual(model);
      }),
    );
  });
});

/**
 * RefusalThrottle: which peers the broker stops reading because it keeps refusing what they send.
 * Unit tests of its policy, and a property test of its budget over any sequence of refusals.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { BASE_HOLD_MS, BYTES_PER_TOKEN, MAX_HOLD_MS, MAX_TRACKED_PEERS, RefusalThrottle, STRIKE_MEMORY_MS, refusalCost } from '../../../src/mdp/broker/throttle.ts';

/** Refusals from `peer` at time t until one is answered with a hold: [refusals let through, hold ms]. */
function untilHeld(th: RefusalThrottle, peer: string | number, t: number): [number, number] {
  for (let n = 0; ; n++) {
    const ms = th.refused(peer, t);
    if (ms > 0) return [n, ms];
    if (n > 1e6) throw new Error('never held');
  }
}

describe('RefusalThrottle', () => {
  it('lets a burst of `rate` refusals through, then holds the peer for BASE_HOLD_MS', () => {
    const th = new RefusalThrottle(100);
    expect(untilHeld(th, 'a', 0)).toEqual([100, BASE_HOLD_MS]);
    expect(th.holds).toBe(1);
    // another peer has a budget of its own
    expect(untilHeld(th, 'b', 0)).toEqual([100, BASE_HOLD_MS]);
  });

  it('answers 0 while a hold runs: the messages read before it are still arriving', () => {
    const th = new RefusalThrottle(10);
    untilHeld(th, 'a', 0);
    for (let t = 0; t < BASE_HOLD_MS; t += 7) expect(th.refused('a', t)).toBe(0);
    expect(th.holds).toBe(1);
  });

  it('refills at `rate` per second: a peer under its rate is never held', () => {
    const th = new RefusalThrottle(100);
    // 99 refusals a second for a minute
    for (let t = 0; t < 60_000; t += 1000 / 99) expect(th.refused(7, t)).toBe(0);
    expect(th.holds).toBe(0);
  });

  it('doubles the hold while the peer goes on, up to MAX_HOLD_MS, and starts over after STRIKE_MEMORY_MS', () => {
    const th = new RefusalThrottle(50);
    const holds: number[] = [];
    let t = 0;
    for (let i = 0; i < 10; i++) {
      const [, ms] = untilHeld(th, 'a', t);
      holds.push(ms);
      t += ms; // the peer is read again when its hold ends, and goes on at once
    }
    expect(holds).toEqual([100, 200, 400, 800, 1600, 3200, MAX_HOLD_MS, MAX_HOLD_MS, MAX_HOLD_MS, MAX_HOLD_MS]);
    // it behaves for a while: its next hold is a first one again
    t += STRIKE_MEMORY_MS + 1;
    expect(untilHeld(th, 'a', t)[1]).toBe(BASE_HOLD_MS);
  });

  it('a larger message costs one refusal per started BYTES_PER_TOKEN: reading it cost more', () => {
    expect([0, 1, BYTES_PER_TOKEN, BYTES_PER_TOKEN + 1, 256 * 1024].map(refusalCost)).toEqual([1, 1, 1, 2, 256 * 1024 / BYTES_PER_TOKEN]);
    const th = new RefusalThrottle(1000);
    let through = 0;
    while (th.refused('big', 0, 256 * 1024) === 0) through++;
    // 1000 tokens: 15 messages of 64 tokens, and the 16th overdraws the last 40
    expect(through).toBe(16);
    expect(th.refused('big', BASE_HOLD_MS - 1, 256 * 1024)).toBe(0); // held: already answered
    // when the hold ends, 100 ms of refill (100 tokens) pays the 24 owed and lets two more through
    expect(th.refused('big', BASE_HOLD_MS, 256 * 1024)).toBe(0);
    expect(th.refused('big', BASE_HOLD_MS, 256 * 1024)).toBe(0);
    expect(th.refused('big', BASE_HOLD_MS, 256 * 1024)).toBe(BASE_HOLD_MS * 2);
  });

  it('0 refusals a second turns it off', () => {
    const th = new RefusalThrottle(0);
    for (let i = 0; i < 10_000; i++) expect(th.refused('a', 0)).toBe(0);
    expect(th.tracked).toBe(0);
  });

  it('purge forgets peers that are back in budget and out of memory, and keeps the others', () => {
    const th = new RefusalThrottle(10);
    th.refused('once', 0); // one refusal, never held
    untilHeld(th, 'held', 0);
    expect(th.tracked).toBe(2);
    th.purge(1000); // 'once' has its full budget back; 'held' was held a moment ago
    expect(th.tracked).toBe(1);
    th.purge(BASE_HOLD_MS + STRIKE_MEMORY_MS + 1);
    expect(th.tracked).toBe(0);
  });

  it('tracks at most MAX_TRACKED_PEERS peers; one more is not held back (the table stays bounded)', () => {
    const th = new RefusalThrottle(1);
    for (let p = 0; p < MAX_TRACKED_PEERS; p++) th.refused(p, 0);
    expect(th.tracked).toBe(MAX_TRACKED_PEERS);
    for (let i = 0; i < 10; i++) expect(th.refused('one more', 0)).toBe(0);
    expect(th.tracked).toBe(MAX_TRACKED_PEERS);
  });

  it('property: over any refusals, a peer gets through at most burst + rate × time (+ one overdraft), and holds never overlap', () => {
    const MAX_BYTES = 64 * 1024;
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 500 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 50 }), fc.oneof(fc.constant(0), fc.integer({ min: 0, max: MAX_BYTES }))), { maxLength: 3000 }),
        (rate, steps) => {
          const th = new RefusalThrottle(rate);
          const peers = [0, 1, 2].map(() => ({ through: 0, heldUntil: 0, first: -1 }));
          let t = 0;
          for (const [p, dt, bytes] of steps) {
            t += dt;
            const peer = peers[p]!;
            if (peer.first < 0) peer.first = t;
            const ms = th.refused(p, t, bytes);
            if (ms > 0) {
              expect(t).toBeGreaterThanOrEqual(peer.heldUntil); // no new hold while one runs
              expect(ms).toBeGreaterThanOrEqual(BASE_HOLD_MS);
              expect(ms).toBeLessThanOrEqual(MAX_HOLD_MS);
              peer.heldUntil = t + ms;
            } else if (t >= peer.heldUntil) {
              peer.through += refusalCost(bytes);
              // token bucket: a burst of `rate`, then `rate` per second; the last one may overdraw
              expect(peer.through).toBeLessThanOrEqual(rate + ((t - peer.first) * rate) / 1000 + refusalCost(MAX_BYTES) - 1 + 1e-9);
            }
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

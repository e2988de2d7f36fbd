/**
 * BrokerPool: the failover order of a Client's or Worker's brokers, against a small model (round
 * robin, only a failure of the current broker moves on), and resolveBrokers' checks.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { BrokerPool, resolveBrokers } from '../../src/mdp/broker_pool.ts';
import { isMdpError, MdpErrorCode } from '../../src/mdp/mod.ts';

const eps = (n: number): string[] => Array.from({ length: n }, (_, i) => `tcp://127.0.0.1:${6000 + i}`);

describe('BrokerPool', () => {
  it('moves round robin, only when the current broker fails, and counts every failure', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }).chain((n) => fc.tuple(fc.constant(n), fc.array(fc.integer({ min: 0, max: n - 1 }), { maxLength: 40 }))),
        ([n, failures]) => {
          const pool = new BrokerPool(eps(n));
          let current = 0;
          let moves = 0;
          const counts = new Array<number>(n).fill(0);
          for (const i of failures) {
            const next = pool.fail(i, 'timeout');
            counts[i]!++;
            if (i === current && n > 1) {
              current = (current + 1) % n;
              moves++;
              expect(next).toBe(current);
            } else expect(next).toBeUndefined();
            expect(pool.current).toBe(current);
          }
          const snap = pool.snapshot();
          expect(snap.map((b) => b.failures)).toEqual(counts);
          expect(snap.filter((b) => b.current).map((b) => b.endpoint)).toEqual([eps(n)[current]]);
          expect(snap.reduce((sum, b) => sum + b.selected, 0)).toBe(1 + moves);
          expect(snap.every((b) => (b.failures === 0) === (b.lastFailure === null))).toBe(true);
        },
      ),
    );
  });

  it('counts connections, never below zero, and keeps the time a broker was last heard', () => {
    const pool = new BrokerPool(eps(2));
    pool.connection(1, 1);
    pool.connection(1, 1);
    pool.connection(1, -1);
    pool.connection(0, -1);
    pool.seen(1);
    pool.request(1);
    pool.reply(1);
    const [a, b] = pool.snapshot();
    expect(a).toMatchObject({ connected: false, lastSeen: null, requests: 0, replies: 0 });
    expect(b).toMatchObject({ connected: true, requests: 1, replies: 1 });
    expect(typeof b!.lastSeen).toBe('number');
    pool.connection(1, -1);
    expect(pool.snapshot()[1]!.connected).toBe(false);
  });

  it('resolveBrokers: one source of brokers, valid and distinct, or the default', () => {
    const [a, b] = eps(2) as [string, string];
    expect(resolveBrokers('Client', a, undefined, undefined, ['d'])).toEqual([a]);
    expect(resolveBrokers('Client', [a, b], undefined, undefined, ['d'])).toEqual([a, b]);
    expect(resolveBrokers('Client', undefined, [b], undefined, ['d'])).toEqual([b]);
    expect(resolveBrokers('Client', undefined, undefined, `${a},${b}`, ['d'])).toEqual([a, b]);
    expect(resolveBrokers('Client', undefined, undefined, undefined, ['d'])).toEqual(['d']);
    const issue = (f: () => unknown): string => {
      try {
        f();
      } catch (e) {
        if (isMdpError(e) && e.code === MdpErrorCode.CONFIG) return e.issues.join('\n');
      }
      return 'no error';
    };
    expect(issue(() => resolveBrokers('Worker', a, [b], undefined, []))).toMatch(/^Worker option brokers: name the brokers once .* not 2 times$/);
    expect(issue(() => resolveBrokers('Worker', [a, a], undefined, undefined, []))).toBe(`Worker option brokers: ${a} is listed twice`);
    expect(issue(() => resolveBrokers('Worker', { a } as unknown as string, undefined, undefined, []))).toBe('endpoint');
    expect(issue(() => resolveBrokers('Worker', undefined, undefined, [a, 'tcp://x:0'], []))).toMatch(/^Worker option brokers: must be endpoints .* got "tcp:\/\/x:0"$/);
  });
});

/**
 * The registry's eviction order on its own: the EvictionList against a plain array model (fast-check),
 * under any sequence of additions, removals and evictions, including the broker's spray pattern
 * (a record added and at once removed again, many times over).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { EvictionList, type Service } from '../../../src/mdp/broker/registry.ts';

/** Just the fields the list reads and writes. */
function record(n: number): Service {
  return { key: `s${n}`, evictPrev: undefined, evictNext: undefined, evictable: false } as unknown as Service;
}

type Op = { op: 'add' | 'delete'; at: number } | { op: 'evict' };

const ops = fc.array(
  fc.oneof(
    fc.record({ op: fc.constant<'add'>('add'), at: fc.nat(15) }),
    fc.record({ op: fc.constant<'delete'>('delete'), at: fc.nat(15) }),
    fc.record({ op: fc.constant<'evict'>('evict') }),
  ) as fc.Arbitrary<Op>,
  { maxLength: 300 },
);

describe('EvictionList', () => {
  it('keeps the records that hold nothing oldest first, as an array model does', () => {
    fc.assert(
      fc.property(ops, (sequence) => {
        const records = Array.from({ length: 16 }, (_, i) => record(i));
        const list = new EvictionList();
        const model: Service[] = [];
        for (const step of sequence) {
          if (step.op === 'add') {
            const s = records[step.at]!;
            list.add(s);
            if (!model.includes(s)) model.push(s);
          } else if (step.op === 'delete') {
            const s = records[step.at]!;
            list.delete(s);
            const i = model.indexOf(s);
            if (i >= 0) model.splice(i, 1);
          } else {
            const oldest = list.oldest();
            expect(oldest).toBe(model[0]);
            if (oldest) {
              list.delete(oldest);
              model.shift();
            }
          }
          expect(list.size).toBe(model.length);
          expect(list.oldest()).toBe(model[0]);
          for (const s of records) expect(s.evictable).toBe(model.includes(s));
        }
        // the whole order, by draining
        const drained: Service[] = [];
        for (let s = list.oldest(); s; s = list.oldest()) {
          drained.push(s);
          list.delete(s);
        }
        expect(drained).toEqual(model);
      }),
    );
  });

  it('takes the oldest after a long spray of records added and taken out again', () => {
    const list = new EvictionList();
    const kept = record(-1);
    list.add(kept);
    for (let i = 0; i < 100_000; i++) {
      const s = record(i);
      list.add(s);
      list.delete(s);
    }
    expect(list.oldest()).toBe(kept);
    expect(list.size).toBe(1);
  });
});

import { describe, expect, it } from 'vitest';
import { Fifo } from '../../../src/util/fifo.ts';

describe('util/fifo', () => {
  it('is first in, first out', () => {
    const q = new Fifo<number>();
    expect(q.length).toBe(0);
    expect(q.shift()).toBeUndefined();
    expect(q.peek()).toBeUndefined();
    q.push(1);
    q.push(2);
    q.push(3);
    expect(q.length).toBe(3);
    expect(q.peek()).toBe(1);
    expect(q.shift()).toBe(1);
    expect(q.shift()).toBe(2);
    q.push(4);
    expect([...q]).toEqual([3, 4]);
    expect(q.length).toBe(2);
  });

  it('keeps order and length across the compaction of a long dead prefix', () => {
    const q = new Fifo<number>();
    let next = 0;
    let expected = 0;
    for (let round = 0; round < 10; round++) {
      for (let i = 0; i < 3000; i++) q.push(next++);
      for (let i = 0; i < 2500; i++) expect(q.shift()).toBe(expected++);
      expect(q.length).toBe(next - expected);
      expect(q.peek()).toBe(expected);
    }
    const rest = [...q];
    expect(rest.length).toBe(next - expected);
    expect(rest[0]).toBe(expected);
    expect(rest[rest.length - 1]).toBe(next - 1);
  });

  it('drain() returns everything oldest first and empties the queue', () => {
    const q = new Fifo<string>();
    q.push('a');
    q.push('b');
    q.push('c');
    q.shift();
    expect(q.drain()).toEqual(['b', 'c']);
    expect(q.length).toBe(0);
    expect(q.shift()).toBeUndefined();
    q.push('d');
    expect([...q]).toEqual(['d']);
  });

  it('can hold falsy items', () => {
    const q = new Fifo<number | null>();
    q.push(0);
    q.push(null);
    expect(q.length).toBe(2);
    expect(q.shift()).toBe(0);
    expect(q.shift()).toBe(null);
    expect(q.length).toBe(0);
  });
});

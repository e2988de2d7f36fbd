import { describe, expect, it } from 'vitest';
import { SubscriptionSet } from '../../../src/socket/subscriptions.ts';

const b = (s: string): Uint8Array => new TextEncoder().encode(s);
const u8 = (...x: number[]): Uint8Array => Uint8Array.from(x);

describe('socket/subscriptions SubscriptionSet', () => {
  it('is counted: subscribing twice needs two cancels (RFC 29)', () => {
    const s = new SubscriptionSet();
    expect(s.add(b('A'))).toBe(true); // new
    expect(s.add(b('A'))).toBe(false); // count 2
    expect(s.size).toBe(1);
    expect(s.remove(b('A'))).toBe(false); // count 1
    expect(s.has(b('A'))).toBe(true);
    expect(s.matches(b('ABC'))).toBe(true);
    expect(s.remove(b('A'))).toBe(true); // gone
    expect(s.has(b('A'))).toBe(false);
    expect(s.matches(b('ABC'))).toBe(false);
    expect(s.size).toBe(0);
  });

  it('removing an unknown topic is a no-op', () => {
    const s = new SubscriptionSet();
    expect(s.remove(b('X'))).toBe(false);
    s.add(b('A'));
    expect(s.remove(b('AB'))).toBe(false);
    expect(s.remove(b(''))).toBe(false);
    expect(s.has(b('A'))).toBe(true);
  });

  it('matches by byte prefix of the first frame', () => {
    const s = new SubscriptionSet();
    s.add(b('AB'));
    s.add(b('xyz'));
    expect(s.matches(b('AB'))).toBe(true);
    expect(s.matches(b('ABC'))).toBe(true);
    expect(s.matches(b('A'))).toBe(false);
    expect(s.matches(b('BA'))).toBe(false);
    expect(s.matches(b('xy'))).toBe(false);
    expect(s.matches(b('xyz-1'))).toBe(true);
    expect(s.matches(b(''))).toBe(false);
    expect(s.matches(undefined)).toBe(false);
  });

  it('is binary, not text: 0x00 and 0xff bytes, no UTF-8 folding', () => {
    const s = new SubscriptionSet();
    s.add(u8(0x00, 0xff));
    expect(s.matches(u8(0x00, 0xff, 0x01))).toBe(true);
    expect(s.matches(u8(0x00, 0xfe))).toBe(false);
    expect(s.matches(u8(0x00))).toBe(false);
    s.add(b('é')); // c3 a9
    expect(s.matches(u8(0xc3, 0xa9, 0x41))).toBe(true);
    expect(s.matches(u8(0xe9))).toBe(false);
  });

  it('the empty subscription matches everything, even an empty or missing first frame', () => {
    const s = new SubscriptionSet();
    expect(s.matches(b('anything'))).toBe(false);
    expect(s.add(new Uint8Array(0))).toBe(true);
    expect(s.matches(b('anything'))).toBe(true);
    expect(s.matches(new Uint8Array(0))).toBe(true);
    expect(s.matches(undefined)).toBe(true);
    s.add(b('A')); // "A" plus "" behaves as "" alone
    expect(s.matches(b('B'))).toBe(true);
    expect(s.remove(new Uint8Array(0))).toBe(true);
    expect(s.matches(b('B'))).toBe(false);
    expect(s.matches(b('A1'))).toBe(true);
  });

  it('still matches shorter prefixes after the longest topic is removed', () => {
    const s = new SubscriptionSet();
    s.add(b('a-very-long-topic'));
    s.add(b('ab'));
    s.remove(b('a-very-long-topic'));
    expect(s.matches(b('abc'))).toBe(true);
    expect(s.matches(b('a-very-long-topic'))).toBe(false);
  });

  it('topics() lists each distinct topic once; clear() forgets all', () => {
    const s = new SubscriptionSet();
    s.add(b('A'));
    s.add(b('A'));
    s.add(u8(0xff));
    s.add(new Uint8Array(0));
    const topics = [...s.topics()].map((t) => Buffer.from(t).toString('hex')).sort();
    expect(topics).toEqual(['', '41', 'ff']);
    s.clear();
    expect(s.size).toBe(0);
    expect([...s.topics()]).toEqual([]);
    expect(s.matches(b('A'))).toBe(false);
    s.add(b('Z'));
    expect(s.matches(b('Z9'))).toBe(true);
  });
});

import { alloc } from '../util/bytes.ts';

/**
 * Counted prefix subscriptions (RFC 29: subscribing twice needs two cancels). Keys are the topic
 * bytes as a latin1 string, so matching a message is one Map lookup per prefix length.
 */
export class SubscriptionSet {
  private readonly counts = new Map<string, number>();
  private longest = 0;

  get size(): number {
    return this.counts.size;
  }

  /** Returns true when the topic is new (count went 0 → 1). */
  add(topic: Uint8Array): boolean {
    const key = latin1(topic);
    const n = this.counts.get(key) ?? 0;
    this.counts.set(key, n + 1);
    if (topic.length > this.longest) this.longest = topic.length;
    return n === 0;
  }

  /** Returns true when the topic is gone (count went 1 → 0). */
  remove(topic: Uint8Array): boolean {
    const key = latin1(topic);
    const n = this.counts.get(key);
    if (n === undefined) return false;
    if (n > 1) {
      this.counts.set(key, n - 1);
      return false;
    }
    this.counts.delete(key);
    return true;
  }

  has(topic: Uint8Array): boolean {
    return this.counts.has(latin1(topic));
  }

  matches(data: Uint8Array | undefined): boolean {
    if (this.counts.size === 0) return false;
    if (this.counts.has('')) return true;
    if (!data) return false;
    const max = Math.min(this.longest, data.length);
    let key = '';
    for (let i = 0; i < max; i++) {
      key += String.fromCharCode(data[i]!);
      if (this.counts.has(key)) return true;
    }
    return false;
  }

  /** Distinct topics, for re-sending after a reconnect. */
  *topics(): IterableIterator<Uint8Array> {
    for (const key of this.counts.keys()) {
      const t = alloc(key.length);
      for (let i = 0; i < key.length; i++) t[i] = key.charCodeAt(i);
      yield t;
    }
  }

  clear(): void {
    this.counts.clear();
    this.longest = 0;
  }
}

function latin1(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]!);
  return s;
}

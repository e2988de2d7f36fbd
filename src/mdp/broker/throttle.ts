/**
 * Which peers to stop reading for a while because the broker keeps refusing what they send.
 *
 * Refusing a message is cheap, but a peer that sends nothing else keeps a broker at full CPU: on a
 * loaded host the broker's other peers then wait for it, and for their own processes, to be
 * scheduled. A peer over its budget is held back instead (the broker stops reading its
 * connection, so that TCP's flow control makes its sends wait), which costs nothing.
 *
 * Pure state, fed the time: a token bucket per peer (`ratePerSecond` refusals per second, a burst
 * of as many), and a hold that starts at BASE_HOLD_MS and doubles, up to MAX_HOLD_MS, for each
 * hold that follows the last one within STRIKE_MEMORY_MS. A refusal costs one token per started
 * BYTES_PER_TOKEN of the message, since reading and refusing 256 KiB costs the broker more than
 * 40 bytes do; a peer with a token left may overdraw, and waits for the bucket to refill.
 */
import type { PeerKey } from './registry.ts';

export const BASE_HOLD_MS = 100;
export const MAX_HOLD_MS = 5000;
/** A peer held this long ago (or never) starts again from BASE_HOLD_MS. */
export const STRIKE_MEMORY_MS = 60_000;
/** Peers tracked at once; past it a new peer is not held back (the table stays bounded). */
export const MAX_TRACKED_PEERS = 65_536;
/** A refused message costs one token per started BYTES_PER_TOKEN. */
export const BYTES_PER_TOKEN = 4096;

/** Tokens a refused message of `bytes` costs. */
export function refusalCost(bytes: number): number {
  return bytes <= BYTES_PER_TOKEN ? 1 : Math.ceil(bytes / BYTES_PER_TOKEN);
}

interface PeerBudget {
  tokens: number;
  /** When the tokens were last refilled (ms). */
  refilledAt: number;
  /** End of the current or last hold (ms); 0 before the first. */
  heldUntil: number;
  /** Holds in a row (each within STRIKE_MEMORY_MS of the one before). */
  strikes: number;
}

export class RefusalThrottle {
  private readonly peers = new Map<PeerKey, PeerBudget>();
  private readonly ratePerMs: number;
  private readonly burst: number;
  /** Holds started since the broker did (a counter for the operator). */
  holds = 0;

  constructor(ratePerSecond: number) {
    this.ratePerMs = ratePerSecond / 1000;
    this.burst = ratePerSecond;
  }

  get tracked(): number {
    return this.peers.size;
  }

  /**
   * A message from `peer` of `bytes` was refused at `t` (ms, monotonic). Returns how long to stop
   * reading the peer, or 0 to go on. While a hold runs it returns 0: the messages read before it
   * are still coming, and the hold already answers them.
   */
  refused(peer: PeerKey, t: number, bytes = 0): number {
    if (this.burst === 0) return 0;
    let b = this.peers.get(peer);
    if (b === undefined) {
      if (this.peers.size >= MAX_TRACKED_PEERS) return 0;
      b = { tokens: this.burst, refilledAt: t, heldUntil: 0, strikes: 0 };
      this.peers.set(peer, b);
    }
    if (t < b.heldUntil) return 0;
    b.tokens = Math.min(this.burst, b.tokens + (t - b.refilledAt) * this.ratePerMs);
    b.refilledAt = t;
    if (b.tokens >= 1) {
      b.tokens -= refusalCost(bytes);
      return 0;
    }
    if (b.heldUntil === 0 || t - b.heldUntil > STRIKE_MEMORY_MS) b.strikes = 0;
    const ms = Math.min(MAX_HOLD_MS, BASE_HOLD_MS * 2 ** b.strikes);
    if (ms < MAX_HOLD_MS) b.strikes++;
    b.heldUntil = t + ms;
    this.holds++;
    return ms;
  }

  /** Forgets peers with a full bucket whose last hold is out of memory (called from a timer). */
  purge(t: number): void {
    for (const [peer, b] of this.peers) {
      const full = b.tokens + (t - b.refilledAt) * this.ratePerMs >= this.burst;
      if (full && (b.heldUntil === 0 || t - b.heldUntil > STRIKE_MEMORY_MS)) this.peers.delete(peer);
    }
  }
}

import { SOCKET_TYPE_NUMBERS } from '../zmtp/socket_types.ts';
import { createError, ErrorCode } from '../errors.ts';
import type { Message } from '../engine/link.ts';
import { ENCODED, encodeOnce, type MaybeEncoded } from '../engine/writer.ts';
import type { SocketOptions } from './options.ts';
import type { Pipe } from './pipe.ts';
import { CONFIGURED_BY_SUBCLASS, SocketBase } from './socket_base.ts';
import { SubscriptionSet } from './subscriptions.ts';

export interface PublisherOptions extends SocketOptions {
  /** Block (wait) instead of dropping when a matching subscriber is at its HWM (ZMQ_XPUB_NODROP). */
  noDrop: boolean;
  /**
   * ZMQ_INVERT_MATCHING: send each message to the subscribers none of whose subscriptions match it
   * (the subscribers must invert too).
   */
  invertMatching: boolean;
  /** ZMQ_CONFLATE (PUB only): keep only the newest message queued for each subscriber. */
  conflate: boolean;
}

export const PUBLISHER_OPTIONS = { noDrop: 'boolean', invertMatching: 'boolean' } as const;

/**
 * PUB (RFC 29): sends each message to every peer subscribed to a prefix of its first frame.
 * A peer at its HWM misses the message (counted in droppedMessages); PUB never blocks.
 */
export class Publisher extends SocketBase {
  noDrop = false;
  invertMatching = false;

  constructor(options: Partial<PublisherOptions> = {}, type: 'PUB' | 'XPUB' = 'PUB') {
    super(SOCKET_TYPE_NUMBERS[type], CONFIGURED_BY_SUBCLASS);
    if (type === 'PUB') this.configure(options, { ...PUBLISHER_OPTIONS, conflate: 'boolean' });
  }

  /** Whether `pipe`'s subscriber is to get a message whose first frame is `first`. */
  private wants(pipe: Pipe, first: Uint8Array | undefined): boolean {
    return (pipe.subscriptions?.matches(first) ?? false) !== this.invertMatching;
  }

  protected override xpeer(pipe: Pipe): undefined {
    // a (re)connected subscriber re-sends its subscriptions: start from none
    pipe.subscriptions = new SubscriptionSet();
    return undefined;
  }

  protected override xpeerGone(pipe: Pipe): void {
    pipe.subscriptions?.clear();
  }

  /** SUBSCRIBE/CANCEL commands (ZMTP 3.1 peers). Returns whether the set changed. */
  protected override xsubscription(pipe: Pipe, topic: Uint8Array, subscribe: boolean): boolean {
    const subs = (pipe.subscriptions ??= new SubscriptionSet());
    // a set per peer, as libzmq's mtrie: a repeated SUBSCRIBE changes nothing, one CANCEL removes
    // (subscribers count locally and cancel once their count reaches zero)
    if (subscribe) return !subs.has(topic) && subs.add(topic);
    return subs.remove(topic);
  }

  /** PUB reads its peers only for subscriptions in the 3.0 message form; anything else is dropped. */
  override onPipeReadable(pipe: Pipe): void {
    let msg: Message | undefined;
    while ((msg = pipe.read()) !== undefined) this.upstream(pipe, msg);
  }

  /** A message from a subscriber: 0x01/0x00 + topic is a subscription (RFC 29, ZMTP 3.0 form). */
  protected upstream(pipe: Pipe, msg: Message): void {
    const first = msg[0]!;
    if (msg.length === 1 && first.length > 0 && (first[0] === 1 || first[0] === 0)) {
      this.xsubscription(pipe, first.subarray(1), first[0] === 1);
    }
  }

  protected override xsend(msg: Message): boolean {
    const first = msg[0];
    if (this.noDrop) {
      for (const pipe of this.pipes) {
        if (pipe.active && this.wants(pipe, first) && !pipe.writable) return false;
      }
    }
    let receivers = 0;
    for (const pipe of this.pipes) {
      if (!pipe.active || !this.wants(pipe, first)) continue;
      if (!pipe.writable) {
        this.droppedMessages++;
        continue;
      }
      // from the second receiver on, every session sends the same bytes: encode them once (the
      // first receiver's queue holds this same array, so it gets the encoding too)
      if (++receivers === 2) {
        const encoded = encodeOnce(msg);
        if (encoded) (msg as MaybeEncoded)[ENCODED] = encoded;
      }
      pipe.write(msg);
    }
    return true;
  }

  protected override xrecv(): Message | undefined {
    throw createError(ErrorCode.ENOTSUP, 'Socket type PUB cannot receive');
  }
}

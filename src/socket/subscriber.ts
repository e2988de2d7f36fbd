import { SOCKET_TYPE_NUMBERS } from '../zmtp/socket_types.ts';
import { createError, ErrorCode } from '../errors.ts';
import type { Message } from '../engine/link.ts';
import { toFrame } from '../util/bytes.ts';
import type { SocketOptions } from './options.ts';
import type { Pipe } from './pipe.ts';
import { CONFIGURED_BY_SUBCLASS, SocketBase } from './socket_base.ts';
import { SubscriptionSet } from './subscriptions.ts';
import type { SocketType } from '../zmtp/socket_types.ts';

/**
 * XSUB: subscriptions are messages whose first byte is 0x01 (subscribe) or 0x00 (cancel); they
 * go to every publisher in the form each understands. Other messages go upstream to all of them.
 * Nothing is filtered on receipt.
 */
export class XSubscriber extends SocketBase {
  protected readonly subscriptions = new SubscriptionSet();

  constructor(options: Partial<SocketOptions> = {}, type: SocketType = 'XSUB') {
    super(SOCKET_TYPE_NUMBERS[type], CONFIGURED_BY_SUBCLASS);
    // libzmq's xsub: closing does not wait for subscriptions still on their way
    this.linger = 0;
    if (type === 'XSUB') this.configure(options);
  }

  protected override xpeer(pipe: Pipe): undefined {
    // libzmq re-sends each distinct subscription after every (re)connect
    for (const topic of this.subscriptions.topics()) pipe.link?.sendSubscription(topic, true);
    return undefined;
  }

  protected applySubscription(topic: Uint8Array, subscribe: boolean): void {
    if (subscribe) this.subscriptions.add(topic);
    else if (!this.subscriptions.remove(topic)) {
      // as libzmq: every subscribe goes out, a cancel only once the last reference is gone
      // (publishers keep a set per peer, so one CANCEL undoes any number of SUBSCRIBEs)
      return;
    }
    for (const pipe of this.pipes) if (pipe.active) pipe.link!.sendSubscription(topic, subscribe);
  }

  protected override xsend(msg: Message): boolean {
    const first = msg[0]!;
    if (msg.length === 1 && first.length > 0 && (first[0] === 1 || first[0] === 0)) {
      this.applySubscription(first.subarray(1), first[0] === 1);
      return true;
    }
    for (const pipe of this.pipes) {
      if (pipe.active && pipe.writable) pipe.write(msg);
      else if (pipe.active) this.droppedMessages++;
    }
    return true;
  }

  protected override xrecv(): Message | undefined {
    return this.fairRecv();
  }
}

export interface SubscriberOptions extends SocketOptions {
  /** ZMQ_INVERT_MATCHING: deliver only the messages that no subscription matches (the publisher must invert too). */
  invertMatching: boolean;
  /** ZMQ_CONFLATE: keep only the newest message from each publisher (the last value of a feed). */
  conflate: boolean;
}

/** SUB (RFC 29): subscribe() / unsubscribe() by prefix; also filters what arrives. Receive-only. */
export class Subscriber extends XSubscriber {
  invertMatching = false;

  constructor(options: Partial<SubscriberOptions> = {}) {
    super(options, 'SUB');
    this.configure(options, { invertMatching: 'boolean', conflate: 'boolean' });
  }

  /** Subscribes to each prefix; no argument subscribes to everything. */
  subscribe(...topics: Array<string | Uint8Array>): void {
    if (this.closed) throw createError(ErrorCode.EBADF, 'Socket is closed');
    if (topics.length === 0) topics = [''];
    for (const t of topics) this.applySubscription(toFrame(t), true);
  }

  unsubscribe(...topics: Array<string | Uint8Array>): void {
    if (this.closed) throw createError(ErrorCode.EBADF, 'Socket is closed');
    if (topics.length === 0) topics = [''];
    for (const t of topics) this.applySubscription(toFrame(t), false);
  }

  protected override xsend(): boolean {
    throw createError(ErrorCode.ENOTSUP, 'Socket type SUB cannot send; use subscribe()');
  }

  protected override xrecv(): Message | undefined {
    for (;;) {
      const msg = this.fairRecv();
      if (!msg) return undefined;
      if (this.subscriptions.matches(msg[0]) !== this.invertMatching) return msg;
    }
  }
}

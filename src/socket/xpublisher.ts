import type { Message } from '../engine/link.ts';
import { createError, ErrorCode } from '../errors.ts';
import { alloc, fromString } from '../util/bytes.ts';
import { Fifo } from '../util/fifo.ts';
import type { Pipe } from './pipe.ts';
import { Publisher, PUBLISHER_OPTIONS, type PublisherOptions } from './publisher.ts';

export interface XPublisherOptions extends PublisherOptions {
  /**
   * Which subscription messages reach the application: null (default) only new topics and last
   * cancels, 'allSubs' every subscribe, 'allSubsUnsubs' every subscribe and cancel.
   */
  verbosity: null | 'allSubs' | 'allSubsUnsubs';
  /** ZMQ_XPUB_WELCOME_MSG: sent to each subscriber as it connects (it must subscribe to it to see it). */
  welcomeMessage: string | null;
  /** ZMQ_XPUB_MANUAL: only `false`; there is no call to apply subscriptions by hand (nor in zeromq.js). */
  manual: boolean;
}

/**
 * XPUB: a PUB whose application also receives subscriptions (as 0x01/0x00 + topic messages,
 * whatever form they arrived in) and any other message subscribers send upstream.
 */
export class XPublisher extends Publisher {
  verbosity: XPublisherOptions['verbosity'] = null;
  welcomeMessage: string | null = null;
  /** Always false: manual mode is refused (see XPublisherOptions). */
  readonly manual = false;
  private readonly pending = new Fifo<Message>();

  constructor(options: Partial<XPublisherOptions> = {}) {
    super({}, 'XPUB');
    if (options.manual) throw createError(ErrorCode.ENOTSUP, 'XPUB manual subscription mode is not supported');
    const { manual: _manual, ...rest } = options;
    this.configure(rest, { ...PUBLISHER_OPTIONS, verbosity: 'string', welcomeMessage: 'string' });
  }

  protected override xpeer(pipe: Pipe): undefined {
    super.xpeer(pipe);
    if (this.welcomeMessage !== null) pipe.write([fromString(this.welcomeMessage)]);
    return undefined;
  }

  protected override xsubscription(pipe: Pipe, topic: Uint8Array, subscribe: boolean): boolean {
    const had = this.subscribed(topic);
    const changed = super.xsubscription(pipe, topic, subscribe);
    // as libzmq: by default only a topic's first subscriber and the loss of its last one are told
    const tell = subscribe
      ? !had || this.verbosity !== null
      : !this.subscribed(topic) || this.verbosity === 'allSubsUnsubs';
    if (tell) this.queue([subscriptionEvent(topic, subscribe)]);
    return changed;
  }

  protected override xpeerGone(pipe: Pipe): void {
    const topics = pipe.subscriptions ? [...pipe.subscriptions.topics()] : [];
    super.xpeerGone(pipe);
    // as libzmq: a departed subscriber's topics that nobody else wants are cancelled upstream
    for (const t of topics) {
      if (this.verbosity === 'allSubsUnsubs' || !this.subscribed(t)) this.queue([subscriptionEvent(t, false)]);
    }
  }

  /** Some peer is subscribed to exactly `topic`. */
  private subscribed(topic: Uint8Array): boolean {
    for (const p of this.pipes) if (p.subscriptions?.has(topic)) return true;
    return false;
  }

  protected override upstream(pipe: Pipe, msg: Message): void {
    const first = msg[0]!;
    if (msg.length === 1 && first.length > 0 && (first[0] === 1 || first[0] === 0)) {
      this.xsubscription(pipe, first.subarray(1), first[0] === 1);
    } else {
      this.queue(msg);
    }
  }

  /** Bounded by receiveHighWaterMark; beyond it events are dropped and counted. */
  private queue(msg: Message): void {
    const limit = this.receiveHighWaterMark > 0 ? this.receiveHighWaterMark : Infinity;
    if (this.pending.length >= limit) {
      this.droppedMessages++;
      return;
    }
    this.pending.push(msg);
    if (this.hasReceivers) this.wakeReceivers();
  }

  override get readable(): boolean {
    return !this.closed && this.pending.length > 0;
  }

  protected override xrecv(): Message | undefined {
    return this.pending.shift();
  }
}

/** `0x01 + topic` (subscribe) or `0x00 + topic` (cancel), the form XPUB applications read. */
function subscriptionEvent(topic: Uint8Array, subscribe: boolean): Uint8Array {
  const event = alloc(topic.length + 1);
  event[0] = subscribe ? 1 : 0;
  event.set(topic, 1);
  return event;
}

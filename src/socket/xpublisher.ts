import type { Message } from '../engine/link.ts';
import { Fifo } from '../util/fifo.ts';
import type { Pipe } from './pipe.ts';
import { Publisher, type PublisherOptions } from './publisher.ts';

export interface XPublisherOptions extends PublisherOptions {
  /**
   * Which subscription messages reach the application: null (default) only new topics and last
   * cancels, 'allSubs' every subscribe, 'allSubsUnsubs' every subscribe and cancel.
   */
  verbosity: null | 'allSubs' | 'allSubsUnsubs';
}

/**
 * XPUB: a PUB whose application also receives subscriptions (as 0x01/0x00 + topic messages,
 * whatever form they arrived in) and any other message subscribers send upstream.
 */
export class XPublisher extends Publisher {
  verbosity: XPublisherOptions['verbosity'] = null;
  private readonly pending = new Fifo<Message>();

  constructor(options: Partial<XPublisherOptions> = {}) {
    super({}, 'XPUB');
    this.configure(options, { noDrop: 'boolean', verbosity: 'string' });
  }

  protected override xsubscription(pipe: Pipe, topic: Uint8Array, subscribe: boolean): boolean {
    const changed = super.xsubscription(pipe, topic, subscribe);
    const tell = changed || (subscribe ? this.verbosity !== null : this.verbosity === 'allSubsUnsubs');
    if (tell) {
      const event = new Uint8Array(topic.length + 1);
      event[0] = subscribe ? 1 : 0;
      event.set(topic, 1);
      this.queue([event]);
    }
    return changed;
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

import { SOCKET_TYPE_NUMBERS } from '../zmtp/socket_types.ts';
import type { Message } from '../engine/link.ts';
import type { SocketOptions } from './options.ts';
import type { Pipe } from './pipe.ts';
import { CONFIGURED_BY_SUBCLASS, SocketBase } from './socket_base.ts';

/**
 * REP (RFC 28): strips the envelope (every frame up to and including the first empty one),
 * and sends the reply back with it to the peer that asked. A call out of turn waits for its turn
 * (within sendTimeout/receiveTimeout), as with zeromq.js: a send() before any request answers the
 * next one received, a second receive() gets the next request once the reply has gone.
 */
export class Reply extends SocketBase {
  private envelope: Uint8Array[] | undefined;
  private replyPipe: Pipe | undefined;

  constructor(options: Partial<SocketOptions> = {}) {
    super(SOCKET_TYPE_NUMBERS.REP, CONFIGURED_BY_SUBCLASS);
    this.configure(options);
  }

  protected override outOfTurn(op: 'send' | 'receive'): boolean {
    return op === 'send' ? this.envelope === undefined : this.envelope !== undefined;
  }

  protected override xsend(msg: Message): boolean {
    const envelope = this.envelope;
    const pipe = this.replyPipe;
    if (!envelope || !pipe) return false; // its turn comes with the next request
    this.envelope = undefined;
    this.replyPipe = undefined;
    this.turnChanged();
    if (pipe.detached || !pipe.active || !pipe.writable) {
      this.droppedMessages++; // the requester is gone or stuck: the reply is dropped, as in libzmq
      return true;
    }
    pipe.write(envelope.concat(msg));
    return true;
  }

  protected override xrecv(): Message | undefined {
    if (this.envelope) return undefined; // its turn comes with the reply
    for (;;) {
      const msg = this.fairRecv();
      if (!msg) return undefined;
      let i = 0;
      while (i < msg.length && msg[i]!.length !== 0) i++;
      // no delimiter, or nothing after it: not a request (libzmq discards these too)
      if (i >= msg.length - 1) continue;
      this.envelope = msg.slice(0, i + 1);
      this.replyPipe = this.lastPipe;
      this.turnChanged();
      return msg.slice(i + 1);
    }
  }
}

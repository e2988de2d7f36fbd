import { SOCKET_TYPE_NUMBERS } from '../zmtp/socket_types.ts';
import type { Message } from '../engine/link.ts';
import { alloc, EMPTY, readU32, writeU32 } from '../util/bytes.ts';
import type { SocketOptions } from './options.ts';
import { LoadBalancedSocket } from './load_balanced.ts';
import { CONFIGURED_BY_SUBCLASS } from './socket_base.ts';
import type { Pipe } from './pipe.ts';

export interface RequestOptions extends SocketOptions {
  /** Prefix requests with a request id and accept only the matching reply (ZMQ_REQ_CORRELATE). */
  correlate: boolean;
  /** Allow a new request before the reply arrived (ZMQ_REQ_RELAXED); the old reply is then ignored. */
  relaxed: boolean;
  /** ZMQ_PROBE_ROUTER: an empty message to every peer as it connects (for ROUTER peers). */
  probeRouter: boolean;
}

const REQUEST_OPTIONS = { correlate: 'boolean', relaxed: 'boolean', probeRouter: 'boolean' } as const;

/**
 * REQ (RFC 28): strict send/receive alternation, empty delimiter, reply only from the peer asked.
 * A call out of turn waits for its turn (within sendTimeout/receiveTimeout), as with zeromq.js:
 * a second send() goes out once the reply has been received, a receive() before any send() gets
 * the reply to the next request.
 */
export class Request extends LoadBalancedSocket {
  correlate = false;
  relaxed = false;
  private awaitingReply = false;
  private replyPipe: Pipe | undefined;
  private requestId = (Math.random() * 0xffffffff) >>> 0;

  constructor(options: Partial<RequestOptions> = {}) {
    super(SOCKET_TYPE_NUMBERS.REQ, CONFIGURED_BY_SUBCLASS);
    this.configure(options, REQUEST_OPTIONS);
  }

  protected override outOfTurn(op: 'send' | 'receive'): boolean {
    return op === 'send' ? this.awaitingReply && !this.relaxed : !this.awaitingReply;
  }

  /** False while a reply is awaited, as libzmq's REQ reports it (unless relaxed). */
  override get writable(): boolean {
    return !this.outOfTurn('send') && super.writable;
  }

  protected override xsend(msg: Message): boolean {
    if (this.awaitingReply && !this.relaxed) return false; // its turn comes with the reply
    let envelope: Uint8Array[];
    if (this.correlate) {
      this.requestId = (this.requestId + 1) >>> 0;
      const id = alloc(4);
      writeU32(id, 0, this.requestId);
      envelope = [id, EMPTY];
    } else {
      envelope = [EMPTY];
    }
    const pipe = this.lb.send(envelope.concat(msg));
    if (!pipe) return false;
    this.replyPipe = pipe;
    this.awaitingReply = true;
    return true;
  }

  protected override xrecv(): Message | undefined {
    if (!this.awaitingReply) return undefined; // its turn comes with the next request
    for (;;) {
      const msg = this.fairRecv();
      if (!msg) return undefined;
      if (this.lastPipe !== this.replyPipe) continue; // not from the peer we asked: discard (RFC 28)
      let body: number;
      if (this.correlate) {
        if (msg.length < 3 || msg[0]!.length !== 4 || msg[1]!.length !== 0) continue;
        if (readU32(msg[0]!, 0) !== this.requestId) continue;
        body = 2;
      } else {
        if (msg.length < 2 || msg[0]!.length !== 0) continue; // no delimiter: malformed reply
        body = 1;
      }
      this.awaitingReply = false;
      this.replyPipe = undefined;
      this.turnChanged();
      return msg.slice(body);
    }
  }
}

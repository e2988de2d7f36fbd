import { SOCKET_TYPE_NUMBERS } from '../zmtp/socket_types.ts';
import { createError, ErrorCode, type ZmqError } from '../errors.ts';
import type { Message } from '../engine/link.ts';
import { EMPTY } from '../util/bytes.ts';
import type { SocketOptions } from './options.ts';
import type { Pipe } from './pipe.ts';
import { RoutingIdGenerator, routingKey } from './routing_id.ts';
import { CONFIGURED_BY_SUBCLASS, SocketBase } from './socket_base.ts';

export interface RouterOptions extends SocketOptions {
  /** Fail with EHOSTUNREACH for unknown peers (and wait, not drop, when a peer is full). */
  mandatory: boolean;
  /** A new peer with an identity in use takes it over instead of being refused. */
  handover: boolean;
  /** ZMQ_PROBE_ROUTER: an empty message to every peer as it connects (for ROUTER peers). */
  probeRouter: boolean;
}

const ROUTER_OPTIONS = { mandatory: 'boolean', handover: 'boolean', probeRouter: 'boolean' } as const;

/**
 * ROUTER: prefixes each incoming message with the sender's routing id, and routes outgoing
 * messages by their first frame. Generated ids are 5 bytes, 0x00 + uint32, as libzmq makes them
 * (routing_id.ts).
 */
export class Router extends SocketBase {
  mandatory = false;
  handover = false;
  probeRouter = false;
  private readonly byId = new Map<string | number, Pipe>();
  /**
   * Peers that lost (or never got) their routing id to another connection. As in libzmq they stay
   * connected and their messages are dropped: closing them would only make them reconnect in a loop.
   */
  private readonly ignored = new WeakSet<Pipe>();
  private readonly ids = new RoutingIdGenerator();

  constructor(options: Partial<RouterOptions> = {}) {
    super(SOCKET_TYPE_NUMBERS.ROUTER, CONFIGURED_BY_SUBCLASS);
    this.configure(options, ROUTER_OPTIONS);
  }

  protected override xpeer(pipe: Pipe): ZmqError | undefined {
    let id = pipe.fixedRoutingId ?? pipe.peer?.identity ?? EMPTY;
    if (id.length === 0) id = this.generateId();
    const key = routingKey(id);
    const holder = this.byId.get(key);
    if (holder && holder !== pipe) {
      if (!this.handover) {
        this.ignored.add(pipe);
        return undefined;
      }
      this.byId.delete(key);
      this.ignored.add(holder);
    }
    this.ignored.delete(pipe);
    pipe.routingId = id;
    this.byId.set(key, pipe);
    if (this.probeRouter) pipe.write([EMPTY]);
    return undefined;
  }

  /**
   * A pipe from connect(addr, { routingId }) is addressable at once, as in libzmq (which creates
   * the pipe at connect time): messages to it queue until the connection is up.
   */
  protected override xattach(pipe: Pipe): void {
    const id = pipe.fixedRoutingId;
    if (!id || this.byId.has(routingKey(id))) return;
    pipe.routingId = id;
    this.byId.set(routingKey(id), pipe);
  }

  protected override xpeerGone(pipe: Pipe): void {
    // a connect-side pipe named by connect() keeps its name (and its queue) across reconnects
    if (!pipe.fixedRoutingId || pipe.detached) this.forget(pipe);
  }

  protected override xdetach(pipe: Pipe): void {
    this.forget(pipe);
  }

  private forget(pipe: Pipe): void {
    const key = routingKey(pipe.routingId);
    if (this.byId.get(key) === pipe) this.byId.delete(key);
  }

  /**
   * purezmq extension: whether a peer with this routing id is connected now, so that a send to it
   * would not fail with EHOSTUNREACH. A broker asks before it records a reply as delivered.
   */
  hasPeer(routingId: Uint8Array): boolean {
    const pipe = this.byId.get(routingKey(routingId));
    return pipe !== undefined && pipe.active;
  }

  /**
   * purezmq extension: takes no input from this peer for `ms` milliseconds. Its further messages
   * wait in its connection, and the transport's flow control makes its sends wait as at a full HWM;
   * nothing is dropped, and what was already read is still delivered. A later call replaces the
   * running hold (0 lifts it). Returns false when no peer has this routing id. A broker holds back
   * a peer whose messages it keeps refusing, so that refusing them stops costing it CPU.
   */
  pausePeer(routingId: Uint8Array, ms: number): boolean {
    if (!Number.isFinite(ms) || ms < 0) throw createError(ErrorCode.EINVAL, `pausePeer: ms must be a finite number >= 0, got ${ms}`);
    const pipe = this.byId.get(routingKey(routingId));
    if (!pipe || pipe.detached) return false;
    if (ms === 0) pipe.releaseInput();
    else pipe.holdInput(ms);
    return true;
  }

  private generateId(): Uint8Array {
    return this.ids.generate((key) => this.byId.has(key));
  }

  protected override xsend(msg: Message): boolean {
    if (msg.length < 2) {
      throw createError(ErrorCode.EINVAL, 'ROUTER messages need a routing id frame and a body');
    }
    const pipe = this.byId.get(routingKey(msg[0]!));
    if (!pipe || (!pipe.active && !pipe.fixedRoutingId)) {
      if (this.mandatory) throw createError(ErrorCode.EHOSTUNREACH, 'Host unreachable');
      this.droppedMessages++;
      return true;
    }
    if (!pipe.writable) {
      if (this.mandatory) return false;
      this.droppedMessages++;
      return true;
    }
    pipe.write(msg.slice(1));
    return true;
  }

  protected override xrecv(): Message | undefined {
    for (;;) {
      const msg = this.fairRecv();
      if (!msg) return undefined;
      if (this.ignored.has(this.lastPipe!)) {
        this.droppedMessages++;
        continue;
      }
      msg.unshift(this.lastPipe!.routingId);
      return msg;
    }
  }
}

import { SOCKET_TYPE_NUMBERS } from '../zmtp/socket_types.ts';
import { createError, ErrorCode, type ZmqError } from '../errors.ts';
import type { Engine, Message } from '../engine/link.ts';
import { RawSession } from '../engine/raw.ts';
import type { Connection } from '../transport/transport.ts';
import { EMPTY } from '../util/bytes.ts';
import type { SocketOptions } from './options.ts';
import type { Pipe } from './pipe.ts';
import { RoutingIdGenerator, routingKey } from './routing_id.ts';
import { CONFIGURED_BY_SUBCLASS, SocketBase } from './socket_base.ts';

export interface StreamOptions extends SocketOptions {
  /** ZMQ_STREAM_NOTIFY: an empty message `[id, '']` when a peer connects and when it goes away. */
  notify: boolean;
}

const STREAM_OPTIONS = { notify: 'boolean' } as const;

function notInproc(address: string): void {
  if (address.startsWith('inproc://')) throw createError(ErrorCode.ENOTSUP, 'A Stream socket speaks raw TCP or IPC, not inproc');
}

/**
 * STREAM (libzmq's ZMQ_STREAM, zeromq.js's Stream): plain TCP or IPC peers, no ZMTP. Messages are
 * `[routing id, data]` both ways: each chunk read from a connection arrives as one message, and
 * each message sent is written to the connection its id names, as it is. Sending `[id, '']` ends
 * that connection. A message of any other shape is refused with EINVAL (libzmq would read the
 * extra frames as the next message's id).
 */
export class Stream extends SocketBase {
  notify = true;
  private readonly byId = new Map<string | number, Pipe>();
  private readonly ids = new RoutingIdGenerator();
  /** Connections the application ended: their going away is not announced (as in libzmq). */
  private readonly endedByUs = new WeakSet<Pipe>();

  constructor(options: Partial<StreamOptions> = {}) {
    super(SOCKET_TYPE_NUMBERS.STREAM, CONFIGURED_BY_SUBCLASS);
    this.configure(options, STREAM_OPTIONS);
    // a pipe per connection, none kept across reconnects: bytes queued for one TCP connection
    // never belong to the next
    this.immediate = true;
  }

  override async bind(address: string): Promise<void> {
    notInproc(address);
    return super.bind(address);
  }

  override connect(address: string, options: { routingId?: string } = {}): void {
    notInproc(address);
    super.connect(address, options);
  }

  protected override createEngine(connection: Connection): Engine {
    return new RawSession(connection, this);
  }

  /** connect(addr, { routingId }): the peer is addressable at once; data queues until it is up (libzmq). */
  protected override pipeAtConnect(routingId: string | undefined): boolean {
    return routingId !== undefined;
  }

  protected override xattach(pipe: Pipe): void {
    const fixed = pipe.fixedRoutingId;
    if (!fixed || this.byId.has(routingKey(fixed))) return;
    pipe.routingId = fixed;
    this.byId.set(routingKey(fixed), pipe);
  }

  protected override xpeer(pipe: Pipe): ZmqError | undefined {
    const fixed = pipe.fixedRoutingId;
    const holder = fixed && this.byId.get(routingKey(fixed));
    if (holder && holder !== pipe) {
      return createError(ErrorCode.DUPLICATE_IDENTITY, 'the routing id given to connect() is in use by another connection');
    }
    const id = fixed ?? this.ids.generate((key) => this.byId.has(key));
    pipe.routingId = id;
    this.byId.set(routingKey(id), pipe);
    if (this.notify) pipe.pushIncoming([EMPTY]);
    return undefined;
  }

  protected override xpeerGone(pipe: Pipe): void {
    this.forget(pipe);
    if (this.notify && !this.endedByUs.has(pipe)) pipe.pushIncoming([EMPTY]);
  }

  protected override xdetach(pipe: Pipe): void {
    this.forget(pipe);
  }

  private forget(pipe: Pipe): void {
    const key = routingKey(pipe.routingId);
    if (this.byId.get(key) === pipe) this.byId.delete(key);
  }

  protected override xsend(msg: Message): boolean {
    if (msg.length !== 2) throw createError(ErrorCode.EINVAL, 'A Stream message is [routing id, data]');
    const pipe = this.byId.get(routingKey(msg[0]!));
    if (!pipe || (!pipe.active && !pipe.fixedRoutingId)) throw createError(ErrorCode.EHOSTUNREACH, 'Host unreachable');
    if (!pipe.writable) return false;
    const data = msg[1]!;
    if (data.length === 0) this.endedByUs.add(pipe);
    pipe.write([data]);
    return true;
  }

  protected override xrecv(): Message | undefined {
    const msg = this.fairRecv();
    if (!msg) return undefined;
    return [this.lastPipe!.routingId, msg[0]!];
  }
}

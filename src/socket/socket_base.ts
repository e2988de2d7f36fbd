import { createError, ErrorCode, ProtocolError, type ZmqError } from '../errors.ts';
import type { Engine, Message, PeerInfo, PipeEnd } from '../engine/link.ts';
import { Session, type SessionHost, type SessionOptions } from '../engine/session.ts';
import type { Mechanism } from '../mechanism/mechanism.ts';
import { createSecurityMechanism, mechanismName } from '../mechanism/security.ts';
import { zapHook } from '../zap/client.ts';
import { parseEndpoint } from '../transport/endpoint.ts';
import { netTransport } from '../transport/tcp.ts';
import type { Connection, Listener, ParsedEndpoint, StreamTransport } from '../transport/transport.ts';
import { EMPTY, fromString, toFrame, toString, type MessageLike } from '../util/bytes.ts';
import { Fifo } from '../util/fifo.ts';
import { attachSocket, context as defaultContext, Context, detachSocket } from './context.ts';
import { afterTurn, burstTooLong, clearTimer, unrefTimer, type TimerHandle } from '../util/timers.ts';
import { Metadata } from '../zmtp/metadata.ts';
import { isCompatible, sendsIdentity, SOCKET_TYPE_NUMBERS, socketTypeName, type SocketType } from '../zmtp/socket_types.ts';
import { InprocLink } from './inproc.ts';
import { Observer, type Event } from './observer.ts';
import {
  checkForeignOption, checkOption, DEFAULT_OPTIONS, HARD_MAX_FRAME_SIZE, NO_EFFECT_OPTIONS, OPTION_SPECS, optionByNumber, UNSUPPORTED_OPTIONS,
} from './options.ts';
import { emitWarning } from '../util/warn.ts';
import { hold, release } from '../util/keepalive.ts';
import { forgetForExit, registerForExit } from './exit.ts';
import { Pipe, type PipeOwner } from './pipe.ts';

export type { Message };
export type { MessageLike };

/** A pending send() or receive(); it keeps the process alive until settled (util/keepalive.ts). */
interface Waiter<T> {
  resolve: (value: T) => void;
  reject: (err: Error) => void;
  timer: TimerHandle | undefined;
  done: boolean;
  /** Holds the process (sockets ZAP runs on do not). */
  held: boolean;
}
interface SendWaiter extends Waiter<void> {
  msg: Message;
}

interface Binding {
  address: string; // as given to bind()
  endpoint: string; // resolved, as lastEndpoint reports it
  listener: Listener | undefined; // undefined for inproc
  sessions: Set<Engine>;
}

interface SessionContext {
  address: string;
  binding: Binding | undefined;
  connecter: Connecter | undefined;
  pipe: Pipe | undefined;
}

const RESOLVED: Promise<void> = Promise.resolve();

/** Protocol errors after which reconnecting with the same settings cannot help (libzmq stops too). */
const FATAL_CODES: ReadonlySet<string> = new Set([
  ErrorCode.PEER_ERROR,
  ErrorCode.AUTH_FAILED,
  ErrorCode.MECHANISM_MISMATCH,
  ErrorCode.INCOMPATIBLE_SOCKET_TYPE,
  ErrorCode.BAD_GREETING,
  ErrorCode.UNSUPPORTED_VERSION,
]);

/** A socket dropped without close() gives its context slot back once collected (zeromq.js closes it then). */
const unclosed = new FinalizationRegistry<Context>((ctx) => detachSocket(ctx));

// inproc endpoints are per process, like libzmq's per context
const inprocBound = new Map<string, SocketBase>();

/** RFC 27: a ZAP handler is bound at inproc://zeromq.zap.01. */
function zapHandlerBound(): boolean {
  const b = inprocBound.get('zeromq.zap.01');
  return b !== undefined && !b.closed;
}

/** Cap of the doubling reconnect delay after failed handshakes when reconnectMaxInterval is 0. */
const HANDSHAKE_RETRY_MAX_MS = 10_000;
const inprocPending = new Map<string, Set<Connecter>>();

export function eagain(): ZmqError {
  return createError(ErrorCode.EAGAIN, 'Operation was not possible or timed out');
}

function closedError(): ZmqError {
  return createError(ErrorCode.EBADF, 'Socket is closed');
}

function toMessage(message: MessageLike | MessageLike[]): Message {
  if (Array.isArray(message)) {
    if (message.length === 0) throw createError(ErrorCode.EINVAL, 'Cannot send an empty message');
    const out = new Array<Uint8Array>(message.length);
    for (let i = 0; i < message.length; i++) out[i] = toFrame(message[i]!);
    return out;
  }
  return [toFrame(message)];
}

/**
 * Everything socket types share: endpoints, connections, reconnects, pipes, waiting senders and
 * receivers, monitor events. A socket type supplies only its routing rules through the x* hooks.
 */
export class SocketBase implements PipeOwner, SessionHost, AsyncIterable<Message> {
  /** @internal the type as ZMTP names it (Socket-Type) */
  readonly socketType: SocketType;
  readonly events = new Observer();
  lastEndpoint: string | null = null;

  // Options live in `options` behind accessors on the prototype (installed below the class): a
  // setter validates as zeromq.js does, warns when the value only applies to the next connect or
  // bind, and applies high-water marks to existing pipes.
  declare routingId: string | null;
  declare linger: number;
  declare sendHighWaterMark: number;
  declare receiveHighWaterMark: number;
  declare sendTimeout: number;
  declare receiveTimeout: number;
  declare reconnectInterval: number;
  declare reconnectMaxInterval: number;
  declare connectTimeout: number;
  declare handshakeInterval: number;
  declare maxMessageSize: number;
  declare heartbeatInterval: number;
  declare heartbeatTimeToLive: number;
  declare heartbeatTimeout: number;
  declare immediate: boolean;
  declare ipv6: boolean;
  declare maxMessageFrames: number;
  declare maxReceiveQueueBytes: number;
  declare maxMessageBytes: number;
  declare backlog: number;
  declare tcpKeepalive: number;
  declare tcpKeepaliveIdle: number;
  declare plainServer: boolean;
  declare plainUsername: string | null;
  declare plainPassword: string | null;
  declare curveServer: boolean;
  declare curvePublicKey: string | Uint8Array | null;
  declare curveSecretKey: string | Uint8Array | null;
  declare curveServerKey: string | Uint8Array | null;
  declare zapDomain: string | null;
  declare zapEnforceDomain: boolean;
  declare socksProxy: string | null;
  /** @internal option values, behind the accessors */
  readonly options: Record<string, unknown> = { ...DEFAULT_OPTIONS, ...FOREIGN_DEFAULTS };
  private socketContext: Context | undefined = defaultContext;

  /** Messages dropped where ZeroMQ semantics drop (PUB/XPUB at HWM, ROUTER to an unknown peer, REP to a gone peer). */
  droppedMessages = 0;
  /**
   * ZMQ_CONFLATE (an option of DEALER, PUSH, PULL, PUB and SUB): every queue keeps only the newest
   * message, whole (libzmq keeps one frame of a multipart one), and sends never wait.
   */
  conflate = false;

  /** Every pipe the socket routes over (connect-side pipes exist before their peer does). */
  protected readonly pipes = new Set<Pipe>();
  /** Pipe the last fair-queued message came from (ROUTER and REP need it). */
  protected lastPipe: Pipe | undefined;
  private readonly readyPipes = new Fifo<Pipe>();
  private readonly pendingDetach = new Set<Pipe>();
  private readonly bindings = new Map<string, Binding>();
  private readonly connecters = new Map<string, Connecter[]>();
  private readonly sessions = new Map<Engine, SessionContext>();
  private readonly sendWaiters = new Fifo<SendWaiter>();
  private readonly recvWaiters = new Fifo<Waiter<Message>>();
  private isClosed = false;
  /** A bind() or unbind() is under way (zeromq.js's "blocked" state). */
  private blocked = false;
  /** close() was called while blocked: it happens when the bind or unbind finishes. */
  private closeRequested = false;
  private wakingSenders = false;
  /** @internal a pending call on this socket keeps the process alive (false for the sockets ZAP runs on). */
  keepsProcessAlive = true;
  /** @internal the byte-stream transport; tests may swap it. */
  transport: StreamTransport = netTransport;

  /**
   * zeromq.js's `new Socket(type, options)`: `type` is libzmq's number (ZMQ_ROUTER = 6). A
   * socket built directly, or through a subclass of Socket, routes nothing (send and receive
   * throw ENOTSUP): the typed classes (Dealer, Router, …) are what carry routing rules.
   */
  constructor(type: number, options?: object, ...extra: unknown[]) {
    if (typeof type !== 'number') throw new TypeError('Socket type must be a number');
    if (extra.length > 0) throw new TypeError('Expected 2 arguments');
    if (options !== undefined && options !== CONFIGURED_BY_SUBCLASS && (options === null || typeof options !== 'object')) {
      throw new TypeError('Options must be an object');
    }
    const name = socketTypeName(type);
    if (name === undefined) throw createError(ErrorCode.EINVAL, `Invalid argument: ${type} is not a socket type`);
    this.socketType = name;
    // the socket types configure themselves once their own fields exist
    if (options !== CONFIGURED_BY_SUBCLASS) this.configure(options ?? {});
  }

  /** libzmq's socket type number (ZMQ_ROUTER = 6), as zeromq.js's `type`. */
  get type(): number {
    return SOCKET_TYPE_NUMBERS[this.socketType];
  }

  /**
   * The context the socket was created on (zeromq.js's `context` option; `zmq.context` by
   * default). A closed socket lets go of it, as zeromq.js's does: then undefined.
   */
  get context(): Context {
    return this.socketContext!;
  }

  /**
   * Applies constructor options and seals the socket, so that an unknown property throws, as in
   * zeromq.js. Called by each socket type after its own fields exist (subclass field initialisers
   * run after this base constructor).
   */
  protected configure(options: object, typeOptions: Readonly<Record<string, 'boolean' | 'string' | 'number'>> = {}): void {
    if (options === null || typeof options !== 'object') throw new TypeError('Options must be an object');
    // the context first: it gives defaults (ipv6) that the other options may override
    const ctx = (options as { context?: unknown }).context ?? defaultContext;
    if (!(ctx instanceof Context)) throw createError(ErrorCode.EINVAL, "Invalid argument: option 'context' must be a Context");
    this.options.ipv6 = ctx.ipv6;
    for (const [key, value] of Object.entries(options)) {
      if (value === undefined || key === 'context') continue;
      const kind = typeOptions[key];
      if (kind) {
        if (typeof value !== kind && !(kind === 'string' && value === null)) {
          throw new TypeError(`Option value must be a ${kind}`);
        }
        (this as Record<string, unknown>)[key] = value;
      } else if (key in this && !TYPE_OPTIONS.has(key)) {
        // an option's accessor validates; a read-only property throws zeromq.js's TypeError
        (this as Record<string, unknown>)[key] = value;
      } else {
        // unknown, or an option of other socket types (conflate on a ROUTER, say)
        throw new TypeError(`Cannot add property ${key}, object is not extensible`);
      }
    }
    // a slot on the context only once every option was accepted (a throwing constructor holds none)
    attachSocket(ctx);
    unclosed.register(this, ctx, this);
    this.socketContext = ctx;
    registerForExit(this);
    Object.seal(this);
  }

  /** @internal sets an option through its accessor, after validation. */
  setOption(name: string, value: unknown): void {
    if (name in DEFAULT_OPTIONS) checkOption(name, value);
    else checkForeignOption(name, value);
    this.options[name] = value;
    const pipeLimit = name === 'sendHighWaterMark' || name === 'receiveHighWaterMark' || name === 'maxReceiveQueueBytes';
    if (pipeLimit) {
      for (const pipe of this.pipes) pipe.setHighWaterMarks(this.sendHighWaterMark, this.receiveHighWaterMark, this.maxReceiveQueueBytes);
    }
    if (!pipeLimit && !OPTION_SPECS[name]?.immediate && (this.blocked || this.hasEndpoints)) {
      emitWarning('Socket option will not take effect until next connect/bind.');
    }
  }

  // zeromq.js's numeric option API, by libzmq option number (ZMQ_IMMEDIATE = 39, …)
  getBoolOption(option: number): boolean {
    return Boolean(this.numericGet(option));
  }
  setBoolOption(option: number, value: boolean): void {
    if (typeof value !== 'boolean') throw new TypeError('Option value must be a boolean');
    this.numericSet(option, value);
  }
  getInt32Option(option: number): number {
    return this.numericGet(option) as number;
  }
  setInt32Option(option: number, value: number): void {
    this.numericSet(option, checkNumber(value));
  }
  getInt64Option(option: number): number {
    return this.numericGet(option) as number;
  }
  setInt64Option(option: number, value: number): void {
    this.numericSet(option, checkNumber(value));
  }
  getUint64Option(option: number): number {
    return this.numericGet(option) as number;
  }
  setUint64Option(option: number, value: number): void {
    checkNumber(value);
    if (value > Number.MAX_SAFE_INTEGER) emitWarning('Value is larger than Number.MAX_SAFE_INTEGER and may have been rounded inaccurately.');
    this.numericSet(option, value < 0 ? 0 : value);
  }
  getStringOption(option: number): string | null {
    const value = this.numericGet(option);
    return value === null || value === undefined ? null : value instanceof Uint8Array ? toString(value) : String(value);
  }
  setStringOption(option: number, value: string | Uint8Array | null): void {
    this.numericSet(option, value);
  }

  private numericGet(option: number): unknown {
    const name = optionByNumber(option);
    if (!(name in this)) throw createError(ErrorCode.EINVAL, `Invalid argument: option ${option} (${name}) does not apply to this socket type`);
    return (this as Record<string, unknown>)[name];
  }

  private numericSet(option: number, value: unknown): void {
    const name = optionByNumber(option);
    if (!(name in this)) throw createError(ErrorCode.EINVAL, `Invalid argument: option ${option} (${name}) does not apply to this socket type`);
    (this as Record<string, unknown>)[name] = value;
  }

  /**
   * The peer that sent the message the last receive() returned: its address, Socket-Type,
   * Identity, ZAP User-Id, CURVE public key and all properties (ZAP metadata included). Read it
   * right after `await receive()` (or inside `for await`): with one reader per socket, as usual,
   * it always matches the message just received. Costs nothing on the receive path.
   */
  get lastPeer(): PeerInfo | undefined {
    return this.lastPipe?.peer;
  }

  /** 'plain' or 'curve' as zeromq.js reports the configured mechanism; null for NULL. */
  get securityMechanism(): 'plain' | 'curve' | null {
    const name = mechanismName(this);
    return name === 'NULL' ? null : name === 'PLAIN' ? 'plain' : 'curve';
  }

  /** zeromq.js: whether the socket may be used from several threads. One JavaScript thread here. */
  get threadSafe(): boolean {
    return false;
  }

  // zeromq.js's read-only options refuse a write with its TypeError
  set securityMechanism(_value: unknown) {
    throwReadOnly('securityMechanism');
  }
  set threadSafe(_value: unknown) {
    throwReadOnly('threadSafe');
  }

  // zeromq.js options that change nothing here, or of which only the default is accepted
  // (NO_EFFECT_OPTIONS, UNSUPPORTED_OPTIONS): readable as in zeromq.js, defaults on the prototype
  declare affinity: number;
  declare rate: number;
  declare recoveryInterval: number;
  declare multicastHops: number;
  declare multicastMaxTransportDataUnit: number;
  declare loopbackFastPath: boolean;
  declare sendBufferSize: number;
  declare receiveBufferSize: number;
  declare tcpKeepaliveCount: number;
  declare tcpKeepaliveInterval: number;
  declare tcpMaxRetransmitTimeout: number;
  declare typeOfService: number;
  declare interface: string | null;

  get closed(): boolean {
    return this.isClosed;
  }

  /** @internal messages wait in a queue for a peer (linger at exit looks at this). */
  get hasQueuedMessages(): boolean {
    for (const p of this.pipes) if (p.outgoing.length > 0) return true;
    return false;
  }

  /** Bound or connected to at least one endpoint. */
  get hasEndpoints(): boolean {
    return this.bindings.size > 0 || this.connecters.size > 0;
  }

  /** A receive() would complete at once. */
  get readable(): boolean {
    return !this.isClosed && this.readyPipes.length > 0;
  }

  /** A send() would complete at once (for types that block when no peer can take it). */
  get writable(): boolean {
    if (this.isClosed) return false;
    for (const p of this.pipes) if (p.writable && (p.active || !this.immediate)) return true;
    return false;
  }

  // ---- routing hooks, one set per socket type ----------------------------------------------

  /** Queue `msg` for sending. false: no peer can take it now (the caller waits). Throws for errors. */
  protected xsend(_msg: Message): boolean {
    throw createError(ErrorCode.ENOTSUP, 'A plain Socket has no routing rules; use a socket type class (Dealer, Router, …)');
  }
  /** Next message for the application, or undefined. Throws for state errors. */
  protected xrecv(): Message | undefined {
    throw createError(ErrorCode.ENOTSUP, 'A plain Socket has no routing rules; use a socket type class (Dealer, Router, …)');
  }
  /**
   * Whether connect() creates the pipe at once, so that messages queue before the connection is
   * up (libzmq does unless ZMQ_IMMEDIATE).
   */
  protected pipeAtConnect(_routingId: string | undefined): boolean {
    return !this.immediate;
  }

  /** REQ and REP: whether a send() or receive() now would be out of turn. */
  protected outOfTurn(_op: 'send' | 'receive'): boolean {
    return false;
  }

  /**
   * Why a waiting call ends without completing (its timeout, or close()): EAGAIN, or EFSM for a
   * REQ/REP call still out of turn, as zeromq.js reports (libzmq says EFSM at once).
   */
  private waitError(op: 'send' | 'receive'): ZmqError {
    return this.outOfTurn(op) ? createError(ErrorCode.EFSM, 'Operation cannot be accomplished in current state') : eagain();
  }

  /** A pipe joins the socket (connect-side pipes join before their peer is known). */
  protected xattach(_pipe: Pipe): void {}
  /** A peer completed its handshake on `pipe`. Return an error to refuse it. */
  protected xpeer(_pipe: Pipe): ZmqError | undefined {
    return undefined;
  }
  /** The peer on `pipe` went away; the pipe itself may stay (connect side). */
  protected xpeerGone(_pipe: Pipe): void {}
  /** A pipe leaves the socket for good. */
  protected xdetach(_pipe: Pipe): void {}
  /** SUBSCRIBE/CANCEL command from a peer. */
  protected xsubscription(_pipe: Pipe, _topic: Uint8Array, _subscribe: boolean): void {}

  // ---- public API ---------------------------------------------------------------------------

  send(message: MessageLike | MessageLike[]): Promise<void> {
    if (this.isClosed) return Promise.reject(closedError());
    let msg: Message;
    try {
      msg = toMessage(message);
      if (this.sendWaiters.length === 0 && this.xsend(msg)) return burstTooLong() ? afterTurn() : RESOLVED;
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.sendTimeout === 0) return Promise.reject(eagain());
    const limit = this.sendHighWaterMark > 0 ? this.sendHighWaterMark : Infinity;
    if (this.sendWaiters.length >= limit) return Promise.reject(eagain());
    return new Promise<void>((resolve, reject) => {
      const w: SendWaiter = { msg, resolve, reject, timer: undefined, done: false, held: this.keepsProcessAlive };
      if (w.held) hold();
      if (this.sendTimeout > 0) w.timer = setTimeout(() => settleTimeout(w, this.waitError('send')), this.sendTimeout);
      this.sendWaiters.push(w);
    });
  }

  receive(): Promise<Message> {
    if (this.isClosed) return Promise.reject(closedError());
    let msg: Message | undefined;
    try {
      msg = this.takeNow();
    } catch (err) {
      return Promise.reject(err);
    }
    return msg ? Promise.resolve(msg) : this.waitForMessage();
  }

  /** A message that can be taken now without jumping the queue of waiting receivers. */
  private takeNow(): Message | undefined {
    return this.recvWaiters.length === 0 ? this.xrecv() : undefined;
  }

  /** Joins the queue of waiting receivers (bounded by the HWM, ended by receiveTimeout). */
  private waitForMessage(): Promise<Message> {
    if (this.receiveTimeout === 0) return Promise.reject(eagain());
    const limit = this.receiveHighWaterMark > 0 ? this.receiveHighWaterMark : Infinity;
    if (this.recvWaiters.length >= limit) return Promise.reject(eagain());
    return new Promise<Message>((resolve, reject) => {
      const w: Waiter<Message> = { resolve, reject, timer: undefined, done: false, held: this.keepsProcessAlive };
      if (w.held) hold();
      if (this.receiveTimeout > 0) w.timer = setTimeout(() => settleTimeout(w, this.waitError('receive')), this.receiveTimeout);
      this.recvWaiters.push(w);
    });
  }

  /** `for await (const msg of socket)`: ends when the socket closes. A plain iterator object, not an
   *  async generator, because a generator costs several extra promises per message. */
  [Symbol.asyncIterator](): AsyncIterator<Message, undefined> {
    const done: IteratorReturnResult<undefined> = { done: true, value: undefined };
    const onMessage = (value: Message): IteratorResult<Message, undefined> => ({ done: false, value });
    const onError = (err: unknown): IteratorResult<Message, undefined> => {
      // closing ends the iteration, unless the iteration was a mistake (a REQ that never sent: EFSM)
      if (this.isClosed && (err as ZmqError).code !== ErrorCode.EFSM) return done;
      throw err;
    };
    const next = (): Promise<IteratorResult<Message, undefined>> => {
      if (this.isClosed) return Promise.resolve(done);
      // a message already waiting: one promise instead of receive()'s plus a .then()
      let msg: Message | undefined;
      try {
        msg = this.takeNow();
      } catch (err) {
        return Promise.reject(err);
      }
      return msg ? Promise.resolve({ done: false, value: msg }) : this.waitForMessage().then(onMessage, onError);
    };
    return { next, return: () => Promise.resolve(done) };
  }

  async bind(address: string): Promise<void> {
    this.checkUnblocked();
    this.blocked = true;
    try {
      // blocked for at least a turn, even when binding inproc or failing at once, as in zeromq.js
      await RESOLVED;
      await this.bindNow(address);
    } finally {
      this.unblock();
    }
  }

  private async bindNow(address: string): Promise<void> {
    const ep = parseEndpoint(address, true);
    if (ep.protocol === 'inproc') {
      this.bindInproc(ep);
      return;
    }
    let listener: Listener;
    try {
      listener = await this.transport.listen(ep, { ipv6: this.ipv6, backlog: this.backlog, keepAlive: this.keepAlive() }, (c) => this.accept(c, binding));
    } catch (err) {
      // libzmq names the failed endpoint without its protocol (127.0.0.1:5555)
      this.events.emit({ type: 'bind:error', address: address.slice(address.indexOf('://') + 3), error: err as ZmqError });
      throw err;
    }
    const binding: Binding = { address, endpoint: listener.endpoint, listener, sessions: new Set() };
    if (this.isClosed) {
      await listener.close();
      throw closedError();
    }
    this.bindings.set(listener.endpoint, binding);
    this.lastEndpoint = listener.endpoint;
    this.events.emit({ type: 'bind', address: listener.endpoint });
  }

  async unbind(address: string): Promise<void> {
    this.checkUnblocked();
    this.blocked = true;
    try {
      await RESOLVED;
      // a malformed address is EINVAL or EPROTONOSUPPORT, as libzmq says, before it is looked up
      parseEndpoint(address, true);
      const binding = this.findBinding(address);
      if (!binding) throw createError(ErrorCode.ENOENT, `Not bound to '${address}'`, { address });
      this.bindings.delete(binding.endpoint);
      await this.closeBinding(binding, this.linger);
    } finally {
      this.unblock();
    }
  }

  /** zeromq.js: EBADF once closed, EBUSY while a bind or unbind is under way. */
  private checkUnblocked(): void {
    if (this.isClosed) throw closedError();
    if (this.blocked) throw createError(ErrorCode.EBUSY, 'Socket is blocked by a bind or unbind operation', { zeromqText: true });
  }

  private unblock(): void {
    this.blocked = false;
    if (this.closeRequested) this.close();
  }

  connect(address: string, options: { routingId?: string } = {}): void {
    if (this.isClosed) throw closedError();
    const ep = parseEndpoint(address, false);
    const connecter = new Connecter(this, ep, options.routingId);
    let list = this.connecters.get(address);
    if (!list) this.connecters.set(address, (list = []));
    list.push(connecter);
    if (this.pipeAtConnect(options.routingId)) {
      connecter.pipe = this.newPipe(address);
      if (options.routingId !== undefined) connecter.pipe.fixedRoutingId = fromString(options.routingId);
      this.xattach(connecter.pipe);
    }
    connecter.start();
  }

  disconnect(address: string): void {
    if (this.isClosed) throw closedError();
    parseEndpoint(address, false);
    const list = this.connecters.get(address);
    if (!list) throw createError(ErrorCode.ENOENT, `Not connected to '${address}'`, { address });
    this.connecters.delete(address);
    for (const c of list) c.stop(this.linger);
  }

  close(): void {
    if (this.isClosed) return;
    if (this.blocked) {
      // as zeromq.js: a socket busy binding or unbinding closes once that has finished
      this.closeRequested = true;
      return;
    }
    this.isClosed = true;
    detachSocket(this.context);
    this.socketContext = undefined;
    forgetForExit(this);
    unclosed.unregister(this);
    if (this.recvWaiters.length > 0 || this.sendWaiters.length > 0) {
      // built only when someone waits: an Error with a stack is not free
      const recvErr = this.recvWaiters.length > 0 ? this.waitError('receive') : undefined;
      const sendErr = this.sendWaiters.length > 0 ? this.waitError('send') : undefined;
      for (const w of this.recvWaiters.drain()) settle(w, recvErr);
      for (const w of this.sendWaiters.drain()) settle(w, sendErr);
    }
    for (const list of this.connecters.values()) for (const c of list) c.stop(this.linger);
    this.connecters.clear();
    for (const binding of this.bindings.values()) void this.closeBinding(binding, this.linger);
    this.bindings.clear();
    for (const pipe of this.pipes) pipe.link?.close(this.linger);
    this.events.emit({ type: 'end' });
  }

  // ---- internals shared with socket types -----------------------------------------------------

  /** Fair-queued read over every pipe with pending input (one message per pipe per turn). */
  protected fairRecv(): Message | undefined {
    for (;;) {
      const pipe = this.readyPipes.shift();
      if (!pipe) return undefined;
      pipe.queued = false;
      if (pipe.detached) continue;
      // A read that frees room under the HWM lets the engine refill the pipe at once, and the
      // refill queues the pipe again through onPipeReadable: queueing it here as well put it in the
      // list twice, so a peer kept at its HWM gained an entry per message and everyone else waited
      // behind a list that only grew.
      const msg = pipe.read();
      if (!msg) continue;
      if (!pipe.queued) {
        if (pipe.incoming.length > 0) {
          pipe.queued = true;
          this.readyPipes.push(pipe);
        } else if (this.pendingDetach.has(pipe)) {
          this.finishDetach(pipe);
        }
      }
      this.lastPipe = pipe;
      return msg;
    }
  }

  /** Something changed that may let waiting senders proceed. */
  protected wakeSenders(): void {
    // xsend() can call back in here (a pipe that drains synchronously reports itself writable);
    // the running loop continues instead, or the head waiter would be sent twice.
    if (this.wakingSenders) return;
    this.wakingSenders = true;
    try {
      let w: SendWaiter | undefined;
      while ((w = this.sendWaiters.peek()) !== undefined) {
        if (w.done) {
          this.sendWaiters.shift();
          continue;
        }
        try {
          if (!this.xsend(w.msg)) return;
        } catch (err) {
          this.sendWaiters.shift();
          settle(w, err as Error);
          continue;
        }
        this.sendWaiters.shift();
        settle(w, undefined);
      }
    } finally {
      this.wakingSenders = false;
    }
  }

  /**
   * REQ/REP: the turn passed (a request went out, a reply came in). Callers that called out of
   * turn have been waiting, as zeromq.js lets them, and may now proceed.
   */
  protected turnChanged(): void {
    if (this.sendWaiters.length === 0 && this.recvWaiters.length === 0) return;
    // after the current call has returned its message or result, not from inside it
    queueMicrotask(() => {
      if (this.isClosed) return;
      this.wakeSenders();
      this.wakeReceivers();
    });
  }

  /** Something arrived that waiting receivers may take. */
  protected wakeReceivers(): void {
    let w: Waiter<Message> | undefined;
    while ((w = this.recvWaiters.peek()) !== undefined) {
      if (w.done) {
        this.recvWaiters.shift();
        continue;
      }
      let msg: Message | undefined;
      try {
        msg = this.xrecv();
      } catch (err) {
        this.recvWaiters.shift();
        settle(w, err as Error);
        continue;
      }
      if (!msg) return;
      this.recvWaiters.shift();
      w.done = true;
      w.timer = clearTimer(w.timer);
      if (w.held) release();
      w.resolve(msg);
    }
  }

  /** For socket types with their own queues (XPUB subscriptions): deliver to waiting receivers. */
  protected get hasReceivers(): boolean {
    return this.recvWaiters.length > 0;
  }

  protected newPipe(endpoint: string): Pipe {
    const pipe = new Pipe(this, endpoint, this.sendHighWaterMark, this.receiveHighWaterMark, this.maxReceiveQueueBytes);
    pipe.conflate = this.conflate;
    this.pipes.add(pipe);
    return pipe;
  }

  /** Drops a pipe; delayed while it still holds unread input, as libzmq delivers what arrived. */
  protected detachPipe(pipe: Pipe): void {
    if (pipe.detached) return;
    if (pipe.incoming.length > 0) {
      this.pendingDetach.add(pipe);
      return;
    }
    this.finishDetach(pipe);
  }

  private finishDetach(pipe: Pipe): void {
    this.pendingDetach.delete(pipe);
    pipe.detached = true;
    pipe.releaseInput();
    this.pipes.delete(pipe);
    // queued for a peer that is gone for good: ZeroMQ drops these; we count them
    this.droppedMessages += pipe.outgoing.length;
    pipe.outgoing.drain();
    this.xdetach(pipe);
    // a departed peer may have been what senders were waiting behind (PAIR, REQ)
    if (this.sendWaiters.length > 0) this.wakeSenders();
  }

  /** @internal */
  emit(event: Event): void {
    this.events.emit(event);
  }

  // ---- PipeOwner ------------------------------------------------------------------------------

  onPipeReadable(pipe: Pipe): void {
    if (!pipe.queued) {
      pipe.queued = true;
      this.readyPipes.push(pipe);
    }
    if (this.recvWaiters.length > 0) this.wakeReceivers();
  }

  onPipeConflated(_pipe: Pipe, count: number): void {
    // conflation's whole point is to drop the older message, but a drop is still counted
    this.droppedMessages += count;
  }

  onPipeWritable(_pipe: Pipe): void {
    if (this.sendWaiters.length > 0) this.wakeSenders();
  }

  onPipeSubscription(pipe: Pipe, topic: Uint8Array, subscribe: boolean): void {
    this.xsubscription(pipe, topic, subscribe);
  }

  // ---- SessionHost ----------------------------------------------------------------------------

  sessionReady(session: Engine, peer: PeerInfo): PipeEnd | ZmqError {
    const ctx = this.sessions.get(session);
    const draining = ctx?.connecter?.draining === true;
    if (!ctx || (this.isClosed && !draining)) return closedError();
    // closed with linger while this connection was still being set up: deliver what is queued, then end
    if (draining) queueMicrotask(() => ctx.connecter!.drain(session));
    let pipe = ctx.connecter?.pipe;
    const fresh = pipe === undefined;
    if (!pipe) {
      pipe = this.newPipe(ctx.address);
      if (ctx.connecter?.routingId !== undefined) pipe.fixedRoutingId = fromString(ctx.connecter.routingId);
    }
    pipe.peer = peer;
    pipe.link = session;
    const refused = this.xpeer(pipe);
    if (refused) {
      pipe.link = undefined;
      if (fresh) this.finishDetach(pipe);
      return refused;
    }
    ctx.pipe = pipe;
    if (fresh) {
      if (ctx.connecter) ctx.connecter.pipe = pipe;
      this.xattach(pipe);
    }
    this.events.emit({ type: 'handshake', address: ctx.address });
    if (this.sendWaiters.length > 0) queueMicrotask(() => this.wakeSenders());
    return pipe;
  }

  sessionNotice(session: Engine, error: ZmqError): void {
    const ctx = this.sessions.get(session);
    if (!ctx) return;
    error.address ??= ctx.address;
    this.events.emit({ type: handshakeErrorType(error), address: ctx.address, error });
  }

  sessionClosed(session: Engine, error: ZmqError | undefined, handshaken: boolean): void {
    const ctx = this.sessions.get(session);
    if (!ctx) return;
    this.sessions.delete(session);
    ctx.binding?.sessions.delete(session);
    const address = ctx.address;
    if (error) error.address ??= address;
    const pipe = ctx.pipe;
    // no pipe after a handshake: the socket refused the peer (PAIR's second peer, duplicate identity)
    if (error && (!handshaken || !pipe)) this.events.emit({ type: handshakeErrorType(error), address, error });
    if (handshaken && pipe) {
      if (pipe.link === session) pipe.link = undefined;
      // a protocol or heartbeat failure after the handshake travels with the 'disconnect'
      this.events.emit(error ? { type: 'disconnect', address, error } : { type: 'disconnect', address });
      this.xpeerGone(pipe);
      if (!ctx.connecter || ctx.connecter.stopped || this.immediate || this.isClosed) {
        if (ctx.connecter) ctx.connecter.pipe = undefined;
        this.detachPipe(pipe);
      }
    }
    ctx.connecter?.sessionEnded(session, error, handshaken);
  }

  // ---- connections ----------------------------------------------------------------------------

  /** @internal */
  startSession(connection: Connection, ctx: SessionContext): Engine {
    const session = this.createEngine(connection, ctx.binding !== undefined);
    this.sessions.set(session, ctx);
    ctx.binding?.sessions.add(session);
    return session;
  }

  private accept(connection: Connection, binding: Binding): void {
    if (this.isClosed) {
      connection.destroy();
      return;
    }
    this.events.emit({ type: 'accept', address: binding.endpoint });
    this.startSession(connection, { address: binding.endpoint, binding, connecter: undefined, pipe: undefined });
  }

  /** The engine for a new connection: ZMTP (STREAM overrides it with raw bytes). */
  protected createEngine(connection: Connection, asServer: boolean): Engine {
    return new Session(connection, this, this.sessionOptions(asServer));
  }

  protected createMechanism(): Mechanism {
    return createSecurityMechanism(this, zapHook(zapHandlerBound, this.handshakeInterval));
  }

  /** @internal TCP keepalive from tcpKeepalive/tcpKeepaliveIdle; undefined leaves the OS default. */
  keepAlive(): { enable: boolean; idleMs: number } | undefined {
    if (this.tcpKeepalive < 0) return undefined;
    return { enable: this.tcpKeepalive > 0, idleMs: this.tcpKeepaliveIdle > 0 ? this.tcpKeepaliveIdle * 1000 : 0 };
  }

  private localMetadata(): [string, Uint8Array][] {
    const props: [string, Uint8Array][] = [['Socket-Type', fromString(this.socketType)]];
    if (sendsIdentity(this.socketType)) props.push(['Identity', this.routingId === null ? EMPTY : toFrame(this.routingId)]);
    return props;
  }

  private sessionOptions(accepted: boolean): SessionOptions {
    return {
      accepted,
      socketType: this.socketType,
      localMetadata: this.localMetadata(),
      mechanism: this.createMechanism(),
      maxFrameSize: this.maxMessageSize >= 0 ? this.maxMessageSize : HARD_MAX_FRAME_SIZE,
      maxMessageFrames: this.maxMessageFrames,
      maxMessageBytes: this.maxMessageBytes,
      handshakeInterval: this.handshakeInterval,
      heartbeatInterval: this.heartbeatInterval,
      heartbeatTimeToLive: this.heartbeatTimeToLive,
      heartbeatTimeout: this.heartbeatTimeout,
    };
  }

  private findBinding(address: string): Binding | undefined {
    const direct = this.bindings.get(address);
    if (direct) return direct;
    for (const b of this.bindings.values()) if (b.address === address) return b;
    return undefined;
  }

  private async closeBinding(binding: Binding, linger: number): Promise<void> {
    for (const s of binding.sessions) s.close(linger);
    let closing: Promise<void> | undefined;
    if (binding.listener) {
      closing = binding.listener.close();
    } else {
      const name = binding.endpoint.slice('inproc://'.length);
      if (inprocBound.get(name) === this) inprocBound.delete(name);
      for (const pipe of [...this.pipes]) {
        if (pipe.endpoint === binding.endpoint) pipe.link?.close(linger);
      }
    }
    // emitted now, not after the listener finished closing: close() emits 'end' right away
    // (libzmq's monitor reports no close for inproc)
    if (binding.listener) this.events.emit({ type: 'close', address: binding.endpoint });
    await closing;
  }

  // ---- inproc ---------------------------------------------------------------------------------

  private bindInproc(ep: Extract<ParsedEndpoint, { protocol: 'inproc' }>): void {
    if (inprocBound.has(ep.name)) {
      throw createError(ErrorCode.EADDRINUSE, `Address already in use (${ep.address})`, { address: ep.address });
    }
    inprocBound.set(ep.name, this);
    this.bindings.set(ep.address, { address: ep.address, endpoint: ep.address, listener: undefined, sessions: new Set() });
    this.lastEndpoint = ep.address;
    // libzmq's monitor reports no bind, accept or close for inproc
    const pending = inprocPending.get(ep.name);
    if (pending) {
      inprocPending.delete(ep.name);
      for (const c of pending) c.start();
    }
  }

  /** @internal wires a connecter to an inproc binder, or parks it until the name is bound. */
  connectInproc(connecter: Connecter, name: string): void {
    const binder = inprocBound.get(name);
    if (!binder || binder.isClosed) {
      let set = inprocPending.get(name);
      if (!set) inprocPending.set(name, (set = new Set()));
      set.add(connecter);
      return;
    }
    const address = connecter.endpoint.address;
    if (!isCompatible(this.socketType, binder.socketType)) {
      const error = createError(ErrorCode.INCOMPATIBLE_SOCKET_TYPE, `${this.socketType} cannot talk to ${binder.socketType}`, { address });
      this.events.emit({ type: 'handshake:error:protocol', address, error });
      binder.events.emit({ type: 'handshake:error:protocol', address, error });
      return;
    }
    const fresh = connecter.pipe === undefined;
    const local = connecter.pipe ?? this.newPipe(address);
    if (fresh && connecter.routingId !== undefined) local.fixedRoutingId = fromString(connecter.routingId);
    const remote = binder.newPipe(address);
    local.peer = binder.inprocPeerInfo();
    remote.peer = this.inprocPeerInfo(connecter.routingId);
    const [localLink, remoteLink] = InprocLink.pair(
      local,
      remote,
      () => this.inprocClosed(local, connecter),
      () => binder.inprocClosed(remote, undefined),
    );
    local.link = localLink;
    remote.link = remoteLink;
    const refused = binder.xpeer(remote) ?? this.xpeer(local);
    if (refused) {
      localLink.closed = remoteLink.closed = true;
      local.link = remote.link = undefined;
      binder.finishDetach(remote);
      if (fresh) this.finishDetach(local);
      refused.address ??= address;
      this.events.emit({ type: handshakeErrorType(refused), address, error: refused });
      binder.events.emit({ type: handshakeErrorType(refused), address, error: refused });
      return;
    }
    connecter.inprocLink = localLink;
    binder.xattach(remote);
    binder.events.emit({ type: 'handshake', address });
    if (fresh) {
      connecter.pipe = local;
      this.xattach(local);
    }
    this.events.emit({ type: 'connect', address });
    this.events.emit({ type: 'handshake', address });
    localLink.open();
    remoteLink.open();
    localLink.outgoingReady();
    remoteLink.outgoingReady();
    if (this.sendWaiters.length > 0) this.wakeSenders();
    if (binder.sendWaiters.length > 0) binder.wakeSenders();
  }

  private inprocPeerInfo(routingId?: string): PeerInfo {
    const id = routingId ?? this.routingId;
    return {
      socketType: this.socketType,
      identity: id === null ? EMPTY : toFrame(id),
      metadata: new Metadata([['Socket-Type', fromString(this.socketType)]]),
      userId: undefined,
      remoteAddress: '',
      minor: 1,
    };
  }

  private inprocClosed(pipe: Pipe, connecter: Connecter | undefined): void {
    pipe.link = undefined;
    this.events.emit({ type: 'disconnect', address: pipe.endpoint });
    this.xpeerGone(pipe);
    if (connecter) {
      connecter.inprocLink = undefined;
      if (!connecter.stopped && !this.isClosed) {
        // the binder went away: wait for the name to be bound again, like a TCP reconnect
        if (this.immediate) {
          connecter.pipe = undefined;
          this.detachPipe(pipe);
        }
        this.connectInproc(connecter, (connecter.endpoint as { name: string }).name);
        return;
      }
      connecter.pipe = undefined;
    }
    this.detachPipe(pipe);
  }

  /** @internal */
  forgetPendingInproc(connecter: Connecter, name: string): void {
    inprocPending.get(name)?.delete(connecter);
  }

  /** @internal */
  dropConnecterPipe(connecter: Connecter): void {
    const pipe = connecter.pipe;
    connecter.pipe = undefined;
    if (pipe) {
      if (pipe.link) pipe.link.close(this.linger);
      else this.detachPipe(pipe);
    }
  }
}

/** Which zeromq.js handshake-failure event reports `error`. */
function handshakeErrorType(error: ZmqError): 'handshake:error:auth' | 'handshake:error:protocol' | 'handshake:error:other' {
  if (error.code === ErrorCode.AUTH_FAILED) return 'handshake:error:auth';
  if (error.code === ErrorCode.HANDSHAKE_TIMEOUT || error.code === ErrorCode.HANDSHAKE_CLOSED) return 'handshake:error:other';
  return error instanceof ProtocolError ? 'handshake:error:protocol' : 'handshake:error:other';
}

function settle<T>(w: Waiter<T>, result: Error | undefined, value?: T): void {
  if (w.done) return;
  w.done = true;
  w.timer = clearTimer(w.timer);
  if (w.held) release();
  if (result) w.reject(result);
  else w.resolve(value as T);
}

function settleTimeout<T>(w: Waiter<T>, err: ZmqError): void {
  w.timer = undefined;
  settle(w, err);
}

/** Options that take a value here, whatever their effect: defaults as zeromq.js reads them back. */
const FOREIGN_DEFAULTS: Readonly<Record<string, unknown>> = { ...NO_EFFECT_OPTIONS, ...UNSUPPORTED_OPTIONS };

for (const key of [...Object.keys(DEFAULT_OPTIONS), ...Object.keys(FOREIGN_DEFAULTS)]) {
  // gssapi* and tcpAcceptFilter cannot be read back in zeromq.js either
  const readable = !(key.startsWith('gssapi') || key === 'tcpAcceptFilter');
  Object.defineProperty(SocketBase.prototype, key, {
    get: readable
      ? function (this: SocketBase) {
          return this.options[key];
        }
      : undefined,
    set(this: SocketBase, value: unknown) {
      this.setOption(key, value);
    },
    configurable: true,
  });
}

/** Options of some socket types only: each type names those it takes when it configures itself. */
const TYPE_OPTIONS: ReadonlySet<string> = new Set([
  'conflate', 'probeRouter', 'mandatory', 'handover', 'correlate', 'relaxed', 'noDrop', 'invertMatching', 'notify', 'verbosity', 'welcomeMessage', 'manual',
]);

/** Marks a constructor call from one of purezmq's socket types, which configure themselves. */
export const CONFIGURED_BY_SUBCLASS: object = Object.freeze({});

function checkNumber(value: unknown): number {
  if (typeof value !== 'number') throw new TypeError('Option value must be a number');
  return value;
}

/** zeromq.js's TypeError for a read-only property. */
function throwReadOnly(key: string): never {
  throw new TypeError(`Cannot set property ${key} of #<Socket> which has only a getter`);
}

/** One connect() call: dials, reconnects with backoff, owns the connect-side pipe. */
export class Connecter {
  readonly socket: SocketBase;
  readonly endpoint: ParsedEndpoint;
  readonly routingId: string | undefined;
  pipe: Pipe | undefined;
  inprocLink: InprocLink | undefined;
  stopped = false;
  /** Stopped with linger while connecting/handshaking and messages queued: finishing that connection. */
  draining = false;
  private drainDeadline = -1;
  private dialing = false;
  private session: Engine | undefined;
  private timer: TimerHandle | undefined;
  private failures = 0;

  constructor(socket: SocketBase, endpoint: ParsedEndpoint, routingId: string | undefined) {
    this.socket = socket;
    this.endpoint = endpoint;
    this.routingId = routingId;
  }

  start(): void {
    if (this.stopped) return;
    if (this.endpoint.protocol === 'inproc') {
      this.socket.connectInproc(this, this.endpoint.name);
      return;
    }
    this.dial();
  }

  private dial(): void {
    this.timer = undefined;
    if (this.stopped || this.socket.closed) return;
    const address = this.endpoint.address;
    this.socket.emit({ type: 'connect:delay', address });
    this.dialing = true;
    this.socket.transport
      .connect(this.endpoint, {
        ipv6: this.socket.ipv6,
        timeout: this.socket.connectTimeout,
        keepAlive: this.socket.keepAlive(),
        socksProxy: this.socket.socksProxy === null ? undefined : String(this.socket.socksProxy),
      })
      .then(
        (connection) => {
          this.dialing = false;
          if (!this.draining && (this.stopped || this.socket.closed)) {
            connection.destroy();
            return;
          }
          this.socket.emit({ type: 'connect', address });
          this.session = this.socket.startSession(connection, { address, binding: undefined, connecter: this, pipe: undefined });
        },
        (err: ZmqError) => {
          this.dialing = false;
          if (this.draining) this.abortDrain();
          else this.retry(err);
        },
      );
  }

  private retry(error?: ZmqError, handshakeFailed = false): void {
    const base = this.socket.reconnectInterval;
    if (this.stopped || this.socket.closed || base < 0) return;
    // a peer that keeps refusing the handshake (wrong CURVE server key...) is not redialled in a tight loop
    const max = Math.max(this.socket.reconnectMaxInterval, handshakeFailed ? HANDSHAKE_RETRY_MAX_MS : 0);
    // RFC 37 / libzmq: doubling delay up to reconnectMaxInterval; 0 keeps the interval fixed
    const interval = max > base ? Math.min(max, base * 2 ** Math.min(this.failures, 30)) : base;
    this.failures++;
    this.socket.emit({ type: 'connect:retry', address: this.endpoint.address, interval, ...(error ? { error } : {}) });
    this.timer = unrefTimer(setTimeout(() => this.dial(), interval));
  }

  sessionEnded(session: Engine, error: ZmqError | undefined, handshaken: boolean): void {
    if (this.session === session) this.session = undefined;
    if (this.draining) {
      // the lingering connection failed before it could deliver: give up, as after a linger timeout
      this.abortDrain();
      return;
    }
    if (handshaken) this.failures = 0;
    if (error && FATAL_CODES.has(error.code)) {
      // reconnecting with the same settings would fail the same way; libzmq stops as well
      this.stopped = true;
      return;
    }
    this.retry(error, !handshaken && error !== undefined);
  }

  stop(linger: number): void {
    if (this.draining || (this.stopped && !this.pipe)) return;
    this.stopped = true;
    this.timer = clearTimer(this.timer);
    if (this.endpoint.protocol === 'inproc') this.socket.forgetPendingInproc(this, this.endpoint.name);
    this.inprocLink?.close();
    const queued = this.pipe !== undefined && !this.pipe.active && this.pipe.outgoing.length > 0;
    if (linger !== 0 && queued && (this.dialing || this.session?.handshaking === true)) {
      // libzmq keeps a closed socket's connection alive for the linger period: `connect(); await
      // send(); close()` delivers. Let the connection finish its handshake (bounded by linger and
      // handshakeInterval), flush, then end.
      this.draining = true;
      this.drainDeadline = linger > 0 ? Date.now() + linger : -1;
      if (linger > 0) this.timer = unrefTimer(setTimeout(() => this.abortDrain(), linger));
      return;
    }
    this.session?.close(linger);
    this.socket.dropConnecterPipe(this);
  }

  /** @internal the lingering connection completed its handshake: flush what is queued and end. */
  drain(session: Engine): void {
    if (!this.draining) return;
    this.draining = false;
    this.timer = clearTimer(this.timer);
    const linger = this.drainDeadline < 0 ? -1 : Math.max(1, this.drainDeadline - Date.now());
    session.close(linger);
  }

  private abortDrain(): void {
    if (!this.draining) return;
    this.draining = false;
    this.timer = clearTimer(this.timer);
    this.session?.close(0);
    this.socket.dropConnecterPipe(this);
  }
}

/**
 * Majordomo worker: serves one service over a DEALER, in any dialect: 18/MDP (default), 7/MDP, or the
 * majortomo and plantd dialects (option `dialect`), so it can register with their brokers too.
 *
 * - Opens a conversation with a new socket and READY; heartbeats every interval, also while the
 *   handler runs (it is async), and treats the broker as dead after liveness × interval of silence
 *   while idle (while busy it waits: Guide brokers don't heartbeat busy workers).
 * - On a dead broker or a DISCONNECT it closes the socket and starts over on a new one after
 *   `reconnectInterval` (7/MDP §7.1), unless `onDisconnect: 'close'`.
 * - The handler returns the FINAL body and may send PARTIALs first with `ctx.partial()`. A dialect
 *   without PARTIAL (7/MDP) gets the partials merged into the single REPLY.
 * - If the handler throws, the worker sends `errorReply(err)` as the FINAL when that option is
 *   given; otherwise it sends DISCONNECT and re-registers, so that the broker re-queues the request
 *   for another worker.
 * - close() lets the current request finish (bounded), sends DISCONNECT and closes the socket.
 * - Security (issue 12): `curveServerKey` and `curveCert` make the DEALER a CURVE client of the broker.
 *   A broker that sends DISCONNECT before anything else (its access policy does not let this worker
 *   serve the service) is retried with a doubling delay, up to RECONNECT_MAX_MS, not every second.
 *
 * Several brokers (`brokers: [A, B, …]`, or a list as the endpoint): the worker registers with one
 * at a time, A first. When its broker goes silent for liveness × interval (or keeps refusing the
 * READY), it moves to the next one in the list (round robin) and sends READY there; the delay before
 * that is `reconnectInterval`, doubling with each full round of silent brokers (up to
 * RECONNECT_MAX_MS). A broker that heartbeats busy workers (purezmq's does), or whose connection
 * dropped, is also watched while a request runs: if it goes silent then, the worker moves on and the request's reply is dropped, not
 * sent to the new broker (which never dispatched it); the handler's `ctx.signal` is aborted. The old
 * broker, when it sees the worker gone, dispatches the request again on its own (at-least-once). A
 * broker that never heartbeated during a request (Guide brokers don't, to busy workers) is not
 * timed while busy, as with a single broker. `worker.brokers` has per-broker statistics.
 */
import { Dealer, type MessageLike, type SocketOptions } from '../mod.ts';
import { toFrame } from '../util/bytes.ts';
import { Direction, type MdpCodec } from './codec.ts';
import { MMI_NAMESPACE, type Dialect } from './constants.ts';
import { resolveDialect } from './dialects/index.ts';
import { checkOptions, DEFAULT_CONFIG, type WorkerConfig } from './config.ts';
import { MdpErrorCode, mdpError, type MdpError } from './errors.ts';
import { RateLimitedLog, silentLogger, type Logger } from './log.ts';
import { peerCurveSocketOptions, type PeerCurveOptions } from './security/peer.ts';
import { BrokerPool, resolveBrokers, type BrokerStats } from './broker_pool.ts';

export interface RequestContext {
  /** ROUTER address of the client (opaque). */
  readonly client: Uint8Array;
  /** Sends a PARTIAL reply before the FINAL (merged into the REPLY for MDP/0.1). */
  partial(body: MessageLike | MessageLike[]): Promise<void>;
  /** Aborted when the conversation ends before the handler does (broker lost, DISCONNECT, close). */
  readonly signal: AbortSignal;
}

export type WorkerHandler = (
  request: Uint8Array[],
  ctx: RequestContext,
) => Promise<MessageLike | MessageLike[]> | MessageLike | MessageLike[];

/** Config fields the CLI resolves into key material (PeerCurveOptions) before building a Worker. */
type CurveFields = 'curveCert' | 'curveServerKey';

export interface WorkerOptions extends Partial<Omit<WorkerConfig, 'broker' | CurveFields>>, PeerCurveOptions {
  logger?: Logger;
  /** What to do when the broker sends DISCONNECT: re-register on a new socket (RFC) or stop. */
  onDisconnect?: 'reconnect' | 'close';
  /** FINAL body to send when the handler throws; without it the worker re-registers instead. */
  errorReply?: (err: unknown) => MessageLike | MessageLike[];
  /** Extra socket options for the DEALER. */
  socketOptions?: Partial<SocketOptions>;
  /** The broker(s), when the endpoint argument is undefined: `new Worker(undefined, 'svc', handler, { broker })`. */
  broker?: string | readonly string[];
  /** Several brokers, in failover order: registered with one at a time, the next when it goes silent. */
  brokers?: readonly string[];
}

export type WorkerEvent =
  /** The broker answered (its first heartbeat or request) after a READY: the worker is registered. */
  | { type: 'ready' }
  /** A connection attempt to the broker failed (refused, unreachable, name not resolved); it is retried with backoff. */
  | { type: 'connect-failed'; error: Error; retryInMs: number }
  | { type: 'request' }
  | { type: 'disconnect'; reason: 'broker-disconnect' | 'broker-silent' | 'handler-error' }
  /** The worker moved to another of its brokers (`brokers`): it sends READY there next. */
  | { type: 'broker-changed'; from: string; to: string; reason: 'broker-silent' | 'broker-refused' }
  | { type: 'closed' }
  | { type: 'error'; error: Error };

export interface WorkerStats {
  requests: number;
  replies: number;
  partials: number;
  handlerErrors: number;
  reconnects: number;
  malformed: number;
  /** Replies dropped because the worker had moved to another broker (or re-registered) while the handler ran. */
  staleReplies: number;
}

const MAX_BACKLOG = 16;
/** Longest wait between connection attempts, and between conversations with a silent broker (or one that keeps refusing the READY). */
const RECONNECT_MAX_MS = 30_000;
/** WorkerOptions that are not config fields (curveCert and curveServerKey are key material here, not file names). */
const WORKER_EXTRA_OPTIONS = ['logger', 'onDisconnect', 'errorReply', 'socketOptions', 'curveCert', 'curveServerKey', 'brokers'] as const;

function toFrames(body: MessageLike | MessageLike[]): MessageLike[] {
  const list = Array.isArray(body) ? body : [body];
  return list.length === 0 ? [null] : list;
}

export class Worker {
  readonly service: string;
  readonly config: Omit<WorkerConfig, 'broker' | CurveFields>;
  /** The codec of the dialect spoken (from `dialect`, or the RFC of `version`). */
  readonly codec: MdpCodec;
  readonly stats: WorkerStats = { requests: 0, replies: 0, partials: 0, handlerErrors: 0, reconnects: 0, malformed: 0, staleReplies: 0 };
  private readonly handler: WorkerHandler;
  private readonly options: WorkerOptions;
  private readonly log: Logger;
  private readonly serviceFrame: Uint8Array;
  private readonly listeners = new Set<(e: WorkerEvent) => void>();
  private socket: Dealer | undefined;
  private generation = 0;
  /** The broker has answered since the last READY. */
  private registered = false;
  /** Conversations in a row that ended with a silent broker: the next one waits longer. */
  private silentRestarts = 0;
  private readonly limited: RateLimitedLog;
  private timer: ReturnType<typeof setInterval> | undefined;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private lastHeard = 0;
  private lastSent = 0;
  private busy: Promise<void> | undefined;
  private abort: AbortController | undefined;
  private readonly backlog: { client: Uint8Array; body: Uint8Array[] }[] = [];
  private isClosed = false;
  private closing: Promise<void> | undefined;
  private readonly curve: Partial<SocketOptions>;
  /** Conversations in a row that the broker ended with DISCONNECT before anything else. */
  private refusedInARow = 0;
  private readonly pool: BrokerPool;
  /** The broker of the current conversation (an index in `pool`). */
  private brokerIndex = 0;
  /**
   * The current broker heartbeated while a request ran, or the connection to it dropped: with several
   * brokers, it is then timed while busy too.
   */
  private heartbeatsWhileBusy = false;
  /** Takes the current socket's connection out of the per-broker statistics when it closes. */
  private socketDown: (() => void) | undefined;

  /**
   * `endpoint`: the broker, or a list of brokers in failover order (or undefined, with option
   * `broker` or `brokers`).
   */
  constructor(endpoint: string | readonly string[] | undefined, service: string, handler: WorkerHandler, options: WorkerOptions = {}) {
    if (typeof service !== 'string' || service.length === 0) throw mdpError(MdpErrorCode.CONFIG, 'a worker needs a service name', { issues: ['service'] });
    if (service.startsWith(MMI_NAMESPACE)) {
      throw mdpError(MdpErrorCode.CONFIG, `service names starting with "${MMI_NAMESPACE}" are reserved for the broker (8/MMI)`, { service });
    }
    if (typeof handler !== 'function') throw mdpError(MdpErrorCode.CONFIG, 'Worker needs a handler function', { issues: ['handler'] });
    const { broker: fallback, curveCert: _c, curveServerKey: _k, ...defaults } = DEFAULT_CONFIG.worker;
    const { broker, curveCert: _cc, curveServerKey: _ck, ...checked } = checkOptions('worker', 'Worker', options, WORKER_EXTRA_OPTIONS);
    this.pool = new BrokerPool(resolveBrokers('Worker', endpoint, broker, options.brokers, fallback));
    this.config = { ...defaults, ...checked } as Omit<WorkerConfig, 'broker' | CurveFields>;
    this.curve = peerCurveSocketOptions(options);
    this.codec = resolveDialect(this.config.dialect, this.config.version);
    this.service = service;
    this.serviceFrame = new TextEncoder().encode(service);
    this.handler = handler;
    this.options = options;
    this.log = options.logger ?? silentLogger;
    this.limited = new RateLimitedLog(this.log, 30_000);
    this.connect();
    this.timer = setInterval(() => this.tick(), this.config.heartbeatInterval);
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** The broker the worker registers with now. */
  get endpoint(): string {
    return this.pool.endpoint(this.brokerIndex);
  }

  /** Every broker of the worker, in failover order, with its statistics (a snapshot). */
  get brokers(): BrokerStats[] {
    return this.pool.snapshot();
  }

  /** The dialect spoken. */
  get dialect(): Dialect {
    return this.codec.dialect;
  }

  /** Listens to worker life-cycle events (ready, request, disconnect, closed, error). */
  on(listener: (e: WorkerEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(e: WorkerEvent): void {
    for (const l of this.listeners) {
      try {
        l(e);
      } catch {
        // listeners must not break the worker
      }
    }
  }

  // ---- connection -----------------------------------------------------------------------------

  private connect(): void {
    this.reconnectTimer = undefined;
    if (this.isClosed || this.closing) return;
    const gen = ++this.generation;
    const index = this.brokerIndex;
    const endpoint = this.pool.endpoint(index);
    // ZMTP reconnects back off exponentially (a broker that is down is not hammered every 100 ms)
    const socket = new Dealer({ linger: 1000, reconnectMaxInterval: RECONNECT_MAX_MS, ...this.curve, ...this.options.socketOptions });
    this.socket = socket;
    socket.events.on('connect:retry', (e) => {
      if (gen !== this.generation || !e.error) return;
      this.limited.warn('connect-failed', 'cannot reach the broker: retrying', { broker: endpoint, service: this.service, code: e.error.code, error: e.error.message, retryInMs: e.interval });
      this.emit({ type: 'connect-failed', error: e.error, retryInMs: e.interval });
    });
    // per-broker statistics: a connection counts while it is up, on this socket only
    let up = false;
    const down = (): void => {
      if (up) this.pool.connection(index, -1);
      up = false;
    };
    socket.events.on('handshake', () => {
      if (!up) this.pool.connection(index, 1);
      up = true;
    });
    socket.events.on('disconnect', () => {
      down();
      // a broker whose connection is gone cannot take the reply either: time it even while busy
      if (gen === this.generation) this.heartbeatsWhileBusy = true;
    });
    this.socketDown = down;
    socket.connect(endpoint);
    this.registered = false;
    this.heartbeatsWhileBusy = false;
    const t = performance.now();
    this.lastHeard = t;
    this.send(this.codec.encode({ protocol: 'worker', command: 'READY', version: this.codec.version, service: this.serviceFrame }, Direction.TO_BROKER));
    this.log.debug('READY sent: waiting for the broker to answer', { service: this.service, broker: endpoint, dialect: this.codec.dialect, brokers: this.pool.size > 1 ? this.brokerSummary() : undefined });
    void this.receiveLoop(socket, gen);
  }

  private async receiveLoop(socket: Dealer, gen: number): Promise<void> {
    for (;;) {
      let msg: Uint8Array[];
      try {
        msg = await socket.receive();
      } catch {
        return; // socket closed
      }
      if (gen !== this.generation) return;
      this.onMessage(msg);
    }
  }

  /**
   * Ends the current conversation; starts a new one after `delay` unless closing. `move`: the broker
   * failed (silent, or refused the READY): the next conversation is with the next broker in the list.
   */
  private restart(reason: 'broker-disconnect' | 'broker-silent' | 'handler-error', sendDisconnect: boolean, delay: number, move?: 'broker-silent' | 'broker-refused'): void {
    this.generation++;
    this.abort?.abort(mdpError(MdpErrorCode.WORKER_DISCONNECTED, `conversation with the broker ended (${reason})`));
    this.backlog.length = 0;
    const socket = this.socket;
    this.socket = undefined;
    this.socketDown?.();
    this.socketDown = undefined;
    if (move) {
      const from = this.pool.endpoint(this.brokerIndex);
      const next = this.pool.fail(this.brokerIndex, move === 'broker-silent' ? (this.registered ? 'silent' : 'unreachable') : 'refused');
      if (next !== undefined) {
        this.brokerIndex = next;
        const to = this.pool.endpoint(next);
        this.log.info(`moved to broker ${to}`, { service: this.service, from, to, reason: move, retryInMs: delay });
        this.log.debug('brokers', { service: this.service, brokers: this.brokerSummary() });
        this.emit({ type: 'broker-changed', from, to, reason: move });
      }
    }
    if (socket) {
      if (sendDisconnect) {
        socket.send(this.codec.encode({ protocol: 'worker', command: 'DISCONNECT', version: this.codec.version }, Direction.TO_BROKER)).catch(() => undefined);
      } else {
        socket.linger = 0;
      }
      socket.close();
    }
    this.emit({ type: 'disconnect', reason });
    if (reason === 'broker-disconnect' && this.options.onDisconnect === 'close') {
      void this.close();
      return;
    }
    this.stats.reconnects++;
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }

  private send(frames: Uint8Array[]): void {
    const socket = this.socket;
    if (!socket) return;
    this.lastSent = performance.now();
    socket.send(frames).catch((err: Error) => this.log.debug('send failed', { error: err }));
  }

  private tick(): void {
    if (this.isClosed || !this.socket) return;
    const t = performance.now();
    const interval = this.config.heartbeatInterval;
    // while busy, only a broker known to heartbeat busy workers (several brokers, it did during this
    // conversation), or whose connection dropped, is timed: a Guide broker stays quiet until the reply
    const timed = !this.busy || (this.pool.size > 1 && this.heartbeatsWhileBusy);
    if (timed && t - this.lastHeard > interval * this.config.heartbeatLiveness) {
      // a broker that never answered, or stopped: each conversation in a row waits twice as long, up
      // to a cap; with several brokers, each full round of them does
      const rounds = Math.floor(this.silentRestarts / this.pool.size);
      const delay = Math.min(RECONNECT_MAX_MS, this.config.reconnectInterval * 2 ** Math.min(rounds, 16));
      this.silentRestarts++;
      const multi = this.pool.size > 1;
      this.limited.warn('broker-silent', this.registered ? (multi ? 'broker silent: moving to the next broker' : 'broker silent: registering again') : multi ? 'no answer from the broker: trying the next broker' : 'no answer from the broker: registering again', {
        broker: this.endpoint,
        service: this.service,
        retryInMs: delay,
        busy: this.busy !== undefined || undefined,
      });
      this.restart('broker-silent', false, delay, 'broker-silent');
      return;
    }
    if (t - this.lastSent >= interval / 2) {
      this.send(this.codec.encode({ protocol: 'worker', command: 'HEARTBEAT', version: this.codec.version }, Direction.TO_BROKER));
    }
  }

  // ---- requests -------------------------------------------------------------------------------

  private onMessage(msg: Uint8Array[]): void {
    const r = this.codec.decode(msg, Direction.TO_WORKER);
    if (!r.ok || r.command.protocol !== 'worker') {
      this.stats.malformed++;
      this.log.debug('malformed message from broker ignored', { dialect: this.codec.dialect, error: r.ok ? `client ${r.command.command}` : r.error.message });
      return;
    }
    this.lastHeard = performance.now();
    this.pool.seen(this.brokerIndex);
    const cmd = r.command;
    if (!this.registered && cmd.command !== 'DISCONNECT') {
      // "ready" only once the broker is known to be there: a wrong port or a broker that is down
      // must not look like a worker at work
      this.registered = true;
      this.silentRestarts = 0;
      this.refusedInARow = 0;
      this.log.info('worker ready', { service: this.service, broker: this.endpoint, dialect: this.codec.dialect, brokers: this.pool.size > 1 ? this.pool.size : undefined });
      this.emit({ type: 'ready' });
    }
    switch (cmd.command) {
      case 'REQUEST':
        this.pool.request(this.brokerIndex);
        if (this.busy) {
          if (this.backlog.length < MAX_BACKLOG) this.backlog.push({ client: cmd.client, body: cmd.body });
          return;
        }
        this.busy = this.handle(cmd.client, cmd.body, this.generation);
        return;
      case 'DISCONNECT': {
        // 7/MDP: send nothing more on this socket; a new one re-registers (with the next broker, when
        // this one refused the READY and there are others)
        const refused = !this.registered;
        const delay = this.disconnectDelay();
        this.restart('broker-disconnect', false, delay, refused ? 'broker-refused' : undefined);
        return;
      }
      default:
        // HEARTBEAT: liveness only
        if (this.busy) this.heartbeatsWhileBusy = true;
        return;
    }
  }

  /**
   * Delay before registering again after a DISCONNECT: at most a second normally; doubling when the
   * broker answered the READY with nothing but DISCONNECT (refused: access policy, mmi. name, limits).
   */
  private disconnectDelay(): number {
    const base = Math.min(this.config.reconnectInterval, 1000);
    if (this.registered) {
      this.log.info('broker sent DISCONNECT', { service: this.service });
      return base;
    }
    this.refusedInARow++;
    const delay = Math.min(RECONNECT_MAX_MS, Math.max(base, 250) * 2 ** (this.refusedInARow - 1));
    this.log.warn('broker refused the READY with DISCONNECT (not allowed to serve this service?)', { service: this.service, broker: this.endpoint, retryInMs: delay });
    return delay;
  }

  private async handle(client: Uint8Array, body: Uint8Array[], gen: number): Promise<void> {
    this.stats.requests++;
    this.emit({ type: 'request' });
    const abort = new AbortController();
    this.abort = abort;
    const merged: Uint8Array[] = [];
    const merge = !this.codec.streams;
    const ctx: RequestContext = {
      client,
      signal: abort.signal,
      partial: async (part) => {
        if (gen !== this.generation) throw abort.signal.reason as MdpError;
        const frames = toFrames(part).map(toFrame);
        this.stats.partials++;
        if (merge) merged.push(...frames);
        else this.send(this.codec.encode({ protocol: 'worker', command: 'PARTIAL', version: this.codec.version, client, body: frames }, Direction.TO_BROKER));
      },
    };
    let result: MessageLike | MessageLike[] | undefined;
    let failed = false;
    try {
      result = await this.handler(body, ctx);
    } catch (err) {
      this.stats.handlerErrors++;
      this.log.error('handler failed', { service: this.service, error: err as Error });
      this.emit({ type: 'error', error: err as Error });
      if (this.options.errorReply) {
        try {
          result = this.options.errorReply(err);
        } catch {
          failed = true;
        }
      } else failed = true;
    }
    if (this.abort === abort) this.abort = undefined;
    if (gen !== this.generation && !failed) {
      // the conversation this request came in ended while it ran (the broker went silent, the worker
      // moved to another one): the reply goes nowhere rather than to a broker that never sent the
      // request; the broker that did re-dispatches it when it sees the worker gone
      this.stats.staleReplies++;
      this.log.debug('reply dropped: the conversation it belongs to has ended', { service: this.service, broker: this.endpoint });
    }
    if (gen === this.generation) {
      if (failed) {
        this.busy = undefined;
        this.restart('handler-error', true, 0);
        return;
      }
      const frames = [...merged, ...toFrames(result ?? null).map(toFrame)];
      this.send(this.codec.encode({ protocol: 'worker', command: 'FINAL', version: this.codec.version, client, body: frames }, Direction.TO_BROKER));
      this.stats.replies++;
      this.pool.reply(this.brokerIndex);
      this.lastHeard = Math.max(this.lastHeard, performance.now() - this.config.heartbeatInterval);
    }
    this.busy = undefined;
    // the backlog belongs to the current conversation (restart() empties it): after a stale request it
    // is served too, or the broker would wait for those replies until it timed this worker out
    const next = this.backlog.shift();
    if (next && !this.isClosed && !this.closing) this.busy = this.handle(next.client, next.body, this.generation);
  }

  /** Per-broker statistics in one line, for debug logs. */
  private brokerSummary(): string {
    return this.pool
      .snapshot()
      .map((b) => `${b.endpoint}${b.current ? '*' : ''} connected=${b.connected} failures=${b.failures} lastSeen=${b.lastSeen === null ? '-' : new Date(b.lastSeen).toISOString()}`)
      .join('; ');
  }

  // ---- close ------------------------------------------------------------------------------------

  /** Finishes the current request (up to `timeoutMs`), sends DISCONNECT and closes. */
  close(timeoutMs = 5000): Promise<void> {
    this.closing ??= this.shutdown(timeoutMs);
    return this.closing;
  }

  private async shutdown(timeoutMs: number): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    if (this.reconnectTimer !== undefined) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.backlog.length = 0;
    if (this.busy) {
      let t: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([this.busy, new Promise<void>((r) => (t = setTimeout(r, timeoutMs)))]);
      clearTimeout(t);
    }
    this.generation++;
    this.abort?.abort(mdpError(MdpErrorCode.CLOSED, 'worker closed'));
    const socket = this.socket;
    this.socket = undefined;
    this.socketDown?.();
    this.socketDown = undefined;
    if (socket) {
      socket.send(this.codec.encode({ protocol: 'worker', command: 'DISCONNECT', version: this.codec.version }, Direction.TO_BROKER)).catch(() => undefined);
      socket.close();
    }
    this.isClosed = true;
    this.log.info('worker closed', { service: this.service });
    this.emit({ type: 'closed' });
  }
}

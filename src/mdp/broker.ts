/**
 * Majordomo broker: one ROUTER for clients and workers of MDP/0.1 (7/MDP) and MDP/0.2 (18/MDP), and
 * of the majortomo and plantd dialects, with MMI (8/MMI plus purezmq extensions). Built on purezmq's
 * public socket API only.
 *
 * Dialects (issue 6): every message is decoded by the codec of the dialect it is in (detected by
 * src/mdp/dialects/index.ts) into version-neutral commands, and everything below works on those
 * commands only. A worker speaks the dialect of its READY for its whole life (a command in another
 * dialect is unexpected: DISCONNECT); a request remembers the codec of the client that sent it and
 * its replies are encoded with it. The only dialect property dispatch looks at is a capability:
 * `codec.streams` (can the client take PARTIALs?). Dialects not in `config.dialects` are recognised,
 * refused without an answer, logged (rate-limited) and counted (counters.dialectRefused, per dialect).
 *
 * Decisions where the RFCs leave room (shared/specs/mdp.md §10):
 * - Dispatch: one FIFO queue per service, least recently used idle worker first.
 * - Requests for a service without an idle worker wait; they expire after `requestTimeout` (0 = never).
 * - Liveness: any command except DISCONNECT refreshes a worker. An idle worker silent for
 *   liveness × interval is dead; a busy one gets `busyWorkerTimeout` (Guide workers do not
 *   heartbeat while busy). The ROUTER is `mandatory`, so a send to a worker whose connection is
 *   gone fails at once (EHOSTUNREACH): heartbeats double as a connection probe.
 * - A dead or disconnecting worker's request is queued again (at the front) and dispatched to
 *   another worker, up to `maxDispatchAttempts` dispatches (workers are idempotent per the RFC).
 *   A 0.2 client may then see PARTIALs of the first attempt followed by those of the next.
 * - Bridging: a streaming client (every dialect but 7/MDP) served by a 0.1 worker gets its REPLY as a
 *   FINAL. A 0.1 client served by a streaming worker gets one REPLY whose body is every PARTIAL's
 *   frames followed by the FINAL's frames, in order (bounded by maxReplyBytes / maxFrames; partial
 *   frames beyond are dropped and counted).
 * - Invalid messages are dropped and counted per reason; if the sender is a registered worker it
 *   gets DISCONNECT and is forgotten. Valid but unexpected worker commands get DISCONNECT.
 * - Sends never block: a peer whose queue is full (HWM) loses that message, counted.
 */
import { Router } from '../mod.ts';
import type { ZmqError } from '../errors.ts';
import { copyBytes } from '../util/bytes.ts';
import { Direction, type ClientRequest, type WorkerCommand, type MdpCommand, type MdpCodec } from './codec.ts';
import { BROKER_VERSION, DIALECTS, MMI_NAMESPACE, MmiCode, MmiService, type Dialect } from './constants.ts';
import { expandDialects, parseAny, type DialectGroup } from './dialects/index.ts';
import { DEFAULT_CONFIG, type BrokerConfig } from './config.ts';
import { MdpErrorCode, mdpError, type MdpError } from './errors.ts';
import { silentLogger, type Logger } from './log.ts';
import { LatencyReservoir, type LatencySnapshot } from './metrics.ts';

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

function key(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]!);
  return s;
}

/**
 * Map key of a peer's routing id, built per message without allocating in the common case: the 5-byte
 * ids a ROUTER generates (0x00 then a 32-bit number) become that number, any other id a latin1 string.
 * Numbers and strings never collide as Map keys, so the mapping stays one-to-one.
 */
type PeerKey = string | number;
function peerKey(id: Uint8Array): PeerKey {
  if (id.length === 5 && id[0] === 0) return ((id[1]! << 24) | (id[2]! << 16) | (id[3]! << 8) | id[4]!) >>> 0;
  return key(id);
}

const MMI_PREFIX = Array.from(MMI_NAMESPACE, (c) => c.charCodeAt(0));

/** Whether a service name is in the mmi. namespace (the bytes of `key(name).startsWith(MMI_NAMESPACE)`). */
function isMmiName(name: Uint8Array): boolean {
  if (name.length < MMI_PREFIX.length) return false;
  for (let i = 0; i < MMI_PREFIX.length; i++) if (name[i] !== MMI_PREFIX[i]) return false;
  return true;
}

function hexId(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += bytes[i]!.toString(16).padStart(2, '0');
  return s;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function appendIdle(service: Service, w: WorkerRecord): void {
  w.idle = true;
  w.prevIdle = service.idleTail;
  w.nextIdle = undefined;
  if (service.idleTail) service.idleTail.nextIdle = w;
  else service.idleHead = w;
  service.idleTail = w;
  service.idleCount++;
}

function unlinkIdle(service: Service, w: WorkerRecord): void {
  if (!w.idle) return;
  w.idle = false;
  if (w.prevIdle) w.prevIdle.nextIdle = w.nextIdle;
  else service.idleHead = w.nextIdle;
  if (w.nextIdle) w.nextIdle.prevIdle = w.prevIdle;
  else service.idleTail = w.prevIdle;
  w.prevIdle = undefined;
  w.nextIdle = undefined;
  service.idleCount--;
}

function now(): number {
  return performance.now();
}

interface PendingRequest {
  readonly client: Uint8Array;
  /** The dialect of the client: replies are encoded with it. */
  readonly clientCodec: MdpCodec;
  readonly service: Service;
  readonly body: Uint8Array[];
  readonly receivedAt: number;
  queuedAt: number;
  attempts: number;
  /** MDP/0.1 client served by a streaming worker: PARTIAL frames kept for the single REPLY. */
  merged: Uint8Array[] | undefined;
  mergedBytes: number;
  /** A PARTIAL has been relayed to the (streaming) client: the request cannot be run again. */
  streamed: boolean;
}

interface WorkerRecord {
  readonly id: Uint8Array;
  readonly key: PeerKey;
  /** The dialect of its READY, spoken for the whole conversation. */
  readonly codec: MdpCodec;
  readonly service: Service;
  lastHeard: number;
  lastSent: number;
  request: PendingRequest | undefined;
  gone: boolean;
  /** Links of the service's idle list (meaningful while `idle`). */
  idle: boolean;
  prevIdle: WorkerRecord | undefined;
  nextIdle: WorkerRecord | undefined;
  /** Send failure handler, made once (not per dispatch). */
  readonly unreachable: (err: ZmqError) => void;
}

interface Service {
  readonly name: Uint8Array;
  readonly key: string;
  readonly display: string;
  readonly queue: PendingRequest[];
  readonly workers: Set<WorkerRecord>;
  /** Idle workers, a doubly linked list in LRU order: the head is the longest idle. */
  idleHead: WorkerRecord | undefined;
  idleTail: WorkerRecord | undefined;
  idleCount: number;
  readonly latency: LatencyReservoir;
  requests: number;
  replies: number;
  partials: number;
  requeued: number;
  drops: ServiceDrops;
}

/** Requests dropped per reason. */
export interface ServiceDrops {
  expired: number;
  overflow: number;
  undeliverable: number;
  /** Dispatched `max_dispatch_attempts` times, or caught in a shutdown. */
  abandoned: number;
  /** Their worker was lost after PARTIALs had reached a streaming client: not run again, since the client would see them twice. */
  interrupted: number;
  truncated: number;
}

export interface ServiceMetrics {
  workers: number;
  idleWorkers: number;
  busyWorkers: number;
  queueDepth: number;
  requests: number;
  replies: number;
  partials: number;
  requeued: number;
  drops: ServiceDrops;
  /** Broker-side latency (request received to FINAL relayed), ms. */
  latencyMs: LatencySnapshot;
}

export interface BrokerCounters {
  messagesIn: number;
  requests: number;
  replies: number;
  partials: number;
  mmiRequests: number;
  /** Messages refused by the codec. */
  invalid: number;
  invalidByReason: Record<string, number>;
  /** Valid commands that were not acceptable in the sender's state (answered with DISCONNECT). */
  unexpected: number;
  disconnectsSent: number;
  workersRegistered: number;
  /** Workers that sent DISCONNECT. */
  workersDisconnected: number;
  /** Workers dropped for silence. */
  workersExpired: number;
  /** Workers whose connection was found gone. */
  workersLost: number;
  /** READY refused (mmi.* name, too many workers or services). */
  readyRefused: number;
  requeued: number;
  requestsExpired: number;
  /** Requests dropped: queue full, too many services, attempts exhausted, stream interrupted, shutting down. */
  requestsDropped: number;
  /** Messages that could not be delivered (peer gone or its queue full). */
  undeliverable: number;
  /** Connections closed by the socket layer for protocol errors or limits (oversized frames, …). */
  connectionErrors: number;
  internalErrors: number;
  /** Messages in a dialect the broker does not accept (dropped without an answer). */
  dialectRefused: number;
}

/** Peers and messages of one dialect. */
export interface DialectMetrics {
  /** Whether the broker accepts this dialect (config.dialects). */
  accepted: boolean;
  /** Workers registered now. */
  workers: number;
  /** Distinct clients that sent a request in the last minute. */
  clients: number;
  /** Valid messages received. */
  messagesIn: number;
  /** Messages sent. */
  messagesOut: number;
  /** Client requests received (MMI included). */
  requests: number;
  /** PARTIALs sent to clients. */
  partials: number;
  /** FINALs (REPLYs) sent to clients. */
  replies: number;
  /** Workers that registered (READY accepted). */
  workersRegistered: number;
  /** Messages recognised as this dialect but malformed. */
  invalid: number;
  /** Messages refused because the dialect is not accepted. */
  refused: number;
}

export interface BrokerMetrics {
  version: string;
  protocols: string[];
  uptimeMs: number;
  endpoints: string[];
  heartbeat: { intervalMs: number; liveness: number };
  workers: number;
  counters: BrokerCounters;
  services: Record<string, ServiceMetrics>;
  /** Dialects accepted, in canonical order. */
  acceptedDialects: Dialect[];
  /** Peers and messages per dialect (every dialect, accepted or not). */
  dialects: Record<Dialect, DialectMetrics>;
}

type DialectCounters = Omit<DialectMetrics, 'accepted' | 'workers' | 'clients'>;

/** A client is counted as a peer of its dialect for this long after its last request. */
const CLIENT_WINDOW_MS = 60_000;
/** Clients tracked at once for the per-dialect peer count (beyond, new clients are not counted). */
const MAX_TRACKED_CLIENTS = 100_000;
/** At most one "dialect refused" log line per dialect in this period (the counter counts them all). */
const REFUSAL_LOG_PERIOD_MS = 10_000;

export interface BrokerOptions extends Partial<Omit<BrokerConfig, 'dialects'>> {
  /** Dialects accepted (default all): names, or the groups `all` and `rfc` (strict). */
  dialects?: readonly (Dialect | DialectGroup)[];
  logger?: Logger;
}

/** What a MMI handler returns: the reply body. */
type MmiHandler = (request: ClientRequest) => Uint8Array[];

export class Broker {
  readonly config: BrokerConfig;
  private readonly log: Logger;
  private readonly router: Router;
  private readonly workers = new Map<PeerKey, WorkerRecord>();
  private readonly services = new Map<string, Service>();
  /** The service of the last lookup by name (clients of one service repeat it): skips building its key. */
  private lastService: Service | undefined;
  private readonly bound: string[] = [];
  private readonly startedAt = now();
  private readonly counters: BrokerCounters = {
    messagesIn: 0,
    requests: 0,
    replies: 0,
    partials: 0,
    mmiRequests: 0,
    invalid: 0,
    invalidByReason: {},
    unexpected: 0,
    disconnectsSent: 0,
    workersRegistered: 0,
    workersDisconnected: 0,
    workersExpired: 0,
    workersLost: 0,
    readyRefused: 0,
    requeued: 0,
    requestsExpired: 0,
    requestsDropped: 0,
    undeliverable: 0,
    connectionErrors: 0,
    internalErrors: 0,
    dialectRefused: 0,
  };
  private readonly accepted: ReadonlySet<Dialect>;
  private readonly byDialect = Object.fromEntries(
    DIALECTS.map((d) => [d, { messagesIn: 0, messagesOut: 0, requests: 0, partials: 0, replies: 0, workersRegistered: 0, invalid: 0, refused: 0 }]),
  ) as Record<Dialect, DialectCounters>;
  /** client key -> dialect and last request time, for the per-dialect peer count. */
  private readonly clients = new Map<PeerKey, { dialect: Dialect; lastSeen: number }>();
  /** A promise `router.send` returned that has since fulfilled: when it is returned again, nothing can fail. */
  private sentOk: Promise<void> | undefined;
  private clientsPurgedAt = now();
  private readonly refusalLog = new Map<Dialect, { at: number; suppressed: number }>();
  private readonly mmi: Record<string, MmiHandler>;
  private timer: ReturnType<typeof setInterval> | undefined;
  private bindChain: Promise<unknown> = Promise.resolve();
  private draining = false;
  private isClosed = false;
  private closing: Promise<void> | undefined;
  private drained: (() => void) | undefined;
  private readonly loop: Promise<void>;

  constructor(options: BrokerOptions = {}) {
    const { logger, ...rest } = options;
    const config: BrokerConfig = { ...DEFAULT_CONFIG.broker, bind: [...DEFAULT_CONFIG.broker.bind] };
    for (const [k, v] of Object.entries(rest)) if (v !== undefined) (config as unknown as Record<string, unknown>)[k] = v;
    const dialects = expandDialects(config.dialects);
    if ('error' in dialects) throw mdpError(MdpErrorCode.CONFIG, `dialects: ${dialects.error}`, { issues: [`broker.dialects: ${dialects.error}`] });
    config.dialects = dialects.dialects;
    this.config = config;
    this.accepted = new Set(config.dialects);
    this.log = logger ?? silentLogger;
    this.router = new Router({
      mandatory: true,
      sendTimeout: 0,
      sendHighWaterMark: config.sendHighWaterMark,
      receiveHighWaterMark: config.receiveHighWaterMark,
      maxMessageSize: config.maxFrameSize,
      maxMessageFrames: config.maxFrames,
      linger: 1000,
    });
    this.router.events.on('disconnect', (e) => {
      if (e.error) {
        this.counters.connectionErrors++;
        this.log.debug('connection dropped', { address: e.address, code: e.error.code, error: e.error.message });
      }
    });
    this.router.events.on('handshake:error:protocol', (e) => {
      this.counters.connectionErrors++;
      this.log.debug('handshake failed', { address: e.address, code: e.error.code });
    });
    this.mmi = {
      [MmiService.SERVICE]: (req) => this.mmiService(req),
      [MmiService.WORKERS]: (req) => this.mmiWorkers(req),
      [MmiService.HEARTBEAT]: () => [this.text(MmiCode.OK), this.text(String(this.config.heartbeatInterval)), this.text(String(this.config.heartbeatLiveness))],
      [MmiService.BROKER]: () => [this.text(MmiCode.OK), this.text(JSON.stringify(this.metrics()))],
      [MmiService.SERVICES]: () => [this.text(MmiCode.OK), ...this.activeServices().map((s) => s.name)],
    };
    this.timer = setInterval(() => this.guard(() => this.tick()), config.heartbeatInterval);
    this.loop = this.run();
  }

  /** Binds one more endpoint; resolves with the endpoint actually bound (a `*` port resolved). */
  bind(endpoint: string): Promise<string> {
    const next = this.bindChain.then(async () => {
      if (this.isClosed) throw mdpError(MdpErrorCode.CLOSED, 'broker is closed');
      await this.router.bind(endpoint);
      const resolved = this.router.lastEndpoint ?? endpoint;
      this.bound.push(resolved);
      this.log.info('listening', { endpoint: resolved });
      return resolved;
    });
    this.bindChain = next.catch(() => undefined);
    return next;
  }

  /** Endpoints bound so far, resolved. */
  get endpoints(): string[] {
    return [...this.bound];
  }

  get closed(): boolean {
    return this.isClosed;
  }

  // ---- receiving ------------------------------------------------------------------------------

  private async run(): Promise<void> {
    for (;;) {
      let msg: Uint8Array[];
      try {
        msg = await this.router.receive();
      } catch (err) {
        if (this.isClosed || this.router.closed) return;
        this.counters.internalErrors++;
        this.log.error('receive failed', { error: err as Error });
        continue;
      }
      try {
        this.onMessage(msg);
      } catch (err) {
        this.internalError(err);
      }
    }
  }

  private guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.internalError(err);
    }
  }

  private internalError(err: unknown): void {
    this.counters.internalErrors++;
    this.log.error('internal error', { error: err as Error, stack: (err as Error).stack });
  }

  private onMessage(msg: Uint8Array[]): void {
    this.counters.messagesIn++;
    const id = msg[0]!;
    const { codec, result: r } = parseAny(msg.slice(1));
    if (!r.ok || !codec) {
      this.onInvalid(id, r.ok ? undefined : r.error, codec);
      return;
    }
    const cmd = r.command;
    if (!this.accepted.has(codec.dialect)) {
      this.refuseDialect(id, codec, cmd);
      return;
    }
    this.byDialect[codec.dialect].messagesIn++;
    // one clock reading per message, for every timestamp it leads to
    const t = now();
    if (cmd.protocol === 'client') {
      if (cmd.command === 'REQUEST') this.onRequest(id, cmd, codec, t);
    } else {
      this.onWorker(id, cmd, codec, t);
    }
  }

  /** A valid message in a dialect this broker does not accept: dropped, counted, logged (rate-limited). */
  private refuseDialect(id: Uint8Array, codec: MdpCodec, cmd: MdpCommand): void {
    const dialect = codec.dialect;
    this.counters.dialectRefused++;
    this.byDialect[dialect].refused++;
    const error = mdpError(MdpErrorCode.DIALECT_REFUSED, `${codec.label} is not accepted by this broker (accepted: ${[...this.accepted].join(', ')})`);
    const t = now();
    const last = this.refusalLog.get(dialect);
    if (last && t - last.at < REFUSAL_LOG_PERIOD_MS) {
      last.suppressed++;
      return;
    }
    this.refusalLog.set(dialect, { at: t, suppressed: 0 });
    this.log.warn('dialect refused', {
      dialect,
      peer: hexId(id),
      command: `${cmd.protocol} ${cmd.command}`,
      code: error.code,
      error: error.message,
      suppressedSinceLast: last?.suppressed,
    });
  }

  private onInvalid(id: Uint8Array, error: MdpError | undefined, codec: MdpCodec | undefined): void {
    this.counters.invalid++;
    if (codec) this.byDialect[codec.dialect].invalid++;
    const reason = error?.reason ?? 'unknown';
    this.counters.invalidByReason[reason] = (this.counters.invalidByReason[reason] ?? 0) + 1;
    const worker = this.workers.get(peerKey(id));
    if (this.log.enabled('debug')) this.log.debug('invalid message dropped', { peer: hexId(id), dialect: codec?.dialect, reason, error: error?.message, worker: worker !== undefined });
    // "treat that peer as invalid": a registered worker is disconnected and forgotten
    if (worker) this.removeWorker(worker, { disconnect: true, why: 'invalid message' });
  }

  // ---- clients --------------------------------------------------------------------------------

  private onRequest(id: Uint8Array, cmd: ClientRequest, codec: MdpCodec, t: number): void {
    this.byDialect[codec.dialect].requests++;
    this.seeClient(id, codec.dialect, t);
    if (isMmiName(cmd.service)) {
      this.onMmi(id, cmd, key(cmd.service), codec);
      return;
    }
    this.counters.requests++;
    if (this.draining) {
      this.counters.requestsDropped++;
      if (this.log.enabled('debug')) this.log.debug('request dropped: shutting down', { service: key(cmd.service) });
      return;
    }
    const service = this.service(cmd.service);
    if (!service) {
      this.counters.requestsDropped++;
      this.log.warn('request dropped: too many services', { service: textDecoder.decode(cmd.service), limit: this.config.maxServices });
      return;
    }
    service.requests++;
    if (service.queue.length >= this.config.maxQueuedRequests) {
      service.drops.overflow++;
      this.counters.requestsDropped++;
      this.log.warn('request dropped: queue full', { service: service.display, limit: this.config.maxQueuedRequests });
      return;
    }
    service.queue.push({
      client: id,
      clientCodec: codec,
      service,
      body: cmd.body,
      receivedAt: t,
      queuedAt: t,
      attempts: 0,
      merged: undefined,
      mergedBytes: 0,
      streamed: false,
    });
    this.dispatch(service, t);
  }

  private seeClient(id: Uint8Array, dialect: Dialect, t: number): void {
    const k = peerKey(id);
    const known = this.clients.get(k);
    if (known) {
      known.lastSeen = t;
      known.dialect = dialect;
    } else if (this.clients.size < MAX_TRACKED_CLIENTS) {
      this.clients.set(k, { dialect, lastSeen: t });
    }
  }

  private sendToClient(req: PendingRequest, command: 'PARTIAL' | 'FINAL', body: Uint8Array[]): void {
    const codec = req.clientCodec;
    const frames = codec.encode({ protocol: 'client', command, version: codec.version, service: req.service.name, body }, Direction.TO_CLIENT);
    if (command === 'PARTIAL') this.byDialect[codec.dialect].partials++;
    else this.byDialect[codec.dialect].replies++;
    this.send(req.client, frames, codec, (err) => {
      this.counters.undeliverable++;
      req.service.drops.undeliverable++;
      if (this.log.enabled('debug')) this.log.debug('reply undeliverable', { service: req.service.display, client: hexId(req.client), code: err.code });
    });
  }

  // ---- MMI --------------------------------------------------------------------------------------

  private onMmi(id: Uint8Array, cmd: ClientRequest, name: string, codec: MdpCodec): void {
    this.counters.mmiRequests++;
    const handler = this.mmi[name];
    const body = handler ? handler(cmd) : this.replaceLast(cmd.body, MmiCode.NOT_IMPLEMENTED);
    const frames = codec.encode({ protocol: 'client', command: 'FINAL', version: codec.version, service: cmd.service, body }, Direction.TO_CLIENT);
    this.byDialect[codec.dialect].replies++;
    this.send(id, frames, codec, () => this.counters.undeliverable++);
  }

  /** 8/MMI: the reply is the request body with its last frame replaced by the code (as the reference brokers do). */
  private mmiService(req: ClientRequest): Uint8Array[] {
    const target = this.services.get(key(req.body[req.body.length - 1]!));
    return this.replaceLast(req.body, target && target.workers.size > 0 ? MmiCode.OK : MmiCode.NOT_FOUND);
  }

  /** purezmq: body = service name (or one empty frame for all services) -> "200", count. */
  private mmiWorkers(req: ClientRequest): Uint8Array[] {
    const target = req.body[req.body.length - 1]!;
    const count = target.length === 0 ? this.workers.size : (this.services.get(key(target))?.workers.size ?? 0);
    return [this.text(MmiCode.OK), this.text(String(count))];
  }

  private replaceLast(body: Uint8Array[], code: MmiCode): Uint8Array[] {
    return [...body.slice(0, -1), this.text(code)];
  }

  private text(s: string): Uint8Array {
    return textEncoder.encode(s);
  }

  private activeServices(): Service[] {
    return [...this.services.values()].filter((s) => s.workers.size > 0);
  }

  // ---- workers ----------------------------------------------------------------------------------

  private onWorker(id: Uint8Array, cmd: WorkerCommand, codec: MdpCodec, t: number): void {
    const wkey = peerKey(id);
    const worker = this.workers.get(wkey);
    if (worker && worker.codec !== codec) {
      this.unexpected(id, cmd, codec, worker, `${codec.dialect} command from a ${worker.codec.dialect} worker`);
      return;
    }
    switch (cmd.command) {
      case 'READY': {
        if (worker) {
          this.unexpected(id, cmd, codec, worker, 'second READY');
          return;
        }
        const display = textDecoder.decode(cmd.service);
        if (isMmiName(cmd.service)) {
          this.refuseReady(id, codec, display, 'the mmi. namespace is reserved (8/MMI)');
          return;
        }
        if (this.draining) {
          this.refuseReady(id, codec, display, 'shutting down');
          return;
        }
        if (this.workers.size >= this.config.maxWorkers) {
          this.refuseReady(id, codec, display, `too many workers (${this.config.maxWorkers})`);
          return;
        }
        const service = this.service(cmd.service);
        if (!service) {
          this.refuseReady(id, codec, display, `too many services (${this.config.maxServices})`);
          return;
        }
        const w: WorkerRecord = {
          id,
          key: wkey,
          codec,
          service,
          lastHeard: t,
          lastSent: t,
          request: undefined,
          gone: false,
          idle: false,
          prevIdle: undefined,
          nextIdle: undefined,
          unreachable: (err) => this.workerUnreachable(w, err),
        };
        this.workers.set(wkey, w);
        service.workers.add(w);
        this.counters.workersRegistered++;
        this.byDialect[codec.dialect].workersRegistered++;
        this.log.info('worker ready', { service: display, worker: hexId(id), dialect: codec.dialect });
        this.makeIdle(w, t);
        return;
      }
      case 'HEARTBEAT':
        if (!worker) {
          this.unexpected(id, cmd, codec, undefined, 'HEARTBEAT before READY');
          return;
        }
        worker.lastHeard = t;
        return;
      case 'PARTIAL':
      case 'FINAL': {
        if (!worker) {
          this.unexpected(id, cmd, codec, undefined, `${cmd.command} before READY`);
          return;
        }
        const req = worker.request;
        if (!req) {
          this.unexpected(id, cmd, codec, worker, `${cmd.command} with no request outstanding`);
          return;
        }
        if (!sameBytes(req.client, cmd.client)) {
          this.unexpected(id, cmd, codec, worker, `${cmd.command} for another client than the request's`);
          return;
        }
        worker.lastHeard = t;
        if (cmd.command === 'PARTIAL') this.onPartial(req, cmd.body);
        else this.onFinal(worker, req, cmd.body, t);
        return;
      }
      case 'DISCONNECT':
        if (!worker) return;
        this.counters.workersDisconnected++;
        this.log.info('worker disconnected', { service: worker.service.display, worker: hexId(id) });
        this.removeWorker(worker, { disconnect: false, why: 'worker sent DISCONNECT' });
        return;
      case 'REQUEST':
        // the codec refuses REQUEST toward the broker; kept for exhaustiveness
        this.unexpected(id, cmd, codec, worker, 'REQUEST from a worker');
        return;
    }
  }

  private onPartial(req: PendingRequest, body: Uint8Array[]): void {
    const service = req.service;
    service.partials++;
    this.counters.partials++;
    if (req.clientCodec.streams) {
      req.streamed = true;
      this.sendToClient(req, 'PARTIAL', body);
      return;
    }
    // the client's dialect has no PARTIAL (7/MDP): keep the frames for the single REPLY, within bounds
    let bytes = 0;
    for (const f of body) bytes += f.length;
    const merged = (req.merged ??= []);
    if (req.mergedBytes + bytes > this.config.maxReplyBytes || merged.length + body.length >= this.config.maxFrames - 4) {
      service.drops.truncated++;
      this.log.warn('partial reply dropped: merged MDP/0.1 reply too large', { service: service.display });
      return;
    }
    merged.push(...body);
    req.mergedBytes += bytes;
  }

  private onFinal(worker: WorkerRecord, req: PendingRequest, body: Uint8Array[], t: number): void {
    const service = req.service;
    this.sendToClient(req, 'FINAL', req.merged && req.merged.length > 0 ? [...req.merged, ...body] : body);
    service.replies++;
    this.counters.replies++;
    service.latency.record(t - req.receivedAt);
    worker.request = undefined;
    this.makeIdle(worker, t);
    if (this.draining && this.drained && !this.anyInFlight()) this.drained();
  }

  private unexpected(id: Uint8Array, cmd: MdpCommand, codec: MdpCodec, worker: WorkerRecord | undefined, why: string): void {
    this.counters.unexpected++;
    if (this.log.enabled('debug')) this.log.debug('unexpected worker command: DISCONNECT', { peer: hexId(id), dialect: codec.dialect, command: cmd.command, why });
    // a registered worker is answered in the dialect of its READY, anyone else in the one it used
    if (worker) this.removeWorker(worker, { disconnect: true, why });
    else this.sendDisconnect(id, codec);
  }

  private refuseReady(id: Uint8Array, codec: MdpCodec, service: string, why: string): void {
    this.counters.readyRefused++;
    this.log.warn('READY refused', { service, worker: hexId(id), dialect: codec.dialect, why });
    this.sendDisconnect(id, codec);
  }

  private sendDisconnect(id: Uint8Array, codec: MdpCodec): void {
    this.counters.disconnectsSent++;
    this.send(id, codec.encode({ protocol: 'worker', command: 'DISCONNECT', version: codec.version }, Direction.TO_WORKER), codec, () => undefined);
  }

  private makeIdle(worker: WorkerRecord, t: number): void {
    const service = worker.service;
    unlinkIdle(service, worker);
    appendIdle(service, worker);
    this.dispatch(service, t);
  }

  private removeWorker(worker: WorkerRecord, how: { disconnect: boolean; why: string }): void {
    if (worker.gone) return;
    worker.gone = true;
    this.workers.delete(worker.key);
    const service = worker.service;
    service.workers.delete(worker);
    unlinkIdle(service, worker);
    if (how.disconnect) this.sendDisconnect(worker.id, worker.codec);
    const req = worker.request;
    worker.request = undefined;
    if (req) this.requeue(req, how.why);
    if (this.draining && this.drained && !this.anyInFlight()) this.drained();
  }

  private requeue(req: PendingRequest, why: string): void {
    const service = req.service;
    if (req.streamed) {
      // MDP has no request id: a second run's PARTIALs would reach the client as more of the same
      // stream. Dropping it lets the client's timeout report the failure instead.
      service.drops.interrupted++;
      this.counters.requestsDropped++;
      this.log.warn('request dropped: its worker was lost after PARTIALs reached the client', { service: service.display, why });
      return;
    }
    if (req.attempts >= this.config.maxDispatchAttempts || this.draining) {
      service.drops.abandoned++;
      this.counters.requestsDropped++;
      this.log.warn('request abandoned', { service: service.display, attempts: req.attempts, why });
      return;
    }
    service.requeued++;
    this.counters.requeued++;
    req.merged = undefined;
    req.mergedBytes = 0;
    req.queuedAt = now();
    service.queue.unshift(req);
    this.log.info('request re-queued', { service: service.display, attempts: req.attempts, why });
    this.dispatch(service, req.queuedAt);
  }

  // ---- dispatch -------------------------------------------------------------------------------

  /** Hands queued requests to idle workers (LRU first); `t` is the current time. */
  private dispatch(service: Service, t: number): void {
    if (this.draining) return;
    let worker: WorkerRecord | undefined;
    while (service.queue.length > 0 && (worker = service.idleHead) !== undefined) {
      unlinkIdle(service, worker);
      const req = service.queue.shift()!;
      worker.request = req;
      req.attempts++;
      worker.lastSent = t;
      const codec = worker.codec;
      const frames = codec.encode({ protocol: 'worker', command: 'REQUEST', version: codec.version, client: req.client, body: req.body }, Direction.TO_WORKER);
      this.send(worker.id, frames, codec, worker.unreachable);
    }
  }

  private workerUnreachable(worker: WorkerRecord, err: ZmqError): void {
    if (worker.gone) return;
    this.counters.workersLost++;
    this.log.info('worker lost', { service: worker.service.display, worker: hexId(worker.id), code: err.code });
    this.removeWorker(worker, { disconnect: false, why: `worker unreachable (${err.code})` });
  }

  private send(id: Uint8Array, frames: Uint8Array[], codec: MdpCodec, onError: (err: ZmqError) => void): void {
    if (this.isClosed) return;
    this.byDialect[codec.dialect].messagesOut++;
    frames.unshift(id);
    const sent = this.router.send(frames);
    // a promise seen fulfilled before cannot reject: skip the handler (and its microtask) for it
    if (sent === this.sentOk) return;
    sent.then(
      () => {
        this.sentOk = sent;
      },
      (err: ZmqError) => {
        try {
          onError(err);
        } catch (e) {
          this.internalError(e);
        }
      },
    );
  }

  /** Finds or creates the record of a service; undefined when the service limit is reached. */
  private service(name: Uint8Array): Service | undefined {
    const last = this.lastService;
    if (last !== undefined && sameBytes(last.name, name)) return last;
    const k = key(name);
    const existing = this.services.get(k);
    if (existing) {
      this.lastService = existing;
      return existing;
    }
    if (this.services.size >= this.config.maxServices) {
      // evict the oldest record that holds nothing (its metrics go with it)
      let victim: Service | undefined;
      for (const s of this.services.values()) {
        if (s.workers.size === 0 && s.queue.length === 0) {
          victim = s;
          break;
        }
      }
      if (!victim) return undefined;
      this.services.delete(victim.key);
      if (this.lastService === victim) this.lastService = undefined;
    }
    const s: Service = {
      name: copyBytes(name), // not a view: the read chunk it came in is not kept for the service's life
      key: k,
      display: textDecoder.decode(name),
      queue: [],
      workers: new Set(),
      idleHead: undefined,
      idleTail: undefined,
      idleCount: 0,
      latency: new LatencyReservoir(this.config.latencySamples),
      requests: 0,
      replies: 0,
      partials: 0,
      requeued: 0,
      drops: { expired: 0, overflow: 0, undeliverable: 0, abandoned: 0, interrupted: 0, truncated: 0 },
    };
    this.services.set(k, s);
    this.lastService = s;
    return s;
  }

  // ---- timers -----------------------------------------------------------------------------------

  private tick(): void {
    const t = now();
    const interval = this.config.heartbeatInterval;
    const idleLimit = interval * this.config.heartbeatLiveness;
    const busyLimit = this.config.busyWorkerTimeout === 0 ? Infinity : Math.max(idleLimit, this.config.busyWorkerTimeout);
    for (const w of [...this.workers.values()]) {
      const silent = t - w.lastHeard;
      if (silent > (w.request ? busyLimit : idleLimit)) {
        this.counters.workersExpired++;
        this.log.info('worker expired', { service: w.service.display, worker: hexId(w.id), silentMs: Math.round(silent), busy: w.request !== undefined });
        // 7/MDP: stop sending anything to a dead worker
        this.removeWorker(w, { disconnect: false, why: 'worker expired' });
        continue;
      }
      if (t - w.lastSent >= interval / 2) {
        w.lastSent = t;
        const codec = w.codec;
        this.send(w.id, codec.encode({ protocol: 'worker', command: 'HEARTBEAT', version: codec.version }, Direction.TO_WORKER), codec, (err) => {
          if (err.code === 'EHOSTUNREACH') this.workerUnreachable(w, err);
        });
      }
    }
    if (t - this.clientsPurgedAt >= 1000) {
      this.clientsPurgedAt = t;
      for (const [k, c] of this.clients) if (t - c.lastSeen > CLIENT_WINDOW_MS) this.clients.delete(k);
    }
    if (this.config.requestTimeout > 0) {
      for (const s of this.services.values()) {
        if (s.queue.length === 0) continue;
        const keep = s.queue.filter((r) => t - r.queuedAt <= this.config.requestTimeout);
        const expired = s.queue.length - keep.length;
        if (expired > 0) {
          s.queue.splice(0, s.queue.length, ...keep);
          s.drops.expired += expired;
          this.counters.requestsExpired += expired;
          this.log.info('queued requests expired', { service: s.display, count: expired, workers: s.workers.size });
        }
      }
    }
  }

  // ---- metrics ----------------------------------------------------------------------------------

  metrics(): BrokerMetrics {
    const services: Record<string, ServiceMetrics> = {};
    for (const s of this.services.values()) {
      services[s.display] = {
        workers: s.workers.size,
        idleWorkers: s.idleCount,
        busyWorkers: s.workers.size - s.idleCount,
        queueDepth: s.queue.length,
        requests: s.requests,
        replies: s.replies,
        partials: s.partials,
        requeued: s.requeued,
        drops: { ...s.drops },
        latencyMs: s.latency.snapshot(),
      };
    }
    const dialects = {} as Record<Dialect, DialectMetrics>;
    for (const d of DIALECTS) dialects[d] = { accepted: this.accepted.has(d), workers: 0, clients: 0, ...this.byDialect[d] };
    for (const w of this.workers.values()) dialects[w.codec.dialect].workers++;
    const t = now();
    for (const c of this.clients.values()) if (t - c.lastSeen <= CLIENT_WINDOW_MS) dialects[c.dialect].clients++;
    // the MDP versions of the accepted RFC dialects (majortomo and plantd are listed under `dialects`)
    const protocols: string[] = [];
    if (this.accepted.has('rfc7')) protocols.push('MDP/0.1');
    if (this.accepted.has('rfc18')) protocols.push('MDP/0.2');
    return {
      version: BROKER_VERSION,
      protocols,
      uptimeMs: Math.round(now() - this.startedAt),
      endpoints: this.endpoints,
      heartbeat: { intervalMs: this.config.heartbeatInterval, liveness: this.config.heartbeatLiveness },
      workers: this.workers.size,
      counters: { ...this.counters, invalidByReason: { ...this.counters.invalidByReason } },
      services,
      acceptedDialects: DIALECTS.filter((d) => this.accepted.has(d)),
      dialects,
    };
  }

  // ---- shutdown ---------------------------------------------------------------------------------

  private anyInFlight(): boolean {
    for (const w of this.workers.values()) if (w.request) return true;
    return false;
  }

  /**
   * Stops taking requests, lets in-flight requests finish for up to `graceMs`, sends DISCONNECT to
   * every worker (so they re-register with the next broker) and closes the socket.
   */
  close(graceMs: number = this.config.shutdownGrace): Promise<void> {
    this.closing ??= this.shutdown(graceMs);
    return this.closing;
  }

  private async shutdown(graceMs: number): Promise<void> {
    this.draining = true;
    if (this.anyInFlight() && graceMs > 0) {
      this.log.info('draining in-flight requests', { graceMs });
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, graceMs);
        this.drained = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    this.drained = undefined;
    for (const w of [...this.workers.values()]) this.removeWorker(w, { disconnect: true, why: 'broker shutting down' });
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.bindChain;
    this.isClosed = true;
    this.router.close();
    await this.loop;
    this.log.info('broker closed', { replies: this.counters.replies });
  }
}

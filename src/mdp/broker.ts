/**
 * Majordomo broker: one ROUTER for clients and workers of MDP/0.1 (7/MDP) and MDP/0.2 (18/MDP),
 * with MMI (8/MMI plus purezmq extensions). Built on purezmq's public socket API only.
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
 * - Bridging: a 0.2 client served by a 0.1 worker gets its REPLY as a FINAL. A 0.1 client served by
 *   a 0.2 worker gets one REPLY whose body is every PARTIAL's frames followed by the FINAL's frames,
 *   in order (bounded by maxReplyBytes / maxFrames; partial frames beyond are dropped and counted).
 * - Invalid messages are dropped and counted per reason; if the sender is a registered worker it
 *   gets DISCONNECT and is forgotten. Valid but unexpected worker commands get DISCONNECT.
 * - Sends never block: a peer whose queue is full (HWM) loses that message, counted.
 */
import { Router } from '../mod.ts';
import type { ZmqError } from '../errors.ts';
import { encode, parse, Direction, type ClientRequest, type WorkerCommand, type MdpCommand } from './codec.ts';
import { BROKER_VERSION, MMI_NAMESPACE, MmiCode, MmiService, type MdpVersion } from './constants.ts';
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

function now(): number {
  return performance.now();
}

interface PendingRequest {
  readonly client: Uint8Array;
  readonly clientVersion: MdpVersion;
  readonly service: Service;
  readonly body: Uint8Array[];
  readonly receivedAt: number;
  queuedAt: number;
  attempts: number;
  /** MDP/0.1 client served by a streaming worker: PARTIAL frames kept for the single REPLY. */
  merged: Uint8Array[] | undefined;
  mergedBytes: number;
}

interface WorkerRecord {
  readonly id: Uint8Array;
  readonly key: string;
  readonly version: MdpVersion;
  readonly service: Service;
  lastHeard: number;
  lastSent: number;
  request: PendingRequest | undefined;
  gone: boolean;
}

interface Service {
  readonly name: Uint8Array;
  readonly key: string;
  readonly display: string;
  readonly queue: PendingRequest[];
  readonly workers: Set<WorkerRecord>;
  /** Insertion order = LRU order: the first is the longest idle. */
  readonly idle: Set<WorkerRecord>;
  readonly latency: LatencyReservoir;
  requests: number;
  replies: number;
  partials: number;
  requeued: number;
  drops: { expired: number; overflow: number; undeliverable: number; abandoned: number; truncated: number };
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
  drops: { expired: number; overflow: number; undeliverable: number; abandoned: number; truncated: number };
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
  /** Requests dropped: queue full, too many services, attempts exhausted, shutting down. */
  requestsDropped: number;
  /** Messages that could not be delivered (peer gone or its queue full). */
  undeliverable: number;
  /** Connections closed by the socket layer for protocol errors or limits (oversized frames, …). */
  connectionErrors: number;
  internalErrors: number;
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
}

export interface BrokerOptions extends Partial<BrokerConfig> {
  logger?: Logger;
}

/** What a MMI handler returns: the reply body. */
type MmiHandler = (request: ClientRequest) => Uint8Array[];

export class Broker {
  readonly config: BrokerConfig;
  private readonly log: Logger;
  private readonly router: Router;
  private readonly workers = new Map<string, WorkerRecord>();
  private readonly services = new Map<string, Service>();
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
  };
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
    this.config = config;
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
      this.guard(() => this.onMessage(msg));
    }
  }

  private guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.counters.internalErrors++;
      this.log.error('internal error', { error: err as Error, stack: (err as Error).stack });
    }
  }

  private onMessage(msg: Uint8Array[]): void {
    this.counters.messagesIn++;
    const id = msg[0]!;
    const r = parse(msg.slice(1), Direction.TO_BROKER);
    if (!r.ok) {
      this.onInvalid(id, r.error);
      return;
    }
    const cmd = r.command;
    if (cmd.protocol === 'client') {
      if (cmd.command === 'REQUEST') this.onRequest(id, cmd);
    } else {
      this.onWorker(id, cmd);
    }
  }

  private onInvalid(id: Uint8Array, error: MdpError): void {
    this.counters.invalid++;
    const reason = error.reason ?? 'unknown';
    this.counters.invalidByReason[reason] = (this.counters.invalidByReason[reason] ?? 0) + 1;
    const worker = this.workers.get(key(id));
    this.log.debug('invalid message dropped', { peer: hexId(id), reason, error: error.message, worker: worker !== undefined });
    // "treat that peer as invalid": a registered worker is disconnected and forgotten
    if (worker) this.removeWorker(worker, { disconnect: true, why: 'invalid message' });
  }

  // ---- clients --------------------------------------------------------------------------------

  private onRequest(id: Uint8Array, cmd: ClientRequest): void {
    const name = key(cmd.service);
    if (name.startsWith(MMI_NAMESPACE)) {
      this.onMmi(id, cmd, name);
      return;
    }
    this.counters.requests++;
    if (this.draining) {
      this.counters.requestsDropped++;
      this.log.debug('request dropped: shutting down', { service: name });
      return;
    }
    const service = this.service(cmd.service, name);
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
    const t = now();
    service.queue.push({
      client: id,
      clientVersion: cmd.version,
      service,
      body: cmd.body,
      receivedAt: t,
      queuedAt: t,
      attempts: 0,
      merged: undefined,
      mergedBytes: 0,
    });
    this.dispatch(service);
  }

  private sendToClient(req: PendingRequest, command: 'PARTIAL' | 'FINAL', body: Uint8Array[]): void {
    const frames = encode({ protocol: 'client', command, version: req.clientVersion, service: req.service.name, body });
    this.send(req.client, frames, (err) => {
      this.counters.undeliverable++;
      req.service.drops.undeliverable++;
      this.log.debug('reply undeliverable', { service: req.service.display, client: hexId(req.client), code: err.code });
    });
  }

  // ---- MMI --------------------------------------------------------------------------------------

  private onMmi(id: Uint8Array, cmd: ClientRequest, name: string): void {
    this.counters.mmiRequests++;
    const handler = this.mmi[name];
    const body = handler ? handler(cmd) : this.replaceLast(cmd.body, MmiCode.NOT_IMPLEMENTED);
    const frames = encode({ protocol: 'client', command: 'FINAL', version: cmd.version, service: cmd.service, body });
    this.send(id, frames, () => this.counters.undeliverable++);
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

  private onWorker(id: Uint8Array, cmd: WorkerCommand): void {
    const wkey = key(id);
    const worker = this.workers.get(wkey);
    if (worker && worker.version !== cmd.version) {
      this.unexpected(id, cmd, worker, `MDP/${cmd.version} command from an MDP/${worker.version} worker`);
      return;
    }
    switch (cmd.command) {
      case 'READY': {
        if (worker) {
          this.unexpected(id, cmd, worker, 'second READY');
          return;
        }
        const name = key(cmd.service);
        const display = textDecoder.decode(cmd.service);
        if (name.startsWith(MMI_NAMESPACE)) {
          this.refuseReady(id, cmd.version, display, 'the mmi. namespace is reserved (8/MMI)');
          return;
        }
        if (this.draining) {
          this.refuseReady(id, cmd.version, display, 'shutting down');
          return;
        }
        if (this.workers.size >= this.config.maxWorkers) {
          this.refuseReady(id, cmd.version, display, `too many workers (${this.config.maxWorkers})`);
          return;
        }
        const service = this.service(cmd.service, name);
        if (!service) {
          this.refuseReady(id, cmd.version, display, `too many services (${this.config.maxServices})`);
          return;
        }
        const t = now();
        const w: WorkerRecord = { id, key: wkey, version: cmd.version, service, lastHeard: t, lastSent: t, request: undefined, gone: false };
        this.workers.set(wkey, w);
        service.workers.add(w);
        this.counters.workersRegistered++;
        this.log.info('worker ready', { service: display, worker: hexId(id), version: cmd.version });
        this.makeIdle(w);
        return;
      }
      case 'HEARTBEAT':
        if (!worker) {
          this.unexpected(id, cmd, undefined, 'HEARTBEAT before READY');
          return;
        }
        worker.lastHeard = now();
        return;
      case 'PARTIAL':
      case 'FINAL': {
        if (!worker) {
          this.unexpected(id, cmd, undefined, `${cmd.command} before READY`);
          return;
        }
        const req = worker.request;
        if (!req) {
          this.unexpected(id, cmd, worker, `${cmd.command} with no request outstanding`);
          return;
        }
        if (!sameBytes(req.client, cmd.client)) {
          this.unexpected(id, cmd, worker, `${cmd.command} for another client than the request's`);
          return;
        }
        worker.lastHeard = now();
        if (cmd.command === 'PARTIAL') this.onPartial(req, cmd.body);
        else this.onFinal(worker, req, cmd.body);
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
        this.unexpected(id, cmd, worker, 'REQUEST from a worker');
        return;
    }
  }

  private onPartial(req: PendingRequest, body: Uint8Array[]): void {
    const service = req.service;
    service.partials++;
    this.counters.partials++;
    if (req.clientVersion !== '0.1') {
      this.sendToClient(req, 'PARTIAL', body);
      return;
    }
    // MDP/0.1 has no PARTIAL: keep the frames for the single REPLY, within bounds
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

  private onFinal(worker: WorkerRecord, req: PendingRequest, body: Uint8Array[]): void {
    const service = req.service;
    this.sendToClient(req, 'FINAL', req.merged && req.merged.length > 0 ? [...req.merged, ...body] : body);
    service.replies++;
    this.counters.replies++;
    service.latency.record(now() - req.receivedAt);
    worker.request = undefined;
    this.makeIdle(worker);
    if (this.draining && this.drained && !this.anyInFlight()) this.drained();
  }

  private unexpected(id: Uint8Array, cmd: MdpCommand, worker: WorkerRecord | undefined, why: string): void {
    this.counters.unexpected++;
    this.log.debug('unexpected worker command: DISCONNECT', { peer: hexId(id), command: cmd.command, why });
    if (worker) this.removeWorker(worker, { disconnect: true, why });
    else this.sendDisconnect(id, cmd.version);
  }

  private refuseReady(id: Uint8Array, version: MdpVersion, service: string, why: string): void {
    this.counters.readyRefused++;
    this.log.warn('READY refused', { service, worker: hexId(id), why });
    this.sendDisconnect(id, version);
  }

  private sendDisconnect(id: Uint8Array, version: MdpVersion): void {
    this.counters.disconnectsSent++;
    this.send(id, encode({ protocol: 'worker', command: 'DISCONNECT', version }), () => undefined);
  }

  private makeIdle(worker: WorkerRecord): void {
    const service = worker.service;
    service.idle.delete(worker);
    service.idle.add(worker);
    this.dispatch(service);
  }

  private removeWorker(worker: WorkerRecord, how: { disconnect: boolean; why: string }): void {
    if (worker.gone) return;
    worker.gone = true;
    this.workers.delete(worker.key);
    const service = worker.service;
    service.workers.delete(worker);
    service.idle.delete(worker);
    if (how.disconnect) this.sendDisconnect(worker.id, worker.version);
    const req = worker.request;
    worker.request = undefined;
    if (req) this.requeue(req, how.why);
    if (this.draining && this.drained && !this.anyInFlight()) this.drained();
  }

  private requeue(req: PendingRequest, why: string): void {
    const service = req.service;
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
    this.dispatch(service);
  }

  // ---- dispatch -------------------------------------------------------------------------------

  private dispatch(service: Service): void {
    if (this.draining) return;
    while (service.queue.length > 0 && service.idle.size > 0) {
      const worker = service.idle.values().next().value!;
      service.idle.delete(worker);
      const req = service.queue.shift()!;
      worker.request = req;
      req.attempts++;
      worker.lastSent = now();
      const frames = encode({ protocol: 'worker', command: 'REQUEST', version: worker.version, client: req.client, body: req.body });
      this.send(worker.id, frames, (err) => this.workerUnreachable(worker, err));
    }
  }

  private workerUnreachable(worker: WorkerRecord, err: ZmqError): void {
    if (worker.gone) return;
    this.counters.workersLost++;
    this.log.info('worker lost', { service: worker.service.display, worker: hexId(worker.id), code: err.code });
    this.removeWorker(worker, { disconnect: false, why: `worker unreachable (${err.code})` });
  }

  private send(id: Uint8Array, frames: Uint8Array[], onError: (err: ZmqError) => void): void {
    if (this.isClosed) return;
    frames.unshift(id);
    this.router.send(frames).then(undefined, (err: ZmqError) => this.guard(() => onError(err)));
  }

  /** Finds or creates the record of a service; undefined when the service limit is reached. */
  private service(name: Uint8Array, k: string): Service | undefined {
    const existing = this.services.get(k);
    if (existing) return existing;
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
    }
    const s: Service = {
      name: name.slice(),
      key: k,
      display: textDecoder.decode(name),
      queue: [],
      workers: new Set(),
      idle: new Set(),
      latency: new LatencyReservoir(this.config.latencySamples),
      requests: 0,
      replies: 0,
      partials: 0,
      requeued: 0,
      drops: { expired: 0, overflow: 0, undeliverable: 0, abandoned: 0, truncated: 0 },
    };
    this.services.set(k, s);
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
        this.send(w.id, encode({ protocol: 'worker', command: 'HEARTBEAT', version: w.version }), (err) => {
          if (err.code === 'EHOSTUNREACH') this.workerUnreachable(w, err);
        });
      }
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
        idleWorkers: s.idle.size,
        busyWorkers: s.workers.size - s.idle.size,
        queueDepth: s.queue.length,
        requests: s.requests,
        replies: s.replies,
        partials: s.partials,
        requeued: s.requeued,
        drops: { ...s.drops },
        latencyMs: s.latency.snapshot(),
      };
    }
    return {
      version: BROKER_VERSION,
      protocols: ['MDP/0.1', 'MDP/0.2'],
      uptimeMs: Math.round(now() - this.startedAt),
      endpoints: this.endpoints,
      heartbeat: { intervalMs: this.config.heartbeatInterval, liveness: this.config.heartbeatLiveness },
      workers: this.workers.size,
      counters: { ...this.counters, invalidByReason: { ...this.counters.invalidByReason } },
      services,
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

/**
 * Majordomo broker: one ROUTER for clients and workers of MDP/0.1 (7/MDP) and MDP/0.2 (18/MDP), and
 * of the majortomo and plantd dialects, with MMI (8/MMI plus purezmq extensions) and Titanic (9/TSP).
 * Built on purezmq's public socket API only.
 *
 * Dialects (issue 6): every message is decoded by the codec of the dialect it is in (detected by
 * src/mdp/dialects/index.ts) into version-neutral commands, and everything below works on those
 * commands only. A worker speaks the dialect of its READY for its whole life (a command in another
 * dialect is unexpected: DISCONNECT); a request remembers the codec of the client that sent it and
 * its replies are encoded with it. The only dialect property dispatch looks at is a capability:
 * `codec.streams` (can the client take PARTIALs?). Dialects not in `config.dialects` are recognised,
 * refused without an answer, logged (rate-limited) and counted (counters.dialectRefused, per dialect).
 *
 * Durability (issue 10): the broker keeps what it accepts in a RequestStore (src/mdp/store/): in
 * memory by default, in an on-disk journal with `dataDir`. Titanic requests always go to the store;
 * plain requests do when the store is durable. The rules (README "Durable requests"):
 * - A durable request is dispatched only once the store holds it; a Titanic 200 likewise.
 * - Execution is at-least-once: a request whose worker died, or that was on a worker when the broker
 *   died, runs again (lifecycle.ts has the retry policy, TTL and dead letters).
 * - Replies to plain requests are delivered at most once: the store records a reply as delivered
 *   before it is handed to the socket, so a restart never sends it a second time. (A crash in the
 *   instant between the two loses it; the client's retry runs the request again.) A reply whose
 *   client is not connected is kept for `replyTtl` (and stored) and sent when the client is back; this
 *   needs a routing id the client chose, since a ROUTER-made id names a connection, not a client.
 *
 * Security (issue 12): CURVE or PLAIN on the ROUTER, a ZAP handler and an access policy, set up by
 * src/mdp/security/ from the config before the first bind. The policy is enforced here, per message,
 * on the identity of the connection it came on (`router.lastPeer`, read right after receive): a denied
 * request gets the denial answer (src/mdp/security/denial.ts) and never reaches a queue; a denied READY
 * gets DISCONNECT and the worker is never registered.
 *
 * Decisions where the RFCs leave room (shared/specs/mdp.md §10):
 * - Dispatch: one FIFO queue per service, least recently used idle worker first.
 * - Liveness: any command except DISCONNECT refreshes a worker. An idle worker silent for
 *   liveness × interval is dead; a busy one gets `busyWorkerTimeout` (Guide workers do not
 *   heartbeat while busy). The ROUTER is `mandatory`, so a send to a worker whose connection is
 *   gone fails at once (EHOSTUNREACH): heartbeats double as a connection probe.
 * - Bridging: a streaming client (every dialect but 7/MDP) served by a 0.1 worker gets its REPLY as a
 *   FINAL. A 0.1 client (or Titanic) served by a streaming worker gets one REPLY whose body is every
 *   PARTIAL's frames followed by the FINAL's frames, in order (bounded by maxReplyBytes / maxFrames;
 *   partial frames beyond are dropped and counted).
 * - Invalid messages are dropped and counted per reason; if the sender is a registered worker it
 *   gets DISCONNECT and is forgotten. Valid but unexpected worker commands get DISCONNECT.
 * - Sends never block: a peer whose queue is full (HWM) loses that message, counted.
 */
import { Router } from '../../mod.ts';
import type { ZmqError } from '../../errors.ts';
import { copyBytes, fromHex, fromString } from '../../util/bytes.ts';
import { afterTurn } from '../../util/timers.ts';
import { RefusalThrottle } from './throttle.ts';
import { Direction, type ClientRequest, type WorkerCommand, type MdpCommand, type MdpCodec } from '../codec.ts';
import { BROKER_VERSION, DIALECTS, type Dialect } from '../constants.ts';
import { codecForDialect, expandDialects, isDialect, parseAny, type DialectGroup } from '../dialects/index.ts';
import { checkOptions, DEFAULT_CONFIG, type BrokerConfig } from '../config.ts';
import { MdpErrorCode, mdpError, type MdpError } from '../errors.ts';
import { RateLimitedLog, silentLogger, type Logger } from '../log.ts';
import { LatencyHistogram, LatencyReservoir } from '../metrics.ts';
import { DeadReason, RecordType, REQUEST_ID_BYTES, RequestKind, requestKey, type StoreRecord, type StoredRequest } from '../store/records.ts';
import { openRequestStore } from '../store/index.ts';
import type { RequestStore } from '../store/store.ts';
import { answerTitanic, isTitanicService, type TitanicHost, type TitanicLookup, type TitanicStatus } from '../titanic.ts';
import { DeadLetterIndex, Lifecycle } from './lifecycle.ts';
import { mmiHandlers, notImplemented, type MmiAnswer, type MmiHost } from './mmi.ts';
import type { BrokerCounters, BrokerMetrics, DialectMetrics, RecoverySummary, ServiceMetrics, ServicePage, TitanicCounters } from './metrics.ts';
import {
  appendIdle,
  frameBytes,
  hexId,
  isGeneratedId,
  isMmiName,
  isTitanicName,
  key,
  peerKey,
  Phase,
  sameBytes,
  unlinkIdle,
  EvictionList,
  type PeerKey,
  type Request,
  type Service,
  type WorkerRecord,
} from './registry.ts';
import { Deque } from './deque.ts';
import type { AccessControl } from '../security/access.ts';
import { encodeDenial } from '../security/denial.ts';
import { openSecurity, type BrokerSecurity, type ReloadOutcome } from '../security/index.ts';
import type { ClusterHost, ClusterLink, ClusterView, InboundForward, Refusal } from '../cluster/hook.ts';
import type { RefuseReason, ServiceLoad } from '../cluster/wire.ts';
import type { ClusterMetrics } from './metrics.ts';
import { clusterIssues } from '../config.ts';

export type { BrokerCounters, BrokerMetrics, DialectMetrics, ServiceMetrics } from './metrics.ts';
export type { ServiceDrops } from './registry.ts';

const textDecoder = new TextDecoder();

function now(): number {
  return performance.now();
}

type DialectCounters = Omit<DialectMetrics, 'accepted' | 'workers' | 'clients'>;

/** A client is counted as a peer of its dialect for this long after its last request. */
const CLIENT_WINDOW_MS = 60_000;
/** Clients tracked at once for the per-dialect peer count (beyond, new clients are not counted). */
const MAX_TRACKED_CLIENTS = 100_000;
/** Held replies: first delivery retry after this long, doubling up to the cap. */
const DELIVERY_RETRY_MS = 50;
const DELIVERY_RETRY_MAX_MS = 500;
/** mmi.broker's summary and its sorted service names are rebuilt at most this often. */
const METRICS_CACHE_MS = 1000;
/** Busy workers are checked this soon after a connection closes (see checkBusyWorkersSoon). */
const BUSY_CHECK_MS = 10;
/** Services listed in the summary, the longest queues first. */
const BUSIEST = 10;
/** The address a Titanic request carries to its worker, before its 16 id bytes (workers echo it back). */
const TITANIC_ADDRESS_PREFIX = fromString('titanic/');

/** Why a forwarded request was not taken (the values of the wire's RefuseReason, without loading it). */
const REFUSE = { NO_WORKER: 1, UNKNOWN_SERVICE: 2, OVER_BUDGET: 3, FAILED: 4 } as const satisfies Record<string, RefuseReason>;

/** BrokerOptions that are not config fields. */
const BROKER_EXTRA_OPTIONS = ['logger', 'store', 'repair', 'security', 'configFile'] as const;

export interface BrokerOptions extends Partial<Omit<BrokerConfig, 'dialects' | 'store'>> {
  /** Dialects accepted (default all): names, or the groups `all` and `rfc` (strict). */
  dialects?: readonly (Dialect | DialectGroup)[];
  logger?: Logger;
  /**
   * A request store to use instead of the one the config selects (memory, or the journal in
   * `dataDir`); or, as in the config, the `nats://…` URL of a JetStream store shared by brokers.
   */
  store?: RequestStore | string | null;
  /** Journal: move a damaged segment aside and carry on, instead of refusing to start. */
  repair?: boolean;
  /** Security already set up (instead of the one the config's security fields describe). */
  security?: BrokerSecurity;
  /** The YAML file the config came from: an inline policy (broker.access) is re-read from it when it changes. */
  configFile?: string;
}

/** Random bytes for request ids, drawn from the platform's CSPRNG a page at a time. */
/** Longest the receive loop handles messages that were already read before the event loop turns (see run()). */
const MAX_TURN_MS = 1;

class IdSource {
  private pool = new Uint8Array(0);
  private at = 0;

  next(): Uint8Array {
    if (this.at + REQUEST_ID_BYTES > this.pool.length) {
      this.pool = new Uint8Array(4096);
      globalThis.crypto.getRandomValues(this.pool);
      this.at = 0;
    }
    const id = this.pool.slice(this.at, this.at + REQUEST_ID_BYTES);
    this.at += REQUEST_ID_BYTES;
    return id;
  }
}

export class Broker {
  readonly config: BrokerConfig;
  /**
   * Resolves once the store is open and what it kept is queued again (with what was recovered, for a
   * store that keeps anything); rejects when the store cannot open (damaged journal, data directory in
   * use). bind() waits for it.
   */
  readonly ready: Promise<RecoverySummary | undefined>;
  private readonly log: Logger;
  private readonly limited: RateLimitedLog;
  /** Peers whose messages keep being refused: held back (see throttle.ts). */
  private readonly throttle: RefusalThrottle;
  /** Lines about peers coming and going: a burst is shown, a flood of connections is summarised. */
  private readonly peerLog: RateLimitedLog;
  private readonly router: Router;
  private store!: RequestStore;
  private readonly lifecycle: Lifecycle;
  private readonly dead = new DeadLetterIndex<StoredRequest>((s) => frameBytes(s.body));
  private readonly ids = new IdSource();
  private readonly workers = new Map<PeerKey, WorkerRecord>();
  private readonly services = new Map<string, Service>();
  /**
   * Services that hold nothing (no worker, no live request), in the order they became so: eviction
   * takes the first. Kept by holdService/releaseService and worker registration.
   */
  private readonly evictable = new EvictionList();
  /** Requests in the store that are not dead letters, by store key (Titanic look-ups, closes). */
  private readonly byKey = new Map<string, Request>();
  /** The service of the last lookup by name (clients of one service repeat it): skips building its key. */
  private lastService: Service | undefined;
  private readonly bound: string[] = [];
  private readonly startedAt = now();
  /** Wall-clock start: a stored request from before it comes from another run of the broker. */
  private readonly startedWall = Date.now();
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
    bytesRefused: 0,
    internalErrors: 0,
    dialectRefused: 0,
    peersHeld: 0,
  };
  private readonly titanicCounters: TitanicCounters = { requests: 0, replyQueries: 0, closes: 0, status: {} };
  /** Requests by where they are (the rest are in service queues, the retry heap, or the store). */
  private readonly gauge = { journalling: 0, queued: 0, inFlight: 0, replying: 0, retryWaiting: 0, held: 0, titanicLive: 0, titanicReplies: 0, bytes: 0 };
  private recovery: RecoverySummary | undefined;
  /** Peers connected now (handshakes done, not yet disconnected). */
  private connections = 0;
  private storeOpen = false;
  private scanCache: { at: number; clients: Record<Dialect, number>; summary: NonNullable<BrokerMetrics['servicesSummary']> } | undefined;
  private namesCache: { at: number; services: Service[] } | undefined;
  private readonly accepted: ReadonlySet<Dialect>;
  private readonly byDialect = Object.fromEntries(
    DIALECTS.map((d) => [d, { messagesIn: 0, messagesOut: 0, requests: 0, partials: 0, replies: 0, workersRegistered: 0, invalid: 0, refused: 0 }]),
  ) as Record<Dialect, DialectCounters>;
  /** client key -> dialect and last request time, for the per-dialect peer count. */
  private readonly clients = new Map<PeerKey, { dialect: Dialect; lastSeen: number }>();
  /** A promise `router.send` returned that has since fulfilled: when it is returned again, nothing can fail. */
  private sentOk: Promise<void> | undefined;
  private clientsPurgedAt = now();
  private readonly mmi: Record<string, (body: Uint8Array[]) => MmiAnswer>;
  private readonly titanic: TitanicHost;
  private timer: ReturnType<typeof setInterval> | undefined;
  /** The retry heap's wake-up, armed for its earliest entry. */
  private wake: ReturnType<typeof setTimeout> | undefined;
  private wakeAt = Infinity;
  private bindChain: Promise<unknown>;
  private busyCheck: ReturnType<typeof setTimeout> | undefined;
  /** No new requests or workers; queued requests still go to idle workers until the grace ends. */
  private draining = false;
  /** The grace is over: workers are being let go, and their requests stay where they are. */
  private stopping = false;
  private isClosed = false;
  private closing: Promise<void> | undefined;
  private drained: (() => void) | undefined;
  private readonly loop: Promise<void>;
  private security: BrokerSecurity | undefined;
  /** The access policy in force, when there is one: every request and READY is checked against it. */
  private access: AccessControl | undefined;
  /** Cluster (src/mdp/cluster/): loaded at the first bind when `clusterBind` is set, never otherwise. */
  private cluster: ClusterLink<Request> | undefined;
  private clusterStart: Promise<void> | undefined;
  /** Requests other members forwarded here, by origin and request id (CANCEL finds them). */
  private readonly inbound = new Map<string, Request>();

  constructor(options: BrokerOptions = {}) {
    const { logger, store, repair, security, configFile } = options;
    const checked = checkOptions('broker', 'Broker', options, BROKER_EXTRA_OPTIONS);
    const config: BrokerConfig = { ...DEFAULT_CONFIG.broker, bind: [...DEFAULT_CONFIG.broker.bind] };
    for (const [k, v] of Object.entries(checked)) (config as unknown as Record<string, unknown>)[k] = v;
    const dialects = expandDialects(config.dialects);
    if ('error' in dialects) throw mdpError(MdpErrorCode.CONFIG, `dialects: ${dialects.error}`, { issues: [`broker.dialects: ${dialects.error}`] });
    config.dialects = dialects.dialects;
    if (typeof store === 'string' || store === null) config.store = store;
    const cluster = clusterIssues(config);
    if (cluster.length > 0) throw mdpError(MdpErrorCode.CONFIG, `invalid cluster options:\n  ${cluster.join('\n  ')}`, { issues: cluster });
    this.config = config;
    this.accepted = new Set(config.dialects);
    this.log = logger ?? silentLogger;
    this.limited = new RateLimitedLog(this.log);
    this.throttle = new RefusalThrottle(config.refusalsPerPeer);
    this.peerLog = new RateLimitedLog(this.log, 10_000, 20);
    this.lifecycle = new Lifecycle(config, this.log);
    this.router = new Router({
      mandatory: true,
      sendTimeout: 0,
      sendHighWaterMark: config.sendHighWaterMark,
      receiveHighWaterMark: config.receiveHighWaterMark,
      maxReceiveQueueBytes: config.maxReceiveQueueBytes,
      maxMessageSize: config.maxFrameSize,
      maxMessageFrames: config.maxFrames,
      maxMessageBytes: config.maxMessageBytes,
      linger: 1000,
    });
    this.router.events.on('accept', (e) => this.log.debug('connection accepted', { address: e.address }));
    this.router.events.on('handshake', (e) => {
      this.connections++;
      this.log.debug('connection ready', { address: e.address, connections: this.connections });
    });
    this.router.events.on('disconnect', (e) => {
      this.connections--;
      this.checkBusyWorkersSoon();
      this.log.debug('connection closed', { address: e.address, connections: this.connections });
      if (e.error) {
        this.counters.connectionErrors++;
        this.log.debug('connection dropped', { address: e.address, code: e.error.code, error: e.error.message });
      }
    });
    this.router.events.on('handshake:error:protocol', (e) => {
      this.counters.connectionErrors++;
      this.log.debug('handshake failed', { address: e.address, code: e.error.code });
    });
    this.mmi = mmiHandlers(this.mmiHost());
    this.titanic = this.titanicHost();
    this.ready = this.secure(security, configFile).then(() => this.open(typeof store === 'object' && store !== null ? store : undefined, repair === true));
    // bind() reports a failed open; nobody else has to await it
    this.ready.catch(() => undefined);
    this.bindChain = this.ready.catch(() => undefined);
    this.timer = setInterval(() => this.guard(() => this.tick()), config.heartbeatInterval);
    this.loop = this.run();
  }

  /** Binds one more endpoint (once the store is open); resolves with the endpoint actually bound (a `*` port resolved). */
  bind(endpoint: string): Promise<string> {
    const next = this.bindChain.then(async () => {
      await this.ready;
      if (this.isClosed || this.draining) throw mdpError(MdpErrorCode.CLOSED, 'broker is closed');
      await this.router.bind(endpoint);
      const resolved = this.router.lastEndpoint ?? endpoint;
      this.bound.push(resolved);
      this.log.info('listening', { endpoint: resolved });
      // the cluster starts with the first endpoint (members learn where our clients connect)
      if (this.config.clusterBind !== null) await (this.clusterStart ??= this.startCluster());
      this.cluster?.setClientEndpoints(this.bound);
      return resolved;
    });
    this.bindChain = next.catch(() => undefined);
    return next;
  }

  /**
   * Whether the broker can take work (/readyz): it is bound, its store is open, and it is not shutting
   * down; `reasons` says what is missing.
   */
  health(): { ready: boolean; reasons: string[] } {
    const reasons: string[] = [];
    if (!this.storeOpen) reasons.push('request store not open');
    if (this.bound.length === 0) reasons.push('no endpoint bound');
    if (this.draining) reasons.push('shutting down');
    return { ready: reasons.length === 0, reasons };
  }

  /** Endpoints bound so far, resolved. */
  get endpoints(): string[] {
    return [...this.bound];
  }

  get closed(): boolean {
    return this.isClosed;
  }

  // ---- the store: open, recover ------------------------------------------------------------------

  private async open(given: RequestStore | undefined, repair: boolean): Promise<RecoverySummary | undefined> {
    const c = this.config;
    this.store =
      given ??
      (await openRequestStore({
        dataDir: c.dataDir,
        store: c.store,
        storeReplicas: c.storeReplicas,
        storeStream: c.storeStream,
        storeBucket: c.storeBucket,
        storeAckWait: c.storeAckWait,
        nodeId: c.nodeId,
        fsync: c.fsync,
        fsyncDelay: c.fsyncDelay,
        segmentBytes: c.segmentBytes,
        maxBytes: c.maxStoreBytes,
        repair,
        logger: this.log,
      }));
    const recovered = await this.store.open();
    this.storeOpen = true;
    // a store shared by brokers hands this broker the Titanic requests it has room for
    this.store.shared?.attach({
      capacity: (name) => {
        const s = this.services.get(key(name));
        return s === undefined || this.draining ? 0 : s.idleCount - s.queued;
      },
      take: (stored) => this.guard(() => this.adopt(stored)),
    });
    if (!this.store.durable) {
      this.log.warn('request store in memory: Titanic requests and replies do not survive a restart (--data-dir DIR keeps them on disk)');
      return undefined;
    }
    const summary: RecoverySummary = {
      requests: recovered.requests.length,
      queued: 0,
      heldReplies: 0,
      titanicReplies: 0,
      deadLetters: 0,
      records: recovered.records,
      files: recovered.files,
      bytes: recovered.bytes,
      durationMs: Math.round(recovered.durationMs * 10) / 10,
      truncated: recovered.truncated,
      quarantined: recovered.quarantined,
    };
    const t = now();
    for (const stored of recovered.requests) this.restore(stored, summary, t);
    this.recovery = summary;
    this.log.info('store recovered', {
      store: this.store.kind,
      dir: c.dataDir ?? undefined,
      requests: summary.requests,
      queued: summary.queued,
      heldReplies: summary.heldReplies,
      titanicReplies: summary.titanicReplies,
      deadLetters: summary.deadLetters,
      records: summary.records,
      files: summary.files,
      ms: summary.durationMs,
    });
    if (summary.truncated) this.log.warn('store: a torn last record was cut off', summary.truncated);
    for (const q of summary.quarantined) this.log.warn('store: damaged segment moved aside', q);
    for (const s of this.services.values()) this.dispatch(s, t);
    return summary;
  }

  /** Puts one recovered request back where it was: a dead letter, a reply kept, or a queue. */
  private restore(stored: StoredRequest, summary: RecoverySummary, t: number): void {
    if (stored.dead) {
      this.dead.add(stored.key, stored);
      summary.deadLetters++;
      return;
    }
    const service = this.service(stored.service, true)!;
    const titanic = stored.kind === RequestKind.TITANIC;
    const codec = titanic || !isDialect(stored.dialect) ? undefined : codecForDialect(stored.dialect);
    const req = this.newRequest(stored.kind, titanic ? this.titanicAddress(stored.id) : stored.client, codec, service, stored.body as Uint8Array[], t, stored.createdAt);
    req.ttlFrom = stored.ttlFrom;
    req.id = stored.id;
    req.storeKey = stored.key;
    req.failures = stored.attempts;
    req.lastError = stored.lastError;
    req.orphan = this.orphaned(stored, codec);
    this.holdService(service);
    this.gauge.bytes += req.bytes;
    if (titanic) this.gauge.titanicLive++;
    this.byKey.set(stored.key, req);
    if (stored.reply && req.orphan) {
      this.lifecycle.counters.orphaned++;
      this.forget(req);
      return;
    }
    if (stored.reply) {
      this.attachReply(req, stored.reply as Uint8Array[]);
      if (titanic) {
        req.phase = Phase.REPLIED;
        this.gauge.titanicReplies++;
        summary.titanicReplies++;
      } else {
        this.hold(req, t);
        summary.heldReplies++;
      }
      return;
    }
    service.queued++;
    if (!titanic) service.plainQueued++;
    this.gauge.queued++;
    req.queuedAt = t;
    req.phase = Phase.QUEUED;
    service.queue.push(req);
    summary.queued++;
  }

  /**
   * A Titanic request taken from a shared store's queue (accepted by any broker): queued here like a
   * recovered one. One that brokers took and lost too often is dead-lettered (max_retries).
   */
  private adopt(stored: StoredRequest): void {
    const summary: RecoverySummary = { requests: 0, queued: 0, heldReplies: 0, titanicReplies: 0, deadLetters: 0, records: 0, files: 0, bytes: 0, durationMs: 0, truncated: undefined, quarantined: [] };
    const t = now();
    this.lifecycle.counters.accepted++;
    this.restore(stored, summary, t);
    const req = this.byKey.get(stored.key);
    if (req && req.phase === Phase.QUEUED && req.failures > this.config.maxRetries) {
      this.unqueue(req);
      this.deadLetter(req, DeadReason.RETRIES, req.lastError);
      return;
    }
    this.dispatch(req?.service ?? this.service(stored.service, true)!, t);
  }

  /**
   * Whether a stored plain request's reply has nowhere to go: its client's routing id was made up by
   * the ROUTER of an earlier run of the broker, and may name another client now (see isGeneratedId).
   */
  private orphaned(stored: StoredRequest, codec: MdpCodec | undefined): boolean {
    if (stored.kind === RequestKind.TITANIC) return false;
    return codec === undefined || (isGeneratedId(stored.client) && stored.createdAt < this.startedWall);
  }

  // ---- receiving ------------------------------------------------------------------------------

  private async run(): Promise<void> {
    let turnStart = performance.now();
    let handled = 0;
    for (;;) {
      // A receive() completes at once while any pipe holds a message, so a flood on one connection
      // kept the loop from turning for a whole backlog (up to rcvhwm messages per peer): the others'
      // bytes stayed unread in the kernel, and the ROUTER can fair-queue only what has been read.
      // After MAX_TURN_MS of back-to-back messages the loop waits one turn, so every connection's
      // input gets its share.
      if (!this.router.readable) turnStart = -1; // the receive below waits: the loop turns anyway
      else if ((++handled & 15) === 0) {
        const t = performance.now();
        if (turnStart < 0) turnStart = t;
        else if (t - turnStart >= MAX_TURN_MS) {
          await afterTurn();
          turnStart = performance.now();
        }
      }
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
    this.refusedFrom(id, now());
    const error = mdpError(MdpErrorCode.DIALECT_REFUSED, `${codec.label} is not accepted by this broker (accepted: ${[...this.accepted].join(', ')})`);
    this.limited.warn(`dialect-refused:${dialect}`, 'dialect refused', {
      dialect,
      peer: hexId(id),
      command: `${cmd.protocol} ${cmd.command}`,
      code: error.code,
      error: error.message,
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
    else this.refusedFrom(id, now());
  }

  /** A message of this peer (`bytes` long) was refused: past its budget the broker stops reading it for a while. */
  private refusedFrom(id: Uint8Array, t: number, bytes = 0): void {
    const holdMs = this.throttle.refused(peerKey(id), t, bytes);
    if (holdMs === 0 || !this.router.pausePeer(id, holdMs)) return;
    this.counters.peersHeld++;
    this.limited.warn('peer-held', 'peer held back: too many refused messages', { peer: hexId(id), holdMs, limit: `${this.config.refusalsPerPeer}/s` });
  }

  // ---- clients --------------------------------------------------------------------------------

  private onRequest(id: Uint8Array, cmd: ClientRequest, codec: MdpCodec, t: number): void {
    this.byDialect[codec.dialect].requests++;
    this.seeClient(id, codec.dialect, t);
    if (this.access !== undefined && this.denied(id, cmd, codec)) {
      this.refusedFrom(id, t, frameBytes(cmd.body));
      return;
    }
    if (isMmiName(cmd.service)) {
      this.onMmi(id, cmd, key(cmd.service), codec);
      return;
    }
    if (isTitanicName(cmd.service)) {
      this.onTitanic(id, cmd, codec);
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
      this.refusedFrom(id, t, frameBytes(cmd.body));
      this.limited.warn('too-many-services', 'request dropped: too many services', { service: textDecoder.decode(cmd.service), limit: this.config.maxServices });
      return;
    }
    service.requests++;
    if (service.plainQueued >= this.config.maxQueuedRequests) {
      service.drops.overflow++;
      this.counters.requestsDropped++;
      this.refusedFrom(id, t, frameBytes(cmd.body));
      this.limited.warn('queue-full', 'request dropped: queue full', { service: service.display, limit: this.config.maxQueuedRequests });
      return;
    }
    const req = this.newRequest(RequestKind.PLAIN, id, codec, service, cmd.body, t, Date.now());
    // the budget is for what waits: a request an idle worker takes at once is not refused because
    // others filled the queues of services nobody serves (in-flight bytes are bounded by the workers)
    const waits = service.idleHead === undefined || service.queued > 0 || this.store.durable;
    if (waits && !this.roomFor(req.bytes)) {
      service.drops.overflow++;
      this.counters.requestsDropped++;
      this.counters.bytesRefused++;
      this.refusedFrom(id, t, req.bytes);
      this.limited.warn('bytes-full', 'request dropped: max_queued_bytes reached', { service: service.display, bytes: req.bytes, held: this.gauge.bytes, limit: this.config.maxQueuedBytes });
      return;
    }
    this.accept(req);
    if (!this.store.durable) {
      this.enqueue(req, t);
      return;
    }
    this.identify(req);
    this.persist(req).catch(() => undefined); // refused: counted and logged by persist
  }

  private newRequest(kind: RequestKind, client: Uint8Array, codec: MdpCodec | undefined, service: Service, body: Uint8Array[], t: number, wallNow: number): Request {
    return {
      kind,
      client,
      clientCodec: codec,
      service,
      body,
      bytes: frameBytes(body),
      receivedAt: t,
      ttlFrom: wallNow,
      id: undefined,
      storeKey: undefined,
      phase: Phase.JOURNALLING,
      queuedAt: t,
      attempts: 0,
      failures: 0,
      lastError: '',
      worker: undefined,
      orphan: false,
      merged: undefined,
      mergedBytes: 0,
      streamed: false,
      peer: undefined,
      remote: false,
      retryAt: 0,
      heapIndex: -1,
      reply: undefined,
      heldUntil: 0,
      nextDelivery: 0,
      deliveryBackoff: 0,
    };
  }

  /** Counts a request in: it holds its service until it is gone. */
  private accept(req: Request): void {
    const service = req.service;
    this.holdService(service);
    this.gauge.bytes += req.bytes;
    service.queued++;
    if (req.kind === RequestKind.PLAIN) service.plainQueued++;
    else this.gauge.titanicLive++;
    this.gauge.queued++;
    this.lifecycle.counters.accepted++;
  }

  /** Keeps a reply with its request (held for a client, or a Titanic reply): its bytes count too. */
  private attachReply(req: Request, reply: Uint8Array[]): void {
    const n = frameBytes(reply);
    req.reply = reply;
    req.bytes += n;
    this.gauge.bytes += n;
  }

  /**
   * Whether `bytes` more fit the budget for requests held in memory (max_queued_bytes): queued, in
   * flight, waiting out a retry, replies kept, dead letters. Dead letters give way first.
   */
  private roomFor(bytes: number): boolean {
    const max = this.config.maxQueuedBytes;
    if (this.gauge.bytes + this.dead.bytes + bytes <= max) return true;
    this.evictDeadLetters(max - bytes - this.gauge.bytes);
    return this.gauge.bytes + this.dead.bytes + bytes <= max;
  }

  /** Drops the oldest dead letters until they keep at most `maxBytes` and number max_dead_letters. */
  private evictDeadLetters(maxBytes: number): void {
    while (this.dead.size > 0 && (this.dead.size > this.config.maxDeadLetters || this.dead.bytes > Math.max(0, maxBytes))) {
      const oldest = this.dead.oldest()!;
      const stored = this.dead.get(oldest);
      this.dead.remove(oldest);
      this.lifecycle.counters.evicted++;
      if (stored) this.store.append({ type: RecordType.DONE, id: stored.id }).catch((err: MdpError) => this.storeFailed('done', err));
    }
  }

  /** A live request holds its service record (it is not evicted meanwhile). */
  private holdService(service: Service): void {
    if (service.live++ === 0) this.evictable.delete(service);
  }

  private releaseService(service: Service): void {
    if (--service.live === 0 && service.workers.size === 0) this.evictable.add(service);
  }

  /** Gives a request an id in the store. */
  private identify(req: Request): void {
    req.id = this.ids.next();
    req.storeKey = requestKey(req.id);
  }

  private requestRecord(req: Request): StoreRecord {
    return {
      type: RecordType.REQUEST,
      id: req.id!,
      kind: req.kind,
      service: req.service.name,
      body: req.body,
      client: req.kind === RequestKind.PLAIN ? req.client : new Uint8Array(0),
      dialect: req.clientCodec?.dialect ?? '',
      createdAt: req.ttlFrom,
    };
  }

  /**
   * Writes a new request to the store and queues it once the store holds it. Rejects (after counting
   * the request out) when the store refuses it.
   */
  private persist(req: Request): Promise<void> {
    this.byKey.set(req.storeKey!, req);
    this.lifecycle.move(req, Phase.JOURNALLING);
    this.gauge.journalling++;
    return this.store.append(this.requestRecord(req)).then(
      () => {
        this.gauge.journalling--;
        if (req.phase === Phase.JOURNALLING) {
          if (this.store.shared && req.kind === RequestKind.TITANIC) this.handOver(req);
          else this.enqueue(req, now());
        }
        this.checkDrained();
      },
      (err: MdpError) => {
        this.gauge.journalling--;
        if (req.phase === Phase.JOURNALLING) this.refuse(req, err);
        this.checkDrained();
        throw err;
      },
    );
  }

  /**
   * A Titanic request in a shared store's queue is not this broker's to run: it is forgotten here,
   * and the queue hands it to a broker with room for it (this one, if it has an idle worker).
   */
  private handOver(req: Request): void {
    this.unqueue(req);
    this.retire(req, { shared: true });
    this.store.shared!.wake(req.service.name);
  }

  /** The store would not take a new request: it is dropped, counted and logged. */
  private refuse(req: Request, err: MdpError): void {
    this.unqueue(req);
    this.retire(req);
    this.lifecycle.counters.refused++;
    this.counters.requestsDropped++;
    this.limited.warn(`store-refused:${err.code}`, 'request refused by the store', { service: req.service.display, kind: req.kind, code: err.code, error: err.message });
  }

  private enqueue(req: Request, t: number): void {
    req.queuedAt = t;
    this.lifecycle.move(req, Phase.QUEUED);
    req.service.queue.push(req);
    this.dispatch(req.service, t);
  }

  /** Takes a request that was accepted but not dispatched out of its service's count (it stays in the deque as a hole). */
  private unqueue(req: Request): void {
    const service = req.service;
    service.queued--;
    if (req.kind === RequestKind.PLAIN) service.plainQueued--;
    this.gauge.queued--;
  }

  /** The request is finished with: it no longer holds its service or a store key. */
  private retire(req: Request, detail?: Record<string, unknown>): void {
    if (req.phase === Phase.GONE) return;
    this.lifecycle.move(req, Phase.GONE, detail);
    this.releaseService(req.service);
    this.gauge.bytes -= req.bytes;
    if (req.kind === RequestKind.TITANIC) this.gauge.titanicLive--;
    if (req.storeKey !== undefined && this.byKey.get(req.storeKey) === req) this.byKey.delete(req.storeKey);
    if (req.peer !== undefined) this.inbound.delete(`${req.peer.origin}\n${req.peer.rid}`);
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

  private clientFrames(req: Request, command: 'PARTIAL' | 'FINAL', body: Uint8Array[]): Uint8Array[] {
    const codec = req.clientCodec!;
    if (command === 'PARTIAL') this.byDialect[codec.dialect].partials++;
    else this.byDialect[codec.dialect].replies++;
    return codec.encode({ protocol: 'client', command, version: codec.version, service: req.service.name, body }, Direction.TO_CLIENT);
  }

  private sendPartial(req: Request, body: Uint8Array[]): void {
    if (req.peer !== undefined) {
      this.cluster?.reply(req.peer.origin, req.peer.rid, 'PARTIAL', body);
      return;
    }
    this.send(req.client, this.clientFrames(req, 'PARTIAL', body), req.clientCodec!, (err) => this.undeliverable(req, err));
  }

  private undeliverable(req: Request, err: ZmqError): void {
    this.counters.undeliverable++;
    req.service.drops.undeliverable++;
    if (this.log.enabled('debug')) this.log.debug('reply undeliverable', { service: req.service.display, client: hexId(req.client), code: err.code });
  }

  /**
   * Sends a plain request's FINAL (the request is retired already). A client that is not connected
   * gets it later (hold), if it can be recognised when it comes back.
   */
  private deliver(req: Request, reply: Uint8Array[]): void {
    this.lifecycle.counters.delivered++;
    if (req.peer !== undefined) {
      // back to the broker its client is on
      this.cluster?.reply(req.peer.origin, req.peer.rid, 'FINAL', reply);
      return;
    }
    this.send(req.client, this.clientFrames(req, 'FINAL', reply), req.clientCodec!, (err) => {
      this.lifecycle.counters.delivered--;
      if (err.code !== 'EHOSTUNREACH' || isGeneratedId(req.client) || this.isClosed) {
        this.undeliverable(req, err);
        return;
      }
      // not finished after all: it holds its service again until the reply is delivered or dropped
      req.phase = Phase.REPLYING;
      this.holdService(req.service);
      this.gauge.bytes += req.bytes; // retire() counted it out
      this.attachReply(req, reply.map(copyBytes)); // kept for a while: not views of read buffers
      this.hold(req, now());
      if (this.store.durable && (req.phase as Phase) === Phase.HELD) this.storeHeld(req);
    });
  }

  /** Records a held reply in the store under a new key (its request's key was closed before the send). */
  private storeHeld(req: Request): void {
    this.identify(req);
    this.byKey.set(req.storeKey!, req);
    const id = req.id!;
    this.store.append({ ...this.requestRecord(req), body: [] } as StoreRecord).catch((err: MdpError) => this.storeFailed('held reply', err));
    this.store.append({ type: RecordType.REPLY, id, body: req.reply! }).catch((err: MdpError) => this.storeFailed('held reply', err));
  }

  private storeFailed(what: string, err: MdpError): void {
    this.limited.error(`store-failed:${what}`, 'store write failed', { what, code: err.code, error: err.message });
  }

  /** Keeps a plain reply for a client that is not connected, and tries again with backoff until reply_ttl. */
  private hold(req: Request, t: number): void {
    if (this.gauge.held >= this.config.maxHeldReplies) {
      this.dropHeld(req, 'too many held replies');
      return;
    }
    this.lifecycle.counters.held++;
    this.lifecycle.move(req, Phase.HELD);
    this.gauge.held++;
    req.heldUntil = t + this.config.replyTtl;
    req.deliveryBackoff = DELIVERY_RETRY_MS;
    this.schedule(req, t + DELIVERY_RETRY_MS);
  }

  private dropHeld(req: Request, why: string): void {
    if (req.phase === Phase.HELD) this.gauge.held--;
    this.lifecycle.counters.heldExpired++;
    this.counters.undeliverable++;
    req.service.drops.undeliverable++;
    this.limited.info('held-dropped', 'reply dropped: its client did not come back', { service: req.service.display, client: hexId(req.client), why });
    this.forget(req);
  }

  /** Retires a request and closes it in the store if it is there. */
  private forget(req: Request, detail?: Record<string, unknown>): void {
    const id = req.id;
    const stored = req.storeKey !== undefined && this.byKey.get(req.storeKey) === req;
    this.retire(req, detail);
    if (stored) this.store.append({ type: RecordType.DONE, id: id! }).catch((err: MdpError) => this.storeFailed('done', err));
  }

  /** A held reply's turn: send it if its client is back (then it is done), else wait longer. */
  private tryHeld(req: Request, t: number): void {
    const later = (): void => {
      if (t >= req.heldUntil || this.isClosed) {
        this.dropHeld(req, `reply_ttl (${this.config.replyTtl} ms) passed`);
        return;
      }
      req.deliveryBackoff = Math.min(DELIVERY_RETRY_MAX_MS, req.deliveryBackoff * 2);
      this.schedule(req, now() + req.deliveryBackoff);
    };
    if (!this.router.hasPeer(req.client)) {
      later();
      return;
    }
    const send = (): void => {
      this.gauge.held--;
      const reply = req.reply!;
      this.retire(req, { delivered: true, held: true });
      this.deliver(req, reply);
    };
    if (req.storeKey === undefined) {
      send();
      return;
    }
    // at most once, as for any reply: the delivery is on record before the reply goes to the socket
    this.store.append({ type: RecordType.DONE, id: req.id! }).then(
      () => {
        if (req.phase !== Phase.HELD) return;
        if (this.router.hasPeer(req.client)) send();
        else later(); // gone again meanwhile: its record is closed, the reply stays in memory
      },
      (err: MdpError) => {
        this.storeFailed('done', err);
        if (req.phase === Phase.HELD) later();
      },
    );
  }

  // ---- MMI --------------------------------------------------------------------------------------

  private onMmi(id: Uint8Array, cmd: ClientRequest, name: string, codec: MdpCodec): void {
    this.counters.mmiRequests++;
    const handler = this.mmi[name];
    const answer = handler ? handler(cmd.body) : notImplemented(cmd.body);
    if (Array.isArray(answer)) this.answer(id, codec, cmd.service, answer);
    else answer.then((body) => this.answer(id, codec, cmd.service, body), (err) => this.internalError(err));
  }

  /** A reply the broker gives itself (MMI, Titanic): one FINAL in the client's dialect. */
  private answer(id: Uint8Array, codec: MdpCodec, service: Uint8Array, body: Uint8Array[]): void {
    const frames = codec.encode({ protocol: 'client', command: 'FINAL', version: codec.version, service, body }, Direction.TO_CLIENT);
    this.byDialect[codec.dialect].replies++;
    this.send(id, frames, codec, () => this.counters.undeliverable++);
  }

  private mmiHost0WorkersOf(name: Uint8Array | undefined): number {
    return name === undefined ? this.workers.size : (this.services.get(key(name))?.workers.size ?? 0);
  }

  private mmiHost(): MmiHost {
    return {
      workersOf: (name) => (name === undefined ? this.workers.size : (this.services.get(key(name))?.workers.size ?? 0)),
      heartbeat: () => ({ interval: this.config.heartbeatInterval, liveness: this.config.heartbeatLiveness }),
      summary: () => fromString(JSON.stringify(this.summary())),
      servicePage: (after, limit, prefix) => this.servicePage(after, limit, prefix),
      activeServiceNames: () => [...this.services.values()].filter((s) => s.workers.size > 0).map((s) => s.name),
      deadLetterPage: (after, limit) => ({
        total: this.dead.size,
        items: this.dead
          .page(after, limit)
          .map((k) => this.dead.get(k))
          .filter((s): s is StoredRequest => s !== undefined),
      }),
      replayDeadLetters: (keys) => this.eachDeadLetter(keys, (stored) => this.replay(stored)),
      cluster: () => {
        const c = this.cluster;
        if (c === undefined) return undefined;
        return {
          workers: (name) => ({ local: this.mmiHost0WorkersOf(name), remote: c.remoteWorkers(name === undefined ? undefined : textDecoder.decode(name)) }),
          remoteServices: () => [...c.remoteServices().keys()].sort(),
          document: () => fromString(JSON.stringify(c.view())),
        };
      },
      purgeDeadLetters: (keys) =>
        this.eachDeadLetter(keys, (stored) => {
          this.lifecycle.counters.purged++;
          return this.store.append({ type: RecordType.DONE, id: stored.id });
        }),
    };
  }

  /** Runs `fn` on each named dead letter (all when `keys` is undefined), taking it out of the index first. */
  private async eachDeadLetter(keys: string[] | undefined, fn: (stored: StoredRequest) => Promise<void>): Promise<{ done: number; notFound: number }> {
    const list = keys ?? this.dead.keys();
    const writes: Promise<void>[] = [];
    let notFound = 0;
    for (const k of list) {
      const stored = this.dead.get(k);
      if (!stored || !this.dead.remove(k)) {
        notFound++;
        continue;
      }
      writes.push(fn(stored));
    }
    await Promise.all(writes);
    return { done: writes.length, notFound };
  }

  /** A dead letter runs again: attempts reset, TTL from now, queued once the store holds the change. */
  private replay(stored: StoredRequest): Promise<void> {
    const t = now();
    const wallNow = Date.now();
    const service = this.service(stored.service, true)!;
    const titanic = stored.kind === RequestKind.TITANIC;
    const codec = titanic || !isDialect(stored.dialect) ? undefined : codecForDialect(stored.dialect);
    const req = this.newRequest(stored.kind, titanic ? this.titanicAddress(stored.id) : stored.client, codec, service, stored.body as Uint8Array[], t, wallNow);
    req.id = stored.id;
    req.storeKey = stored.key;
    req.orphan = this.orphaned(stored, codec);
    this.accept(req);
    this.lifecycle.counters.replayed++;
    this.lifecycle.move(req, Phase.JOURNALLING, { replayed: true });
    this.byKey.set(stored.key, req);
    this.gauge.journalling++;
    return this.store.append({ type: RecordType.REQUEUE, id: stored.id, at: wallNow }).then(
      () => {
        this.gauge.journalling--;
        if (req.phase !== Phase.JOURNALLING) return;
        if (this.store.shared && titanic) this.handOver(req);
        else this.enqueue(req, now());
      },
      (err: MdpError) => {
        this.gauge.journalling--;
        // still a dead letter on disk: keep it in the index
        this.unqueue(req);
        this.retire(req);
        this.dead.add(stored.key, stored);
        throw err;
      },
    );
  }

  // ---- Titanic ----------------------------------------------------------------------------------

  private onTitanic(id: Uint8Array, cmd: ClientRequest, codec: MdpCodec): void {
    const name = key(cmd.service);
    if (!isTitanicService(name)) {
      this.answer(id, codec, cmd.service, notImplemented(cmd.body));
      return;
    }
    if (name === 'titanic.request') this.titanicCounters.requests++;
    else if (name === 'titanic.reply') this.titanicCounters.replyQueries++;
    else this.titanicCounters.closes++;
    const count = (code: TitanicStatus): void => {
      this.titanicCounters.status[code] = (this.titanicCounters.status[code] ?? 0) + 1;
    };
    answerTitanic(this.titanic, name, cmd.body, count).then(
      (body) => this.answer(id, codec, cmd.service, body),
      (err) => this.internalError(err),
    );
  }

  private titanicAddress(id: Uint8Array): Uint8Array {
    const a = new Uint8Array(TITANIC_ADDRESS_PREFIX.length + id.length);
    a.set(TITANIC_ADDRESS_PREFIX);
    a.set(id, TITANIC_ADDRESS_PREFIX.length);
    return a;
  }

  private titanicHost(): TitanicHost {
    return {
      servable: (name) => !isMmiName(name) && !isTitanicName(name),
      submit: async (name, body) => {
        if (this.draining) throw mdpError(MdpErrorCode.CLOSED, 'broker is shutting down');
        const service = this.service(name);
        if (!service) throw mdpError(MdpErrorCode.LIMIT, `too many services (${this.config.maxServices})`);
        const id = this.ids.next();
        // kept for days: copies, not views of the read buffer
        const req = this.newRequest(RequestKind.TITANIC, this.titanicAddress(id), undefined, service, body.map(copyBytes), now(), Date.now());
        req.id = id;
        req.storeKey = requestKey(id);
        service.requests++;
        if (!this.roomFor(req.bytes)) {
          this.counters.bytesRefused++;
          throw mdpError(MdpErrorCode.LIMIT, `max_queued_bytes (${this.config.maxQueuedBytes}) reached`);
        }
        this.accept(req);
        await this.persist(req);
        return req.storeKey;
      },
      lookup: (k): TitanicLookup | undefined | Promise<TitanicLookup | undefined> => {
        const req = this.byKey.get(k);
        if (req && req.kind === RequestKind.TITANIC) {
          return req.phase === Phase.REPLIED ? { state: 'replied', reply: req.reply! } : { state: 'pending' };
        }
        if (this.dead.has(k)) {
          const stored = this.dead.get(k);
          if (stored?.kind === RequestKind.TITANIC) return { state: 'dead', reason: stored.dead?.reason ?? 'unknown' };
        }
        // accepted, run or answered by any broker that shares the store
        return this.store.shared?.lookup(k).then((s): TitanicLookup | undefined => {
          if (!s || s.kind !== RequestKind.TITANIC) return undefined;
          if (s.dead) return { state: 'dead', reason: s.dead.reason };
          return s.reply ? { state: 'replied', reply: s.reply } : { state: 'pending' };
        });
      },
      close: async (k) => {
        const req = this.byKey.get(k);
        if (req && req.kind === RequestKind.TITANIC) {
          this.lifecycle.counters.closed++;
          this.close1(req);
          await this.store.append({ type: RecordType.DONE, id: req.id! });
          return;
        }
        const dead = this.dead.get(k);
        if (dead?.kind === RequestKind.TITANIC) {
          this.dead.remove(k);
          this.lifecycle.counters.closed++;
          await this.store.append({ type: RecordType.DONE, id: dead.id });
          return;
        }
        // wherever it is in a shared store (a no-op there for a key it does not know)
        if (this.store.shared) await this.store.append({ type: RecordType.DONE, id: fromHex(k) });
      },
    };
  }

  /** Takes a Titanic request out of wherever it is (its store record is closed by the caller). */
  private close1(req: Request): void {
    switch (req.phase) {
      case Phase.JOURNALLING:
      case Phase.QUEUED:
        this.unqueue(req); // a queued one stays in the deque as a hole until it reaches the head
        break;
      case Phase.RETRY_WAIT:
        this.lifecycle.unschedule(req);
        this.gauge.retryWaiting--;
        break;
      case Phase.REPLIED:
        this.gauge.titanicReplies--;
        break;
      case Phase.DISPATCHED:
        // on a worker: it finishes, and the FINAL is dropped (onFinal sees GONE); on a member: told
        if (req.remote) this.cluster?.cancel(req);
        break;
      // REPLYING: likewise
    }
    this.retire(req, { closed: true });
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
        if (isTitanicName(cmd.service)) {
          this.refuseReady(id, codec, display, 'the titanic. namespace is served by the broker (9/TSP)');
          return;
        }
        if (this.access?.serve(this.router.lastPeer, cmd.service)) {
          this.refuseReady(id, codec, display, 'not allowed to serve it (access policy)');
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
        this.evictable.delete(service);
        this.counters.workersRegistered++;
        this.byDialect[codec.dialect].workersRegistered++;
        this.peerLog.info('worker-ready', 'worker ready', { service: display, worker: hexId(id), dialect: codec.dialect });
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
        this.peerLog.info('worker-disconnected', 'worker disconnected', { service: worker.service.display, worker: hexId(id) });
        this.removeWorker(worker, { disconnect: false, why: 'worker sent DISCONNECT' });
        return;
      case 'REQUEST':
        // the codec refuses REQUEST toward the broker; kept for exhaustiveness
        this.unexpected(id, cmd, codec, worker, 'REQUEST from a worker');
        return;
    }
  }

  private onPartial(req: Request, body: Uint8Array[]): void {
    const service = req.service;
    service.partials++;
    this.counters.partials++;
    if (req.phase === Phase.GONE) return; // a closed Titanic request: its worker is let finish
    if (req.clientCodec?.streams && !req.orphan) {
      req.streamed = true;
      this.sendPartial(req, body);
      return;
    }
    // no PARTIAL in the client's dialect (7/MDP), or a Titanic request: keep the frames for the single reply, within bounds
    let bytes = 0;
    for (const f of body) bytes += f.length;
    const merged = (req.merged ??= []);
    if (req.mergedBytes + bytes > this.config.maxReplyBytes || merged.length + body.length >= this.config.maxFrames - 4) {
      service.drops.truncated++;
      this.limited.warn('partial-dropped', 'partial reply dropped: merged reply too large', { service: service.display, limit: this.config.maxReplyBytes });
      return;
    }
    // a Titanic reply is kept for days: copies, not views of the read buffer
    for (const f of body) merged.push(req.kind === RequestKind.TITANIC ? copyBytes(f) : f);
    req.mergedBytes += bytes;
  }

  private onFinal(worker: WorkerRecord, req: Request, body: Uint8Array[], t: number): void {
    worker.request = undefined;
    req.worker = undefined;
    this.replied(req, body, t);
    this.makeIdle(worker, t);
    this.checkDrained();
  }

  /** A FINAL for a request in flight (on a worker here or on a cluster member): counted, and the whole reply (with any PARTIALs merged before it) handed on. */
  private replied(req: Request, body: Uint8Array[], t: number): void {
    const service = req.service;
    service.replies++;
    this.counters.replies++;
    service.latency.record(t - req.receivedAt);
    service.histogram.record(t - req.receivedAt);
    this.gauge.inFlight--;
    this.lifecycle.counters.replied++;
    const reply = req.merged && req.merged.length > 0 ? [...req.merged, ...body] : body;
    req.merged = undefined;
    if (req.phase !== Phase.GONE) this.finish(req, reply);
  }

  /** A FINAL arrived for `req`: store it (Titanic), or record the delivery and deliver it (plain). */
  private finish(req: Request, reply: Uint8Array[]): void {
    if (req.kind === RequestKind.TITANIC) {
      const kept = reply.map(copyBytes); // kept until titanic.close: not views of read buffers
      this.lifecycle.move(req, Phase.REPLYING);
      this.gauge.replying++;
      const visible = (): void => {
        this.gauge.replying--;
        if (req.phase !== Phase.REPLYING) return; // closed meanwhile
        if (this.store.shared && stored) {
          this.retire(req, { replied: true, shared: true }); // any broker answers from the store now
          return;
        }
        this.attachReply(req, kept);
        this.gauge.titanicReplies++;
        this.lifecycle.move(req, Phase.REPLIED);
      };
      // titanic.reply answers 200 only once the reply is stored (or the store failed: then from memory)
      let stored = true;
      this.store.append({ type: RecordType.REPLY, id: req.id!, body: kept }).then(visible, (err: MdpError) => {
        this.storeFailed('titanic reply', err);
        stored = false;
        visible();
      });
      return;
    }
    if (req.orphan) {
      this.lifecycle.counters.orphaned++;
      this.counters.undeliverable++;
      req.service.drops.undeliverable++;
      this.limited.info('orphaned', 'reply dropped: its request was recovered from a client whose routing id the broker had made up', { service: req.service.display });
      this.forget(req);
      return;
    }
    if (req.storeKey === undefined) {
      this.retire(req, { delivered: true, latencyMs: Math.round((now() - req.receivedAt) * 1000) / 1000 });
      this.deliver(req, reply);
      return;
    }
    if (!this.router.hasPeer(req.client) && !isGeneratedId(req.client)) {
      // its client is not connected (a broker restart, a reconnect): the reply goes on record under the
      // request's own key and waits for the client; it is delivered (once) when the client is back
      this.attachReply(req, reply.map(copyBytes));
      this.store.append({ type: RecordType.REPLY, id: req.id!, body: req.reply! }).catch((err: MdpError) => this.storeFailed('held reply', err));
      this.hold(req, now());
      return;
    }
    // at most once: the delivery is on record before the reply is handed to the socket
    this.lifecycle.move(req, Phase.REPLYING);
    this.gauge.replying++;
    const id = req.id!;
    const go = (): void => {
      this.gauge.replying--;
      this.retire(req, { delivered: true, latencyMs: Math.round((now() - req.receivedAt) * 1000) / 1000 });
      this.deliver(req, reply);
      this.checkDrained();
    };
    this.store.append({ type: RecordType.DONE, id }).then(go, (err: MdpError) => {
      this.storeFailed('done', err);
      go();
    });
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
    this.limited.warn(`ready-refused:${why}`, 'READY refused', { service, worker: hexId(id), dialect: codec.dialect, why });
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
    if (service.workers.size === 0 && service.live === 0) this.evictable.add(service);
    unlinkIdle(service, worker);
    if (how.disconnect) this.sendDisconnect(worker.id, worker.codec);
    this.cluster?.changed(service.display, service.workers.size);
    const req = worker.request;
    worker.request = undefined;
    if (req) {
      this.gauge.inFlight--;
      req.worker = undefined;
      this.failed(req, how.why);
    }
    this.checkDrained();
  }

  /** A dispatch of `req` failed (its worker is gone): retry after a backoff, or dead-letter it. */
  private failed(req: Request, why: string): void {
    if (req.phase === Phase.GONE) return; // closed while it ran
    if (req.peer !== undefined) {
      // the origin owns the retry policy (and knows whether PARTIALs reached the client)
      this.peerEnded(req, why);
      return;
    }
    req.failures++;
    req.lastError = why;
    req.merged = undefined;
    req.mergedBytes = 0;
    if (this.stopping) {
      this.leftAtShutdown(req);
      return;
    }
    const outcome = this.lifecycle.afterFailure(req);
    if ('dead' in outcome) {
      this.deadLetter(req, outcome.dead, why);
      return;
    }
    const service = req.service;
    service.requeued++;
    this.counters.requeued++;
    this.lifecycle.counters.retried++;
    if (req.storeKey !== undefined) {
      this.store.append({ type: RecordType.ATTEMPT, id: req.id!, attempts: req.failures, error: why }).catch((err: MdpError) => this.storeFailed('attempt', err));
    }
    this.lifecycle.move(req, Phase.RETRY_WAIT, { why, retryInMs: Math.round(outcome.retryIn) });
    this.gauge.retryWaiting++;
    this.schedule(req, now() + outcome.retryIn);
  }

  /** A request the shutdown caught on a worker or in a queue: kept by a durable store, else dropped (counted). */
  private leftAtShutdown(req: Request): void {
    if (this.store.durable && req.storeKey !== undefined) return; // replayed at the next start
    req.service.drops.abandoned++;
    this.counters.requestsDropped++;
    this.retire(req);
  }

  /** To the dead letters: in the store (added there if it was not), in the index, out of everything else. */
  private deadLetter(req: Request, reason: DeadReason, error: string): void {
    if (req.peer !== undefined) {
      this.peerEnded(req, `${reason}: ${error}`);
      return;
    }
    const service = req.service;
    if (reason === DeadReason.EXPIRED) {
      service.drops.expired++;
      this.counters.requestsExpired++;
      this.lifecycle.counters.expired++;
    } else if (reason === DeadReason.INTERRUPTED) service.drops.interrupted++;
    else service.drops.abandoned++;
    this.counters.requestsDropped++;
    this.lifecycle.counters.deadLettered++;
    this.lifecycle.move(req, Phase.DEAD, { reason, error });
    this.limited.warn(`dead-letter:${reason}`, 'request dead-lettered', { service: service.display, kind: req.kind, reason, error, attempts: req.attempts });
    if (this.config.maxDeadLetters === 0) {
      this.forget(req);
      return;
    }
    const fresh = req.storeKey === undefined;
    if (fresh) this.identify(req);
    const k = req.storeKey!;
    const id = req.id!;
    this.retire(req);
    if (fresh) {
      this.store.append(this.requestRecord(req)).catch((err: MdpError) => {
        this.dead.remove(k); // not in the store: nothing to list, replay or purge
        this.storeFailed('dead letter', err);
      });
      if (req.failures > 0) this.store.append({ type: RecordType.ATTEMPT, id, attempts: req.failures, error: req.lastError }).catch(() => undefined);
    }
    const at = Date.now();
    this.store.append({ type: RecordType.DEAD, id, reason, error, at }).catch((err: MdpError) => this.storeFailed('dead letter', err));
    this.dead.add(k, {
      id,
      key: k,
      kind: req.kind,
      service: req.service.name,
      body: req.body.map(copyBytes), // kept until replayed or purged: not views of read buffers
      client: req.kind === RequestKind.PLAIN ? req.client : new Uint8Array(0),
      dialect: req.clientCodec?.dialect ?? '',
      createdAt: req.ttlFrom,
      ttlFrom: req.ttlFrom,
      attempts: req.failures,
      lastError: req.lastError,
      reply: undefined,
      dead: { reason, error, at },
      bytes: 0,
    });
    this.evictDeadLetters(this.config.maxQueuedBytes - this.gauge.bytes);
  }

  // ---- dispatch -------------------------------------------------------------------------------

  /** Hands queued requests to idle workers (LRU first); `t` is the current time. */
  private dispatch(service: Service, t: number): void {
    if (this.stopping) return;
    let worker: WorkerRecord | undefined;
    const queue = service.queue;
    while (queue.length > 0 && (worker = service.idleHead) !== undefined) {
      const req = queue.shift()!;
      if (req.phase !== Phase.QUEUED) continue; // closed or dead-lettered while queued
      if (req.kind === RequestKind.PLAIN && isGeneratedId(req.client) && !req.orphan && !this.router.hasPeer(req.client)) {
        // its client's connection is gone, and a ROUTER-made id never comes back: nobody would take
        // the reply (the client, if it retries, does so on a new connection)
        this.unqueue(req);
        service.drops.undeliverable++;
        this.counters.requestsDropped++;
        this.lifecycle.counters.clientGone++;
        this.forget(req, { dropped: 'client gone' });
        continue;
      }
      unlinkIdle(service, worker);
      this.unqueue(req);
      worker.request = req;
      req.worker = worker;
      req.attempts++;
      this.gauge.inFlight++;
      this.lifecycle.counters.dispatched++;
      this.lifecycle.move(req, Phase.DISPATCHED, { worker: hexId(worker.id) });
      worker.lastSent = t;
      const codec = worker.codec;
      const frames = codec.encode({ protocol: 'worker', command: 'REQUEST', version: codec.version, client: req.client, body: req.body }, Direction.TO_WORKER);
      this.send(worker.id, frames, codec, worker.unreachable);
    }
    if (service.idleHead !== undefined && this.store?.shared) this.store.shared.wake(service.name);
    if (this.cluster !== undefined) {
      if (queue.length > 0) this.forwardQueued(service, t);
      this.cluster.changed(service.display, service.workers.size);
    }
  }

  /**
   * Cluster: what is still queued (no local worker idle) goes to members that have one, in queue
   * order, as the strategy picks; a request another member forwarded here is never forwarded again.
   */
  private forwardQueued(service: Service, t: number): void {
    const cluster = this.cluster!;
    const queue = service.queue;
    for (let req = queue.peek(); req !== undefined; req = queue.peek()) {
      if (req.phase !== Phase.QUEUED) {
        queue.shift();
        continue;
      }
      if (req.peer !== undefined) return; // one hop at most; and the queue keeps its order
      if (req.kind === RequestKind.PLAIN && isGeneratedId(req.client) && !req.orphan && !this.router.hasPeer(req.client)) {
        // as in dispatch(): its client's connection is gone for good, nobody would take the reply
        queue.shift();
        this.unqueue(req);
        service.drops.undeliverable++;
        this.counters.requestsDropped++;
        this.lifecycle.counters.clientGone++;
        this.forget(req, { dropped: 'client gone' });
        continue;
      }
      const choice = cluster.pick(service.display, service.workers.size, t - req.queuedAt);
      if (choice === undefined || 'waitMs' in choice) return;
      queue.shift();
      this.unqueue(req);
      req.remote = true;
      req.attempts++;
      this.gauge.inFlight++;
      this.lifecycle.counters.dispatched++;
      this.lifecycle.move(req, Phase.DISPATCHED, { member: choice.member });
      cluster.forward(choice.member, req, service.name, req.clientCodec?.dialect ?? '', req.body);
    }
  }

  /**
   * A connection closed: if it was a busy worker's, its request should run again now, not at the next
   * heartbeat (up to seconds later). The ROUTER's event does not say whose connection it was, so the
   * busy workers are checked, at most once per BUSY_CHECK_MS however many connections close: a storm
   * of client disconnects costs one pass over the busy workers per period, not one per disconnect.
   */
  private checkBusyWorkersSoon(): void {
    if (this.busyCheck !== undefined || this.isClosed) return;
    this.busyCheck = setTimeout(() => {
      this.busyCheck = undefined;
      this.guard(() => {
        for (const w of [...this.workers.values()]) {
          if (w.request && !this.router.hasPeer(w.id)) {
            this.counters.workersLost++;
            this.peerLog.info('worker-lost', 'worker lost', { service: w.service.display, worker: hexId(w.id), why: 'its connection closed while busy' });
            this.removeWorker(w, { disconnect: false, why: 'worker connection closed while it had the request' });
          }
        }
      });
    }, BUSY_CHECK_MS);
  }

  private workerUnreachable(worker: WorkerRecord, err: ZmqError): void {
    if (worker.gone) return;
    this.counters.workersLost++;
    this.peerLog.info('worker-lost', 'worker lost', { service: worker.service.display, worker: hexId(worker.id), code: err.code });
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

  /**
   * Finds or creates the record of a service; undefined when the service limit is reached.
   * `force`: a request that was accepted before (recovered, replayed) gets its service regardless.
   */
  private service(name: Uint8Array, force = false): Service | undefined {
    const last = this.lastService;
    if (last !== undefined && sameBytes(last.name, name)) return last;
    const k = key(name);
    const existing = this.services.get(k);
    if (existing) {
      this.lastService = existing;
      return existing;
    }
    if (this.services.size >= this.config.maxServices) {
      // evict the record that has held nothing for longest (its metrics go with it): the first of
      // `evictable`, so that a spray of new names costs O(1) each, not a scan of every service
      const victim = this.evictable.oldest();
      if (!victim && !force) return undefined;
      if (victim) {
        this.evictable.delete(victim);
        this.services.delete(victim.key);
        if (this.lastService === victim) this.lastService = undefined;
      }
    }
    const s: Service = {
      name: copyBytes(name), // not a view: the read chunk it came in is not kept for the service's life
      key: k,
      display: textDecoder.decode(name),
      queue: new Deque<Request>(),
      queued: 0,
      plainQueued: 0,
      live: 0,
      workers: new Set(),
      idleHead: undefined,
      idleTail: undefined,
      idleCount: 0,
      evictPrev: undefined,
      evictNext: undefined,
      evictable: false,
      latency: new LatencyReservoir(this.config.latencySamples),
      histogram: new LatencyHistogram(),
      requests: 0,
      replies: 0,
      partials: 0,
      requeued: 0,
      drops: { expired: 0, overflow: 0, undeliverable: 0, abandoned: 0, interrupted: 0, truncated: 0 },
    };
    this.services.set(k, s);
    this.evictable.add(s);
    this.lastService = s;
    return s;
  }

  // ---- timers -----------------------------------------------------------------------------------

  /** Puts a request on the retry heap (backoff, or a held reply's next delivery) and arms the wake-up. */
  private schedule(req: Request, at: number): void {
    this.lifecycle.schedule(req, at);
    this.armWake();
  }

  private armWake(): void {
    const due = this.lifecycle.nextDue();
    if (due === undefined || due >= this.wakeAt || this.isClosed) return;
    if (this.wake !== undefined) clearTimeout(this.wake);
    this.wakeAt = due;
    this.wake = setTimeout(() => this.guard(() => this.onWake()), Math.max(0, due - now()));
  }

  private onWake(): void {
    this.wake = undefined;
    this.wakeAt = Infinity;
    const t = now();
    const wallNow = Date.now();
    const touched = new Set<Service>();
    for (const req of this.lifecycle.takeDue(t)) {
      if (req.phase === Phase.HELD) {
        this.tryHeld(req, t);
        continue;
      }
      if (req.phase !== Phase.RETRY_WAIT) continue;
      this.gauge.retryWaiting--;
      if (this.lifecycle.expired(req, t, wallNow)) {
        this.deadLetter(req, DeadReason.EXPIRED, `request_ttl (${this.config.requestTtl} ms) passed before a retry`);
        continue;
      }
      // back at the head of its queue: it was first in line when its worker took it
      const service = req.service;
      service.queued++;
      if (req.kind === RequestKind.PLAIN) service.plainQueued++;
      this.gauge.queued++;
      req.queuedAt = t;
      this.lifecycle.move(req, Phase.QUEUED, { retry: req.failures });
      service.queue.unshift(req);
      touched.add(service);
    }
    for (const s of touched) this.dispatch(s, t);
    this.armWake();
  }

  private tick(): void {
    const t = now();
    const interval = this.config.heartbeatInterval;
    const idleLimit = interval * this.config.heartbeatLiveness;
    const busyLimit = this.config.busyWorkerTimeout === 0 ? Infinity : Math.max(idleLimit, this.config.busyWorkerTimeout);
    for (const w of [...this.workers.values()]) {
      const silent = t - w.lastHeard;
      if (silent > (w.request ? busyLimit : idleLimit)) {
        this.counters.workersExpired++;
        this.peerLog.info('worker-expired', 'worker expired', { service: w.service.display, worker: hexId(w.id), silentMs: Math.round(silent), busy: w.request !== undefined });
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
      this.throttle.purge(t);
    }
    this.expireQueued(t);
  }

  /**
   * Dead-letters queued requests past request_timeout or request_ttl. Queues are in arrival order, so
   * each is read from its head and only as far as its first live request that has not expired.
   */
  private expireQueued(t: number): void {
    if (this.config.requestTimeout === 0 && this.config.requestTtl === 0) return;
    const wallNow = Date.now();
    for (const s of this.services.values()) {
      const queue = s.queue;
      let expired = 0;
      for (let head = queue.peek(); head !== undefined; head = queue.peek()) {
        if (head.phase === Phase.QUEUED && !this.lifecycle.expired(head, t, wallNow)) break;
        queue.shift();
        if (head.phase !== Phase.QUEUED) continue; // a hole left by a close
        this.unqueue(head);
        expired++;
        const ttl = this.config.requestTtl > 0 && wallNow - head.ttlFrom > this.config.requestTtl;
        this.deadLetter(head, DeadReason.EXPIRED, ttl ? `request_ttl (${this.config.requestTtl} ms) passed in the queue` : `waited ${this.config.requestTimeout} ms in the queue for a worker`);
      }
      if (expired > 0) this.peerLog.info('queued-expired', 'queued requests expired', { service: s.display, count: expired, workers: s.workers.size });
    }
  }

  // ---- metrics ----------------------------------------------------------------------------------

  private serviceMetrics(s: Service): ServiceMetrics {
    return {
      workers: s.workers.size,
      idleWorkers: s.idleCount,
      busyWorkers: s.workers.size - s.idleCount,
      queueDepth: s.queued,
      requests: s.requests,
      replies: s.replies,
      partials: s.partials,
      requeued: s.requeued,
      drops: { ...s.drops },
      latencyMs: s.latency.snapshot(),
      latencyHistogram: s.histogram.snapshot(),
    };
  }

  /**
   * mmi.broker's default answer: the document without per-service detail, with a summary of the
   * services instead. Its counters are current; what needs a walk over every service or client (the
   * summary, the clients per dialect) is redone at most once per METRICS_CACHE_MS. A 40-byte request
   * must not make the broker serialise ten thousand services, nor sixteen askers make it walk them
   * sixteen times.
   */
  summary(): BrokerMetrics {
    const t = now();
    if (!this.scanCache || t - this.scanCache.at >= METRICS_CACHE_MS) {
      let withWorkers = 0;
      const busiest: { service: string; queueDepth: number; workers: number }[] = [];
      for (const s of this.services.values()) {
        if (s.workers.size > 0) withWorkers++;
        if (s.queued > 0) busiest.push({ service: s.display, queueDepth: s.queued, workers: s.workers.size });
      }
      busiest.sort((a, b) => b.queueDepth - a.queueDepth);
      this.scanCache = {
        at: t,
        clients: this.clientsByDialect(t),
        summary: { count: this.services.size, withWorkers, busiest: busiest.slice(0, BUSIEST) },
      };
    }
    const m = this.metrics({ services: false, clients: this.scanCache.clients });
    m.servicesSummary = this.scanCache.summary;
    return m;
  }

  private clientsByDialect(t: number): Record<Dialect, number> {
    const counts = Object.fromEntries(DIALECTS.map((d) => [d, 0])) as Record<Dialect, number>;
    for (const c of this.clients.values()) if (t - c.lastSeen <= CLIENT_WINDOW_MS) counts[c.dialect]++;
    return counts;
  }

  /** A page of per-service metrics in name order, after `after`, names starting with `prefix`. */
  servicePage(after: string | undefined, limit: number, prefix: string): ServicePage {
    const t = now();
    if (!this.namesCache || t - this.namesCache.at >= METRICS_CACHE_MS) {
      const sorted = [...this.services.values()].sort((a, b) => (a.display < b.display ? -1 : a.display > b.display ? 1 : 0));
      this.namesCache = { at: t, services: sorted };
    }
    const list = this.namesCache.services;
    // the first name past the cursor, or the first at or past the prefix: a binary search
    const strict = after !== undefined && after >= prefix;
    const bound = strict ? after : prefix;
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const name = list[mid]!.display;
      if (strict ? name <= bound : name < bound) lo = mid + 1;
      else hi = mid;
    }
    const services: Record<string, ServiceMetrics> = {};
    let last: string | null = null;
    let n = 0;
    for (let i = lo; i < list.length && n < limit; i++) {
      const s = list[i]!;
      if (!s.display.startsWith(prefix)) break;
      if (this.services.get(s.key) !== s) continue; // evicted since the list was made
      services[s.display] = this.serviceMetrics(s);
      last = s.display;
      n++;
    }
    return { total: this.services.size, services, next: n === limit ? last : null };
  }

  /**
   * Everything the broker counts; `services: false` leaves out the per-service detail (`clients`:
   * per-dialect client counts already made, for mmi.broker's cached summary).
   */
  metrics(options: { services?: boolean; clients?: Record<Dialect, number> } = {}): BrokerMetrics {
    const services: Record<string, ServiceMetrics> = {};
    if (options.services !== false) for (const s of this.services.values()) services[s.display] = this.serviceMetrics(s);
    const dialects = {} as Record<Dialect, DialectMetrics>;
    for (const d of DIALECTS) dialects[d] = { accepted: this.accepted.has(d), workers: 0, clients: 0, ...this.byDialect[d] };
    for (const w of this.workers.values()) dialects[w.codec.dialect].workers++;
    const clients = options.clients ?? this.clientsByDialect(now());
    for (const d of DIALECTS) dialects[d].clients = clients[d];
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
      connections: this.connections,
      counters: { ...this.counters, invalidByReason: { ...this.counters.invalidByReason } },
      services,
      acceptedDialects: DIALECTS.filter((d) => this.accepted.has(d)),
      dialects,
      lifecycle: { ...this.lifecycle.counters },
      requests: {
        journalling: this.gauge.journalling,
        // gauge.queued counts what was accepted and not dispatched, which includes what is being stored
        queued: this.gauge.queued - this.gauge.journalling,
        inFlight: this.gauge.inFlight,
        retryWaiting: this.gauge.retryWaiting,
        heldReplies: this.gauge.held,
        titanicPending: this.gauge.titanicLive - this.gauge.titanicReplies,
        titanicReplies: this.gauge.titanicReplies,
        deadLetters: this.dead.size,
        bytes: this.gauge.bytes + this.dead.bytes,
      },
      titanic: { ...this.titanicCounters, status: { ...this.titanicCounters.status } },
      store: { ...(this.store?.stats() ?? { kind: 'opening', durable: false, requests: 0, liveBytes: 0, bytes: 0, maxBytes: 0, appends: 0, refusedFull: 0, errors: 0, compactions: 0 }), recovery: this.recovery },
      ...(this.access ? { access: this.access.metrics(options.services !== false) } : {}),
      ...(this.cluster ? { cluster: this.clusterMetrics(this.cluster) } : {}),
    };
  }

  // ---- cluster ----------------------------------------------------------------------------------

  /** Loads the federation (only now: a single broker never does) and joins the cluster. */
  private async startCluster(): Promise<void> {
    const c = this.config;
    const { openCluster } = await import('../cluster/federation.ts');
    const { clusterOptions } = await import('../cluster/options.ts');
    const options = { ...clusterOptions(c, this.log), clientEndpoints: [...this.bound] };
    this.cluster = await openCluster<Request>(this.clusterHost(), options);
  }

  /** The cluster's endpoint once joined (after the first bind), else undefined. */
  get clusterEndpoint(): string | undefined {
    return this.cluster?.endpoint;
  }

  get nodeId(): string | undefined {
    return this.cluster?.nodeId;
  }

  /** The cluster's members as this broker sees them (mmi.cluster's document); undefined outside a cluster. */
  clusterView(): ClusterView | undefined {
    return this.cluster?.view();
  }

  private clusterMetrics(c: ClusterLink<Request>): ClusterMetrics {
    const v = c.view();
    const members: Record<string, number> = { alive: 0, suspect: 0, dead: 0, left: 0 };
    for (const m of v.members) if (!m.self) members[m.state] = (members[m.state] ?? 0) + 1;
    return { node: v.node, endpoint: c.endpoint, strategy: v.strategy, members, ...v.counters };
  }

  private loadOf(s: Service): ServiceLoad {
    return { name: s.display, idle: s.idleCount, busy: s.workers.size - s.idleCount, queued: s.queued };
  }

  private clusterHost(): ClusterHost<Request> {
    return {
      localServices: () => {
        const out: ServiceLoad[] = [];
        for (const s of this.services.values()) if (s.workers.size > 0 || s.queued > 0) out.push(this.loadOf(s));
        return out;
      },
      serviceLoad: (name) => {
        const s = this.services.get(key(fromString(name)));
        return s ? this.loadOf(s) : { name, idle: 0, busy: 0, queued: 0 };
      },
      acceptForward: (f) => this.guardForward(f),
      cancelForward: (origin, rid) => {
        const req = this.inbound.get(`${origin}\n${rid}`);
        if (!req) return;
        if (req.phase === Phase.QUEUED) this.unqueue(req); // a hole in the deque until it reaches the head
        this.retire(req, { cancelled: true }); // on a worker: it finishes, the FINAL is dropped
      },
      originGone: (origin) =>
        this.guard(() => {
          for (const req of [...this.inbound.values()]) {
            if (req.peer!.origin !== origin) continue;
            if (req.phase === Phase.QUEUED) this.unqueue(req);
            this.retire(req, { cancelled: 'origin gone' });
          }
        }),
      remotePartial: (req, body) => this.guard(() => this.onPartial(req, body)),
      remoteFinal: (req, body) => this.guard(() => this.onRemoteFinal(req, body)),
      remoteRefused: (req, refusal) => this.guard(() => this.onRemoteRefused(req, refusal)),
      remoteLost: (req, why) =>
        this.guard(() => {
          if (!req.remote) return;
          req.remote = false;
          this.gauge.inFlight--;
          this.failed(req, why);
          this.checkDrained();
        }),
      wake: (name) =>
        this.guard(() => {
          const s = this.services.get(key(fromString(name)));
          if (s && s.queue.length > 0) this.dispatch(s, now());
        }),
    };
  }

  private guardForward(f: InboundForward): Refusal | undefined {
    try {
      return this.acceptForward(f);
    } catch (err) {
      this.internalError(err);
      return { reason: REFUSE.FAILED, text: 'internal error' };
    }
  }

  /** A request another member forwarded: taken like a client's, from a client that is the link back. */
  private acceptForward(f: InboundForward): Refusal | undefined {
    if (this.draining) return { reason: REFUSE.NO_WORKER, text: 'shutting down' };
    if (isMmiName(f.service) || isTitanicName(f.service)) return { reason: REFUSE.UNKNOWN_SERVICE, text: 'answered by each broker itself' };
    const service = this.services.get(key(f.service));
    if (!service || service.workers.size === 0) return { reason: REFUSE.NO_WORKER, text: 'no worker for it here' };
    this.counters.requests++;
    service.requests++;
    if (service.plainQueued >= this.config.maxQueuedRequests) {
      service.drops.overflow++;
      this.counters.requestsDropped++;
      return { reason: REFUSE.OVER_BUDGET, text: `queue full (${this.config.maxQueuedRequests})` };
    }
    const t = now();
    const codec = isDialect(f.dialect) ? codecForDialect(f.dialect) : undefined;
    // the worker echoes this address in its replies; it names the origin and its request id
    const address = fromString(`cluster/${f.origin}/${f.rid}`);
    const req = this.newRequest(RequestKind.PLAIN, address, codec, service, f.body, t, Date.now());
    req.peer = { origin: f.origin, rid: f.rid };
    const waits = service.idleHead === undefined || service.queued > 0;
    if (waits && !this.roomFor(req.bytes)) {
      service.drops.overflow++;
      this.counters.requestsDropped++;
      this.counters.bytesRefused++;
      return { reason: REFUSE.OVER_BUDGET, text: `max_queued_bytes (${this.config.maxQueuedBytes}) reached` };
    }
    this.accept(req);
    this.inbound.set(`${f.origin}\n${f.rid}`, req);
    this.enqueue(req, t);
    return undefined;
  }

  /** A request a member forwarded here ended without a FINAL: the origin decides what next. */
  private peerEnded(req: Request, why: string): void {
    const peer = req.peer!;
    if (req.phase === Phase.QUEUED) this.unqueue(req);
    this.retire(req, { toOrigin: peer.origin, why });
    this.cluster?.fail(peer.origin, peer.rid, { reason: REFUSE.FAILED, text: why });
  }

  /** The FINAL of a request this broker forwarded: as onFinal, without a worker to make idle. */
  private onRemoteFinal(req: Request, body: Uint8Array[]): void {
    if (!req.remote) return;
    req.remote = false;
    this.replied(req, body, now());
    this.checkDrained();
  }

  /** The member did not take it: back to the head of its queue (not a failed dispatch). */
  private onRemoteRefused(req: Request, refusal: Refusal): void {
    if (!req.remote) return;
    req.remote = false;
    this.gauge.inFlight--;
    req.attempts--;
    if (req.phase === Phase.GONE) {
      this.checkDrained();
      return;
    }
    if (this.stopping) {
      this.leftAtShutdown(req);
      return;
    }
    const service = req.service;
    const t = now();
    service.queued++;
    if (req.kind === RequestKind.PLAIN) service.plainQueued++;
    this.gauge.queued++;
    this.lifecycle.move(req, Phase.QUEUED, { refused: refusal.text });
    service.queue.unshift(req);
    this.dispatch(service, t);
  }

  // ---- security ---------------------------------------------------------------------------------

  /** Sets up CURVE/PLAIN, ZAP and the access policy (src/mdp/security/) before anything is bound. */
  private async secure(given: BrokerSecurity | undefined, configFile: string | undefined): Promise<void> {
    const security = given ?? (await openSecurity(this.config, { logger: this.log, ...(configFile === undefined ? {} : { configFile }) }));
    if (!security) return;
    this.security = security;
    this.access = security.access;
    // socket options assigned before the first bind apply to every connection
    Object.assign(this.router, security.socketOptions);
    this.log.info('security', security.summary);
  }

  /** Re-reads the access policy and the client certificates now (the CLI does it on SIGHUP). */
  reloadSecurity(): Promise<ReloadOutcome | undefined> {
    return this.ready.then(() => this.security?.reload(true));
  }

  /** Checks a request against the policy; a denied one gets the denial answer and goes no further. */
  private denied(id: Uint8Array, cmd: ClientRequest, codec: MdpCodec): boolean {
    if (!this.access!.request(this.router.lastPeer, cmd.service, cmd.body)) return false;
    this.byDialect[codec.dialect].replies++;
    this.send(id, encodeDenial(codec, cmd.service), codec, () => this.counters.undeliverable++);
    return true;
  }

  // ---- shutdown ---------------------------------------------------------------------------------

  /** Whether the drain has work left: requests running or being stored, or waiting for workers that exist. */
  private busy(): boolean {
    const g = this.gauge;
    return g.inFlight > 0 || g.replying > 0 || g.journalling > 0 || ((g.queued > 0 || g.retryWaiting > 0) && this.workers.size > 0);
  }

  private checkDrained(): void {
    if (this.draining && this.drained && !this.busy()) this.drained();
  }

  /**
   * Stops taking requests and workers; for up to `graceMs` keeps dispatching queued requests to idle
   * workers and lets in-flight ones finish; then sends DISCONNECT to every worker (so they re-register
   * with the next broker) and closes. What could not finish is logged and counted; a durable store
   * keeps it for the next start.
   */
  close(graceMs: number = this.config.shutdownGrace): Promise<void> {
    this.closing ??= this.shutdown(graceMs);
    return this.closing;
  }

  private async shutdown(graceMs: number): Promise<void> {
    this.draining = true;
    await this.ready.catch(() => undefined);
    if (this.busy() && graceMs > 0) {
      this.log.info('draining', { graceMs, inFlight: this.gauge.inFlight, queued: this.gauge.queued });
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, graceMs);
        this.drained = () => {
          clearTimeout(t);
          resolve();
        };
        this.checkDrained();
      });
    }
    this.drained = undefined;
    this.stopping = true;
    for (const w of [...this.workers.values()]) this.removeWorker(w, { disconnect: true, why: 'broker shutting down' });
    // members hear that we leave; what we forwarded and is not back is failed like a worker's (above)
    await this.clusterStart?.catch(() => undefined);
    await this.cluster?.close();
    this.cluster = undefined;
    const left = { queued: this.gauge.queued, retryWaiting: this.gauge.retryWaiting, heldReplies: this.gauge.held };
    const durable = this.store?.durable === true;
    if (left.queued + left.retryWaiting + left.heldReplies > 0) {
      this.log.warn(durable ? 'requests kept for the next start' : 'requests dropped at shutdown', left);
      if (!durable) {
        for (const s of this.services.values()) {
          s.drops.abandoned += s.queued;
          this.counters.requestsDropped += s.queued;
        }
      }
    }
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    if (this.wake !== undefined) clearTimeout(this.wake);
    this.wake = undefined;
    if (this.busyCheck !== undefined) clearTimeout(this.busyCheck);
    this.busyCheck = undefined;
    await this.bindChain;
    this.isClosed = true;
    this.router.close();
    await this.loop;
    await this.security?.close();
    await this.store?.close().catch((err: MdpError) => this.log.error('store close failed', { code: err.code, error: err.message }));
    this.log.info('broker closed', { replies: this.counters.replies });
  }
}

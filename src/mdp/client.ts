/**
 * Majordomo client, in any dialect: 18/MDP (default), 7/MDP, or the majortomo and plantd dialects
 * (option `dialect`), so it can use their brokers too.
 *
 * MDP carries no request id, so replies can only be matched to requests by the socket they come
 * back on. The client therefore keeps a pool of DEALERs and puts one request at a time on each:
 * several requests can be in flight (up to `maxInFlight`) without their replies mixing.
 *
 * Each attempt waits `timeout` ms for the next reply (every PARTIAL restarts the clock). When the
 * broker stays silent the DEALER is thrown away and the request is sent again on a new one after
 * an exponential backoff (`retryBackoff` doubling up to `retryBackoffMax`), `retries` times. After
 * the last attempt the error is MDP_BROKER_UNREACHABLE if no connection was ever made, otherwise
 * MDP_UNKNOWN_SERVICE when the broker's mmi.service says the service has no worker, else MDP_TIMEOUT.
 *
 * With `routingId`, each DEALER gets a routing id of the client's choosing (`routingId` for the
 * first, `routingId.N` for later ones) instead of one the broker's ROUTER makes up. A broker can
 * then recognise the client after a reconnect, and a durable broker (--data-dir) sends a reply it
 * kept across its own restart. Such a client keeps its socket on a timeout: when the connection
 * dropped and came back while it waited (the broker restarted), it waits again without sending the
 * request a second time; when the broker merely stayed silent, it sends the request again on the
 * same socket, whose id then retires with the request (a late reply to the first copy must not
 * reach a later request).
 *
 * request() resolves with the reply body: every PARTIAL's frames followed by the FINAL's frames —
 * the same frames an MDP/0.1 client gets from the broker, so the result does not depend on the
 * dialect. Replies are checked against the requested service where the dialect carries it (majortomo's
 * replies do not). stream() yields each PARTIAL, then the FINAL. MDP has no request id, so a stream
 * that goes silent after yielding PARTIALs is not retried (the consumer would get them twice): it
 * fails with MDP_STREAM_INTERRUPTED. request() buffers, so it retries such a stream from the start.
 *
 * Security (issue 12): with `curveServerKey` (and `curveCert`, the client's own key pair) every DEALER
 * is a CURVE client of the broker. A broker's denial answer (src/mdp/security/denial.ts) fails the
 * request at once with MDP_ACCESS_DENIED; a handshake the broker refuses (unknown key, bad password)
 * fails it at once with MDP_AUTH_REFUSED instead of waiting for every timeout.
 *
 * Several brokers (`brokers: [A, B, …]`, or a list as the endpoint): failover, one broker at a time.
 * Every request goes to the current broker (A first). An attempt there that times out, cannot connect
 * (refused, or no connection after UNREACHABLE_MS), or loses its connection while it waits, counts as a failure of that broker and
 * makes the next one in the list (round robin) current: the retry goes there, at once when the
 * broker could not be reached, after the usual backoff otherwise. The client stays with a broker that
 * works (no going back to A while B answers), so replies keep their order and `routingId` keeps its
 * meaning: each broker sees the same id (`routingId` for the first socket to it, then `routingId.N`).
 * Attempts on brokers that cannot be reached do not use up `retries` while another broker has not
 * been tried for this request: `retries: 0` still tries each broker once. A request is only sent to
 * the next broker when the previous one failed it; once a broker has answered (a PARTIAL or the
 * FINAL) the request stays there. Early MDP_UNKNOWN_SERVICE needs every broker that could be reached
 * to answer mmi.service 404. `client.brokers` has per-broker statistics.
 */
import { Dealer, type MessageLike, type SocketOptions } from '../mod.ts';
import { EMPTY, fromString, toFrame } from '../util/bytes.ts';
import { Direction, type MdpCodec } from './codec.ts';
import { MMI_NAMESPACE, MmiCode, MmiService, type Dialect } from './constants.ts';
import { resolveDialect } from './dialects/index.ts';
import { checkOptions, DEFAULT_CONFIG, type ClientConfig } from './config.ts';
import { MdpError, MdpErrorCode, mdpError } from './errors.ts';
import { decodeServiceError } from './service_error.ts';
import { silentLogger, type Logger } from './log.ts';
import { parseDenial } from './security/denial.ts';
import { peerCurveSocketOptions, type PeerCurveOptions } from './security/peer.ts';
import { BrokerPool, resolveBrokers, type BrokerStats } from './broker_pool.ts';

/** ClientOptions that are not config fields. */
const CLIENT_EXTRA_OPTIONS = ['logger', 'socketOptions', 'diagnose', 'routingId', 'curveCert', 'curveServerKey', 'brokers'] as const;

/** An attempt on a socket that has not connected after this long ends early. */
const UNREACHABLE_MS = 3000;

/** request()'s signal that a new attempt starts and the PARTIALs so far are void. */
const RESTART = Symbol('restart');

/** Config fields the CLI resolves into key material (PeerCurveOptions) before building a Client. */
type CurveFields = 'curveCert' | 'curveServerKey';

export interface ClientOptions extends Partial<Omit<ClientConfig, 'broker' | CurveFields>>, PeerCurveOptions {
  logger?: Logger;
  /** Extra socket options for the DEALERs. */
  socketOptions?: Partial<SocketOptions>;
  /** After the last timeout, ask mmi.service whether the service exists (default true). */
  diagnose?: boolean;
  /**
   * A routing id of the client's own (1–255 bytes, not starting with a zero byte), so that a broker
   * can recognise it after a reconnect or a broker restart; later sockets get `routingId.N`.
   */
  routingId?: string;
  /** The broker, when the constructor gets no endpoint (`new Client(undefined, { broker })`, or `new Client({ broker })`). */
  broker?: string | readonly string[];
  /** Several brokers in failover order: one at a time, the next after a timeout or when unreachable. */
  brokers?: readonly string[];
}

export interface RequestOptions {
  timeout?: number;
  retries?: number;
}

export interface ReplyChunk {
  /** True for the FINAL (always true for MDP/0.1, which has a single REPLY). */
  final: boolean;
  body: Uint8Array[];
}

export interface ClientStats {
  requests: number;
  replies: number;
  retries: number;
  timeouts: number;
  /** Replies that did not parse or did not match the request (dropped). */
  malformed: number;
}

/** A request body as frames; an empty list is one empty frame (MDP bodies have at least one). */
function asBytes(body: MessageLike | MessageLike[]): Uint8Array[] {
  const list = Array.isArray(body) ? body : [body];
  return list.length === 0 ? [EMPTY] : list.map(toFrame);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

interface Slot {
  socket: Dealer;
  /** The broker it is connected to (an index in the pool). */
  broker: number;
  /** Its connection is up (counted in the broker's statistics). */
  up: boolean;
  /** Called when the connection drops, or a connection attempt fails, while a receive waits (several brokers: fail over at once). */
  onLost: (() => void) | undefined;
  reached: boolean;
  /** The connection dropped (the broker went away) since this was last cleared. */
  lost: boolean;
  /** The request was sent twice on this socket: a late reply may still come, so it is not reused. */
  spent: boolean;
  /** The broker refused this socket's credentials in the handshake (ZAP 400/500). */
  refused: Error | undefined;
}

export class Client {
  readonly config: Omit<ClientConfig, 'broker' | CurveFields>;
  /** The codec of the dialect spoken (from `dialect`, or the RFC of `version`). */
  readonly codec: MdpCodec;
  readonly stats: ClientStats = { requests: 0, replies: 0, retries: 0, timeouts: 0, malformed: 0 };
  private readonly options: ClientOptions;
  private readonly log: Logger;
  private readonly idle: Slot[] = [];
  private readonly active = new Set<Slot>();
  private readonly waiting: { resolve: () => void; reject: (e: Error) => void }[] = [];
  private inFlight = 0;
  private isClosed = false;
  /** Sockets made so far, per broker (names the next stable routing id). */
  private readonly sockets: number[];
  private readonly pool: BrokerPool;
  /** CURVE options of every DEALER ({} without CURVE). */
  private readonly curve: Partial<SocketOptions>;
  /** The last handshake failure that was not a refusal (wrong server key, mechanism mismatch), for MDP_BROKER_UNREACHABLE. */
  private handshakeError: Error | undefined;

  /**
   * `endpoint`: the broker, or a list of brokers in failover order; or leave it out and name them in
   * the options (`broker`, `brokers`): `new Client({ brokers: [a, b] })`.
   */
  constructor(endpoint?: string | readonly string[] | ClientOptions, options: ClientOptions = {}) {
    if (endpoint !== null && typeof endpoint === 'object' && !Array.isArray(endpoint)) {
      if (arguments.length > 1) {
        const issue = 'Client options: given twice (new Client(options) takes no second argument)';
        throw mdpError(MdpErrorCode.CONFIG, `invalid Client options:\n  ${issue}`, { issues: [issue] });
      }
      options = endpoint as ClientOptions;
      endpoint = undefined;
    }
    const { broker: fallback, curveCert: _c, curveServerKey: _k, ...defaults } = DEFAULT_CONFIG.client;
    // curveCert and curveServerKey are key material here (the config's file names are the CLI's business)
    const { broker, curveCert: _cc, curveServerKey: _ck, ...checked } = checkOptions('client', 'Client', options, CLIENT_EXTRA_OPTIONS);
    this.pool = new BrokerPool(resolveBrokers('Client', endpoint, broker, options.brokers, fallback));
    this.sockets = new Array<number>(this.pool.size).fill(0);
    this.config = { ...defaults, ...checked } as Omit<ClientConfig, 'broker' | CurveFields>;
    this.curve = peerCurveSocketOptions(options);
    this.codec = resolveDialect(this.config.dialect, this.config.version);
    this.options = options;
    this.log = options.logger ?? silentLogger;
    const id = options.routingId;
    if (id !== undefined) {
      const bytes = new TextEncoder().encode(id);
      if (bytes.length === 0 || bytes.length > 250 || bytes[0] === 0) {
        throw mdpError(MdpErrorCode.CONFIG, `routingId must be 1 to 250 bytes and not start with a zero byte, got ${JSON.stringify(id)}`, { issues: ['routingId'] });
      }
    }
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** The broker the next request goes to. */
  get endpoint(): string {
    return this.pool.endpoint();
  }

  /** Every broker of the client, in failover order, with its statistics (a snapshot). */
  get brokers(): BrokerStats[] {
    return this.pool.snapshot();
  }

  /** The dialect spoken. */
  get dialect(): Dialect {
    return this.codec.dialect;
  }

  /** Sends one request and resolves with the reply body (PARTIAL frames, then FINAL frames). */
  async request(service: string, body: MessageLike | MessageLike[] = null, options: RequestOptions = {}): Promise<Uint8Array[]> {
    let out: Uint8Array[] = [];
    for await (const chunk of this.replies(service, body, options, true)) {
      if (chunk === RESTART) out = []; // a retry after PARTIALs: the new attempt sends them again
      else out.push(...chunk.body);
    }
    return out;
  }

  /** Sends one request and yields each PARTIAL, then the FINAL. */
  stream(service: string, body: MessageLike | MessageLike[] = null, options: RequestOptions = {}): AsyncGenerator<ReplyChunk, void, undefined> {
    return this.replies(service, body, options, false) as AsyncGenerator<ReplyChunk, void, undefined>;
  }

  /**
   * The attempts of one request. `restartable`: after PARTIALs, a silent broker leads to a retry
   * announced by RESTART (the caller discards what it has); otherwise to MDP_STREAM_INTERRUPTED.
   */
  private async *replies(
    service: string,
    body: MessageLike | MessageLike[],
    options: RequestOptions,
    restartable: boolean,
  ): AsyncGenerator<ReplyChunk | typeof RESTART, void, undefined> {
    if (this.isClosed) throw mdpError(MdpErrorCode.CLOSED, 'client is closed');
    if (service.length === 0) throw mdpError(MdpErrorCode.CONFIG, 'a request needs a service name');
    const timeout = options.timeout ?? this.config.timeout;
    const retries = options.retries ?? this.config.retries;
    const serviceFrame = fromString(service);
    const codec = this.codec;
    const frames = codec.encode({ protocol: 'client', command: 'REQUEST', version: codec.version, service: serviceFrame, body: asBytes(body) }, Direction.TO_BROKER);
    this.stats.requests++;
    await this.acquire();
    let reachedEver = false;
    let slot: Slot | undefined;
    let done = false;
    /** A stable-id socket kept after a timeout whose connection dropped meanwhile: wait again, do not resend. */
    let waitAgain = false;
    const multi = this.pool.size > 1;
    /** Brokers this request was sent to; those that could not be reached; those whose mmi.service said 404. */
    const tried = new Set<number>();
    const unreachable = new Set<number>();
    const notFound = new Set<number>();
    /** Failed attempts that used up one of `retries` (an unreachable broker while another is untried does not). */
    let counted = 0;
    /** The last attempt failed on a broker that could not be reached, and another one is untried: go on at once. */
    let free = false;
    let lastReached: number | undefined;
    let attempts = 0;
    /** Every broker either could not be reached or has no worker for the service. */
    const nowhere = (): boolean => notFound.size > 0 && Array.from({ length: this.pool.size }, (_, i) => i).every((i) => notFound.has(i) || unreachable.has(i));
    try {
      for (let attempt = 0; ; attempt++) {
        attempts = attempt + 1;
        if (attempt > 0) {
          this.stats.retries++;
          const delay = waitAgain || free ? 0 : Math.min(this.config.retryBackoffMax, this.config.retryBackoff * 2 ** (counted - 1));
          this.log.debug(waitAgain ? 'waiting again for a reply (the connection was re-established)' : 'retrying request', { service, attempt, delayMs: delay, broker: this.pool.endpoint() });
          if (delay > 0) await sleep(delay);
          if (this.isClosed) throw mdpError(MdpErrorCode.CLOSED, 'client is closed', { service });
        }
        const broker = this.pool.current;
        const address = this.pool.endpoint(broker);
        if (slot !== undefined && slot.broker !== broker) {
          // failed over: the request goes to the next broker; the old one failed it
          this.discard(slot);
          slot = undefined;
          waitAgain = false;
        }
        if (slot === undefined) {
          slot = (attempt === 0 ? this.takeIdle(broker) : undefined) ?? this.newSlot(broker);
          this.active.add(slot);
        }
        slot.socket.receiveTimeout = timeout;
        slot.lost = false;
        if (!waitAgain) {
          if (attempt > 0) slot.spent = true;
          await slot.socket.send(frames);
          this.pool.request(broker);
        }
        waitAgain = false;
        tried.add(broker);
        let partials = 0;
        let next = false;
        for (;;) {
          let msg: Uint8Array[];
          try {
            msg = await this.receive(slot, timeout);
          } catch (err) {
            if (this.isClosed) throw mdpError(MdpErrorCode.CLOSED, 'client is closed', { service, cause: err });
            if (slot.refused) throw this.refusedError(slot.refused, service, address);
            msg = [];
          }
          if (msg.length === 0) {
            this.stats.timeouts++;
            const reached = slot.reached;
            reachedEver ||= reached;
            if (reached) lastReached = broker;
            else unreachable.add(broker);
            const reason = !reached ? 'unreachable' : multi && slot.lost ? 'connection-lost' : 'timeout';
            free = multi && !reached && tried.size < this.pool.size;
            if (!free) counted++;
            const more = counted <= retries;
            const moved = this.pool.fail(broker, reason);
            if (moved !== undefined) {
              this.log.debug('client moved to the next broker', { service, from: address, to: this.pool.endpoint(moved), reason, brokers: this.brokerSummary() });
            }
            // (a wait cut short by a dropped connection leaves a receive pending on the socket, which
            // would take the next reply: that socket is not reused)
            if (reached && partials === 0 && this.pool.current === broker && !(multi && slot.lost)) {
              // keep the socket, so that a late reply to this attempt is still taken; the request is
              // sent again on it (the socket then retires with the request). A client with its own
              // routing id whose connection dropped meanwhile (the broker restarted) waits instead:
              // a durable broker sends the reply to that id.
              waitAgain = this.options.routingId !== undefined && slot.lost;
            } else {
              // never connected, a stream cut short, or failing over: a new socket for the next attempt
              this.discard(slot);
              slot = undefined;
            }
            if (partials > 0) {
              if (!restartable) {
                throw mdpError(MdpErrorCode.STREAM_INTERRUPTED, `"${service}" went silent for ${timeout} ms after ${partials} PARTIAL(s); not retried, since they would be sent again`, { service, address });
              }
              if (more) yield RESTART;
            }
            // a broker that answers but has no worker for the service: say so now rather than after
            // every retry (the request stays queued at the broker, so a worker may still come); with
            // several brokers, only once every broker that can be reached says so
            if (reached && more && partials === 0 && this.options.diagnose !== false && !service.startsWith(MMI_NAMESPACE)) {
              if ((await this.serviceKnown(service, Math.min(timeout, 1000), broker)) === false) {
                notFound.add(broker);
                if (nowhere()) {
                  throw mdpError(MdpErrorCode.UNKNOWN_SERVICE, `no worker serves "${service}" (mmi.service answered 404 after ${timeout} ms${multi ? ` from ${[...notFound].map((i) => this.pool.endpoint(i)).join(', ')}` : ''})`, { service, address });
                }
              }
            }
            next = more;
            break;
          }
          this.pool.seen(broker);
          const r = codec.decode(msg, Direction.TO_CLIENT);
          if (!r.ok || r.command.protocol !== 'client' || (codec.replyHasService && !sameBytes(r.command.service, serviceFrame))) {
            const denial = parseDenial(codec, msg);
            if (denial && sameBytes(denial.service, serviceFrame)) {
              throw mdpError(MdpErrorCode.ACCESS_DENIED, `the broker's access policy does not let this client call "${service}" (${denial.code} ${denial.text})`, {
                service,
                status: denial.code,
                address,
              });
            }
            this.stats.malformed++;
            this.log.debug('unexpected reply dropped', { service, error: r.ok ? 'reply for another service or version' : r.error.message });
            continue;
          }
          const final = r.command.command === 'FINAL';
          const failure = final ? decodeServiceError(r.command.body) : undefined;
          if (final) this.pool.reply(broker);
          if (failure) {
            done = true;
            throw mdpError(MdpErrorCode.SERVICE_ERROR, `"${service}" failed: ${failure.message}`, { service, address, status: failure.code, cause: failure });
          }
          if (final) {
            this.stats.replies++;
            done = true;
          }
          if (!final) partials++;
          yield { final, body: r.command.body };
          if (final) return;
        }
        if (!next) break;
      }
      throw await this.failure(service, reachedEver, attempts, timeout, lastReached, notFound, nowhere);
    } finally {
      if (slot) {
        this.active.delete(slot);
        // a stream abandoned before its FINAL leaves replies on the way: never reuse that socket;
        // nor one that carried the request twice (the other copy may still be answered)
        if (done && !slot.spent && !this.isClosed && this.idle.length < this.config.maxInFlight) this.idle.push(slot);
        else this.discard(slot);
      }
      this.release();
    }
  }

  private async failure(
    service: string,
    reached: boolean,
    attempts: number,
    timeout: number,
    lastReached: number | undefined,
    notFound: Set<number>,
    nowhere: () => boolean,
  ): Promise<MdpError> {
    if (!reached || lastReached === undefined) {
      const why = this.handshakeError ? ` (last handshake error: ${this.handshakeError.message})` : '';
      const where = this.pool.size > 1 ? `any of the brokers (${this.brokerList()})` : `the broker at ${this.pool.endpoint(0)}`;
      return mdpError(MdpErrorCode.BROKER_UNREACHABLE, `no connection to ${where} after ${attempts} attempt(s)${why}`, {
        service,
        address: this.pool.size > 1 ? this.brokerList() : this.pool.endpoint(0),
        ...(this.handshakeError ? { cause: this.handshakeError } : {}),
      });
    }
    const address = this.pool.endpoint(lastReached);
    if (this.options.diagnose !== false && !service.startsWith(MMI_NAMESPACE)) {
      if (!notFound.has(lastReached) && (await this.serviceKnown(service, Math.min(timeout, 1000), lastReached)) === false) notFound.add(lastReached);
      if (nowhere()) {
        return mdpError(MdpErrorCode.UNKNOWN_SERVICE, `no worker serves "${service}" (mmi.service answered 404)`, { service, address });
      }
    }
    return mdpError(MdpErrorCode.TIMEOUT, `no reply from "${service}" within ${timeout} ms, ${attempts} attempt(s)`, { service, address });
  }

  private brokerList(): string {
    return this.pool
      .snapshot()
      .map((b) => b.endpoint)
      .join(', ');
  }

  /** Per-broker statistics in one line, for debug logs. */
  private brokerSummary(): string {
    return this.pool
      .snapshot()
      .map((b) => `${b.endpoint}${b.current ? '*' : ''} connected=${b.connected} failures=${b.failures} lastSeen=${b.lastSeen === null ? '-' : new Date(b.lastSeen).toISOString()}`)
      .join('; ');
  }

  /** mmi.service in one attempt: true (200), false (404) or undefined (no answer). */
  private async serviceKnown(service: string, timeout: number, broker: number): Promise<boolean | undefined> {
    const slot = this.newSlot(broker);
    try {
      slot.socket.receiveTimeout = timeout;
      const name = fromString(MmiService.SERVICE);
      const codec = this.codec;
      await slot.socket.send(codec.encode({ protocol: 'client', command: 'REQUEST', version: codec.version, service: name, body: [fromString(service)] }, Direction.TO_BROKER));
      const r = codec.decode(await slot.socket.receive(), Direction.TO_CLIENT);
      if (!r.ok || r.command.protocol !== 'client') return undefined;
      const code = new TextDecoder().decode(r.command.body[r.command.body.length - 1]);
      return code === MmiCode.OK ? true : code === MmiCode.NOT_FOUND ? false : undefined;
    } catch {
      return undefined;
    } finally {
      this.discard(slot);
    }
  }

  /**
   * The next message on `slot`, or [] after `timeout`; [] sooner (UNREACHABLE_MS) when the socket has
   * not connected by then: a broker that is down or a wrong port fails fast instead of after the
   * whole timeout of every attempt.
   */
  private receive(slot: Slot, timeout: number): Promise<Uint8Array[]> {
    const got = slot.socket.receive();
    // several brokers: a connection that drops while the reply is awaited fails the attempt at once
    // (the broker is gone, or restarted without the request), and so does a refused connection
    // attempt (nothing listens there): the next broker gets the request without waiting
    const watchLost = this.pool.size > 1;
    if (!watchLost && (slot.reached || timeout <= UNREACHABLE_MS)) return got;
    return new Promise((resolve, reject) => {
      const timer =
        slot.reached || timeout <= UNREACHABLE_MS
          ? undefined
          : setTimeout(() => {
              if (!slot.reached) resolve([]);
            }, UNREACHABLE_MS);
      const settle = (): void => {
        clearTimeout(timer);
        slot.onLost = undefined;
      };
      if (watchLost) {
        slot.onLost = () => {
          settle();
          resolve([]);
        };
      }
      got.then(
        (m) => {
          settle();
          resolve(m);
        },
        (e) => {
          settle();
          reject(e);
        },
      );
    });
  }

  /** An idle socket to `broker`; idle sockets to other brokers (the client failed over) are closed. */
  private takeIdle(broker: number): Slot | undefined {
    for (;;) {
      const slot = this.idle.pop();
      if (slot === undefined || slot.broker === broker) return slot;
      this.discard(slot);
    }
  }

  private newSlot(broker: number): Slot {
    const stable = this.options.routingId;
    // numbered per broker: each broker sees the client's own id on its first socket
    const n = this.sockets[broker]!++;
    const routingId = stable === undefined ? undefined : n === 0 ? stable : `${stable}.${n}`;
    const socket = new Dealer({ linger: 0, ...this.curve, ...this.options.socketOptions, ...(routingId === undefined ? {} : { routingId }) });
    const slot: Slot = { socket, broker, up: false, onLost: undefined, reached: false, lost: false, spent: false, refused: undefined };
    socket.events.on('handshake', () => {
      slot.reached = true;
      if (!slot.up) this.pool.connection(broker, 1);
      slot.up = true;
    });
    socket.events.on('handshake:error:auth', (e) => {
      // refused credentials are not retried by the socket (as in libzmq): wake the waiting receive now
      slot.refused = e.error;
      socket.close();
    });
    socket.events.on('handshake:error:protocol', (e) => {
      this.handshakeError = e.error;
    });
    socket.events.on('connect:retry', (e) => {
      if (e.error && !slot.reached) slot.onLost?.();
    });
    socket.events.on('disconnect', () => {
      slot.lost = true;
      if (slot.up) this.pool.connection(broker, -1);
      slot.up = false;
      slot.onLost?.();
    });
    socket.connect(this.pool.endpoint(broker));
    return slot;
  }

  private refusedError(cause: Error, service: string, address: string): Error {
    return mdpError(MdpErrorCode.AUTH_REFUSED, `the broker at ${address} refused this client's credentials: ${cause.message}`, { service, address, cause });
  }

  private discard(slot: Slot): void {
    this.active.delete(slot);
    if (slot.up) this.pool.connection(slot.broker, -1);
    slot.up = false;
    slot.onLost = undefined;
    slot.socket.linger = 0;
    slot.socket.close();
  }

  private acquire(): Promise<void> {
    if (this.inFlight < this.config.maxInFlight) {
      this.inFlight++;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next.resolve();
    else this.inFlight--;
  }

  /** Closes every socket; pending requests fail with MDP_CLOSED. */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    for (const w of this.waiting.splice(0)) w.reject(mdpError(MdpErrorCode.CLOSED, 'client is closed'));
    for (const slot of [...this.idle.splice(0), ...this.active]) this.discard(slot);
  }
}

export { MdpError };

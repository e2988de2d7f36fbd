/**
 * The federation: membership, the service view of the other members and forwarding, around the pure
 * state machines (membership.ts, registry.ts, strategy.ts), on purezmq's public sockets. Loaded by the
 * broker only when it is given a cluster endpoint (hook.ts is the interface).
 *
 * Links: each broker binds one ROUTER (the cluster endpoint) and connects one DEALER to each member's
 * cluster endpoint. A broker receives only on its ROUTER and sends only on its DEALERs, so everything
 * from X to Y travels on one connection (X's DEALER → Y's ROUTER) and stays in order: a FINAL and the
 * SERVICES update that says its worker is idle again arrive in the order they were sent. The sender's
 * node id is in every message; routing ids are not used.
 *
 * Forwarding: the broker asks `pick` once its own idle workers are used up; the member chosen gets a
 * FORWARD (request id, service, the client's dialect, body), takes it like a client request (it never
 * forwards it again: one hop at most), and sends PARTIALs and the FINAL back; REFUSE says it did not
 * take it (or that it failed there). When a member dies, restarts, or its link drops, every request
 * forwarded to it is handed back to the broker as a failed dispatch (at-least-once; the broker's rule
 * for streams that already sent PARTIALs applies), and the member may be sent CANCEL for it.
 *
 * CURVE: the ROUTER is a CURVE server whose ZAP domain (`purezmq.cluster`) admits only the listed
 * public keys; each DEALER is a CURVE client of the member's key (from the key file by endpoint, or
 * gossiped by a member and listed).
 */
import { Authenticator, Dealer, Router, type AuthRequest, type AuthVerdict } from '../../mod.ts';
import type { ZmqError } from '../../errors.ts';
import { decode as z85decode, encode as z85encode } from '../../crypto/z85.ts';
import { nextTurn } from '../../util/timers.ts';
import { zapDomains } from '../security/domains.ts';
import type { ClusterCounters, ClusterHost, ClusterLink, ClusterOptions, ClusterView, MemberInfo, Refusal } from './hook.ts';
import { ChangeKind, Membership, statusOf, type MembershipChange, type Outbox } from './membership.ts';
import { ClusterRegistry, LocalServices } from './registry.ts';
import { localWaitLeft, pickMember, type Cursors } from './strategy.ts';
import { decodeCluster, encodeCluster, RefuseReason, WireState, type ClusterMessage } from './wire.ts';

export const CLUSTER_ZAP_DOMAIN = 'purezmq.cluster';
/** A full SERVICES view goes to every member this often (in heartbeats); deltas in between. */
const FULL_VIEW_EVERY = 5;
/**
 * When a service's worker count changes (a worker registered, or was lost), its delta goes out at once
 * after a quiet spell, then at most this often (ms). Other changes (idle, busy, queue depth) wait for
 * the next heartbeat: the members that forward here keep count themselves in between (forwards
 * sent, replies received: registry.ts), and a view per request would cost more than the requests.
 */
const FLUSH_EVERY_MS = 10;
const utf8 = new TextDecoder();
/** Sends further apart than this (ms) go out at once; closer ones are batched per event-loop turn. */
const SPARSE_MS = 0.25;

interface Outbound<R> {
  rid: number;
  member: string;
  req: R;
  service: string;
  /** Its sequence number in the registry's count of forwards to the member. */
  seq: number;
}

interface Link {
  dealer: Dealer;
  endpoint: string;
  /** Why it cannot be used (no server key known): logged once. */
  unusable: string | undefined;
}

export async function openCluster<R>(host: ClusterHost<R>, options: ClusterOptions): Promise<ClusterLink<R>> {
  const f = new Federation(host, options);
  await f.start();
  return f;
}

class Federation<R> implements ClusterLink<R> {
  readonly nodeId: string;
  endpoint = '';
  private readonly host: ClusterHost<R>;
  private readonly o: ClusterOptions;
  private readonly router: Router;
  private readonly links = new Map<string, Link>();
  private membership!: Membership;
  private readonly registry = new ClusterRegistry();
  private readonly local = new LocalServices();
  private readonly cursors: Cursors = new Map();
  private readonly outbound = new Map<number, Outbound<R>>();
  private readonly byReq = new Map<R, number>();
  /**
   * Request ids: from the clock at start (×1024), so that a restarted broker never reuses an id a member
   * may still answer for its earlier incarnation.
   */
  private ridSeq = Date.now() * 1024;
  /** FORWARDs taken from each member, and the count it was last told. */
  private readonly seenFrom = new Map<string, number>();
  private readonly seenSent = new Map<string, number>();
  private readonly dirty = new Set<string>();
  private flushQueued = false;
  private lastFlush = 0;
  private outbox: { dealer: Dealer; frames: Uint8Array[]; onFail: ((err: ZmqError) => void) | undefined }[] = [];
  private outboxQueued = false;
  private lastSend = 0;
  private readonly alive = (member: string): boolean => this.membership.isAlive(member);
  private ticks = 0;
  private timer: ReturnType<typeof setInterval> | undefined;
  private readonly waits = new Map<string, ReturnType<typeof setTimeout>>();
  private loop: Promise<void> | undefined;
  private closed = false;
  private auth: Authenticator | undefined;
  private readonly allowedKeys: Set<string>;
  private readonly counts: ClusterCounters = { forwarded: 0, receivedFromPeers: 0, reforwarded: 0, memberDeaths: 0, refusedByPeers: 0, invalid: 0, messagesOut: 0, messagesIn: 0, viewsOut: 0 };

  constructor(host: ClusterHost<R>, options: ClusterOptions) {
    this.host = host;
    this.o = options;
    this.nodeId = options.nodeId;
    this.allowedKeys = new Set(options.curve?.peers.map((p) => p.key) ?? []);
    this.router = new Router({
      receiveHighWaterMark: options.highWaterMark,
      sendHighWaterMark: options.highWaterMark,
      maxMessageSize: options.maxFrameSize,
      maxMessageBytes: options.maxMessageBytes,
      maxMessageFrames: options.maxFrames + 8,
      linger: 0,
      ...(options.curve
        ? { curveServer: true, curveSecretKey: options.curve.secretKey, curvePublicKey: options.curve.publicKey, zapDomain: CLUSTER_ZAP_DOMAIN, zapEnforceDomain: true }
        : {}),
    });
    this.router.events.on('handshake:error:auth', (e) => this.o.logger.warn('cluster: peer refused (its key is not listed)', { address: e.address, code: e.error.code }));
  }

  async start(): Promise<void> {
    if (this.o.curve) await this.startZap();
    await this.router.bind(this.o.bind);
    this.endpoint = this.router.lastEndpoint ?? this.o.bind;
    this.membership = new Membership(
      {
        id: this.nodeId,
        endpoint: this.endpoint,
        clientEndpoints: [...this.o.clientEndpoints],
        publicKey: this.o.curve ? z85decode(this.o.curve.publicKey) : undefined,
        // wall-clock ms: a restarted broker's incarnation is larger than any of its earlier ones
        incarnation: Date.now(),
      },
      { heartbeatMs: this.o.heartbeatMs, livenessMs: this.o.livenessMs, seeds: this.o.peers },
    );
    this.loop = this.run();
    this.timer = setInterval(() => this.guard(() => this.tick()), this.o.heartbeatMs);
    this.o.logger.info('cluster: listening', { node: this.nodeId, endpoint: this.endpoint, peers: this.o.peers.join(',') || undefined, strategy: this.o.strategy, curve: this.o.curve !== undefined });
    this.process(this.membership.start(performance.now()));
  }

  /** ZAP for the cluster domain: with the broker's Authenticator when it runs (domains.ts), else our own. */
  private async startZap(): Promise<void> {
    const decide = (req: AuthRequest): AuthVerdict => {
      if (req.domain !== CLUSTER_ZAP_DOMAIN || req.mechanism !== 'CURVE' || req.publicKey === undefined) return { allow: false, reason: 'not a cluster peer' };
      return this.allowedKeys.has(req.publicKey) ? { allow: true, userId: req.publicKey } : { allow: false, reason: 'key not in cluster_curve_peer_keys' };
    };
    zapDomains.set(CLUSTER_ZAP_DOMAIN, decide);
    const auth = new Authenticator({ authenticate: decide, onDecision: (req, status, reason) => status !== '200' && this.o.logger.warn('cluster: authentication refused', { address: req.address, key: req.publicKey, reason }) });
    try {
      await auth.start();
      this.auth = auth;
    } catch {
      // the broker's own ZAP handler is running: it hands our domain over (domains.ts)
    }
  }

  private guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.o.logger.error('cluster: internal error', { error: err as Error, stack: (err as Error).stack });
    }
  }

  // ---- links ------------------------------------------------------------------------------------

  /** The CURVE server key of the broker at `endpoint`, when one is known and listed. */
  private serverKey(endpoint: string): string | undefined {
    const c = this.o.curve!;
    const byFile = c.peers.find((p) => p.endpoint === endpoint);
    if (byFile) return byFile.key;
    for (const m of this.membership.list()) {
      if (m.endpoint === endpoint && m.publicKey) {
        const k = z85encode(m.publicKey);
        if (this.allowedKeys.has(k)) return k;
      }
    }
    // one key for the whole cluster (every broker has the same certificate)
    const keys = [...this.allowedKeys];
    return keys.length === 1 ? keys[0] : undefined;
  }

  private link(endpoint: string): Link | undefined {
    let l = this.links.get(endpoint);
    if (l) return l.unusable ? undefined : l;
    let curve = {};
    let unusable: string | undefined;
    if (this.o.curve) {
      const key = this.serverKey(endpoint);
      if (key === undefined) unusable = 'no listed CURVE key for it (add "KEY ENDPOINT" to cluster_curve_peer_keys)';
      else curve = { curveServerKey: key, curveSecretKey: this.o.curve.secretKey, curvePublicKey: this.o.curve.publicKey };
    }
    const dealer = new Dealer({
      sendHighWaterMark: this.o.highWaterMark,
      receiveHighWaterMark: 1,
      // a full link (its HWM reached) holds a send until there is room, up to the liveness: a FINAL
      // dropped there would leave its origin waiting for a reply that never comes
      sendTimeout: Math.max(1000, this.o.livenessMs),
      // nothing queues for a broker that is not connected (yet, or any more): HELLOs to a seed that is
      // down would otherwise pile up and reach it as a burst when it comes back
      immediate: true,
      maxMessageSize: this.o.maxFrameSize,
      maxMessageBytes: this.o.maxMessageBytes,
      maxMessageFrames: this.o.maxFrames + 8,
      linger: 0,
      reconnectInterval: Math.min(100, this.o.heartbeatMs),
      reconnectMaxInterval: Math.max(1000, this.o.heartbeatMs),
      ...curve,
    });
    l = { dealer, endpoint, unusable };
    this.links.set(endpoint, l);
    if (unusable) {
      this.o.logger.warn('cluster: cannot connect', { endpoint, why: unusable });
      return undefined;
    }
    dealer.events.on('disconnect', () => this.guard(() => this.linkLost(endpoint)));
    dealer.events.on('handshake:error:auth', (e) => this.o.logger.warn('cluster: refused by peer (is our key listed there?)', { endpoint, code: e.error.code }));
    dealer.connect(endpoint);
    return l;
  }

  private closeLink(endpoint: string): void {
    const l = this.links.get(endpoint);
    if (!l) return;
    this.links.delete(endpoint);
    l.dealer.close();
  }

  private send(endpoint: string, msg: ClusterMessage, onFail?: (err: ZmqError) => void): void {
    if (this.closed) return;
    const l = this.link(endpoint);
    if (!l) {
      // later, not from inside the caller (the broker's dispatch loop)
      if (onFail) queueMicrotask(() => this.guard(() => onFail({ code: 'EHOSTUNREACH', message: 'no usable link' } as ZmqError)));
      return;
    }
    this.counts.messagesOut++;
    if (msg.command === 'SERVICES') this.counts.viewsOut++;
    const frames = encodeCluster(msg);
    const t = performance.now();
    const sparse = t - this.lastSend > SPARSE_MS;
    this.lastSend = t;
    if (sparse && !this.outboxQueued) {
      // light traffic: at once (a request waiting for nothing else should not wait for the batch)
      this.sendNow(l.dealer, frames, onFail);
      return;
    }
    this.outbox.push({ dealer: l.dealer, frames, onFail });
    if (!this.outboxQueued) {
      this.outboxQueued = true;
      nextTurn(this.drainOutbox);
    }
  }

  private sendNow(dealer: Dealer, frames: Uint8Array[], onFail: ((err: ZmqError) => void) | undefined): void {
    dealer.send(frames).catch((err: ZmqError) => {
      if (onFail) this.guard(() => onFail(err));
    });
  }

  /**
   * Under load, what was sent during one turn of the event loop goes to the sockets together, after
   * the turn's I/O: the replies of several workers that arrived in one poll leave in one write to the
   * member, not one write (one system call) each.
   */
  private readonly drainOutbox = (): void => {
    this.outboxQueued = false;
    const list = this.outbox;
    this.outbox = [];
    for (const o of list) this.sendNow(o.dealer, o.frames, o.onFail);
  };

  private endpointOf(member: string): string | undefined {
    return this.membership.get(member)?.endpoint;
  }

  /** The connection to a member's endpoint dropped: what was forwarded on it is not coming back. */
  private linkLost(endpoint: string): void {
    if (this.closed) return;
    for (const m of this.membership.list()) {
      if (m.endpoint !== endpoint) continue;
      // what it said about its services may have been cut short too; it sends a full view again
      this.local.forget(m.id);
      this.failOutbound(m.id, 'cluster link to the member was lost');
      this.registry.drop(m.id);
    }
  }

  // ---- receiving --------------------------------------------------------------------------------

  private async run(): Promise<void> {
    for (;;) {
      let msg: Uint8Array[];
      try {
        msg = await this.router.receive();
      } catch {
        if (this.closed || this.router.closed) return;
        continue;
      }
      this.guard(() => this.onMessage(msg.slice(1)));
    }
  }

  private onMessage(frames: Uint8Array[]): void {
    this.counts.messagesIn++;
    const r = decodeCluster(frames);
    if (!r.ok) {
      this.counts.invalid++;
      this.o.logger.debug('cluster: malformed message dropped', { code: r.error.code, error: r.error.message });
      return;
    }
    const msg = r.message;
    const now = performance.now();
    this.process(this.membership.receive(msg, now));
    const alive = this.membership.isAlive(msg.from);
    switch (msg.command) {
      case 'HELLO':
        // a newcomer (or a restarted member): it gets our whole view of services
        this.local.forget(msg.from);
        this.sendServices(true, msg.from);
        return;
      case 'SERVICES': {
        if (!alive) return;
        for (const name of this.registry.apply(msg)) this.host.wake(name);
        return;
      }
      case 'FORWARD': {
        const from = msg.from;
        if (!alive) {
          this.counts.invalid++;
          return; // no way back to it (unknown, or dead to us)
        }
        this.seenFrom.set(from, (this.seenFrom.get(from) ?? 0) + 1);
        this.counts.receivedFromPeers++;
        const refusal = this.host.acceptForward({ origin: from, rid: msg.rid, service: msg.service, dialect: msg.dialect, body: msg.body });
        if (refusal) this.fail(from, msg.rid, refusal);
        return;
      }
      case 'PARTIAL':
      case 'FINAL': {
        const out = this.outbound.get(msg.rid);
        if (!out || out.member !== msg.from) return; // re-dispatched meanwhile, or cancelled: dropped
        if (msg.command === 'PARTIAL') {
          this.host.remotePartial(out.req, msg.body);
          return;
        }
        this.outbound.delete(msg.rid);
        this.byReq.delete(out.req);
        this.registry.replied(msg.from, out.service, out.seq);
        this.host.remoteFinal(out.req, msg.body);
        // its worker is free: what waits here for the service can go
        this.host.wake(out.service);
        return;
      }
      case 'REFUSE': {
        const out = this.outbound.get(msg.rid);
        if (!out || out.member !== msg.from) return;
        this.outbound.delete(msg.rid);
        this.byReq.delete(out.req);
        if (msg.reason === RefuseReason.FAILED) {
          this.registry.replied(msg.from, out.service, out.seq);
          this.host.remoteLost(out.req, `failed on ${msg.from}: ${msg.text}`);
          return;
        }
        this.counts.refusedByPeers++;
        this.registry.noIdle(msg.from, out.service);
        this.host.remoteRefused(out.req, { reason: msg.reason, text: msg.text });
        return;
      }
      case 'CANCEL':
        this.host.cancelForward(msg.from, msg.rid);
        return;
    }
  }

  /** Sends what membership asks for and acts on what changed. */
  private process(box: Outbox): void {
    for (const s of box.send) this.send(s.to, s.message);
    for (const c of box.changes) this.onChange(c);
  }

  private onChange(c: MembershipChange): void {
    const m = c.member;
    const fields = { node: this.nodeId, member: c.id, endpoint: m.endpoint, incarnation: m.incarnation };
    switch (c.kind) {
      case ChangeKind.JOINED:
        this.o.logger.info('cluster: member joined', { ...fields, clients: m.clientEndpoints.join(',') || undefined });
        this.local.forget(c.id);
        this.sendServices(true, c.id);
        return;
      case ChangeKind.REJOINED:
        this.o.logger.info('cluster: member rejoined', fields);
        // a restart loses what it was running for us, and what it had forwarded here is nobody's
        this.failOutbound(c.id, 'member restarted');
        this.host.originGone(c.id);
        this.registry.drop(c.id);
        this.local.forget(c.id);
        this.seenFrom.delete(c.id);
        this.seenSent.delete(c.id);
        this.sendServices(true, c.id);
        return;
      case ChangeKind.SUSPECT:
        this.o.logger.warn('cluster: member suspect (silent)', fields);
        return;
      case ChangeKind.ALIVE:
        this.o.logger.info('cluster: member alive again', fields);
        return;
      case ChangeKind.DEAD:
      case ChangeKind.LEFT: {
        if (c.kind === ChangeKind.DEAD) this.counts.memberDeaths++;
        this.o.logger.warn(c.kind === ChangeKind.DEAD ? 'cluster: member dead' : 'cluster: member left', fields);
        this.registry.drop(c.id);
        this.local.forget(c.id);
        this.seenFrom.delete(c.id);
        this.seenSent.delete(c.id);
        this.failOutbound(c.id, c.kind === ChangeKind.DEAD ? 'member dead' : 'member left');
        this.host.originGone(c.id);
        // what is queued for it must not reach a later incarnation
        this.closeLink(m.endpoint);
        return;
      }
    }
  }

  /** Every request forwarded to `member` goes back to the broker as a failed dispatch. */
  private failOutbound(member: string, why: string): void {
    const lost = [...this.outbound.values()].filter((o) => o.member === member);
    for (const o of lost) {
      this.outbound.delete(o.rid);
      this.byReq.delete(o.req);
      this.counts.reforwarded++;
      // it may still be running there (a dropped link, not a death): it can stop
      const ep = this.endpointOf(member);
      if (ep && this.membership.isAlive(member)) this.send(ep, { command: 'CANCEL', from: this.nodeId, rid: o.rid });
      this.host.remoteLost(o.req, why);
    }
    if (lost.length > 0) this.o.logger.warn('cluster: forwarded requests dispatched again', { member, count: lost.length, why });
  }

  // ---- services ---------------------------------------------------------------------------------

  private tick(): void {
    this.ticks++;
    this.process(this.membership.tick(performance.now()));
    if (this.ticks % FULL_VIEW_EVERY === 0) this.sendServices(true, undefined);
    else this.flush();
  }

  changed(service: string, workers: number): void {
    this.dirty.add(service);
    if (workers !== this.local.workersOf(service)) this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushQueued || this.closed) return;
    this.flushQueued = true;
    const run = (): void => {
      this.flushQueued = false;
      this.lastFlush = performance.now();
      this.guard(() => this.flush());
    };
    // at the end of this turn of the event loop after a quiet spell; else once the spell is over
    const wait = this.lastFlush + FLUSH_EVERY_MS - performance.now();
    if (wait <= 0) nextTurn(run);
    else setTimeout(run, wait);
  }

  private liveMembers(): { id: string; endpoint: string }[] {
    return this.membership.list().filter((m) => m.state === WireState.ALIVE);
  }

  /** Deltas of what changed, to every live member (and a message to one whose `seen` moved). */
  private flush(): void {
    if (this.closed) return;
    // a queue without workers, before and now, is no news worth a message (nobody forwards here for
    // it): the next full view carries it. An origin's queue changes with every request.
    const loads = [...this.dirty].map((n) => this.host.serviceLoad(n)).filter((l) => l.idle + l.busy > 0 || this.local.hadWorkers(l.name));
    this.dirty.clear();
    const changed = this.local.update(loads);
    const live = this.liveMembers();
    if (!changed && live.some((m) => (this.seenFrom.get(m.id) ?? 0) !== (this.seenSent.get(m.id) ?? 0))) this.local.bump();
    for (const m of live) this.sendView(m, false);
  }

  private sendView(m: { id: string; endpoint: string }, full: boolean): void {
    const seen = this.seenFrom.get(m.id) ?? 0;
    const msg = this.local.messageFor(m.id, this.nodeId, seen, full);
    if (!msg) return;
    this.seenSent.set(m.id, seen);
    this.send(m.endpoint, msg);
  }

  /** A full view to one member (or all). */
  private sendServices(full: boolean, only: string | undefined): void {
    this.local.update(this.host.localServices(), true);
    for (const m of this.liveMembers()) if (only === undefined || m.id === only) this.sendView(m, full);
  }

  // ---- ClusterLink --------------------------------------------------------------------------------

  pick(service: string, localWorkers: number, waitedMs: number): { member: string } | { waitMs: number } | undefined {
    const left = localWaitLeft(this.o.strategy, localWorkers, waitedMs, this.o.localWaitMs);
    if (!this.registry.hasAvailable(service, this.alive)) return undefined;
    const loads = this.registry.loadsFor(service).filter((l) => this.membership.isAlive(l.member));
    if (left > 0) {
      if (!this.waits.has(service)) {
        this.waits.set(
          service,
          setTimeout(() => {
            this.waits.delete(service);
            this.guard(() => this.host.wake(service));
          }, Math.ceil(left)),
        );
      }
      return { waitMs: left };
    }
    const member = pickMember(this.o.strategy, service, loads, this.cursors);
    return member === undefined ? undefined : { member };
  }

  forward(member: string, req: R, service: Uint8Array, dialect: string, body: Uint8Array[]): void {
    const name = utf8.decode(service);
    const rid = ++this.ridSeq;
    const out: Outbound<R> = { rid, member, req, service: name, seq: this.registry.forwarded(member, name) };
    this.outbound.set(rid, out);
    this.byReq.set(req, rid);
    this.counts.forwarded++;
    const ep = this.endpointOf(member)!;
    this.send(ep, { command: 'FORWARD', from: this.nodeId, rid, service, dialect, body }, (err) => {
      // the link's queue is full (or there is none): not sent, so nothing runs there
      if (this.outbound.get(rid) !== out) return;
      this.outbound.delete(rid);
      this.byReq.delete(req);
      this.registry.noIdle(member, name);
      this.host.remoteRefused(req, { reason: RefuseReason.OVER_BUDGET, text: `link to ${member} full (${err.code})` });
    });
  }

  cancel(req: R): void {
    const rid = this.byReq.get(req);
    if (rid === undefined) return;
    const out = this.outbound.get(rid)!;
    this.outbound.delete(rid);
    this.byReq.delete(req);
    const ep = this.endpointOf(out.member);
    if (ep) this.send(ep, { command: 'CANCEL', from: this.nodeId, rid });
  }

  reply(origin: string, rid: number, command: 'PARTIAL' | 'FINAL', body: Uint8Array[]): void {
    const ep = this.endpointOf(origin);
    if (ep) this.send(ep, { command, from: this.nodeId, rid, body });
  }

  fail(origin: string, rid: number, refusal: Refusal): void {
    const ep = this.endpointOf(origin);
    if (ep) this.send(ep, { command: 'REFUSE', from: this.nodeId, rid, reason: refusal.reason, text: refusal.text.slice(0, 512) });
  }

  setClientEndpoints(endpoints: readonly string[]): void {
    this.membership?.setClientEndpoints(endpoints);
  }

  remoteWorkers(service: string | undefined): number {
    let n = 0;
    for (const m of this.liveMembers()) {
      for (const s of this.registry.servicesOf(m.id)) if (service === undefined || s.name === service) n += s.idle + s.busy;
    }
    return n;
  }

  remoteServices(): Map<string, string[]> {
    const live = new Set(this.liveMembers().map((m) => m.id));
    const out = new Map<string, string[]>();
    for (const [name, members] of this.registry.serviceNames()) {
      const here = members.filter((m) => live.has(m));
      if (here.length > 0) out.set(name, here.sort());
    }
    return out;
  }

  counters(): ClusterCounters {
    return { ...this.counts };
  }

  view(): ClusterView {
    const now = performance.now();
    const inFlight = new Map<string, number>();
    for (const o of this.outbound.values()) inFlight.set(o.member, (inFlight.get(o.member) ?? 0) + 1);
    const sum = (list: { idle: number; busy: number; queued: number }[]) =>
      list.reduce((a, s) => ({ idle: a.idle + s.idle, busy: a.busy + s.busy, queued: a.queued + s.queued }), { idle: 0, busy: 0, queued: 0 });
    const own = this.host.localServices();
    const self = this.membership.selfRecord();
    const members: MemberInfo[] = [
      {
        id: this.nodeId,
        self: true,
        clusterEndpoint: this.endpoint,
        clientEndpoints: self.clientEndpoints,
        state: 'alive',
        incarnation: self.incarnation,
        lastSeenMs: 0,
        inFlight: 0,
        unacknowledged: 0,
        viewVersion: this.local.current,
        load: sum(own),
        services: Object.fromEntries(own.map((s) => [s.name, { idle: s.idle, busy: s.busy, queued: s.queued }])),
      },
    ];
    for (const m of this.membership.list()) {
      const services = m.state === WireState.ALIVE ? this.registry.servicesOf(m.id) : [];
      members.push({
        id: m.id,
        self: false,
        clusterEndpoint: m.endpoint,
        clientEndpoints: [...m.clientEndpoints],
        state: statusOf(m),
        incarnation: m.incarnation,
        lastSeenMs: Math.round(now - m.lastHeard),
        inFlight: inFlight.get(m.id) ?? 0,
        unacknowledged: this.registry.unacknowledged(m.id),
        viewVersion: this.registry.version(m.id),
        load: sum(services),
        services: Object.fromEntries(services.map((s) => [s.name, { idle: s.idle, busy: s.busy, queued: s.queued }])),
      });
    }
    return {
      node: this.nodeId,
      strategy: this.o.strategy,
      heartbeatMs: this.o.heartbeatMs,
      livenessMs: this.o.livenessMs,
      curve: this.o.curve !== undefined,
      members,
      counters: this.counters(),
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    // members hear that we leave (not that we died): they stop sending at once
    if (this.membership) this.process(this.membership.leave());
    for (const o of [...this.outbound.values()]) {
      this.outbound.delete(o.rid);
      this.byReq.delete(o.req);
      this.host.remoteLost(o.req, 'broker shutting down');
    }
    // give the departure a moment on the wire (linger 0 would drop it)
    await new Promise((r) => setTimeout(r, 20));
    this.closed = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    for (const t of this.waits.values()) clearTimeout(t);
    this.waits.clear();
    for (const l of this.links.values()) l.dealer.close();
    this.links.clear();
    this.router.close();
    await this.loop;
    if (zapDomains.get(CLUSTER_ZAP_DOMAIN) !== undefined && this.o.curve) zapDomains.delete(CLUSTER_ZAP_DOMAIN);
    await this.auth?.stop();
  }
}

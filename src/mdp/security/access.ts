/**
 * The broker's access control: who a connection is (from the socket's `lastPeer`: ZAP user id, CURVE
 * key, roles from its certificate), and what the policy says about each request and each READY.
 *
 * Cost per message: decisions are cached per connection and service. The cache hangs off the
 * connection's PeerInfo (one object per handshake, the one `lastPeer` returns) in a WeakMap, so an
 * entry lives exactly as long as its connection, and a new connection, even one reusing a routing id,
 * never inherits another's decisions. A pipelined client repeats its service, so the common case is
 * one WeakMap look-up and a byte comparison with the last service name; otherwise a Map look-up.
 * A new policy or a re-read certificate directory bumps `generation`, which empties every cache at
 * its next use. Bounds: MAX_CACHED_SERVICES names per connection (then its cache starts over), and
 * MAX_COUNTED_SERVICES service names counted (then they share one `(other)` row).
 *
 * Every decision is counted, per service; a denial is logged (identity, service, rule) once per
 * connection, service and policy version, at most AUDIT_BURST lines per period and action, as a JSON
 * line when the log format is json. Names longer than MAX_NAME are neither cached nor counted by name
 * (clients choose them, and a frame may be megabytes). Runtime-neutral.
 */
import type { PeerInfo } from '../../mod.ts';
import { asciiBytes, asciiString as latin1, equals as sameBytes, toString as utf8 } from '../../util/bytes.ts';
import { MMI_NAMESPACE } from '../constants.ts';
import { RateLimitedLog, type Logger } from '../log.ts';
import { Action, Entry, type Decision, type Identity, type Policy } from './policy.ts';

const MAX_CACHED_SERVICES = 256;
/**
 * Longest service name (bytes) that is cached or counted under its own name. Names come from clients
 * and a frame may be megabytes: longer ones are decided afresh each time (the policy walk is linear)
 * and counted under `(other)`, so that no table holds client-chosen megabytes.
 */
const MAX_NAME = 255;
/** Characters of a service name shown in a log line. */
const MAX_LOGGED_NAME = 120;
/** Audit lines per action (request, serve) in AUDIT_PERIOD_MS, past which they are counted, not written. */
const AUDIT_BURST = 100;
const AUDIT_PERIOD_MS = 10_000;
const MAX_COUNTED_SERVICES = 10_000;
const OTHER = '(other)';
/** Services listed in the summary's mostDenied, and how long that list is reused (a walk over every counted service). */
const MOST_DENIED = 10;
const SUMMARY_CACHE_MS = 1000;
/** The dead-letter services (list, replay, purge): the `admin` entry, not `mmi`. */
const DLQ_PREFIX = 'mmi.dlq.';
const TITANIC_REQUEST = 'titanic.request';

/** Decisions counted for one service. */
export interface AccessCounts {
  requestAllowed: number;
  requestDenied: number;
  serveAllowed: number;
  serveDenied: number;
}

export interface AccessMetrics {
  policy: { source: string; digest: string; version: number; loadedAt: string; default: string; rules: number };
  /** Policy versions loaded after the first, and new versions refused (the old one kept). */
  reloads: number;
  rejected: number;
  /** Every decision, summed over services. */
  allowed: number;
  denied: number;
  /** Per service (the full metrics only: mmi.broker's summary has `mostDenied` instead). */
  services?: Record<string, AccessCounts>;
  /** The services with the most denials (at most MOST_DENIED), in the summary. */
  mostDenied?: ({ service: string } & AccessCounts)[];
}

/** A request or READY the policy refused. */
export interface Denial {
  readonly who: Identity;
  readonly rule: string;
}

interface Verdict {
  readonly allowed: boolean;
  readonly rule: string;
  /** The service the decision was about (a titanic.request's target, when the target decided). */
  readonly service: string;
  readonly counts: AccessCounts;
}

interface ConnectionCache {
  generation: number;
  who: Identity;
  lastName: Uint8Array | undefined;
  last: Verdict | undefined;
  byName: Map<string, Verdict>;
}

/** Roles and name of a CURVE key, from the broker's certificate store (undefined: not known there). */
export type KeyLookup = (publicKey: string) => { name?: string; roles: readonly string[] } | undefined;

export interface AccessControlOptions {
  policy: Policy;
  /** Where the policy came from (a file, `broker.access`, `options`), for logs and metrics. */
  source: string;
  logger: Logger;
  /** Roles of a CURVE key; without it nobody has roles. */
  lookup?: KeyLookup;
}


export class AccessControl {
  private policy: Policy;
  private source: string;
  private version = 1;
  private loadedAt = new Date();
  private reloads = 0;
  private rejected = 0;
  /** Grows with every change of policy or certificates: caches from before are stale. */
  private generation = 0;
  private readonly log: Logger;
  /** Denials are logged once per connection, service and policy version, and at most AUDIT_BURST per period. */
  private readonly auditLog: RateLimitedLog;
  private readonly lookup: KeyLookup | undefined;
  private readonly caches = new WeakMap<PeerInfo, ConnectionCache>();
  private readonly counts = new Map<string, AccessCounts>();
  /** Sums and the most denied services, from the last walk over `counts` (redone at most once per SUMMARY_CACHE_MS). */
  private walked: { at: number; allowed: number; denied: number; mostDenied: ({ service: string } & AccessCounts)[] } | undefined;

  constructor(options: AccessControlOptions) {
    this.policy = options.policy;
    this.source = options.source;
    this.log = options.logger;
    this.auditLog = new RateLimitedLog(options.logger, AUDIT_PERIOD_MS, AUDIT_BURST);
    this.lookup = options.lookup;
  }

  get current(): Policy {
    return this.policy;
  }

  /** Puts a new policy in force (cached decisions are dropped). */
  setPolicy(policy: Policy, source: string = this.source): void {
    this.policy = policy;
    this.source = source;
    this.version++;
    this.reloads++;
    this.loadedAt = new Date();
    this.generation++;
    this.log.info('access policy loaded', { audit: 'access', source, digest: policy.digest, version: this.version, default: policy.effect, rules: policy.rules.length });
  }

  /** A new version was refused; the one in force stays. */
  rejectedVersion(source: string, issues: readonly string[]): void {
    this.rejected++;
    this.log.error('access policy rejected: keeping the one in force', { audit: 'access', source, digest: this.policy.digest, issues });
  }

  /** Identities changed (certificates re-read): every cached decision is dropped. */
  invalidate(): void {
    this.generation++;
  }

  /** Who a connection is. */
  identify(peer: PeerInfo | undefined): Identity {
    if (!peer) return { roles: [] };
    const key = peer.publicKey;
    const known = key !== undefined ? this.lookup?.(key) : undefined;
    return {
      ...(peer.userId ? { user: peer.userId } : {}),
      ...(key !== undefined ? { key } : {}),
      roles: known?.roles ?? [],
    };
  }

  private cacheOf(peer: PeerInfo | undefined): ConnectionCache {
    let c = peer ? this.caches.get(peer) : undefined;
    if (c === undefined) {
      c = { generation: this.generation, who: this.identify(peer), lastName: undefined, last: undefined, byName: new Map() };
      if (peer) this.caches.set(peer, c);
    } else if (c.generation !== this.generation) {
      c.generation = this.generation;
      c.who = this.identify(peer);
      c.lastName = undefined;
      c.last = undefined;
      c.byName.clear();
    }
    return c;
  }

  private countsOf(name: string): AccessCounts {
    let c = this.counts.get(name);
    if (c === undefined) {
      const key = this.counts.size < MAX_COUNTED_SERVICES && name.length <= MAX_NAME ? name : OTHER;
      c = this.counts.get(key) ?? { requestAllowed: 0, requestDenied: 0, serveAllowed: 0, serveDenied: 0 };
      this.counts.set(key, c);
    }
    return c;
  }

  /**
   * A client request on the connection `peer`: undefined when allowed, the denial otherwise. `service`
   * and `body` as received; a titanic.request is judged by its target service (the first body frame).
   */
  request(peer: PeerInfo | undefined, service: Uint8Array, body: readonly Uint8Array[]): Denial | undefined {
    const c = this.cacheOf(peer);
    let v = c.last;
    if (v === undefined || !sameBytes(c.lastName!, service)) {
      const name = latin1(service);
      // a titanic.request's verdict depends on its target: cached under both names
      const titanic = name === TITANIC_REQUEST;
      const target = titanic && body.length > 0 ? latin1(body[0]!) : '';
      const k = titanic ? `${name}\u0000${target}` : name;
      const cacheable = k.length <= MAX_NAME;
      v = cacheable ? c.byName.get(k) : undefined;
      if (v === undefined) {
        v = this.decideRequest(c.who, name, target);
        if (c.byName.size >= MAX_CACHED_SERVICES) c.byName.clear();
        if (cacheable) c.byName.set(k, v);
        if (!v.allowed) this.audit(c.who, peer, Action.REQUEST, v.service, v);
        else if (this.log.enabled('debug')) this.log.debug('access allowed', { audit: 'access', action: Action.REQUEST, service: display(v.service), ...describe(c.who), rule: v.rule });
      }
      if (!titanic && cacheable) {
        // a copy: `service` is a view of a read buffer
        c.lastName = service.slice();
        c.last = v;
      }
    }
    if (v.allowed) {
      v.counts.requestAllowed++;
      return undefined;
    }
    v.counts.requestDenied++;
    return { who: c.who, rule: v.rule };
  }

  /** A worker's READY for `service` on the connection `peer`: undefined when allowed, the denial otherwise. */
  serve(peer: PeerInfo | undefined, service: Uint8Array): Denial | undefined {
    // once per worker connection: not worth a cache entry
    const c = this.cacheOf(peer);
    const name = latin1(service);
    const d = this.policy.decide(c.who, Action.SERVE, name);
    const counts = this.countsOf(name);
    if (d.allowed) {
      counts.serveAllowed++;
      return undefined;
    }
    counts.serveDenied++;
    this.audit(c.who, peer, Action.SERVE, name, d);
    return { who: c.who, rule: d.rule };
  }

  /**
   * mmi.dlq.* needs `admin`, any other mmi.* `mmi`; titanic.* needs `titanic`, and a titanic.request
   * also the request right on its target (titanic.reply and titanic.close name a UUID, a 128-bit
   * secret only the requester was given, so `titanic` alone governs them).
   */
  private decideRequest(who: Identity, name: string, target: string): Verdict {
    let d: Decision;
    let counted = name;
    if (name.startsWith(DLQ_PREFIX)) d = this.policy.decideEntry(who, Entry.ADMIN);
    else if (name.startsWith(MMI_NAMESPACE)) d = this.policy.decideEntry(who, Entry.MMI);
    else if (name.startsWith('titanic.')) {
      d = this.policy.decideEntry(who, Entry.TITANIC);
      if (d.allowed && name === TITANIC_REQUEST && target !== '') {
        d = this.policy.decide(who, Action.REQUEST, target);
        counted = target;
      }
    } else d = this.policy.decide(who, Action.REQUEST, name);
    return { allowed: d.allowed, rule: d.rule, service: counted, counts: this.countsOf(counted) };
  }

  private audit(who: Identity, peer: PeerInfo | undefined, action: Action, name: string, d: Decision): void {
    this.auditLog.warn(`access-denied:${action}`, 'access denied', {
      audit: 'access',
      decision: 'deny',
      action,
      service: display(name),
      ...describe(who),
      rule: d.rule,
      policy: this.policy.digest,
      address: peer?.remoteAddress,
    });
  }

  /**
   * The policy in force and the decisions counted. `detail`: every service's counts; otherwise (for
   * mmi.broker's summary, which must stay small and cheap) the sums and the most denied services, from
   * a walk redone at most once a second.
   */
  metrics(detail = true): AccessMetrics {
    const p = this.policy;
    const head = {
      policy: { source: this.source, digest: p.digest, version: this.version, loadedAt: this.loadedAt.toISOString(), default: p.effect, rules: p.rules.length },
      reloads: this.reloads,
      rejected: this.rejected,
    };
    const t = performance.now();
    if (detail || !this.walked || t - this.walked.at >= SUMMARY_CACHE_MS) {
      let allowed = 0;
      let denied = 0;
      const ranked: ({ service: string } & AccessCounts)[] = [];
      for (const [name, c] of this.counts) {
        allowed += c.requestAllowed + c.serveAllowed;
        denied += c.requestDenied + c.serveDenied;
        if (c.requestDenied + c.serveDenied > 0) ranked.push({ service: name, ...c });
      }
      ranked.sort((a, b) => b.requestDenied + b.serveDenied - (a.requestDenied + a.serveDenied));
      const mostDenied = ranked.slice(0, MOST_DENIED).map((r) => ({ ...r, service: display(r.service) }));
      this.walked = { at: t, allowed, denied, mostDenied };
    }
    const w = this.walked;
    if (!detail) return { ...head, allowed: w.allowed, denied: w.denied, mostDenied: w.mostDenied };
    const services: Record<string, AccessCounts> = {};
    for (const [name, c] of this.counts) services[display(name)] = { ...c };
    return { ...head, allowed: w.allowed, denied: w.denied, services };
  }
}

/** A service name keyed as latin1 of its bytes (as the broker keys them), back to text for logs and metrics. */
function display(name: string): string {
  const text = utf8(asciiBytes(name.length > MAX_LOGGED_NAME * 4 ? name.slice(0, MAX_LOGGED_NAME * 4) : name));
  return text.length > MAX_LOGGED_NAME ? `${text.slice(0, MAX_LOGGED_NAME)}… (${name.length} bytes)` : text;
}

function describe(who: Identity): Record<string, unknown> {
  return { user: who.user, key: who.key, roles: who.roles.length > 0 ? who.roles.join(',') : undefined };
}

/**
 * The cluster's view of services, per member, as a pure data structure: what each member advertised
 * (idle and busy workers, queue depth) in its SERVICES messages, and what this node sent it since.
 *
 * - A member's view has a version. A full view replaces an older one (a lower or equal version is
 *   ignored); a delta applies only on top of the exact version it was made from (`base`), so a lost or
 *   reordered delta is ignored, and the next full view (sent every few heartbeats) repairs it. Given any
 *   order and duplication of one member's messages, the view ends as the one of the highest version,
 *   when that is a full view; in order, it follows every step.
 * - An entry with no worker and no queue is the same as no entry (a delta says "gone" that way).
 * - `seen` is how many FORWARDs from this node the member had taken when it made the view; forwards
 *   this node sent after those are not reflected in it yet, and count against its idle workers.
 * - A FINAL (or REFUSE) from the member means the worker it had is free again. For a forward its view
 *   has not shown yet, the forward simply stops counting; for one it has (as a busy worker), it counts
 *   as one more idle worker until the next view (which travels on the same connection, after the
 *   FINAL, and so already shows it). With both, the view needs no message per request: views can be
 *   throttled and capacity still follows every reply.
 * - A dead member's entries are dropped.
 */
import type { ClusterMessage, ServiceLoad } from './wire.ts';

type ServicesMessage = Extract<ClusterMessage, { command: 'SERVICES' }>;

interface MemberView {
  version: number;
  services: Map<string, ServiceLoad>;
  /** FORWARDs this node sent it, in order: [sequence, service]; dropped once it reports them seen. */
  sent: { seq: number; service: string }[];
  sentSeq: number;
  /** Unreflected forwards per service. */
  pending: Map<string, number>;
  /** Replies per service since its last view: workers free again that the view does not show yet. */
  credits: Map<string, number>;
  seen: number;
}

export interface RemoteLoad extends ServiceLoad {
  member: string;
  /** Forwards it can take now: free workers, plus one waiting in its queue per worker (prefetch). */
  available: number;
}

/**
 * Requests a member may hold per worker of a service: one running and PREFETCH waiting in its queue.
 * A forward waits out a round trip between brokers before its worker gets it; a request already
 * waiting there starts as soon as the worker's FINAL is sent. Without it the link's latency, not the
 * workers, would bound the requests/s through a hop.
 */
export const PREFETCH = 8;

/** Forwards a member can take now for one service (RemoteLoad.available). */
function available(v: MemberView, s: ServiceLoad): number {
  // what it holds: running and queued as its view says, less replies since, plus forwards it has not shown yet
  const held = s.busy + s.queued - (v.credits.get(s.name) ?? 0) + (v.pending.get(s.name) ?? 0);
  return Math.max(0, (s.idle + s.busy) * (1 + PREFETCH) - Math.max(0, held));
}

export class ClusterRegistry {
  private readonly members = new Map<string, MemberView>();

  private viewOf(member: string): MemberView {
    let v = this.members.get(member);
    if (!v) {
      v = { version: 0, services: new Map(), sent: [], sentSeq: 0, pending: new Map(), credits: new Map(), seen: 0 };
      this.members.set(member, v);
    }
    return v;
  }

  /**
   * Applies a SERVICES message; returns the names of services whose entry changed, or whose forwards
   * it has now reported seen (either can free capacity; empty when nothing did).
   */
  apply(msg: ServicesMessage): string[] {
    const v = this.viewOf(msg.from);
    const changed: string[] = this.acknowledge(v, msg.seen);
    // a view made after the replies that came before it: they are in it now
    v.credits.clear();
    if (msg.full) {
      if (msg.version < v.version || (msg.version === v.version && v.version !== 0)) return changed;
      const next = new Map<string, ServiceLoad>();
      for (const s of msg.services) if (s.idle + s.busy + s.queued > 0) next.set(s.name, { ...s });
      for (const [name, old] of v.services) {
        const n = next.get(name);
        if (!n || n.idle !== old.idle || n.busy !== old.busy || n.queued !== old.queued) changed.push(name);
      }
      for (const name of next.keys()) if (!v.services.has(name)) changed.push(name);
      v.services = next;
      v.version = msg.version;
      return changed;
    }
    if (msg.base !== v.version) return changed;
    for (const s of msg.services) {
      changed.push(s.name);
      if (s.idle + s.busy + s.queued > 0) v.services.set(s.name, { ...s });
      else v.services.delete(s.name);
    }
    v.version = msg.version;
    return changed;
  }

  /** The member has taken every forward up to `seen`: the services they were for. */
  private acknowledge(v: MemberView, seen: number): string[] {
    if (seen <= v.seen) return [];
    v.seen = seen;
    let drop = 0;
    const services = new Set<string>();
    while (drop < v.sent.length && v.sent[drop]!.seq <= seen) {
      const s = v.sent[drop]!.service;
      services.add(s);
      const n = (v.pending.get(s) ?? 1) - 1;
      if (n <= 0) v.pending.delete(s);
      else v.pending.set(s, n);
      drop++;
    }
    if (drop > 0) v.sent.splice(0, drop);
    return [...services];
  }

  /** This node sent `member` a FORWARD for `service`; returns its sequence number (for `replied`). */
  forwarded(member: string, service: string): number {
    const v = this.viewOf(member);
    v.sentSeq++;
    v.sent.push({ seq: v.sentSeq, service });
    v.pending.set(service, (v.pending.get(service) ?? 0) + 1);
    return v.sentSeq;
  }

  /** A FINAL (or REFUSE) from `member` for the forward `seq` (for `service`): its worker is free. */
  replied(member: string, service: string, seq: number): void {
    const v = this.members.get(member);
    if (!v) return;
    if (seq > v.seen) {
      // not in its view yet: it just stops counting against the idle workers the view shows
      const i = v.sent.findIndex((x) => x.seq === seq);
      if (i >= 0) {
        v.sent.splice(i, 1);
        const n = (v.pending.get(service) ?? 1) - 1;
        if (n <= 0) v.pending.delete(service);
        else v.pending.set(service, n);
      }
      return;
    }
    v.credits.set(service, (v.credits.get(service) ?? 0) + 1);
  }

  /** The member turned a FORWARD away for want of a worker: it has none idle, whatever it said. */
  noIdle(member: string, service: string): void {
    const v = this.members.get(member);
    const s = v?.services.get(service);
    if (s) s.idle = 0;
    v?.credits.delete(service);
  }

  /** A member is dead (or restarted): everything it said goes, and so does the count of what it was sent. */
  drop(member: string): void {
    this.members.delete(member);
  }

  /** Forwards sent to `member` that it has not reported taking yet. */
  unacknowledged(member: string): number {
    return this.members.get(member)?.sent.length ?? 0;
  }

  /** Version of a member's view (0: none). */
  version(member: string): number {
    return this.members.get(member)?.version ?? 0;
  }

  /** One member's entries. */
  servicesOf(member: string): ServiceLoad[] {
    return [...(this.members.get(member)?.services.values() ?? [])].map((s) => ({ ...s }));
  }

  /** Every member's entry for `service`, with what is available once unreported forwards are counted. */
  loadsFor(service: string): RemoteLoad[] {
    const out: RemoteLoad[] = [];
    for (const [member, v] of this.members) {
      const s = v.services.get(service);
      if (s) out.push({ ...s, member, available: available(v, s) });
    }
    return out;
  }

  /** Whether any member for which `ok` holds can take a forward for `service` now (no allocation: asked per dispatch). */
  hasAvailable(service: string, ok: (member: string) => boolean): boolean {
    for (const [member, v] of this.members) {
      const s = v.services.get(service);
      if (s && available(v, s) > 0 && ok(member)) return true;
    }
    return false;
  }

  /** Workers (idle + busy) for `service` on every member, or for every service when undefined. */
  workers(service: string | undefined): number {
    let n = 0;
    for (const v of this.members.values()) {
      if (service === undefined) for (const s of v.services.values()) n += s.idle + s.busy;
      else {
        const s = v.services.get(service);
        if (s) n += s.idle + s.busy;
      }
    }
    return n;
  }

  /** Service names with a worker somewhere, and the members that have one. */
  serviceNames(): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const [member, v] of this.members) {
      for (const s of v.services.values()) {
        if (s.idle + s.busy === 0) continue;
        const list = out.get(s.name) ?? [];
        list.push(member);
        out.set(s.name, list);
      }
    }
    return out;
  }
}

/** The sending side: a version per change, and what each receiver last got, for deltas. */
export class LocalServices {
  private version = 0;
  /** Version at which each service last changed, and its load then. */
  private readonly changedAt = new Map<string, { version: number; load: ServiceLoad }>();
  /** Versions each receiver has been sent (undefined: send it a full view). */
  private readonly sentTo = new Map<string, number>();

  /**
   * Records the current load of services (those that changed); returns whether any did. `complete`:
   * `loads` is every service there is, and any other one known is now empty.
   */
  update(loads: readonly ServiceLoad[], complete = false): boolean {
    let any = false;
    if (complete) {
      const present = new Set(loads.map((l) => l.name));
      const gone: ServiceLoad[] = [];
      for (const [name, c] of this.changedAt) if (!present.has(name) && c.load.idle + c.load.busy + c.load.queued > 0) gone.push({ name, idle: 0, busy: 0, queued: 0 });
      if (gone.length > 0) loads = [...loads, ...gone];
    }
    for (const l of loads) {
      const prev = this.changedAt.get(l.name);
      if (prev && prev.load.idle === l.idle && prev.load.busy === l.busy && prev.load.queued === l.queued) continue;
      if (!prev && l.idle + l.busy + l.queued === 0) continue;
      if (!any) this.version++;
      any = true;
      // an emptied service stays (as zeros) until every receiver has been told, then prune() drops it
      this.changedAt.set(l.name, { version: this.version, load: { ...l } });
    }
    return any;
  }

  /** Workers (idle + busy) in the last recorded load of `name`. */
  workersOf(name: string): number {
    const c = this.changedAt.get(name);
    return c === undefined ? 0 : c.load.idle + c.load.busy;
  }

  /** Whether the last recorded load of `name` had workers. */
  hadWorkers(name: string): boolean {
    const c = this.changedAt.get(name);
    return c !== undefined && c.load.idle + c.load.busy > 0;
  }

  /** Forgets services that have been empty for every receiver (after a full view went out). */
  private prune(): void {
    let oldest = this.version;
    for (const v of this.sentTo.values()) oldest = Math.min(oldest, v);
    for (const [name, c] of this.changedAt) if (c.load.idle + c.load.busy + c.load.queued === 0 && c.version <= oldest) this.changedAt.delete(name);
  }

  get current(): number {
    return this.version;
  }

  /** What to send `to` now: a full view, a delta, or nothing (it has the current version). */
  messageFor(to: string, from: string, seen: number, full: boolean): Extract<ClusterMessage, { command: 'SERVICES' }> | undefined {
    const last = this.sentTo.get(to);
    if (!full && last !== undefined && last === this.version) return undefined;
    const services: ServiceLoad[] = [];
    if (full || last === undefined) {
      for (const c of this.changedAt.values()) if (c.load.idle + c.load.busy + c.load.queued > 0) services.push({ ...c.load });
      this.sentTo.set(to, this.version);
      this.prune();
      return { command: 'SERVICES', from, full: true, version: this.version, base: 0, seen, services };
    }
    for (const c of this.changedAt.values()) if (c.version > last) services.push({ ...c.load });
    this.sentTo.set(to, this.version);
    return { command: 'SERVICES', from, full: false, version: this.version, base: last, seen, services };
  }

  /** `seen` changed without a change of services: the receiver needs a message all the same. */
  bump(): void {
    this.version++;
  }

  /** A receiver that restarted or was lost: it gets a full view next. */
  forget(to: string): void {
    this.sentTo.delete(to);
  }
}

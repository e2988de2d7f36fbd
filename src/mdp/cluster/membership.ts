/**
 * Cluster membership as a pure state machine: fed messages and time, it returns what to send (to
 * cluster endpoints) and what changed. No sockets, no timers, no clock: the federation does the I/O.
 *
 * - Join: a node sends HELLO (its own record) to its seeds until one answers WELCOME with every record
 *   it knows. Records learned from anyone else are gossiped on (MEMBERS to every live member when the
 *   view changed, and to one member per tick in turn), and a node greets each member it learns of with
 *   a HELLO, so a node that joins through one peer learns, and is learned by, every member.
 * - What is gossiped per member is (incarnation, state), merged by taking the larger with states
 *   ordered alive < dead < left within an incarnation: a join-semilattice, so any order, interleaving
 *   or duplication of the same news ends in the same view. Old news (a lower incarnation) never kills
 *   or resurrects anyone.
 * - Liveness is judged on direct contact only: a member heard from directly (any message) is alive; one
 *   silent for half the liveness is suspect (local, not gossiped); one silent for the liveness is dead,
 *   and that is gossiped. A member that hears of its own death (or departure) at its incarnation
 *   refutes it by moving to the next incarnation; a restarted member starts with a larger incarnation
 *   (the caller passes wall-clock ms), so it rejoins.
 * - Records of dead and departed members are kept for `retentionMs` (so that late gossip of the old
 *   incarnation cannot bring them back), then forgotten.
 */
import { WireLimits, WireState, type ClusterMessage, type MemberRecord } from './wire.ts';

export const MemberStatus = { ALIVE: 'alive', SUSPECT: 'suspect', DEAD: 'dead', LEFT: 'left' } as const;
export type MemberStatus = (typeof MemberStatus)[keyof typeof MemberStatus];

export const ChangeKind = { JOINED: 'joined', SUSPECT: 'suspect', ALIVE: 'alive', DEAD: 'dead', LEFT: 'left', REJOINED: 'rejoined' } as const;
export type ChangeKind = (typeof ChangeKind)[keyof typeof ChangeKind];

export interface Member {
  readonly id: string;
  endpoint: string;
  clientEndpoints: string[];
  publicKey: Uint8Array | undefined;
  incarnation: number;
  heartbeat: number;
  state: WireState;
  /** Alive, but not heard from directly for half the liveness (local judgement). */
  suspect: boolean;
  /** Last direct contact (or when it was learned of), caller's clock. */
  lastHeard: number;
  /** When its state last changed (tombstone age). */
  since: number;
}

export interface MembershipChange {
  kind: ChangeKind;
  id: string;
  member: Member;
}

export interface Outbox {
  /** Messages to send, by cluster endpoint. */
  send: { to: string; message: ClusterMessage }[];
  changes: MembershipChange[];
}

export interface SelfInfo {
  id: string;
  endpoint: string;
  clientEndpoints: string[];
  publicKey: Uint8Array | undefined;
  /** Larger at every start (wall-clock ms): a restart is news that beats the old incarnation. */
  incarnation: number;
}

export interface MembershipOptions {
  heartbeatMs: number;
  livenessMs: number;
  /** Cluster endpoints to join through. */
  seeds: readonly string[];
  /** How long a dead or departed member's record is kept (default max(60 s, 10 × liveness)). */
  retentionMs?: number;
  /** Most members known at once (records of new ones beyond are ignored). */
  maxMembers?: number;
}

const RANK: Record<WireState, number> = { [WireState.ALIVE]: 0, [WireState.DEAD]: 1, [WireState.LEFT]: 2 };

/** Whether (incarnation, state) `a` is newer news than `b`. */
export function newer(a: { incarnation: number; state: WireState }, b: { incarnation: number; state: WireState }): boolean {
  return a.incarnation > b.incarnation || (a.incarnation === b.incarnation && RANK[a.state] > RANK[b.state]);
}

export function statusOf(m: Member): MemberStatus {
  if (m.state === WireState.DEAD) return MemberStatus.DEAD;
  if (m.state === WireState.LEFT) return MemberStatus.LEFT;
  return m.suspect ? MemberStatus.SUSPECT : MemberStatus.ALIVE;
}

export class Membership {
  private readonly self: SelfInfo & { heartbeat: number; state: WireState };
  private readonly members = new Map<string, Member>();
  private readonly options: Required<MembershipOptions>;
  /** A WELCOME came: the node is in (HELLOs to seeds stop while a member is alive). */
  private welcomed = false;
  /** Whose turn it is for this tick's MEMBERS. */
  private turn = 0;
  private ticks = 0;

  constructor(self: SelfInfo, options: MembershipOptions) {
    this.self = { ...self, clientEndpoints: [...self.clientEndpoints], heartbeat: 0, state: WireState.ALIVE };
    this.options = {
      retentionMs: Math.max(60_000, 10 * options.livenessMs),
      maxMembers: WireLimits.MEMBERS - 1,
      ...options,
      seeds: options.seeds.filter((s) => s !== self.endpoint),
    };
  }

  get id(): string {
    return this.self.id;
  }

  get incarnation(): number {
    return this.self.incarnation;
  }

  /** Members other than this node, in id order. */
  list(): Member[] {
    return [...this.members.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  get(id: string): Member | undefined {
    return this.members.get(id);
  }

  isAlive(id: string): boolean {
    return this.members.get(id)?.state === WireState.ALIVE;
  }

  /** The view other nodes converge on: id → incarnation and gossiped state (self included). */
  view(): Map<string, { incarnation: number; state: WireState }> {
    const v = new Map<string, { incarnation: number; state: WireState }>();
    v.set(this.self.id, { incarnation: this.self.incarnation, state: this.self.state });
    for (const m of this.members.values()) v.set(m.id, { incarnation: m.incarnation, state: m.state });
    return v;
  }

  setClientEndpoints(endpoints: readonly string[]): void {
    this.self.clientEndpoints = endpoints.slice(0, WireLimits.CLIENT_ENDPOINTS);
  }

  selfRecord(): MemberRecord {
    const s = this.self;
    return { id: s.id, endpoint: s.endpoint, clientEndpoints: [...s.clientEndpoints], incarnation: s.incarnation, heartbeat: s.heartbeat, state: s.state, publicKey: s.publicKey };
  }

  private records(): MemberRecord[] {
    const out = [this.selfRecord()];
    for (const m of this.members.values()) {
      out.push({ id: m.id, endpoint: m.endpoint, clientEndpoints: [...m.clientEndpoints], incarnation: m.incarnation, heartbeat: m.heartbeat, state: m.state, publicKey: m.publicKey });
    }
    return out;
  }

  private live(): Member[] {
    return [...this.members.values()].filter((m) => m.state === WireState.ALIVE);
  }

  /** First HELLOs to the seeds. */
  start(_now: number): Outbox {
    const box: Outbox = { send: [], changes: [] };
    this.greetSeeds(box);
    return box;
  }

  private greetSeeds(box: Outbox): void {
    const hello: ClusterMessage = { command: 'HELLO', from: this.self.id, member: this.selfRecord() };
    const known = new Set(this.live().map((m) => m.endpoint));
    for (const seed of this.options.seeds) if (!known.has(seed)) box.send.push({ to: seed, message: hello });
  }

  /** A message from another node. */
  receive(msg: ClusterMessage, now: number): Outbox {
    const box: Outbox = { send: [], changes: [] };
    if (msg.from === this.self.id) return box; // our own HELLO through a seed that is us
    let changed = false;
    switch (msg.command) {
      case 'HELLO': {
        if (msg.member.id !== msg.from) return box;
        changed = this.merge(msg.member, now, box, true);
        const m = this.members.get(msg.from);
        if (m) box.send.push({ to: m.endpoint, message: { command: 'WELCOME', from: this.self.id, members: this.records() } });
        break;
      }
      case 'WELCOME':
      case 'MEMBERS': {
        if (msg.command === 'WELCOME') this.welcomed = true;
        for (const r of msg.members) if (this.merge(r, now, box, r.id === msg.from)) changed = true;
        break;
      }
      case 'HEARTBEAT': {
        const m = this.members.get(msg.from);
        if (!m) return box; // not known yet: its HELLO (or gossip about it) comes
        if (msg.incarnation > m.incarnation) {
          changed = this.merge({ ...this.recordOf(m), incarnation: msg.incarnation, heartbeat: msg.heartbeat, state: WireState.ALIVE }, now, box, true);
        } else if (msg.incarnation === m.incarnation) {
          if (msg.heartbeat > m.heartbeat) m.heartbeat = msg.heartbeat;
          this.heard(m, now, box);
        }
        break;
      }
      default: {
        // any other command from a known member is contact too
        const m = this.members.get(msg.from);
        if (m) this.heard(m, now, box);
      }
    }
    const sender = this.members.get(msg.from);
    if (sender && sender.state !== WireState.ALIVE && msg.command !== 'MEMBERS' && msg.command !== 'WELCOME') {
      // it talks to us while we hold it dead at its incarnation: tell it, so that it refutes
      box.send.push({ to: sender.endpoint, message: { command: 'MEMBERS', from: this.self.id, members: [this.recordOf(sender)] } });
    }
    if (changed) this.gossipAll(box, msg.from);
    return box;
  }

  private recordOf(m: Member): MemberRecord {
    return { id: m.id, endpoint: m.endpoint, clientEndpoints: [...m.clientEndpoints], incarnation: m.incarnation, heartbeat: m.heartbeat, state: m.state, publicKey: m.publicKey };
  }

  /** Direct contact with a member whose record is current. */
  private heard(m: Member, now: number, box: Outbox): void {
    m.lastHeard = now;
    if (m.suspect && m.state === WireState.ALIVE) {
      m.suspect = false;
      box.changes.push({ kind: ChangeKind.ALIVE, id: m.id, member: m });
    }
  }

  /**
   * Merges one record; returns whether the gossiped view changed. `direct`: the record is the
   * sender's own (contact with it).
   */
  private merge(r: MemberRecord, now: number, box: Outbox, direct: boolean): boolean {
    if (r.id === this.self.id) {
      // news about this node: a death or departure at our incarnation (or later) is refuted
      if (r.incarnation >= this.self.incarnation && (r.state !== WireState.ALIVE || r.incarnation > this.self.incarnation)) {
        if (this.self.state === WireState.LEFT) return false;
        this.self.incarnation = r.incarnation + 1;
        return true;
      }
      return false;
    }
    const m = this.members.get(r.id);
    if (!m) {
      if (this.members.size >= this.options.maxMembers) return false;
      const fresh: Member = {
        id: r.id,
        endpoint: r.endpoint,
        clientEndpoints: [...r.clientEndpoints],
        publicKey: r.publicKey,
        incarnation: r.incarnation,
        heartbeat: r.heartbeat,
        state: r.state,
        suspect: false,
        lastHeard: now,
        since: now,
      };
      this.members.set(r.id, fresh);
      if (r.state === WireState.ALIVE) {
        box.changes.push({ kind: ChangeKind.JOINED, id: r.id, member: fresh });
        // greet it: it may not know us yet, and only a HELLO tells it our endpoint
        if (!direct) box.send.push({ to: fresh.endpoint, message: { command: 'HELLO', from: this.self.id, member: this.selfRecord() } });
      }
      return true;
    }
    if (newer(r, m)) {
      const was = m.state;
      const restarted = r.incarnation > m.incarnation;
      m.incarnation = r.incarnation;
      m.heartbeat = r.heartbeat;
      m.state = r.state;
      m.endpoint = r.endpoint;
      m.clientEndpoints = [...r.clientEndpoints];
      m.publicKey = r.publicKey;
      m.since = now;
      if (r.state === WireState.ALIVE) {
        m.lastHeard = now;
        m.suspect = false;
        // alive again, or alive in a later incarnation (a restart, or a refuted rumour): whatever
        // was sent to the old incarnation is lost either way
        if (was !== WireState.ALIVE || restarted) {
          box.changes.push({ kind: ChangeKind.REJOINED, id: m.id, member: m });
          if (!direct) box.send.push({ to: m.endpoint, message: { command: 'HELLO', from: this.self.id, member: this.selfRecord() } });
        }
      } else if (was === WireState.ALIVE || r.state === WireState.LEFT) {
        box.changes.push({ kind: r.state === WireState.LEFT ? ChangeKind.LEFT : ChangeKind.DEAD, id: m.id, member: m });
      }
      return true;
    }
    if (r.incarnation === m.incarnation && r.state === m.state) {
      if (r.heartbeat > m.heartbeat) {
        // a later record of the same incarnation: its client endpoints may have grown (a later bind)
        m.heartbeat = r.heartbeat;
        m.clientEndpoints = [...r.clientEndpoints];
      }
      if (direct && m.state === WireState.ALIVE) this.heard(m, now, box);
    }
    return false;
  }

  private gossipAll(box: Outbox, except: string | undefined): void {
    const message: ClusterMessage = { command: 'MEMBERS', from: this.self.id, members: this.records() };
    for (const m of this.live()) if (m.id !== except) box.send.push({ to: m.endpoint, message });
  }

  /** Time passes: heartbeats, gossip, suspicion and death, HELLOs while alone, tombstones expire. */
  tick(now: number): Outbox {
    const box: Outbox = { send: [], changes: [] };
    if (this.self.state === WireState.LEFT) return box;
    this.ticks++;
    this.self.heartbeat++;
    const { livenessMs, retentionMs } = this.options;
    let died = false;
    for (const m of [...this.members.values()]) {
      if (m.state !== WireState.ALIVE) {
        if (now - m.since > retentionMs) this.members.delete(m.id);
        continue;
      }
      const silent = now - m.lastHeard;
      if (silent > livenessMs) {
        m.state = WireState.DEAD;
        m.suspect = false;
        m.since = now;
        died = true;
        box.changes.push({ kind: ChangeKind.DEAD, id: m.id, member: m });
      } else if (silent > livenessMs / 2 && !m.suspect) {
        m.suspect = true;
        box.changes.push({ kind: ChangeKind.SUSPECT, id: m.id, member: m });
      }
    }
    const live = this.live();
    const heartbeat: ClusterMessage = { command: 'HEARTBEAT', from: this.self.id, incarnation: this.self.incarnation, heartbeat: this.self.heartbeat };
    for (const m of live) box.send.push({ to: m.endpoint, message: heartbeat });
    if (died) this.gossipAll(box, undefined);
    else if (live.length > 0) {
      const m = live[this.turn++ % live.length]!;
      box.send.push({ to: m.endpoint, message: { command: 'MEMBERS', from: this.self.id, members: this.records() } });
    }
    // alone (never welcomed, or every member gone): knock at the seeds again; and now and then at
    // the dead, so that two halves of a healed partition find each other
    if (!this.welcomed || live.length === 0) this.greetSeeds(box);
    if (this.ticks % 4 === 0) {
      const hello: ClusterMessage = { command: 'HELLO', from: this.self.id, member: this.selfRecord() };
      for (const m of this.members.values()) if (m.state === WireState.DEAD) box.send.push({ to: m.endpoint, message: hello });
    }
    return box;
  }

  /** Leaving for good (shutdown): every live member is told. */
  leave(): Outbox {
    const box: Outbox = { send: [], changes: [] };
    this.self.state = WireState.LEFT;
    this.gossipAll(box, undefined);
    return box;
  }
}

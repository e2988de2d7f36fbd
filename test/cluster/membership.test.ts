/**
 * Membership as a pure state machine: join through one peer (gossip), heartbeats, suspicion, death,
 * rejoin after a restart, departure; and properties: any order, interleaving and duplication of the
 * same news converges to the same view, and a cluster joined in a chain under a random delivery
 * schedule ends with every node knowing every other as alive.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ChangeKind, Membership, statusOf, type Outbox } from '../../src/mdp/cluster/membership.ts';
import { WireState, encodeCluster, decodeCluster, type ClusterMessage, type MemberRecord } from '../../src/mdp/cluster/wire.ts';

const HB = 100;
const LIVENESS = 500;

interface Packet {
  to: string;
  message: ClusterMessage;
}

/** A simulated network of Membership nodes addressed by endpoint; messages go through the codec. */
class Net {
  readonly nodes = new Map<string, Membership>();
  readonly queue: Packet[] = [];
  readonly changes: { at: string; kind: string; id: string }[] = [];
  readonly down = new Set<string>();
  now = 0;

  add(id: string, seeds: string[], incarnation = 1, liveness = LIVENESS): Membership {
    const m = new Membership({ id, endpoint: ep(id), clientEndpoints: [`tcp://client/${id}`], publicKey: undefined, incarnation }, { heartbeatMs: HB, livenessMs: liveness, seeds: seeds.map(ep) });
    this.nodes.set(ep(id), m);
    this.down.delete(ep(id));
    this.take(ep(id), m.start(this.now));
    return m;
  }

  take(at: string, box: Outbox): void {
    for (const s of box.send) {
      // through the wire format, as the federation does
      const r = decodeCluster(encodeCluster(s.message));
      if (!r.ok) throw r.error;
      this.queue.push({ to: s.to, message: r.message });
    }
    for (const c of box.changes) this.changes.push({ at, kind: c.kind, id: c.id });
  }

  deliver(p: Packet): void {
    const node = this.nodes.get(p.to);
    if (!node || this.down.has(p.to) || this.down.has(ep(p.message.from))) return;
    this.take(p.to, node.receive(p.message, this.now));
  }

  /** Delivers everything queued (and what that causes), in order. */
  flush(limit = 10_000): void {
    for (let i = 0; i < limit && this.queue.length > 0; i++) this.deliver(this.queue.shift()!);
  }

  tick(): void {
    this.now += HB;
    for (const [at, node] of this.nodes) if (!this.down.has(at)) this.take(at, node.tick(this.now));
  }

  rounds(n: number): void {
    for (let i = 0; i < n; i++) {
      this.tick();
      this.flush();
    }
  }
}

const ep = (id: string): string => `tcp://10.0.0.1:${1000 + id.charCodeAt(0)}`;

function statuses(m: Membership): Record<string, string> {
  return Object.fromEntries(m.list().map((x) => [x.id, statusOf(x)]));
}

describe('Membership', () => {
  it('a chain joined through one peer each: everyone learns everyone (gossip)', () => {
    const net = new Net();
    const a = net.add('a', []);
    const b = net.add('b', ['a']);
    const c = net.add('c', ['b']);
    net.flush();
    net.rounds(3);
    expect(statuses(a)).toEqual({ b: 'alive', c: 'alive' });
    expect(statuses(b)).toEqual({ a: 'alive', c: 'alive' });
    expect(statuses(c)).toEqual({ a: 'alive', b: 'alive' });
    expect(a.get('c')!.clientEndpoints).toEqual(['tcp://client/c']);
    expect(net.changes.filter((x) => x.at === ep('a') && x.kind === ChangeKind.JOINED).map((x) => x.id).sort()).toEqual(['b', 'c']);
  });

  it('a silent member becomes suspect, then dead; it rejoins after a restart (new incarnation)', () => {
    const net = new Net();
    const a = net.add('a', []);
    net.add('b', ['a']);
    net.add('c', ['a']);
    net.rounds(3);
    net.down.add(ep('c'));
    net.rounds(3);
    expect(statusOf(a.get('c')!)).toBe('suspect');
    net.rounds(3);
    expect(statusOf(a.get('c')!)).toBe('dead');
    expect(net.changes.filter((x) => x.id === 'c' && x.at === ep('a')).map((x) => x.kind)).toEqual(['joined', 'suspect', 'dead']);
    // restarted: a larger incarnation, through a seed
    net.add('c', ['b'], 2);
    net.rounds(3);
    expect(statusOf(a.get('c')!)).toBe('alive');
    expect(a.get('c')!.incarnation).toBe(2);
    expect(net.changes.filter((x) => x.id === 'c' && x.at === ep('a')).map((x) => x.kind).at(-1)).toBe('rejoined');
  });

  it('a member that hears a rumour of its death refutes it with its next incarnation', () => {
    const net = new Net();
    const a = net.add('a', []);
    const b = net.add('b', ['a']);
    net.rounds(2);
    const rumour: MemberRecord = { ...b.selfRecord(), state: WireState.DEAD };
    net.take('x', { send: [{ to: ep('a'), message: { command: 'MEMBERS', from: 'z', members: [rumour] } }], changes: [] });
    net.flush();
    net.rounds(2);
    expect(b.incarnation).toBe(2);
    expect(statusOf(a.get('b')!)).toBe('alive');
  });

  it('a departure is news that everyone keeps; the old incarnation never brings it back', () => {
    const net = new Net();
    const a = net.add('a', []);
    const b = net.add('b', ['a']);
    net.add('c', ['a']);
    net.rounds(2);
    const stale = b.selfRecord();
    net.take(ep('b'), b.leave());
    net.flush();
    expect(statusOf(a.get('b')!)).toBe('left');
    net.take('x', { send: [{ to: ep('a'), message: { command: 'MEMBERS', from: 'c', members: [stale] } }], changes: [] });
    net.flush();
    expect(statusOf(a.get('b')!)).toBe('left');
  });

  it('any order and duplication of the same news converges to the same view (the larger news wins)', () => {
    const ids = ['p', 'q', 'r'];
    const recordArb = fc.record({
      id: fc.constantFrom(...ids),
      incarnation: fc.integer({ min: 1, max: 4 }),
      state: fc.constantFrom(WireState.ALIVE, WireState.DEAD, WireState.LEFT),
      heartbeat: fc.nat(10),
    });
    fc.assert(
      fc.property(
        fc.array(recordArb, { minLength: 1, maxLength: 30 }),
        fc.array(fc.nat(), { maxLength: 60 }),
        fc.array(fc.nat(), { maxLength: 60 }),
        (recs, order1, order2) => {
          const records: MemberRecord[] = recs.map((r) => ({ ...r, endpoint: ep(r.id), clientEndpoints: [], publicKey: undefined }));
          // each delivery order: a permutation of the records with some repeated
          const schedule = (order: number[]): MemberRecord[] => {
            const list = [...records];
            for (let i = list.length - 1; i > 0; i--) {
              const j = (order[i] ?? i) % (i + 1);
              [list[i], list[j]] = [list[j]!, list[i]!];
            }
            return [...list, ...order.slice(0, 10).map((k) => records[k % records.length]!)];
          };
          const run = (order: number[]): Map<string, { incarnation: number; state: WireState }> => {
            const m = new Membership({ id: 'me', endpoint: ep('m'), clientEndpoints: [], publicKey: undefined, incarnation: 1 }, { heartbeatMs: HB, livenessMs: LIVENESS, seeds: [] });
            let t = 0;
            // one record per message, from various senders, interleaved with ticks (liveness is local)
            for (const r of schedule(order)) m.receive({ command: 'MEMBERS', from: 'gossip', members: [r] }, (t += 1));
            return m.view();
          };
          const v1 = run(order1);
          const v2 = run(order2);
          expect(v1).toEqual(v2);
          // the model: the largest (incarnation, state rank) per member
          const rank = { [WireState.ALIVE]: 0, [WireState.DEAD]: 1, [WireState.LEFT]: 2 };
          for (const id of new Set(records.map((r) => r.id))) {
            const best = records.filter((r) => r.id === id).reduce((x, y) => (y.incarnation > x.incarnation || (y.incarnation === x.incarnation && rank[y.state] > rank[x.state]) ? y : x));
            expect(v1.get(id)).toEqual({ incarnation: best.incarnation, state: best.state });
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a cluster joined in a chain, under any delivery order with duplicates, ends with one view, all alive', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 5 }), fc.array(fc.nat(), { minLength: 200, maxLength: 400 }), (n, choices) => {
        const net = new Net();
        const names = 'abcde'.slice(0, n).split('');
        // liveness far away: this property is about ordering, not timing
        names.forEach((id, i) => net.add(id, i === 0 ? [] : [names[i - 1]!], 1, 1e12));
        let c = 0;
        for (let round = 0; round < 20; round++) {
          net.tick();
          // deliver in a random order, duplicating some, dropping none
          while (net.queue.length > 0 && c < choices.length) {
            const k = choices[c++]! % net.queue.length;
            const p = net.queue[k]!;
            if (choices[c++ % choices.length]! % 5 === 0) net.deliver(p);
            net.queue.splice(k, 1);
            net.deliver(p);
          }
          net.flush();
        }
        net.rounds(3);
        const views = [...net.nodes.values()].map((m) => m.view());
        for (const v of views) {
          expect([...v.keys()].sort()).toEqual(names);
          for (const x of v.values()) expect(x.state).toBe(WireState.ALIVE);
          expect(v).toEqual(views[0]);
        }
      }),
      { numRuns: 100 },
    );
  });
});

/**
 * The cluster's service view: full views and deltas between a sender (LocalServices) and a receiver
 * (ClusterRegistry); any order and duplication converges to the newest full view; in order, every
 * step is followed; forwards not yet reported count against idle workers; strategies.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ClusterRegistry, LocalServices, PREFETCH } from '../../src/mdp/cluster/registry.ts';
import { ClusterStrategy, localWaitLeft, pickMember } from '../../src/mdp/cluster/strategy.ts';
import type { ClusterMessage, ServiceLoad } from '../../src/mdp/cluster/wire.ts';

type Services = Extract<ClusterMessage, { command: 'SERVICES' }>;
const names = ['s1', 's2', 's3'];
const loadArb = fc.record({ name: fc.constantFrom(...names), idle: fc.nat(3), busy: fc.nat(3), queued: fc.nat(3) });

function snapshot(state: Map<string, ServiceLoad>): ServiceLoad[] {
  return [...state.values()].filter((s) => s.idle + s.busy + s.queued > 0).sort((a, b) => a.name.localeCompare(b.name));
}
function viewOf(r: ClusterRegistry, member: string): ServiceLoad[] {
  return r.servicesOf(member).sort((a, b) => a.name.localeCompare(b.name));
}

/** A run of the sender: changes, each followed by a message (full or delta) to one receiver. */
function run(steps: { loads: ServiceLoad[]; full: boolean }[]): { messages: Services[]; states: ServiceLoad[][] } {
  const sender = new LocalServices();
  const truth = new Map<string, ServiceLoad>();
  const messages: Services[] = [];
  const states: ServiceLoad[][] = [];
  for (const step of steps) {
    for (const l of step.loads) truth.set(l.name, l);
    if (!sender.update(step.loads) && !step.full) sender.bump();
    const m = sender.messageFor('rx', 'tx', 0, step.full);
    if (!m) continue;
    messages.push(m);
    states.push(snapshot(truth));
  }
  return { messages, states };
}

describe('ClusterRegistry and LocalServices', () => {
  it('in order (with duplicates), the receiver follows every step', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ loads: fc.array(loadArb, { maxLength: 3 }), full: fc.boolean() }), { minLength: 1, maxLength: 20 }), (steps) => {
        const { messages, states } = run(steps);
        const rx = new ClusterRegistry();
        messages.forEach((m, i) => {
          rx.apply(m);
          rx.apply(m);
          expect(viewOf(rx, 'tx')).toEqual(states[i]);
        });
      }),
      { numRuns: 300 },
    );
  });

  it('any order and duplication ends at the newest full view', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ loads: fc.array(loadArb, { maxLength: 3 }), full: fc.boolean() }), { minLength: 1, maxLength: 20 }),
        fc.array(fc.nat(), { maxLength: 40 }),
        (steps, order) => {
          steps[steps.length - 1]!.full = true; // the newest message is a full view
          const { messages, states } = run(steps);
          const list = [...messages];
          for (let i = list.length - 1; i > 0; i--) {
            const j = (order[i] ?? 0) % (i + 1);
            [list[i], list[j]] = [list[j]!, list[i]!];
          }
          for (const k of order.slice(0, 10)) list.splice(k % (list.length + 1), 0, messages[k % messages.length]!);
          const rx = new ClusterRegistry();
          for (const m of list) rx.apply(m);
          expect(viewOf(rx, 'tx')).toEqual(states[states.length - 1]);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a delta on another base is ignored; the next full view repairs', () => {
    const tx = new LocalServices();
    const rx = new ClusterRegistry();
    tx.update([{ name: 'a', idle: 1, busy: 0, queued: 0 }]);
    rx.apply(tx.messageFor('rx', 'tx', 0, false)!);
    tx.update([{ name: 'a', idle: 0, busy: 1, queued: 0 }]);
    tx.messageFor('rx', 'tx', 0, false); // lost
    tx.update([{ name: 'b', idle: 2, busy: 0, queued: 0 }]);
    expect(rx.apply(tx.messageFor('rx', 'tx', 0, false)!)).toEqual([]);
    expect(viewOf(rx, 'tx')).toEqual([{ name: 'a', idle: 1, busy: 0, queued: 0 }]);
    rx.apply(tx.messageFor('rx', 'tx', 0, true)!);
    expect(viewOf(rx, 'tx')).toEqual([
      { name: 'a', idle: 0, busy: 1, queued: 0 },
      { name: 'b', idle: 2, busy: 0, queued: 0 },
    ]);
  });

  it('capacity: a worker running and PREFETCH waiting per worker; unreported forwards count, replies free', () => {
    const rx = new ClusterRegistry();
    const full = 2 * (1 + PREFETCH);
    rx.apply({ command: 'SERVICES', from: 'm', full: true, version: 1, base: 0, seen: 0, services: [{ name: 'echo', idle: 2, busy: 0, queued: 0 }] });
    expect(rx.loadsFor('echo')[0]!.available).toBe(full);
    const seqs = Array.from({ length: full }, () => rx.forwarded('m', 'echo'));
    expect(seqs[0]).toBe(1);
    expect(rx.loadsFor('echo')[0]!.available).toBe(0);
    // it took the first two (both workers busy); the rest still on their way
    rx.apply({ command: 'SERVICES', from: 'm', full: false, version: 2, base: 1, seen: 2, services: [{ name: 'echo', idle: 0, busy: 2, queued: 0 }] });
    expect(rx.loadsFor('echo')[0]!.available).toBe(0);
    expect(rx.unacknowledged('m')).toBe(full - 2);
    // the FINAL of one it has shown (busy): a worker free until its next view
    rx.replied('m', 'echo', 1);
    expect(rx.loadsFor('echo')[0]!.available).toBe(1);
    // the FINAL of one it has not shown yet: it stops counting
    rx.replied('m', 'echo', full);
    expect(rx.unacknowledged('m')).toBe(full - 3);
    expect(rx.loadsFor('echo')[0]!.available).toBe(2);
    // its next view shows the rest (queued there): credits end, what it shows counts
    rx.apply({ command: 'SERVICES', from: 'm', full: false, version: 3, base: 2, seen: full, services: [{ name: 'echo', idle: 0, busy: 2, queued: full - 4 }] });
    expect(rx.unacknowledged('m')).toBe(0);
    expect(rx.loadsFor('echo')[0]!.available).toBe(2);
    rx.noIdle('m', 'echo');
    expect(rx.workers('echo')).toBe(2);
    rx.drop('m');
    expect(rx.loadsFor('echo')).toEqual([]);
    expect(rx.workers(undefined)).toBe(0);
  });

  it('strategies: least-load, round-robin, local-first', () => {
    const load = (member: string, idle: number, busy: number, queued = 0, available = idle) => ({ member, name: 's', idle, busy, queued, available });
    const cursors = new Map<string, string>();
    // least-load: b is less loaded
    expect(pickMember(ClusterStrategy.LEAST_LOAD, 's', [load('a', 1, 3), load('b', 2, 0)], cursors)).toBe('b');
    // nobody free
    expect(pickMember(ClusterStrategy.LEAST_LOAD, 's', [load('a', 0, 3)], cursors)).toBeUndefined();
    // equal loads: in turn
    const c2 = new Map<string, string>();
    const picks = [0, 1, 2, 3].map(() => pickMember(ClusterStrategy.LEAST_LOAD, 's', [load('a', 1, 0), load('b', 1, 0)], c2));
    expect(picks).toEqual(['a', 'b', 'a', 'b']);
    // round-robin ignores load
    const c3 = new Map<string, string>();
    const rr = [0, 1, 2].map(() => pickMember(ClusterStrategy.ROUND_ROBIN, 's', [load('a', 1, 9), load('b', 5, 0), load('c', 1, 0)], c3));
    expect(rr).toEqual(['a', 'b', 'c']);
    expect(localWaitLeft(ClusterStrategy.LOCAL_FIRST, 2, 30, 100)).toBe(70);
    expect(localWaitLeft(ClusterStrategy.LOCAL_FIRST, 0, 30, 100)).toBe(0);
    expect(localWaitLeft(ClusterStrategy.LEAST_LOAD, 2, 30, 100)).toBe(0);
  });
});

/**
 * Which member gets a request for a service that no local worker can take now. Pure functions over
 * the registry's loads; the broker only asks once its own idle workers are used up (a local worker
 * always goes first: no hop).
 *
 * - `least-load` (default): the member with the lowest load, (busy + queued) / workers, counting
 *   forwards it has not reported yet as busy; ties go to the most available, then in turn.
 * - `round-robin`: members that have an idle worker, in turn (per service).
 * - `local-first`: as least-load, but a request first waits up to `localWait` ms for a local worker,
 *   when this broker has workers for the service (busy ones); without any, waiting would be for nothing.
 */
import type { RemoteLoad } from './registry.ts';

export const ClusterStrategy = { LEAST_LOAD: 'least-load', ROUND_ROBIN: 'round-robin', LOCAL_FIRST: 'local-first' } as const;
export type ClusterStrategy = (typeof ClusterStrategy)[keyof typeof ClusterStrategy];
export const CLUSTER_STRATEGIES: readonly ClusterStrategy[] = Object.values(ClusterStrategy);

/** Round-robin cursors, per service: the member picked last. */
export type Cursors = Map<string, string>;

function load(l: RemoteLoad): number {
  const workers = l.idle + l.busy;
  const unreported = l.idle - l.available;
  return (l.busy + l.queued + unreported) / Math.max(1, workers);
}

/** The member after `last` in id order among `ids` (sorted), wrapping. */
function after(ids: string[], last: string | undefined): string {
  if (last === undefined) return ids[0]!;
  for (const id of ids) if (id > last) return id;
  return ids[0]!;
}

/** Picks a member among `loads` (only live members' entries); undefined when none has a worker free. */
export function pickMember(strategy: ClusterStrategy, service: string, loads: readonly RemoteLoad[], cursors: Cursors): string | undefined {
  const free = loads.filter((l) => l.available > 0);
  if (free.length === 0) return undefined;
  let chosen: string;
  if (strategy === ClusterStrategy.ROUND_ROBIN || free.length === 1) {
    chosen = after(free.map((l) => l.member).sort(), cursors.get(service));
  } else {
    let best = Infinity;
    let ties: RemoteLoad[] = [];
    for (const l of free) {
      const x = load(l);
      if (x < best - 1e-9) {
        best = x;
        ties = [l];
      } else if (Math.abs(x - best) <= 1e-9) ties.push(l);
    }
    const most = Math.max(...ties.map((l) => l.available));
    chosen = after(ties.filter((l) => l.available === most).map((l) => l.member).sort(), cursors.get(service));
  }
  cursors.set(service, chosen);
  return chosen;
}

/**
 * local-first: how long the request at the head of a queue should still wait for a local worker
 * (0: forward now). Only when this broker has workers for the service.
 */
export function localWaitLeft(strategy: ClusterStrategy, localWorkers: number, waitedMs: number, localWaitMs: number): number {
  if (strategy !== ClusterStrategy.LOCAL_FIRST || localWorkers === 0) return 0;
  return Math.max(0, localWaitMs - waitedMs);
}

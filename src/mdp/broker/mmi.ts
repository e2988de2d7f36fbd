/**
 * MMI (8/MMI) and purezmq's extensions, answered by the broker. Every answer is a reply body; codes
 * are ASCII frames. `mmi.service` follows the reference brokers (the request body with its last
 * frame replaced by the code); the extensions answer a code frame followed by their data.
 *
 *   mmi.service NAME      → 200 / 404 (a worker is registered, here or on a cluster member; titanic.* is always 200)
 *   mmi.workers [NAME]    → 200, count (all workers for an empty NAME); in a cluster also local=N, remote=M
 *   mmi.heartbeat         → 200, interval ms, liveness
 *   mmi.broker            → 200, JSON metrics without per-service detail (a summary instead), cached 1 s
 *   mmi.broker services [LIMIT] [AFTER] [PREFIX] → 200, JSON { total, services, next }: a page of
 *                           per-service metrics in name order (LIMIT default 100, at most 1000)
 *   mmi.services          → 200, names of services with workers (cluster: then an empty frame, then
 *                           the services with a worker on another member)
 *   mmi.cluster           → 200, JSON: members (id, endpoints, state, last seen, load, services) and
 *                           forwarding counters; 501 on a broker that is not in a cluster
 *   mmi.dlq.list [LIMIT] [AFTER]   → 200, JSON { total, items, next } (LIMIT default 100, at most 1000)
 *   mmi.dlq.replay UUID...|all     → 200, JSON { replayed, notFound } | 500 store error
 *   mmi.dlq.purge  UUID...|all     → 200, JSON { purged, notFound }   | 500 store error
 *   anything else         → the body with its last frame replaced by 501
 */
import { fromString, toString } from '../../util/bytes.ts';
import { MmiCode, MmiService } from '../constants.ts';
import { isMdpError } from '../errors.ts';
import { parseRequestKey, type StoredRequest } from '../store/records.ts';
import { uuidOf } from '../titanic.ts';
import type { ServicePage } from './metrics.ts';
import { hexId, isTitanicName } from './registry.ts';

/** One dead letter as mmi.dlq.list shows it. */
export interface DeadLetterView {
  uuid: string;
  kind: string;
  service: string;
  reason: string;
  error: string;
  /** Failed dispatches. */
  attempts: number;
  createdAt: string;
  deadAt: string;
  bodyBytes: number;
  /** Plain requests: the client's routing id, hex. */
  client?: string;
}

export interface DeadLetterPage {
  total: number;
  items: DeadLetterView[];
  /** Pass as AFTER to read the next page; null at the end. */
  next: string | null;
}

/** What the MMI handlers read and do; the broker implements it. */
export interface MmiHost {
  workersOf(service: Uint8Array | undefined): number;
  heartbeat(): { interval: number; liveness: number };
  /** The metrics document without per-service detail, as JSON (cached by the broker). */
  summary(): Uint8Array;
  servicePage(after: string | undefined, limit: number, prefix: string): ServicePage;
  activeServiceNames(): Uint8Array[];
  deadLetterPage(after: string | undefined, limit: number): { total: number; items: StoredRequest[] };
  /** Runs dead letters again; `keys` undefined = all. Resolves once the store holds the change. */
  replayDeadLetters(keys: string[] | undefined): Promise<{ done: number; notFound: number }>;
  purgeDeadLetters(keys: string[] | undefined): Promise<{ done: number; notFound: number }>;
  /**
   * Cluster only (undefined for a single broker, whose answers stay as they were): workers of a
   * service here and on live members, services with a worker on a member, mmi.cluster's JSON.
   */
  cluster?(): ClusterMmi | undefined;
}

export interface ClusterMmi {
  workers(service: Uint8Array | undefined): { local: number; remote: number };
  remoteServices(): string[];
  document(): Uint8Array;
}

/** purezmq extension: the members of the cluster (JSON), 501 on a broker that is not in one. */
export const MMI_CLUSTER = 'mmi.cluster';

export type MmiAnswer = Uint8Array[] | Promise<Uint8Array[]>;

const DEFAULT_PAGE = 100;
const MAX_PAGE = 1000;

const code = (c: MmiCode): Uint8Array => fromString(c);

function replaceLast(body: Uint8Array[], c: MmiCode): Uint8Array[] {
  return [...body.slice(0, -1), code(c)];
}

function view(req: StoredRequest): DeadLetterView {
  let bodyBytes = 0;
  for (const f of req.body) bodyBytes += f.length;
  return {
    uuid: uuidOf(req.key),
    kind: req.kind,
    service: toString(req.service),
    reason: req.dead?.reason ?? '',
    error: req.dead?.error ?? req.lastError,
    attempts: req.attempts,
    createdAt: new Date(req.createdAt).toISOString(),
    deadAt: new Date(req.dead?.at ?? req.createdAt).toISOString(),
    bodyBytes,
    ...(req.kind === 'plain' ? { client: hexId(req.client) } : {}),
  };
}

/** The keys named by a replay/purge body: undefined for "all", else the parsed UUIDs (bad ones count as not found). */
function targets(body: Uint8Array[]): { keys: string[] | undefined; bad: number } {
  const words = body.map(toString).filter((w) => w !== '');
  if (words.length === 1 && words[0]!.toLowerCase() === 'all') return { keys: undefined, bad: 0 };
  const keys: string[] = [];
  let bad = 0;
  for (const w of words) {
    const k = parseRequestKey(w);
    if (k === undefined) bad++;
    else keys.push(k);
  }
  return { keys, bad };
}

async function bulk(
  run: (keys: string[] | undefined) => Promise<{ done: number; notFound: number }>,
  body: Uint8Array[],
  field: 'replayed' | 'purged',
): Promise<Uint8Array[]> {
  const { keys, bad } = targets(body);
  if (keys !== undefined && keys.length === 0 && bad === 0) return [code(MmiCode.BAD_REQUEST), fromString('name UUIDs, or "all"')];
  try {
    const r = await run(keys);
    return [code(MmiCode.OK), fromString(JSON.stringify({ [field]: r.done, notFound: r.notFound + bad }))];
  } catch (err) {
    return [code(MmiCode.ERROR), fromString(isMdpError(err) ? `${err.code}: ${err.message}` : String(err))];
  }
}

/** The handlers by service name. */
export function mmiHandlers(host: MmiHost): Record<string, (body: Uint8Array[]) => MmiAnswer> {
  return {
    // 8/MMI: the reply is the request body with its last frame replaced by the code (as the reference brokers do)
    [MmiService.SERVICE]: (body) => {
      const target = body[body.length - 1]!;
      const remote = host.cluster?.()?.workers(target).remote ?? 0;
      return replaceLast(body, isTitanicName(target) || host.workersOf(target) + remote > 0 ? MmiCode.OK : MmiCode.NOT_FOUND);
    },
    [MmiService.WORKERS]: (body) => {
      const target = body[body.length - 1]!;
      const name = target.length === 0 ? undefined : target;
      const cluster = host.cluster?.();
      if (!cluster) return [code(MmiCode.OK), fromString(String(host.workersOf(name)))];
      // in a cluster: the total first (what a single broker answers), then where they are
      const w = cluster.workers(name);
      return [code(MmiCode.OK), fromString(String(w.local + w.remote)), fromString(`local=${w.local}`), fromString(`remote=${w.remote}`)];
    },
    [MmiService.HEARTBEAT]: () => {
      const hb = host.heartbeat();
      return [code(MmiCode.OK), fromString(String(hb.interval)), fromString(String(hb.liveness))];
    },
    [MmiService.BROKER]: (body) => {
      const words = body.map(toString);
      if (words.length <= 1 && (words[0] ?? '') === '') return [code(MmiCode.OK), host.summary()];
      if (words[0] !== 'services') return [code(MmiCode.BAD_REQUEST), fromString('mmi.broker takes no body (summary), or: services [LIMIT] [AFTER] [PREFIX]')];
      const limit = words[1] === undefined || words[1] === '' ? DEFAULT_PAGE : Number(words[1]);
      if (!Number.isInteger(limit) || limit < 1) return [code(MmiCode.BAD_REQUEST), fromString(`limit must be a positive integer, got "${words[1]}"`)];
      const after = words[2] === undefined || words[2] === '' ? undefined : words[2];
      return [code(MmiCode.OK), fromString(JSON.stringify(host.servicePage(after, Math.min(limit, MAX_PAGE), words[3] ?? '')))];
    },
    // in a cluster: this broker's services, then an empty frame, then those with a worker on another member
    [MmiService.SERVICES]: () => {
      const cluster = host.cluster?.();
      const local = host.activeServiceNames();
      return cluster ? [code(MmiCode.OK), ...local, new Uint8Array(0), ...cluster.remoteServices().map(fromString)] : [code(MmiCode.OK), ...local];
    },
    [MMI_CLUSTER]: (body) => {
      const cluster = host.cluster?.();
      return cluster ? [code(MmiCode.OK), cluster.document()] : notImplemented(body);
    },
    [MmiService.DLQ_LIST]: (body) => {
      const limitText = body[0] === undefined ? '' : toString(body[0]);
      const limit = limitText === '' ? DEFAULT_PAGE : Number(limitText);
      if (!Number.isInteger(limit) || limit < 1) return [code(MmiCode.BAD_REQUEST), fromString(`limit must be a positive integer, got "${limitText}"`)];
      const afterText = body[1] === undefined ? '' : toString(body[1]);
      const after = afterText === '' ? undefined : parseRequestKey(afterText);
      if (afterText !== '' && after === undefined) return [code(MmiCode.BAD_REQUEST), fromString(`after must be a UUID, got "${afterText}"`)];
      const page = host.deadLetterPage(after, Math.min(limit, MAX_PAGE));
      const items = page.items.map(view);
      const doc: DeadLetterPage = { total: page.total, items, next: items.length === Math.min(limit, MAX_PAGE) && items.length > 0 ? items[items.length - 1]!.uuid : null };
      return [code(MmiCode.OK), fromString(JSON.stringify(doc))];
    },
    [MmiService.DLQ_REPLAY]: (body) => bulk((keys) => host.replayDeadLetters(keys), body, 'replayed'),
    [MmiService.DLQ_PURGE]: (body) => bulk((keys) => host.purgeDeadLetters(keys), body, 'purged'),
  };
}

/** The answer to an mmi.* service nobody implements: 8/MMI's 501. */
export function notImplemented(body: Uint8Array[]): Uint8Array[] {
  return replaceLast(body, MmiCode.NOT_IMPLEMENTED);
}

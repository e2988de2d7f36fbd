/**
 * The brokers a Client or Worker may use (issue 11, "clients and workers with several brokers"), in
 * failover order, with statistics per broker. Both roles use one broker at a time — the worker
 * registers with one, the client sends each attempt to one — and move to the next in the list (round
 * robin) when it fails: the worker when its broker stays silent for the heartbeat liveness, the client
 * when an attempt times out or the broker cannot be reached. No I/O here: the roles report what they
 * see and ask which broker is next.
 */
import { checkEndpoints } from './config.ts';
import { MdpErrorCode, mdpError } from './errors.ts';

/** What a Client or Worker knows about one of its brokers (a snapshot: `client.brokers`, `worker.brokers`). */
export interface BrokerStats {
  endpoint: string;
  /** The broker in use: the worker's registration, the client's next attempt. */
  current: boolean;
  /** A connection to it is up now (handshake done, not dropped since). */
  connected: boolean;
  /** Times it failed: a worker's conversation that went silent or was refused, a client's attempt that timed out or could not connect. */
  failures: number;
  /** Date.now() when a message last came from it; null before the first. */
  lastSeen: number | null;
  /** Why it last failed (silent, unreachable, timeout, connection-lost, refused); null before the first failure. */
  lastFailure: string | null;
  /** Times it became the current broker (the first one counts once at the start). */
  selected: number;
  /** Client: attempts sent to it; worker: requests it dispatched to this worker. */
  requests: number;
  /** Client: FINALs from it; worker: FINALs sent to it. */
  replies: number;
}

interface Entry {
  endpoint: string;
  connections: number;
  failures: number;
  lastSeen: number | null;
  lastFailure: string | null;
  selected: number;
  requests: number;
  replies: number;
}

/**
 * The broker list of a Client or Worker. `endpoint` is the constructor's first argument (a string, a
 * list, or undefined when the options name the brokers); `broker` and `brokers` are the options of the
 * same name (`broker` already checked by checkOptions). Exactly one of the three names the brokers;
 * none means the default from the config.
 */
export function resolveBrokers(what: string, endpoint: unknown, broker: readonly string[] | undefined, brokers: unknown, fallback: readonly string[]): string[] {
  const given = [endpoint !== undefined, broker !== undefined, brokers !== undefined].filter(Boolean).length;
  if (given > 1) {
    const issue = `${what} option brokers: name the brokers once (the endpoint argument, option broker or option brokers), not ${given} times`;
    throw mdpError(MdpErrorCode.CONFIG, `invalid ${what} options:\n  ${issue}`, { issues: [issue] });
  }
  let list: string[];
  if (typeof endpoint === 'string') list = [endpoint]; // as before: a single endpoint is passed to the socket as it is
  else if (endpoint !== undefined) {
    if (!Array.isArray(endpoint)) throw mdpError(MdpErrorCode.CONFIG, `${what} endpoint must be a string such as tcp://127.0.0.1:5555 or a list of them, got ${JSON.stringify(endpoint)}`, { issues: ['endpoint'] });
    list = checkEndpoints(what, 'endpoint', endpoint);
  } else if (broker !== undefined) list = [...broker];
  else if (brokers !== undefined) list = checkEndpoints(what, 'brokers', brokers);
  else list = [...fallback];
  const seen = new Set<string>();
  for (const ep of list) {
    if (seen.has(ep)) {
      const issue = `${what} option brokers: ${ep} is listed twice`;
      throw mdpError(MdpErrorCode.CONFIG, `invalid ${what} options:\n  ${issue}`, { issues: [issue] });
    }
    seen.add(ep);
  }
  return list;
}

export class BrokerPool {
  private readonly entries: Entry[];
  private index = 0;

  constructor(endpoints: readonly string[]) {
    this.entries = endpoints.map((endpoint) => ({ endpoint, connections: 0, failures: 0, lastSeen: null, lastFailure: null, selected: 0, requests: 0, replies: 0 }));
    this.entries[0]!.selected = 1;
  }

  get size(): number {
    return this.entries.length;
  }

  /** Index of the current broker. */
  get current(): number {
    return this.index;
  }

  endpoint(i: number = this.index): string {
    return this.entries[i]!.endpoint;
  }

  /** A message came from broker i. */
  seen(i: number): void {
    this.entries[i]!.lastSeen = Date.now();
  }

  /** A connection to broker i came up (+1) or went away (-1). */
  connection(i: number, delta: 1 | -1): void {
    const e = this.entries[i]!;
    e.connections = Math.max(0, e.connections + delta);
  }

  request(i: number): void {
    this.entries[i]!.requests++;
  }

  reply(i: number): void {
    this.entries[i]!.replies++;
  }

  /**
   * Broker i failed (`reason`). When it is the current one and there is another, the next one in the
   * list becomes current; returns its index then, otherwise undefined (another request already moved
   * on, or there is only one broker).
   */
  fail(i: number, reason: string): number | undefined {
    const e = this.entries[i]!;
    e.failures++;
    e.lastFailure = reason;
    if (i !== this.index || this.entries.length === 1) return undefined;
    this.index = (this.index + 1) % this.entries.length;
    this.entries[this.index]!.selected++;
    return this.index;
  }

  snapshot(): BrokerStats[] {
    return this.entries.map((e, i) => ({
      endpoint: e.endpoint,
      current: i === this.index,
      connected: e.connections > 0,
      failures: e.failures,
      lastSeen: e.lastSeen,
      lastFailure: e.lastFailure,
      selected: e.selected,
      requests: e.requests,
      replies: e.replies,
    }));
  }
}

/**
 * The broker's metrics in the Prometheus text exposition format (version 0.0.4), sans-I/O: a metrics
 * document in, text out. Broker-wide series are prefixed `purezmq_broker_`; per-service series carry
 * a `service` label; counters end in `_total`; latencies are a histogram in seconds, as Prometheus
 * conventions ask.
 */
import type { BrokerMetrics } from './metrics.ts';

type Labels = Record<string, string>;

const PREFIX = 'purezmq_broker_';

/** Label values escape backslash, double quote and newline (the format's only escapes). */
function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function labels(l: Labels | undefined): string {
  if (!l) return '';
  const parts = Object.entries(l).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

function num(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/** "heldReplies" -> "held_replies" */
function snake(k: string): string {
  return k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

class Writer {
  readonly lines: string[] = [];

  family(name: string, type: 'counter' | 'gauge' | 'histogram', help: string): void {
    this.lines.push(`# HELP ${PREFIX}${name} ${help}`, `# TYPE ${PREFIX}${name} ${type}`);
  }

  sample(name: string, value: number, l?: Labels): void {
    this.lines.push(`${PREFIX}${name}${labels(l)} ${num(value)}`);
  }

  one(name: string, type: 'counter' | 'gauge', help: string, value: number, l?: Labels): void {
    this.family(name, type, help);
    this.sample(name, value, l);
  }
}

export function prometheusText(m: BrokerMetrics): string {
  const w = new Writer();
  w.one('info', 'gauge', 'Broker version (value is always 1).', 1, { version: m.version });
  w.one('uptime_seconds', 'gauge', 'Seconds since the broker started.', m.uptimeMs / 1000);
  w.one('workers', 'gauge', 'Workers registered.', m.workers);
  w.one('connections', 'gauge', 'Peer connections open (clients and workers).', m.connections);

  // broker-wide counters, one family each (invalidByReason is a labelled family of its own)
  for (const [k, v] of Object.entries(m.counters)) {
    if (typeof v !== 'number') continue;
    w.one(`${snake(k)}_total`, 'counter', `Broker counter ${k}.`, v);
  }
  w.family('invalid_by_reason_total', 'counter', 'Messages refused by the codec, by reason.');
  for (const [reason, v] of Object.entries(m.counters.invalidByReason)) w.sample('invalid_by_reason_total', v, { reason });

  w.family('lifecycle_total', 'counter', 'Request lifecycle transitions, by kind of transition.');
  for (const [k, v] of Object.entries(m.lifecycle)) w.sample('lifecycle_total', v, { transition: snake(k) });
  w.family('requests', 'gauge', 'Requests held now, by where they are (bytes: memory they keep).');
  for (const [k, v] of Object.entries(m.requests)) if (k !== 'bytes') w.sample('requests', v, { state: snake(k) });
  w.one('requests_bytes', 'gauge', 'Bytes kept for requests (bounded by max_queued_bytes).', m.requests.bytes);

  w.family('titanic_answers_total', 'counter', 'Titanic answers, by status code.');
  for (const [code, v] of Object.entries(m.titanic.status)) w.sample('titanic_answers_total', v, { status: code });

  const st = m.store;
  const store = { store: st.kind };
  w.one('store_durable', 'gauge', 'Whether the request store survives a restart (1) or not (0).', st.durable ? 1 : 0, store);
  w.one('store_requests', 'gauge', 'Live requests in the store.', st.requests, store);
  w.one('store_bytes', 'gauge', 'Bytes the store takes (on disk for the journal).', st.bytes, store);
  w.one('store_live_bytes', 'gauge', 'Bytes the live requests take in the store.', st.liveBytes, store);
  w.one('store_max_bytes', 'gauge', 'The store budget (max_store_bytes).', st.maxBytes, store);
  w.one('store_appends_total', 'counter', 'Records appended to the store.', st.appends, store);
  w.one('store_refused_full_total', 'counter', 'New requests the store refused for its budget.', st.refusedFull, store);
  w.one('store_errors_total', 'counter', 'Failed store writes, syncs or compactions.', st.errors, store);
  w.one('store_compactions_total', 'counter', 'Store compactions.', st.compactions, store);
  if (st.syncs !== undefined) w.one('store_syncs_total', 'counter', 'Journal syncs (fsync/fdatasync).', st.syncs, store);

  if (m.access) {
    const a = m.access;
    w.one('access_policy_version', 'gauge', 'Version of the access policy in force (1 for the first loaded).', a.policy.version, { digest: a.policy.digest });
    w.one('access_policy_reloads_total', 'counter', 'Access policy versions loaded after the first.', a.reloads);
    w.one('access_policy_rejected_total', 'counter', 'New access policy versions refused (the old one kept).', a.rejected);
    w.family('access_decisions_total', 'counter', 'Access decisions, by action, outcome and service.');
    for (const [service, c] of Object.entries(a.services ?? {})) {
      w.sample('access_decisions_total', c.requestAllowed, { service, action: 'request', outcome: 'allowed' });
      w.sample('access_decisions_total', c.requestDenied, { service, action: 'request', outcome: 'denied' });
      w.sample('access_decisions_total', c.serveAllowed, { service, action: 'serve', outcome: 'allowed' });
      w.sample('access_decisions_total', c.serveDenied, { service, action: 'serve', outcome: 'denied' });
    }
  }

  if (m.cluster) {
    const c = m.cluster;
    const node = { node: c.node };
    w.one('cluster_forwarded_total', 'counter', 'Requests forwarded to other brokers (each dispatch).', c.forwarded, node);
    w.one('cluster_received_total', 'counter', 'Requests taken from other brokers.', c.receivedFromPeers, node);
    w.one('cluster_reforwarded_total', 'counter', 'Forwarded requests dispatched again after their broker died, restarted or its link was lost.', c.reforwarded, node);
    w.one('cluster_member_deaths_total', 'counter', 'Brokers this broker declared dead.', c.memberDeaths, node);
    w.one('cluster_refused_total', 'counter', 'Forwards other brokers turned away (no worker after all, budget).', c.refusedByPeers, node);
    w.one('cluster_invalid_total', 'counter', 'Malformed or unexpected cluster messages dropped.', c.invalid, node);
    w.one('cluster_messages_total', 'counter', 'Cluster messages sent.', c.messagesOut, { ...node, direction: 'out' });
    w.one('cluster_messages_in_total', 'counter', 'Cluster messages received.', c.messagesIn, node);
    w.family('cluster_members', 'gauge', 'Other brokers known, by state.');
    for (const [state, v] of Object.entries(c.members)) w.sample('cluster_members', v, { state });
  }

  w.family('dialect_messages_total', 'counter', 'Messages by dialect and direction.');
  for (const [d, x] of Object.entries(m.dialects)) {
    w.sample('dialect_messages_total', x.messagesIn, { dialect: d, direction: 'in' });
    w.sample('dialect_messages_total', x.messagesOut, { dialect: d, direction: 'out' });
  }

  // per service
  const services = Object.entries(m.services);
  const perService: [string, 'counter' | 'gauge', string, (s: (typeof services)[number][1]) => number][] = [
    ['service_requests_total', 'counter', 'Requests received for the service.', (s) => s.requests],
    ['service_replies_total', 'counter', 'FINALs relayed for the service.', (s) => s.replies],
    ['service_partials_total', 'counter', 'PARTIALs relayed for the service.', (s) => s.partials],
    ['service_requeued_total', 'counter', 'Requests run again after their worker was lost.', (s) => s.requeued],
    ['service_queue_depth', 'gauge', 'Requests waiting for a worker.', (s) => s.queueDepth],
  ];
  for (const [name, type, help, pick] of perService) {
    w.family(name, type, help);
    for (const [service, s] of services) w.sample(name, pick(s), { service });
  }
  w.family('service_workers', 'gauge', 'Workers of the service, idle or busy.');
  for (const [service, s] of services) {
    w.sample('service_workers', s.idleWorkers, { service, state: 'idle' });
    w.sample('service_workers', s.busyWorkers, { service, state: 'busy' });
  }
  w.family('service_drops_total', 'counter', 'Requests of the service dropped or dead-lettered, by reason.');
  for (const [service, s] of services) for (const [reason, v] of Object.entries(s.drops)) w.sample('service_drops_total', v, { service, reason });
  w.family('service_latency_seconds', 'histogram', 'Broker-side latency, request received to FINAL relayed.');
  for (const [service, s] of services) {
    const h = s.latencyHistogram;
    h.bucketsMs.forEach((le, i) => w.sample('service_latency_seconds_bucket', h.cumulative[i]!, { service, le: num(le / 1000) }));
    w.sample('service_latency_seconds_bucket', h.count, { service, le: '+Inf' });
    w.sample('service_latency_seconds_sum', h.sumMs / 1000, { service });
    w.sample('service_latency_seconds_count', h.count, { service });
  }
  return w.lines.join('\n') + '\n';
}

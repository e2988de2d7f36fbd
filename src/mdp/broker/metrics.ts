/** What mmi.broker reports: the types of the broker's metrics document. */
import type { ClusterCounters } from '../cluster/hook.ts';
import type { Dialect } from '../constants.ts';
import type { HistogramSnapshot, LatencySnapshot } from '../metrics.ts';
import type { StoreRecovery, StoreStats } from '../store/store.ts';
import type { AccessMetrics } from '../security/access.ts';
import type { LifecycleCounters } from './lifecycle.ts';
import type { ServiceDrops } from './registry.ts';

export type { ServiceDrops, LifecycleCounters };

export interface ServiceMetrics {
  workers: number;
  idleWorkers: number;
  busyWorkers: number;
  queueDepth: number;
  requests: number;
  replies: number;
  partials: number;
  requeued: number;
  drops: ServiceDrops;
  /** Broker-side latency (request received to FINAL relayed), ms. */
  latencyMs: LatencySnapshot;
  /** The same latencies, counted exactly in fixed buckets (for Prometheus). */
  latencyHistogram: HistogramSnapshot;
}

export interface BrokerCounters {
  messagesIn: number;
  requests: number;
  replies: number;
  partials: number;
  mmiRequests: number;
  /** Messages refused by the codec. */
  invalid: number;
  invalidByReason: Record<string, number>;
  /** Valid commands that were not acceptable in the sender's state (answered with DISCONNECT). */
  unexpected: number;
  disconnectsSent: number;
  workersRegistered: number;
  /** Workers that sent DISCONNECT. */
  workersDisconnected: number;
  /** Workers dropped for silence. */
  workersExpired: number;
  /** Workers whose connection was found gone. */
  workersLost: number;
  /** READY refused (mmi.* name, too many workers or services). */
  readyRefused: number;
  requeued: number;
  requestsExpired: number;
  /** Requests dropped: queue full, too many services, attempts exhausted, stream interrupted, shutting down. */
  requestsDropped: number;
  /** Messages that could not be delivered (peer gone or its queue full). */
  undeliverable: number;
  /** Connections closed by the socket layer for protocol errors or limits (oversized frames, …). */
  connectionErrors: number;
  /** Requests refused because max_queued_bytes was reached (also counted in requestsDropped or a Titanic 500). */
  bytesRefused: number;
  internalErrors: number;
  /** Messages in a dialect the broker does not accept (dropped without an answer). */
  dialectRefused: number;
  /** Times a peer was held back (not read for a while) for causing too many refusals (refusals_per_peer). */
  peersHeld: number;
}

/** Peers and messages of one dialect. */
export interface DialectMetrics {
  /** Whether the broker accepts this dialect (config.dialects). */
  accepted: boolean;
  /** Workers registered now. */
  workers: number;
  /** Distinct clients that sent a request in the last minute. */
  clients: number;
  /** Valid messages received. */
  messagesIn: number;
  /** Messages sent. */
  messagesOut: number;
  /** Client requests received (MMI included). */
  requests: number;
  /** PARTIALs sent to clients. */
  partials: number;
  /** FINALs (REPLYs) sent to clients. */
  replies: number;
  /** Workers that registered (READY accepted). */
  workersRegistered: number;
  /** Messages recognised as this dialect but malformed. */
  invalid: number;
  /** Messages refused because the dialect is not accepted. */
  refused: number;
}

export interface BrokerMetrics {
  version: string;
  protocols: string[];
  uptimeMs: number;
  endpoints: string[];
  heartbeat: { intervalMs: number; liveness: number };
  workers: number;
  /** Peer connections open now (clients and workers). */
  connections: number;
  counters: BrokerCounters;
  services: Record<string, ServiceMetrics>;
  /** Dialects accepted, in canonical order. */
  acceptedDialects: Dialect[];
  /** Peers and messages per dialect (every dialect, accepted or not). */
  dialects: Record<Dialect, DialectMetrics>;
  /** Transitions of requests since start. */
  lifecycle: LifecycleCounters;
  /** Requests held now, by where they are. */
  requests: RequestGauges;
  titanic: TitanicCounters;
  store: StoreStats & { recovery: RecoverySummary | undefined };
  /** In mmi.broker's default (summary) answer, in place of the per-service detail. */
  servicesSummary?: { count: number; withWorkers: number; busiest: { service: string; queueDepth: number; workers: number }[] };
  /** Access decisions and the policy in force (only with an access policy; src/mdp/security/). */
  access?: AccessMetrics;
  /** Only in a cluster (src/mdp/cluster/): this node, its members by state, and the forwarding counters. */
  cluster?: ClusterMetrics;
}

export interface ClusterMetrics extends ClusterCounters {
  node: string;
  endpoint: string;
  strategy: string;
  /** Other members by state (alive, suspect, dead, left). */
  members: Record<string, number>;
}

/** A page of per-service metrics (mmi.broker services [LIMIT] [AFTER] [PREFIX]). */
export type { ClusterCounters };

export interface ServicePage {
  /** Services known. */
  total: number;
  services: Record<string, ServiceMetrics>;
  /** Pass as AFTER for the next page; null at the end. */
  next: string | null;
}

/** Requests held now, by where they are in their life. */
export interface RequestGauges {
  /** Waiting for the store before they are queued. */
  journalling: number;
  queued: number;
  inFlight: number;
  /** Waiting out a retry backoff. */
  retryWaiting: number;
  /** Plain replies kept for a client that is not connected. */
  heldReplies: number;
  /** Titanic requests not answered yet, and answered ones kept until titanic.close. */
  titanicPending: number;
  titanicReplies: number;
  deadLetters: number;
  /** Bytes held in memory for requests (bodies, replies kept, dead letters): bounded by max_queued_bytes. */
  bytes: number;
}

export interface TitanicCounters {
  requests: number;
  replyQueries: number;
  closes: number;
  /** Answers by status code (200, 300, 400, 500). */
  status: Record<string, number>;
}

/** What the last start recovered from the store. */
export interface RecoverySummary {
  requests: number;
  queued: number;
  heldReplies: number;
  titanicReplies: number;
  deadLetters: number;
  records: number;
  files: number;
  bytes: number;
  durationMs: number;
  truncated: StoreRecovery['truncated'];
  quarantined: StoreRecovery['quarantined'];
}


/**
 * Majordomo configuration: one schema, four layers, later wins:
 *   embedded defaults < YAML file < PUREZMQ_* environment variables < command-line flags.
 * Validation collects one clear message per bad field and throws a single MdpError(MDP_CONFIG)
 * whose `issues` lists them all. No I/O here: the caller reads the file and passes the text.
 */
import { parse as parseYaml } from 'yaml';
import { Defaults, DIALECTS, MdpVersion, type Dialect } from './constants.ts';
import { FsyncPolicy } from './store/store.ts';
import { expandDialects } from './dialects/index.ts';
import { MdpErrorCode, mdpError } from './errors.ts';
import { compilePolicy } from './security/policy.ts';

export const LogLevel = { SILENT: 'silent', ERROR: 'error', WARN: 'warn', INFO: 'info', DEBUG: 'debug' } as const;
export type LogLevel = (typeof LogLevel)[keyof typeof LogLevel];
export const LogFormat = { HUMAN: 'human', JSON: 'json' } as const;
export type LogFormat = (typeof LogFormat)[keyof typeof LogFormat];

export interface BrokerConfig {
  /** Endpoints the broker binds. */
  bind: string[];
  /**
   * Majordomo dialects the broker accepts (default: all). Messages in another dialect are recognised,
   * refused without an answer, logged and counted. `rfc` (= rfc18, rfc7) is the strict mode.
   */
  dialects: Dialect[];
  /** ms between HEARTBEATs to each worker. */
  heartbeatInterval: number;
  /** A worker silent for liveness × interval is dead. */
  heartbeatLiveness: number;
  /** ms a busy worker may stay silent (Guide workers don't heartbeat while busy); 0 = never by time. */
  busyWorkerTimeout: number;
  /** ms a plain request waits in a queue for a worker before it expires (to the dead letters); 0 = forever. */
  requestTimeout: number;
  /** ms a request (plain or Titanic) may live without a FINAL before it expires; 0 = forever. */
  requestTtl: number;
  /** Queued requests per service; more are dropped. */
  maxQueuedRequests: number;
  /** Bytes the broker keeps for requests (queued, in flight, replies kept, dead letters); past it new requests are refused. */
  maxQueuedBytes: number;
  /** Services known at once (with workers or queued requests). */
  maxServices: number;
  /**
   * Refused messages per second one peer may cause (requests past a limit, denied, invalid, in a
   * refused dialect; one per started 4 KiB of a larger message), with a burst of as many; beyond, the
   * broker stops reading that peer for a while (0.1 s, doubling up to 5 s while it goes on). 0 = never.
   */
  refusalsPerPeer: number;
  /** Workers registered at once. */
  maxWorkers: number;
  /** Dispatches after the first one when a worker dies with a request or hands it back; then dead-lettered. */
  maxRetries: number;
  /** ms before the first retry; doubles each time, with jitter. */
  retryBackoff: number;
  /** Upper bound of the retry delay, ms. */
  retryBackoffMax: number;
  /** Dead letters kept; beyond, the oldest is dropped (counted). */
  maxDeadLetters: number;
  /** ms a reply is kept for a client (with a routing id of its own) that is not connected. */
  replyTtl: number;
  /** Replies kept at once for clients that are not connected. */
  maxHeldReplies: number;
  /** Directory of the request journal; null keeps requests in memory (nothing survives a restart). */
  dataDir: string | null;
  /** When the journal calls fsync: always, batch (group commit) or never (survives kill -9, not power loss). */
  fsync: FsyncPolicy;
  /** batch: ms the journal may wait after a record to gather more into one sync (0 = only while a sync runs). */
  fsyncDelay: number;
  /** Journal segment size, bytes. */
  segmentBytes: number;
  /** Budget of the request store, bytes; past it new requests are refused. */
  maxStoreBytes: number;
  /** `nats://host:port[,host:port…]`: requests in NATS JetStream, shared by every broker that names it (not with dataDir). */
  store: string | null;
  /** Replicas of the JetStream streams and bucket (3 on a 3-node NATS cluster). */
  storeReplicas: number;
  /** JetStream stream name (subjects NAME.req.*, NAME.node.*; the node journals are in NAME_NODES). */
  storeStream: string;
  /** JetStream key-value bucket of Titanic statuses and replies. */
  storeBucket: string;
  /** ms before a request taken by a broker that was lost goes to another broker (JetStream AckWait). */
  storeAckWait: number;
  /** This broker's name among several (a cluster, a shared store); null = the host name. */
  nodeId: string | null;
  /** HOST:PORT of the HTTP endpoint (/metrics, /healthz, /readyz, /v1/broker); null = off. */
  http: string | null;
  /** Largest frame accepted, bytes (socket maxMessageSize). */
  maxFrameSize: number;
  /** Most frames in one message (socket maxMessageFrames). */
  maxFrames: number;
  /** Largest message, all frames together, bytes (socket maxMessageBytes): checked as the frames arrive, the sender is cut off. */
  maxMessageBytes: number;
  /** Largest merged reply for an MDP/0.1 client served by a streaming 0.2 worker, bytes. */
  maxReplyBytes: number;
  /** Messages queued per peer for sending. */
  sendHighWaterMark: number;
  /** Messages queued per peer for receiving. */
  receiveHighWaterMark: number;
  /** Bytes queued per peer for receiving (socket maxReceiveQueueBytes): past it the peer is not read until the broker catches up. */
  maxReceiveQueueBytes: number;
  /** ms to let in-flight requests finish on shutdown. */
  shutdownGrace: number;
  /** Latency samples kept per service for percentiles. */
  latencySamples: number;
  // ---- security (YAML: broker.security; src/mdp/security/) ----
  /** The broker's secret certificate (czmq format): CURVE on every endpoint. null: no CURVE. */
  curveCert: string | null;
  /** CURVE clients admitted: a directory of their certificates (re-read when it changes), or `any`. */
  curveClients: string | null;
  /** PLAIN passwords file (`user=password` lines): PLAIN on every endpoint. Not with CURVE. */
  plainPasswords: string | null;
  /** Client addresses admitted (IP or CIDR); when non-empty, only these. */
  allow: string[];
  /** Client addresses refused (IP or CIDR), checked first. */
  deny: string[];
  /** ZAP domain of the broker's socket. */
  zapDomain: string;
  /** Access policy file (YAML), re-read when it changes; wins over `access`. */
  accessPolicy: string | null;
  /** ms between looks at the policy file and the certificate directory for changes; 0 = only on SIGHUP. */
  reloadInterval: number;
  /** Access policy inline (YAML broker.access; src/mdp/security/policy.ts has the format). */
  access: unknown;
  // ---- cluster (YAML: broker.cluster; src/mdp/cluster/, README "Cluster") ----
  /** Where this broker listens for other brokers; null: not in a cluster. */
  clusterBind: string | null;
  /** Cluster endpoints of brokers already in the cluster (any one is enough). */
  peer: string[];
  /** Which member gets a request no local worker can take now. */
  clusterStrategy: 'least-load' | 'round-robin' | 'local-first';
  /** ms between heartbeats to other brokers. */
  clusterHeartbeat: number;
  /** A member silent this long is dead: a count of heartbeats ("3") or a duration ("1500ms"). */
  clusterLiveness: string;
  /** local-first: how long a request waits for a local worker before it is forwarded, ms. */
  clusterLocalWait: number;
  /** This broker's secret certificate for the cluster links (CURVE); null: no CURVE between brokers. */
  clusterCurveSecretKeyFile: string | null;
  /** Public keys of the brokers admitted to the cluster links, one per line: `KEY [CLUSTER-ENDPOINT]`. */
  clusterCurvePeerKeys: string | null;
}

/** A dialect, or `auto`: the RFC of `version` (rfc7 for 0.1, rfc18 for 0.2). */
export type DialectChoice = Dialect | 'auto';

export interface ClientConfig {
  /** Broker endpoints in failover order (one at a time; the next after a timeout or when unreachable). */
  broker: string[];
  version: MdpVersion;
  /** Dialect spoken; a dialect name wins over `version`. */
  dialect: DialectChoice;
  /** ms to wait for each reply (each PARTIAL resets it). */
  timeout: number;
  /** Attempts after the first one. */
  retries: number;
  /** ms before the first retry; doubles each time. */
  retryBackoff: number;
  /** Upper bound of the retry delay, ms. */
  retryBackoffMax: number;
  /** Requests in flight at once (one DEALER each). */
  maxInFlight: number;
  /** Own secret certificate for CURVE (czmq format); null: a throwaway key pair when curveServerKey is set. */
  curveCert: string | null;
  /** The broker's public key (Z85) or its public certificate file: CURVE on. */
  curveServerKey: string | null;
}

export interface WorkerConfig {
  /** Broker endpoints in failover order (registered with one at a time; the next when it goes silent). */
  broker: string[];
  version: MdpVersion;
  /** Dialect spoken; a dialect name wins over `version`. */
  dialect: DialectChoice;
  heartbeatInterval: number;
  heartbeatLiveness: number;
  /** ms before reconnecting after the broker was lost. */
  reconnectInterval: number;
  /** Own secret certificate for CURVE (czmq format). */
  curveCert: string | null;
  /** The broker's public key (Z85) or its public certificate file: CURVE on. */
  curveServerKey: string | null;
}

export interface LogConfig {
  level: LogLevel;
  format: LogFormat;
}

export interface MdpConfig {
  broker: BrokerConfig;
  client: ClientConfig;
  worker: WorkerConfig;
  log: LogConfig;
}

type FieldType = 'duration' | 'int' | 'bytes' | 'path' | 'address' | 'file' | 'text' | 'endpoint' | 'endpoints' | 'enum' | 'dialects' | 'addresses' | 'policy' | 'liveness' | 'name';

interface Field {
  type: FieldType;
  min?: number;
  max?: number;
  values?: readonly string[];
  help: string;
  /** A sub-mapping of its section in YAML (broker.security.curve_cert); env and flags stay flat. */
  group?: 'security' | 'cluster';
  /** endpoint: null (or '') means off; endpoints: the list may be empty. */
  optional?: boolean;
  /** Only in YAML (a whole policy does not fit an environment variable or a flag). */
  yamlOnly?: boolean;
}

const KIB = 1024;
const MIB = 1024 * KIB;
const GIB = 1024 * MIB;
const DEFAULT_ENDPOINT = 'tcp://127.0.0.1:5555';

export const DEFAULT_CONFIG: MdpConfig = {
  broker: {
    bind: [DEFAULT_ENDPOINT],
    dialects: [...DIALECTS],
    heartbeatInterval: Defaults.HEARTBEAT_INTERVAL,
    heartbeatLiveness: Defaults.HEARTBEAT_LIVENESS,
    busyWorkerTimeout: 60_000,
    requestTimeout: 30_000,
    requestTtl: 86_400_000,
    maxQueuedRequests: 1000,
    maxQueuedBytes: 256 * MIB,
    maxServices: 10_000,
    refusalsPerPeer: 1000,
    maxWorkers: 10_000,
    maxRetries: 2,
    retryBackoff: 100,
    retryBackoffMax: 10_000,
    maxDeadLetters: 10_000,
    replyTtl: 60_000,
    maxHeldReplies: 10_000,
    dataDir: null,
    fsync: FsyncPolicy.BATCH,
    fsyncDelay: 0,
    segmentBytes: 64 * MIB,
    maxStoreBytes: GIB,
    store: null,
    storeReplicas: 1,
    storeStream: 'PUREZMQ',
    storeBucket: 'purezmq',
    storeAckWait: 30_000,
    nodeId: null,
    http: null,
    maxFrameSize: 16 * MIB,
    maxFrames: 1024,
    maxMessageBytes: 64 * MIB,
    maxReplyBytes: 64 * MIB,
    sendHighWaterMark: 1000,
    receiveHighWaterMark: 1000,
    maxReceiveQueueBytes: 16 * MIB,
    shutdownGrace: 2000,
    latencySamples: 1024,
    curveCert: null,
    curveClients: null,
    plainPasswords: null,
    allow: [],
    deny: [],
    zapDomain: 'global',
    accessPolicy: null,
    reloadInterval: 1000,
    access: null,
    clusterBind: null,
    peer: [],
    clusterStrategy: 'least-load',
    clusterHeartbeat: 1000,
    clusterLiveness: '3',
    clusterLocalWait: 50,
    clusterCurveSecretKeyFile: null,
    clusterCurvePeerKeys: null,
  },
  client: {
    broker: [DEFAULT_ENDPOINT],
    version: MdpVersion.V02,
    dialect: 'auto',
    // the Guide's 2.5 s (Defaults.CLIENT_TIMEOUT) is shorter than many real jobs: a retry then runs
    // the job again while the first run goes on (at-least-once); 30 s fits what a command usually takes
    timeout: 30_000,
    retries: Defaults.CLIENT_RETRIES,
    retryBackoff: 100,
    retryBackoffMax: 5000,
    maxInFlight: 64,
    curveCert: null,
    curveServerKey: null,
  },
  worker: {
    broker: [DEFAULT_ENDPOINT],
    version: MdpVersion.V02,
    dialect: 'auto',
    heartbeatInterval: Defaults.HEARTBEAT_INTERVAL,
    heartbeatLiveness: Defaults.HEARTBEAT_LIVENESS,
    reconnectInterval: Defaults.RECONNECT_INTERVAL,
    curveCert: null,
    curveServerKey: null,
  },
  log: { level: LogLevel.INFO, format: LogFormat.HUMAN },
};

const VERSIONS = [MdpVersion.V01, MdpVersion.V02] as const;
const DIALECT_CHOICES = ['auto', ...DIALECTS] as const;
const DAY = 86_400_000;

/** What a client and a worker both configure: where the broker is and how to speak to it. */
const PEER_FIELDS = {
    broker: { type: 'endpoints', help: 'broker endpoint; repeatable (or comma-separated): several brokers, one at a time in this order (failover)' },
    version: { type: 'enum', values: VERSIONS, help: 'MDP version spoken (0.1 or 0.2)' },
    dialect: { type: 'enum', values: DIALECT_CHOICES, help: `dialect spoken: auto (the RFC of the version), ${DIALECTS.join(', ')}` },
} satisfies Record<'broker' | 'version' | 'dialect', Field>;

/** CURVE toward the broker, for clients and workers. */
const PEER_CURVE_FIELDS = {
    curveCert: { type: 'file', help: 'own secret certificate (czmq format, from purezmq keygen) for CURVE' },
    curveServerKey: { type: 'text', help: "the broker's public key (Z85) or its public certificate file: turns CURVE on" },
} satisfies Record<'curveCert' | 'curveServerKey', Field>;

/** The schema: every configurable field, its type, bounds and one line of help. */
export const SCHEMA: { [S in keyof MdpConfig]: { [K in keyof MdpConfig[S]]: Field } } = {
  broker: {
    bind: { type: 'endpoints', help: 'endpoints to bind (tcp://host:port, ipc://path); repeatable' },
    dialects: { type: 'dialects', help: `dialects accepted: ${DIALECTS.join(', ')}, all or rfc (strict); comma-separated or repeated` },
    heartbeatInterval: { type: 'duration', min: 10, max: DAY, help: 'interval between heartbeats to workers' },
    heartbeatLiveness: { type: 'int', min: 1, max: 100, help: 'missed heartbeats before a worker is dead' },
    busyWorkerTimeout: { type: 'duration', min: 0, max: DAY, help: 'silence allowed to a busy worker (0 = no limit)' },
    requestTimeout: { type: 'duration', min: 0, max: DAY, help: 'how long a plain request waits in a queue for a worker, then dead-lettered (0 = forever)' },
    requestTtl: { type: 'duration', min: 0, max: 365 * DAY, help: 'how long any request (Titanic too) may live without a reply, then dead-lettered (0 = forever)' },
    maxQueuedRequests: { type: 'int', min: 1, max: 10_000_000, help: 'queued requests per service' },
    maxQueuedBytes: { type: 'bytes', min: 64 * KIB, max: 2 ** 50, help: 'bytes kept for requests (queued, in flight, replies, dead letters); new requests are refused beyond' },
    maxServices: { type: 'int', min: 1, max: 10_000_000, help: 'services known at once' },
    refusalsPerPeer: { type: 'int', min: 0, max: 100_000_000, help: 'refused messages per second one peer may cause (one per started 4 KiB of larger ones); beyond, the broker stops reading it for 0.1 s, doubling up to 5 s (0 = never)' },
    maxWorkers: { type: 'int', min: 1, max: 10_000_000, help: 'workers registered at once' },
    maxRetries: { type: 'int', min: 0, max: 100, help: 'dispatches after the first when workers die with a request or hand it back, then dead-lettered' },
    retryBackoff: { type: 'duration', min: 0, max: DAY, help: 'delay before the first retry (doubles, with jitter)' },
    retryBackoffMax: { type: 'duration', min: 0, max: DAY, help: 'largest delay between retries' },
    maxDeadLetters: { type: 'int', min: 0, max: 10_000_000, help: 'dead letters kept (the oldest is dropped beyond)' },
    replyTtl: { type: 'duration', min: 0, max: DAY, help: 'how long a reply waits for a client that is not connected (clients with their own routing id)' },
    maxHeldReplies: { type: 'int', min: 0, max: 10_000_000, help: 'replies kept at once for clients that are not connected' },
    dataDir: { type: 'path', help: 'directory of the request journal: accepted requests survive kill -9 (default: in memory)' },
    fsync: { type: 'enum', values: Object.values(FsyncPolicy), help: 'journal fsync: always, batch (group commit) or never (survives kill -9, not power loss)' },
    fsyncDelay: { type: 'duration', min: 0, max: 1000, help: 'batch: longest wait after a record to gather more into one sync' },
    segmentBytes: { type: 'bytes', min: 4 * KIB, max: 4 * GIB, help: 'journal segment size (64MiB, 1GiB, …)' },
    maxStoreBytes: { type: 'bytes', min: 64 * KIB, max: 2 ** 50, help: 'request store budget; new requests are refused beyond' },
    store: { type: 'text', help: 'nats://[user:password@]host:port[,host:port…]: requests in NATS JetStream, shared and replicated (not with --data-dir)' },
    storeReplicas: { type: 'int', min: 1, max: 5, help: 'replicas of the JetStream stream and bucket (3 on a 3-node NATS cluster)' },
    storeStream: { type: 'text', help: 'JetStream stream name (letters, digits, - and _)' },
    storeBucket: { type: 'text', help: 'JetStream key-value bucket for Titanic statuses and replies' },
    storeAckWait: { type: 'duration', min: 1000, max: DAY, help: 'how long a request taken by a lost broker waits before another broker takes it' },
    nodeId: { type: 'text', help: "this broker's name among several brokers (cluster, shared store); default: the host name" },
    http: { type: 'address', help: 'HOST:PORT for /metrics (Prometheus), /healthz, /readyz and /v1/broker (default: off)' },
    maxFrameSize: { type: 'bytes', min: 64, max: 2 ** 31, help: 'largest frame accepted, bytes' },
    maxFrames: { type: 'int', min: 6, max: 1_000_000, help: 'most frames in one message' },
    maxMessageBytes: { type: 'bytes', min: 64, max: 2 ** 50, help: 'largest message, all frames together; the connection that sends a larger one is closed' },
    maxReplyBytes: { type: 'bytes', min: 1, max: 2 ** 31, help: 'largest merged reply for an MDP/0.1 client or Titanic, bytes' },
    sendHighWaterMark: { type: 'int', min: 1, max: 10_000_000, help: 'messages queued per peer for sending' },
    receiveHighWaterMark: { type: 'int', min: 1, max: 10_000_000, help: 'messages queued per peer for receiving' },
    maxReceiveQueueBytes: { type: 'bytes', min: 0, max: 2 ** 50, help: 'bytes queued per peer for receiving; past it the peer is not read until the broker catches up (one larger message still passes, alone)' },
    shutdownGrace: { type: 'duration', min: 0, max: DAY, help: 'time for in-flight requests on shutdown' },
    latencySamples: { type: 'int', min: 16, max: 1_000_000, help: 'latency samples kept per service' },
    curveCert: { type: 'file', group: 'security', help: "the broker's secret certificate (czmq format): CURVE on every endpoint" },
    curveClients: { type: 'text', group: 'security', help: 'CURVE clients admitted: a directory of their certificates (re-read when it changes), or any' },
    plainPasswords: { type: 'file', group: 'security', help: 'PLAIN passwords file (user=password lines): PLAIN on every endpoint (not with CURVE)' },
    allow: { type: 'addresses', group: 'security', help: 'client addresses admitted (IP or CIDR; only these when set); repeatable' },
    deny: { type: 'addresses', group: 'security', help: 'client addresses refused (IP or CIDR), checked first; repeatable' },
    zapDomain: { type: 'text', group: 'security', help: "ZAP domain of the broker's socket" },
    accessPolicy: { type: 'file', group: 'security', help: 'access policy file (YAML), re-read when it changes' },
    reloadInterval: { type: 'duration', min: 0, max: DAY, group: 'security', help: 'how often to look for changes of the policy file and the certificate directory (0: only on SIGHUP)' },
    access: { type: 'policy', yamlOnly: true, help: 'access policy inline (default, mmi, admin, titanic, peers, rules)' },
    clusterBind: { type: 'endpoint', optional: true, group: 'cluster', help: 'where this broker listens for other brokers (tcp://HOST:PORT): joins a cluster' },
    peer: { type: 'endpoints', optional: true, group: 'cluster', help: 'cluster endpoint of a broker already in the cluster; repeatable (one is enough)' },
    clusterStrategy: { type: 'enum', values: ['least-load', 'round-robin', 'local-first'], group: 'cluster', help: 'which member serves what no local worker can take now: least-load, round-robin or local-first' },
    clusterHeartbeat: { type: 'duration', min: 10, max: 60_000, group: 'cluster', help: 'interval between heartbeats to other brokers' },
    clusterLiveness: { type: 'liveness', group: 'cluster', help: 'silence after which a broker is dead: heartbeats (3) or a duration (1500ms)' },
    clusterLocalWait: { type: 'duration', min: 0, max: 60_000, group: 'cluster', help: 'local-first: how long a request waits for a local worker before it is forwarded' },
    clusterCurveSecretKeyFile: { type: 'file', group: 'cluster', help: "this broker's secret certificate for the cluster links (purezmq keygen): CURVE between brokers" },
    clusterCurvePeerKeys: { type: 'file', group: 'cluster', help: 'public keys of the brokers admitted to the cluster links, one per line: KEY [CLUSTER-ENDPOINT]' },
  },
  client: {
    ...PEER_FIELDS,
    timeout: { type: 'duration', min: 1, max: DAY, help: 'time to wait for each reply' },
    retries: { type: 'int', min: 0, max: 1000, help: 'attempts after the first one' },
    retryBackoff: { type: 'duration', min: 0, max: DAY, help: 'delay before the first retry (doubles)' },
    retryBackoffMax: { type: 'duration', min: 0, max: DAY, help: 'largest delay between retries' },
    maxInFlight: { type: 'int', min: 1, max: 100_000, help: 'requests in flight at once' },
    ...PEER_CURVE_FIELDS,
  },
  worker: {
    ...PEER_FIELDS,
    heartbeatInterval: { type: 'duration', min: 10, max: DAY, help: 'interval between heartbeats to the broker' },
    heartbeatLiveness: { type: 'int', min: 1, max: 100, help: 'missed heartbeats before the broker is dead' },
    reconnectInterval: { type: 'duration', min: 0, max: DAY, help: 'delay before reconnecting' },
    ...PEER_CURVE_FIELDS,
  },
  log: {
    level: { type: 'enum', values: Object.values(LogLevel), help: 'silent, error, warn, info or debug' },
    format: { type: 'enum', values: Object.values(LogFormat), help: 'human or json' },
  },
};

/** Sub-mappings of a section in YAML (see Field.group). */
const GROUPS: Record<string, true> = { security: true, cluster: true };

export type Section = keyof MdpConfig;

/** The fields a command line or the environment can set (not the YAML-only ones such as broker.access). */
export function flatFields(section: Section): string[] {
  return Object.entries(SCHEMA[section] as Record<string, Field>)
    .filter(([, f]) => !f.yamlOnly)
    .map(([k]) => k);
}

/** A section's values as YAML has them: grouped fields under their group (broker.security). */
export function groupedValues(section: Section, values: Record<string, unknown>): Record<string, unknown> {
  const fields = SCHEMA[section] as Record<string, Field>;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(values)) {
    const group = fields[k]?.group;
    if (group) ((out[group] ??= {}) as Record<string, unknown>)[k] = v;
    else out[k] = v;
  }
  return out;
}
export const SECTIONS = Object.keys(SCHEMA) as Section[];

/** heartbeatInterval -> heartbeat_interval */
export function snakeName(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}
/** heartbeatInterval -> heartbeat-interval */
export function flagName(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}
/** Command-line flag of a field: `--heartbeat-interval`, `--log-level`; `version` is `--mdp-version`. */
export function cliFlag(section: string, key: string): string {
  if (section === 'log') return `log-${flagName(key)}`;
  return key === 'version' ? 'mdp-version' : flagName(key);
}
/** broker, heartbeatInterval -> PUREZMQ_BROKER_HEARTBEAT_INTERVAL */
export function envName(section: string, key: string): string {
  return `PUREZMQ_${section.toUpperCase()}_${snakeName(key).toUpperCase()}`;
}

function camelName(name: string): string {
  return name.replace(/[_-]([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** Raw values for one layer: { broker: { heartbeatInterval: '2s' } }. Flags use this shape too. */
export type RawLayer = Partial<Record<string, Record<string, unknown>>>;

export interface ConfigSources {
  /** YAML text of the config file. */
  yaml?: string;
  /** Where the YAML came from, for messages. */
  yamlPath?: string;
  /** Environment (only PUREZMQ_* variables are read). */
  env?: Record<string, string | undefined>;
  /** Command-line values, by section and camelCase key. */
  flags?: RawLayer;
}

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/;
const UNIT: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const BYTES = /^(\d+(?:\.\d+)?)\s*(b|kib|mib|gib|tib|kb|mb|gb|tb)?$/i;
const BYTE_UNIT: Record<string, number> = { b: 1, kib: KIB, mib: MIB, gib: GIB, tib: 1024 * GIB, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12 };
const ENDPOINT = /^(tcp:\/\/[^\s]+:(\d+|\*)|ipc:\/\/[^\s]+|inproc:\/\/[^\s]+)$/;

/** An endpoint the sockets accept: tcp with a real port (or *), ipc, inproc. */
function validEndpoint(raw: unknown): raw is string {
  if (typeof raw !== 'string') return false;
  const m = ENDPOINT.exec(raw);
  if (!m) return false;
  return m[2] === undefined || m[2] === '*' || (Number(m[2]) >= 1 && Number(m[2]) <= 65535);
}

function show(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : Array.isArray(v) ? JSON.stringify(v) : String(v);
}

/** Converts and checks one value; returns the value or an error message (without the field name). */
function convert(field: Field, raw: unknown): { value: unknown } | { error: string } {
  switch (field.type) {
    case 'duration':
    case 'bytes':
    case 'int': {
      let n: number;
      if (typeof raw === 'number') n = raw;
      else if (typeof raw === 'string') {
        const s = raw.trim();
        if (field.type === 'duration') {
          const m = DURATION.exec(s);
          n = m ? Number(m[1]) * UNIT[m[2] ?? 'ms']! : NaN;
        } else if (field.type === 'bytes') {
          const m = BYTES.exec(s);
          n = m ? Number(m[1]) * BYTE_UNIT[(m[2] ?? 'b').toLowerCase()]! : NaN;
        } else {
          n = /^-?\d+$/.test(s) ? Number(s) : NaN;
        }
      } else n = NaN;
      const what = {
        duration: 'a duration such as 2500, "2500ms", "2.5s", "1m" or "1d"',
        bytes: 'a size such as 65536, "64KiB", "16MiB" or "1GiB"',
        int: 'an integer',
      }[field.type];
      if (!Number.isFinite(n) || (field.type === 'int' && !Number.isInteger(n))) return { error: `must be ${what}, got ${show(raw)}` };
      n = Math.round(n);
      const unit = field.type === 'duration' ? ' ms' : field.type === 'bytes' ? ' bytes' : '';
      if (field.min !== undefined && n < field.min) return { error: `must be at least ${field.min}${unit}, got ${show(raw)}` };
      if (field.max !== undefined && n > field.max) return { error: `must be at most ${field.max}${unit}, got ${show(raw)}` };
      return { value: n };
    }
    case 'address': {
      if (raw === null || raw === '') return { value: null };
      const m = typeof raw === 'string' ? /^(?:\[[^\]]+\]|[^:[\]\s]+):(\d{1,5})$/.exec(raw.trim()) : null;
      if (!m || Number(m[1]) > 65535) return { error: `must be HOST:PORT such as 127.0.0.1:9555 (port 0-65535), got ${show(raw)}` };
      return { value: (raw as string).trim() };
    }
    case 'path': {
      if (raw === null || raw === '') return { value: null };
      if (typeof raw !== 'string' || raw.trim() === '') return { error: `must be a directory path, got ${show(raw)}` };
      return { value: raw };
    }
    case 'file':
    case 'text': {
      if (raw === null || raw === '') return { value: null };
      if (typeof raw !== 'string' || raw.trim() === '') return { error: `must be ${field.type === 'file' ? 'a file path' : 'a string'}, got ${show(raw)}` };
      return { value: raw };
    }
    case 'addresses': {
      const list = typeof raw === 'string' ? raw.split(',').map((s) => s.trim()).filter((s) => s !== '') : raw === null ? [] : raw;
      if (!Array.isArray(list)) return { error: `must be a list of addresses or CIDR ranges, got ${show(raw)}` };
      for (const a of list) {
        if (typeof a !== 'string' || !isAddressOrRange(a)) return { error: `must be IP addresses or CIDR ranges such as 10.0.0.0/8 or fd00::/8, got ${show(a)}` };
      }
      return { value: [...(list as string[])] };
    }
    case 'policy': {
      if (raw === null) return { value: null };
      const r = compilePolicy(raw, 'access');
      // one message for the field; each problem of the policy on its own line
      return 'issues' in r ? { error: `not a valid access policy:\n    ${r.issues.join('\n    ')}` } : { value: raw };
    }
    case 'enum': {
      const s = typeof raw === 'number' ? String(raw) : raw;
      if (typeof s !== 'string' || !field.values!.includes(s)) return { error: `must be one of ${field.values!.join(', ')}, got ${show(raw)}` };
      return { value: s };
    }
    case 'endpoint': {
      if (field.optional && (raw === null || raw === '')) return { value: null };
      if (!validEndpoint(raw)) return { error: `must be an endpoint such as tcp://127.0.0.1:5555 (port 1-65535 or *), got ${show(raw)}` };
      return { value: raw };
    }
    case 'endpoints': {
      const list = typeof raw === 'string' ? raw.split(',').map((s) => s.trim()).filter((s) => s !== '') : raw === null && field.optional ? [] : raw;
      if (!Array.isArray(list) || (list.length === 0 && !field.optional)) return { error: `must be a list of endpoints, got ${show(raw)}` };
      for (const ep of list) {
        if (!validEndpoint(ep)) return { error: `must be endpoints such as tcp://127.0.0.1:5555 (port 1-65535 or *), got ${show(ep)}` };
      }
      return { value: [...(list as string[])] };
    }
    case 'liveness': {
      // a bare integer counts heartbeats; with a unit it is a duration
      const t = typeof raw === 'number' ? String(raw) : typeof raw === 'string' ? raw.trim() : '';
      if (/^\d+$/.test(t)) {
        const n = Number(t);
        if (n < 1 || n > 100) return { error: `must be 1 to 100 heartbeats, or a duration such as "1500ms", got ${show(raw)}` };
        return { value: t };
      }
      const m = DURATION.exec(t);
      const ms = m && m[2] !== undefined ? Number(m[1]) * UNIT[m[2]]! : NaN;
      if (!Number.isFinite(ms) || ms < 10 || ms > DAY) return { error: `must be a count of heartbeats (3) or a duration from 10ms to 1d (1500ms, 5s), got ${show(raw)}` };
      return { value: t };
    }
    case 'name': {
      if (raw === null || raw === '') return { value: null };
      if (typeof raw !== 'string' || !/^[A-Za-z0-9._:@-]{1,64}$/.test(raw)) return { error: `must be 1 to 64 letters, digits or . _ : @ -, got ${show(raw)}` };
      return { value: raw };
    }
    case 'dialects': {
      const items: unknown[] = Array.isArray(raw) ? raw : [raw];
      if (items.some((d) => typeof d !== 'string')) return { error: `must be a list of dialects, got ${show(raw)}` };
      const list = (items as string[]).flatMap((d) => d.split(',')).map((d) => d.trim()).filter((d) => d !== '');
      const r = expandDialects(list);
      return 'error' in r ? { error: r.error } : { value: r.dialects };
    }
  }
}

/** An IPv4 or IPv6 address, optionally with a /prefix in range (what the Authenticator's lists take). */
function isAddressOrRange(text: string): boolean {
  const m = /^([^/]+)(?:\/(\d{1,3}))?$/.exec(text);
  if (!m) return false;
  const ip = m[1]!;
  const prefix = m[2] === undefined ? undefined : Number(m[2]);
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (v4) return v4.slice(1).every((o) => Number(o) <= 255) && (prefix === undefined || prefix <= 32);
  return /^[0-9a-fA-F:.]+$/.test(ip) && ip.includes(':') && (prefix === undefined || prefix <= 128);
}

function clone(c: MdpConfig): MdpConfig {
  return {
    broker: { ...c.broker, bind: [...c.broker.bind], dialects: [...c.broker.dialects], allow: [...c.broker.allow], deny: [...c.broker.deny], peer: [...c.broker.peer] },
    client: { ...c.client, broker: [...c.client.broker] },
    worker: { ...c.worker, broker: [...c.worker.broker] },
    log: { ...c.log },
  };
}

/**
 * Merges defaults, YAML, environment and flags, validating every value. Throws MdpError(MDP_CONFIG)
 * listing every bad field ("broker.heartbeat_interval (in broker.yaml): must be …").
 */
export function resolveConfig(sources: ConfigSources = {}): MdpConfig {
  const config = clone(DEFAULT_CONFIG);
  const issues: string[] = [];
  const apply = (section: string, key: string, raw: unknown, origin: string): void => {
    const fields = (SCHEMA as Record<string, Record<string, Field>>)[section];
    if (!fields) {
      issues.push(`${section} (${origin}): unknown section (known: ${SECTIONS.join(', ')})`);
      return;
    }
    const camel = camelName(key);
    const field = fields[camel];
    if (!field) {
      issues.push(`${section}.${snakeName(key)} (${origin}): unknown field (known: ${Object.keys(fields).map(snakeName).join(', ')})`);
      return;
    }
    const r = convert(field, raw);
    if ('error' in r) issues.push(`${section}.${snakeName(camel)} (${origin}): ${r.error}`);
    else (config[section as Section] as unknown as Record<string, unknown>)[camel] = r.value;
  };

  /** broker.security: the group's fields, by the same names as at the top of the section. */
  const applyGroup = (section: string, group: string, values: Record<string, unknown>, origin: string): void => {
    const fields = (SCHEMA as Record<string, Record<string, Field>>)[section] ?? {};
    for (const [key, raw] of Object.entries(values)) {
      const field = fields[camelName(key)];
      if (!field || field.group !== group) {
        const known = Object.entries(fields).filter(([, f]) => f.group === group).map(([k]) => snakeName(k));
        issues.push(`${section}.${group}.${snakeName(key)} (${origin}): unknown field (known: ${known.join(', ')})`);
        continue;
      }
      apply(section, key, raw, origin);
    }
  };

  if (sources.yaml !== undefined) {
    const origin = `in ${sources.yamlPath ?? 'the config file'}`;
    let doc: unknown;
    try {
      doc = parseYaml(sources.yaml);
    } catch (err) {
      issues.push(`${sources.yamlPath ?? 'config file'}: not valid YAML: ${(err as Error).message.split('\n')[0]}`);
    }
    if (doc !== undefined && doc !== null) {
      if (typeof doc !== 'object' || Array.isArray(doc)) {
        issues.push(`${sources.yamlPath ?? 'config file'}: must be a mapping of sections (broker, client, worker, log)`);
      } else {
        for (const [section, values] of Object.entries(doc as Record<string, unknown>)) {
          if (values === null || values === undefined) continue;
          if (typeof values !== 'object' || Array.isArray(values)) {
            if (!(section in SCHEMA)) issues.push(`${section} (${origin}): unknown section (known: ${SECTIONS.join(', ')})`);
            else issues.push(`${section} (${origin}): must be a mapping of fields`);
            continue;
          }
          for (const [key, raw] of Object.entries(values as Record<string, unknown>)) {
            if (key in GROUPS && raw !== null && typeof raw === 'object' && !Array.isArray(raw)) applyGroup(section, key, raw as Record<string, unknown>, origin);
            else apply(section, key, raw, origin);
          }
        }
      }
    }
  }

  if (sources.env) {
    const known = new Map<string, [Section, string]>();
    for (const section of SECTIONS) for (const [key, f] of Object.entries(SCHEMA[section] as Record<string, Field>)) if (!f.yamlOnly) known.set(envName(section, key), [section, key]);
    for (const [name, raw] of Object.entries(sources.env)) {
      if (!name.startsWith('PUREZMQ_') || raw === undefined) continue;
      const target = known.get(name);
      if (!target) {
        const section = name.slice('PUREZMQ_'.length).split('_')[0]!.toLowerCase();
        if (section in SCHEMA) issues.push(`${name}: unknown variable (fields of ${section}: ${flatFields(section as Section).map((k) => envName(section, k)).join(', ')})`);
        continue;
      }
      apply(target[0], target[1], raw, `from ${name}`);
    }
  }

  if (sources.flags) {
    for (const [section, values] of Object.entries(sources.flags)) {
      if (!values) continue;
      for (const [key, raw] of Object.entries(values)) apply(section, key, raw, `from --${cliFlag(section, camelName(key))}`);
    }
  }

  if (config.broker.retryBackoffMax < config.broker.retryBackoff) {
    issues.push(`broker.retry_backoff_max: must be at least broker.retry_backoff (${config.broker.retryBackoff} ms), got ${config.broker.retryBackoffMax}`);
  }
  for (const issue of clusterIssues(config.broker)) issues.push(issue);
  if (config.broker.store !== null && config.broker.dataDir !== null) {
    issues.push('broker.store: --store nats://… and --data-dir exclude each other (requests are either in NATS JetStream or in a local journal)');
  }
  if (config.broker.store !== null && !/^nats:\/\/\S+$/.test(config.broker.store)) {
    issues.push(`broker.store: must be nats://host:port[,host:port…], got ${show(config.broker.store)}`);
  }
  if (config.client.retryBackoffMax < config.client.retryBackoff) {
    issues.push(`client.retry_backoff_max: must be at least client.retry_backoff (${config.client.retryBackoff} ms), got ${config.client.retryBackoffMax}`);
  }
  if (issues.length > 0) {
    throw mdpError(MdpErrorCode.CONFIG, `invalid configuration:\n  ${issues.join('\n  ')}`, { issues });
  }
  return config;
}

/** Cluster settings that only make sense together (checked by the Broker too, for library users). */
export function clusterIssues(b: BrokerConfig): string[] {
  const issues: string[] = [];
  const on = b.clusterBind !== null;
  if (!on && b.peer.length > 0) issues.push('broker.cluster.peer: needs broker.cluster.cluster_bind (--cluster-bind EP: where this broker listens for the others)');
  if ((b.clusterCurveSecretKeyFile === null) !== (b.clusterCurvePeerKeys === null)) {
    issues.push('broker.cluster.cluster_curve_secret_key_file and cluster_curve_peer_keys go together (CURVE on the cluster links needs this broker\'s key and the keys it admits)');
  }
  if (on && /^tcp:\/\/(0\.0\.0\.0|\*|\[::\]):/.test(b.clusterBind!)) {
    issues.push(`broker.cluster.cluster_bind: other brokers connect to this address, so it must name this host (tcp://HOST:PORT), got ${JSON.stringify(b.clusterBind)}`);
  }
  if (on && b.peer.includes(b.clusterBind!)) issues.push(`broker.cluster.peer: ${b.clusterBind} is this broker's own cluster endpoint`);
  // it travels in every cluster message (docs/cluster-wire.md: 1 to 255 bytes)
  if (on && b.nodeId !== null && !/^[A-Za-z0-9._:@-]{1,64}$/.test(b.nodeId)) {
    issues.push(`broker.node_id: in a cluster, 1 to 64 letters, digits or . _ : @ -, got ${JSON.stringify(b.nodeId)}`);
  }
  return issues;
}

/**
 * Checks the options a library user passes to Broker, Client or Worker against the same schema as
 * the YAML file and the CLI (values may be numbers or the same strings: '2s', '64MiB'), and returns
 * them converted. Unknown keys (a typo such as `hearbeatInterval`) and bad values are reported all at
 * once: MdpError MDP_CONFIG with `issues`. `extra` names the keys that are options but not config
 * fields (logger, socketOptions, …).
 */
export function checkOptions<S extends Section>(
  section: S,
  what: string,
  options: unknown,
  extra: readonly string[],
): Partial<MdpConfig[S]> {
  const issues: string[] = [];
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw mdpError(MdpErrorCode.CONFIG, `${what} options must be an object, got ${show(options)}`, { issues: [`${what}: options must be an object`] });
  }
  const fields = SCHEMA[section] as Record<string, Field>;
  const out: Record<string, unknown> = {};
  for (const [key, raw] of Object.entries(options as Record<string, unknown>)) {
    if (raw === undefined || extra.includes(key)) continue;
    const field = fields[key];
    if (!field) {
      // the closest known key (broker vs brokers: the nearer one wins), within two edits
      const near = Object.keys(fields)
        .concat(extra)
        .map((k) => ({ k, d: k.toLowerCase() === key.toLowerCase() ? 0 : editDistance(k, key) }))
        .filter((c) => c.d <= 2)
        .sort((x, y) => x.d - y.d)[0]?.k;
      issues.push(`${what} option ${key}: unknown${near ? ` (did you mean ${near}?)` : ''}`);
      continue;
    }
    const r = convert(field, raw);
    if ('error' in r) issues.push(`${what} option ${key}: ${r.error}`);
    else out[key] = r.value;
  }
  if (issues.length > 0) throw mdpError(MdpErrorCode.CONFIG, `invalid ${what} options:\n  ${issues.join('\n  ')}`, { issues });
  return out as Partial<MdpConfig[S]>;
}

/**
 * A list of endpoints given to Client or Worker (`brokers: [...]`), checked like the config's
 * endpoint lists; throws MdpError MDP_CONFIG naming the option.
 */
export function checkEndpoints(what: string, key: string, raw: unknown): string[] {
  const r = convert({ type: 'endpoints', help: '' }, raw);
  if ('error' in r) throw mdpError(MdpErrorCode.CONFIG, `invalid ${what} options:\n  ${what} option ${key}: ${r.error}`, { issues: [`${what} option ${key}: ${r.error}`] });
  return r.value as string[];
}

/** Levenshtein distance, for "did you mean" (keys are short). */
function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

/** A YAML document with every field at its default, with help comments (for `--print-config`). */
export function defaultConfigYaml(): string {
  const lines: string[] = ['# purezmq Majordomo configuration (defaults). Durations: 2500, "2500ms", "2.5s", "1m", "1d". Sizes: 65536, "64KiB", "16MiB", "1GiB".'];
  for (const section of SECTIONS) {
    lines.push(`${section}:`);
    const fields = SCHEMA[section] as Record<string, Field>;
    const values = DEFAULT_CONFIG[section] as unknown as Record<string, unknown>;
    let group: string | undefined;
    for (const [key, field] of Object.entries(fields)) {
      if (field.group !== group) {
        group = field.group;
        if (group) lines.push(`  ${group}:`);
      }
      const indent = group ? '    ' : '  ';
      lines.push(`${indent}# ${field.help}${field.yamlOnly ? '' : ` (env ${envName(section, key)})`}`);
      lines.push(`${indent}${snakeName(key)}: ${JSON.stringify(values[key])}`);
    }
  }
  return lines.join('\n') + '\n';
}

/**
 * The narrow interface between the broker and the federation (types only, so that a single broker,
 * which imports this file, loads none of the cluster code: the broker imports federation.ts
 * dynamically, only when `clusterBind` is set).
 *
 * The broker is the host: it owns requests, queues, workers, the store and the retry policy. The
 * federation owns membership, the service view of other members, the link sockets and the table of
 * forwarded requests. A request forwarded to a member is, to the broker, a dispatch like one to a
 * worker: `forward` is the dispatch, `remotePartial`/`remoteFinal` the worker's replies, `remoteLost`
 * the worker's death.
 */
import type { Logger } from '../log.ts';
import type { ClusterStrategy } from './strategy.ts';
import type { RefuseReason, ServiceLoad } from './wire.ts';

/** A request another member forwarded to this broker. */
export interface InboundForward {
  origin: string;
  rid: number;
  service: Uint8Array;
  /** The dialect of the client at the origin ('' for Titanic): decides whether PARTIALs stream. */
  dialect: string;
  body: Uint8Array[];
}

export interface Refusal {
  reason: RefuseReason;
  text: string;
}

/** What the broker offers the federation. `R` is the broker's request record (opaque here). */
export interface ClusterHost<R> {
  /** Load of every local service with a worker or a queue (a full view). */
  localServices(): ServiceLoad[];
  /** Load of one local service now (zeros when unknown). */
  serviceLoad(name: string): ServiceLoad;
  /** A FORWARD arrived: take it (undefined) or say why not. It is never forwarded again. */
  acceptForward(f: InboundForward): Refusal | undefined;
  /** The origin no longer wants a request it forwarded here. */
  cancelForward(origin: string, rid: number): void;
  /** The origin died, left or restarted: nobody wants what it forwarded here any more. */
  originGone(origin: string): void;
  remotePartial(req: R, body: Uint8Array[]): void;
  remoteFinal(req: R, body: Uint8Array[]): void;
  /** The member turned it away (no worker after all, budget): back to the head of its queue, not a failure. */
  remoteRefused(req: R, refusal: Refusal): void;
  /** The member died, restarted, or its link was lost, or it reports the request failed there: a failed dispatch. */
  remoteLost(req: R, why: string): void;
  /** A member has capacity for `service` now: queued requests for it may be dispatched. */
  wake(service: string): void;
}

export interface ClusterOptions {
  bind: string;
  peers: readonly string[];
  /** The broker's client endpoints so far (members show them). */
  clientEndpoints: readonly string[];
  nodeId: string;
  strategy: ClusterStrategy;
  heartbeatMs: number;
  livenessMs: number;
  localWaitMs: number;
  /** CURVE on the links: this broker's key pair and the public keys admitted (with their endpoints, when known). */
  curve: { secretKey: string; publicKey: string; peers: { key: string; endpoint: string | undefined }[] } | undefined;
  /** Link socket bounds. */
  maxMessageBytes: number;
  maxFrameSize: number;
  maxFrames: number;
  highWaterMark: number;
  logger: Logger;
}

export interface ClusterCounters {
  /** Requests this broker forwarded to a member (each dispatch). */
  forwarded: number;
  /** FORWARDs taken from members. */
  receivedFromPeers: number;
  /** Forwarded requests dispatched again because their member died, restarted or its link was lost. */
  reforwarded: number;
  /** Members declared dead (by this broker). */
  memberDeaths: number;
  /** FORWARDs turned away by members (REFUSE other than FAILED). */
  refusedByPeers: number;
  /** Malformed or unexpected cluster messages dropped. */
  invalid: number;
  /** Cluster messages sent and received (all commands). */
  messagesOut: number;
  messagesIn: number;
  /** Of those sent, SERVICES views (full or delta). */
  viewsOut: number;
}

export interface MemberInfo {
  id: string;
  self: boolean;
  clusterEndpoint: string;
  clientEndpoints: string[];
  state: string;
  incarnation: number;
  lastSeenMs: number | null;
  /** Requests this broker has forwarded to it and not had the FINAL for. */
  inFlight: number;
  /** Of the forwards sent to it, those it has not yet reported taking (its idle count does not show them). */
  unacknowledged: number;
  /** Version of its service view here. */
  viewVersion: number;
  load: { idle: number; busy: number; queued: number };
  services: Record<string, { idle: number; busy: number; queued: number }>;
}

/** mmi.cluster's document. */
export interface ClusterView {
  node: string;
  strategy: ClusterStrategy;
  heartbeatMs: number;
  livenessMs: number;
  curve: boolean;
  members: MemberInfo[];
  counters: ClusterCounters;
}

/** What the broker calls on the federation. */
export interface ClusterLink<R> {
  readonly nodeId: string;
  /** The cluster endpoint bound (port resolved). */
  readonly endpoint: string;
  /**
   * A member to forward a request for `service` to, or how long to wait for a local worker first
   * (local-first; the federation wakes the service then), or undefined: nobody can take it now.
   */
  pick(service: string, localWorkers: number, waitedMs: number): { member: string } | { waitMs: number } | undefined;
  forward(member: string, req: R, service: Uint8Array, dialect: string, body: Uint8Array[]): void;
  /** The request it was forwarded for is finished with here (closed): the member may drop it. */
  cancel(req: R): void;
  /** A reply for a request a member forwarded here. */
  reply(origin: string, rid: number, command: 'PARTIAL' | 'FINAL', body: Uint8Array[]): void;
  /** A request a member forwarded here ended without a FINAL. */
  fail(origin: string, rid: number, refusal: Refusal): void;
  /** A local service's load changed; `workers` is its number of workers now (a change of it is news at once). */
  changed(service: string, workers: number): void;
  setClientEndpoints(endpoints: readonly string[]): void;
  /** Workers for `service` on live members (all services: undefined). */
  remoteWorkers(service: string | undefined): number;
  /** Services with a worker on a live member, and which members. */
  remoteServices(): Map<string, string[]>;
  view(): ClusterView;
  counters(): ClusterCounters;
  /** Leaves the cluster (members are told), fails what is still forwarded, closes the sockets. */
  close(): Promise<void>;
}

export type OpenCluster = <R>(host: ClusterHost<R>, options: ClusterOptions) => Promise<ClusterLink<R>>;

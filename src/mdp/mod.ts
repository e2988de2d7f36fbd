/** purezmq/mdp: Majordomo (7/MDP 0.1, 18/MDP 0.2, 8/MMI, and the majortomo and plantd dialects) broker, client and worker. */
export { Broker, type BrokerOptions, type BrokerMetrics, type BrokerCounters, type ServiceMetrics, type ServiceDrops, type DialectMetrics } from './broker/broker.ts';
export { Client, type ClientOptions, type RequestOptions, type ReplyChunk, type ClientStats } from './client.ts';
export { Worker, type WorkerOptions, type WorkerHandler, type RequestContext, type WorkerEvent, type WorkerStats } from './worker.ts';
export type { BrokerStats } from './broker_pool.ts';
export {
  parse,
  encode,
  codecFor,
  directionsOf,
  CODECS,
  MDP01,
  MDP02,
  Direction,
  MAX_ADDRESS_LENGTH,
  type MdpCodec,
  type MdpCommand,
  type ClientCommand,
  type WorkerCommand,
  type ClientRequest,
  type ClientReply,
  type WorkerReady,
  type WorkerRequest,
  type WorkerReply,
  type WorkerControl,
  type ParseResult,
} from './codec.ts';
export {
  detect,
  parseAny,
  resolveDialect,
  codecForDialect,
  expandDialects,
  isDialect,
  ALL_CODECS,
  DIALECT_CODECS,
  DialectGroup,
  MAJORTOMO,
  MajortomoCommand,
  PLANTD,
  PlantdCommand,
} from './dialects/index.ts';
export {
  MdpVersion,
  Dialect,
  DIALECTS,
  RFC_DIALECTS,
  Header,
  ClientCommand02,
  WorkerCommand01,
  WorkerCommand02,
  MMI_NAMESPACE,
  MmiService,
  MmiCode,
  Defaults,
  BROKER_VERSION,
} from './constants.ts';
export { MdpError, MdpErrorCode, MalformedReason, isMdpError, type MdpErrorOptions } from './errors.ts';
export {
  resolveConfig,
  defaultConfigYaml,
  DEFAULT_CONFIG,
  SCHEMA,
  LogLevel,
  LogFormat,
  envName,
  flagName,
  cliFlag,
  snakeName,
  flatFields,
  groupedValues,
  type MdpConfig,
  type BrokerConfig,
  type ClientConfig,
  type WorkerConfig,
  type DialectChoice,
  type LogConfig,
  type ConfigSources,
  type RawLayer,
} from './config.ts';
export { createLogger, silentLogger, RateLimitedLog, boundedSink, type Logger, type LogFields, type LogStream } from './log.ts';
export { serviceError, decodeServiceError, SERVICE_ERROR_MARKER, type ServiceErrorInfo } from './service_error.ts';
export { TitanicClient, type TitanicReply, type TitanicCallOptions } from './titanic_client.ts';
export { TitanicService, TitanicStatus, statusCode as titanicStatusCode } from './titanic.ts';
export type { RecoverySummary, RequestGauges, TitanicCounters, LifecycleCounters, ServicePage } from './broker/metrics.ts';
export type { DeadLetterView, DeadLetterPage } from './broker/mmi.ts';
export { FsyncPolicy, type RequestStore, type StoreStats, type StoreRecovery } from './store/store.ts';
export { RecordType, RequestKind, DeadReason, type StoreRecord, type StoredRequest } from './store/records.ts';
export { LatencyReservoir, type LatencySnapshot } from './metrics.ts';
export {
  parseCertificate as parseCurveCertificate,
  formatCertificate as formatCurveCertificate,
  certificateName,
  certificateRoles,
  SECRET_SUFFIX,
  type CurveCertificate,
} from './security/certificate.ts';
export { compilePolicy, compilePolicyText, Policy, PolicyEffect, Action as PolicyAction, Entry as PolicyEntry, type Identity as AccessIdentity, type Decision as AccessDecision } from './security/policy.ts';
export { AccessControl, type AccessMetrics, type AccessCounts, type Denial, type KeyLookup } from './security/access.ts';
export { DENIED_SERVICE, DENIED_CODE, DENIED_TEXT, encodeDenial, parseDenial } from './security/denial.ts';
export { peerCurveSocketOptions, type CurveKeys, type PeerCurveOptions } from './security/peer.ts';
export { wantsSecurity, type BrokerSecurity, type ReloadOutcome } from './security/index.ts';

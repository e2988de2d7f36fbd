/**
 * Majordomo errors. Same style as src/errors.ts (one class, one factory, a stable `code`, `cause`),
 * with codes of their own so that they never collide with the socket layer's errno/ZMTP codes.
 * Socket-layer failures that surface through MDP keep their ZmqError and are passed as `cause`.
 */

export const MdpErrorCode = {
  /** A message does not follow its Majordomo dialect (frame count, header, command byte, empty frames). */
  MALFORMED: 'MDP_MALFORMED',
  /** A well-formed command that is not valid in the current state (e.g. HEARTBEAT before READY). */
  UNEXPECTED: 'MDP_UNEXPECTED_COMMAND',
  /** No reply within the timeout after every retry, although the broker was reachable. */
  TIMEOUT: 'MDP_TIMEOUT',
  /** A reply stream went silent after PARTIALs had been yielded: not retried, as they would repeat. */
  STREAM_INTERRUPTED: 'MDP_STREAM_INTERRUPTED',
  /** The broker says no worker serves the service (mmi.service answered 404). */
  UNKNOWN_SERVICE: 'MDP_UNKNOWN_SERVICE',
  /** No connection to the broker could be made in any attempt. */
  BROKER_UNREACHABLE: 'MDP_BROKER_UNREACHABLE',
  /** The worker (or the broker, for a worker) ended the conversation with DISCONNECT. */
  WORKER_DISCONNECTED: 'MDP_WORKER_DISCONNECTED',
  /** The command cannot be expressed in that protocol version (a PARTIAL in MDP/0.1). */
  UNSUPPORTED: 'MDP_UNSUPPORTED',
  /** A configured limit was reached (queue length, services, workers, reply size). */
  LIMIT: 'MDP_LIMIT',
  /** Bad configuration or arguments; `issues` lists one message per bad field. */
  CONFIG: 'MDP_CONFIG',
  /** The client, worker or broker was closed while the operation was pending. */
  CLOSED: 'MDP_CLOSED',
  /** A well-formed message in a Majordomo dialect the broker does not accept (strict RFC mode). */
  DIALECT_REFUSED: 'MDP_DIALECT_REFUSED',
  /** The worker replied that the request failed (the purezmq/error reply shape); `status` is its code. */
  SERVICE_ERROR: 'MDP_SERVICE_ERROR',
  /** A Titanic service answered 400 (unknown or dead-lettered UUID, bad request) or 500 (store failure). */
  TITANIC: 'MDP_TITANIC',
  /** The request store failed to read or write (I/O error, store closed). */
  STORE: 'MDP_STORE',
  /** The request store's byte budget (max_store_bytes) has no room for a new request. */
  STORE_FULL: 'MDP_STORE_FULL',
  /** The journal is damaged in a way recovery must not guess about (a bad record before the tail). */
  STORE_CORRUPT: 'MDP_STORE_CORRUPT',
  /** The data directory is held by another live broker (its LOCK file). */
  STORE_LOCKED: 'MDP_STORE_LOCKED',
  /** The broker's access policy does not let this peer make that request (the broker's denial answer). */
  ACCESS_DENIED: 'MDP_ACCESS_DENIED',
  /** The broker refused the connection's credentials in the handshake (ZAP 400/500: unknown key, bad password). */
  AUTH_REFUSED: 'MDP_AUTH_REFUSED',
  /** A certificate file is malformed (missing key, bad Z85, keys that do not match); with `file` and `line`. */
  CERTIFICATE: 'MDP_CERTIFICATE',
  /** An inter-broker (cluster) message does not follow the PZC01 wire format (docs/cluster-wire.md). */
  CLUSTER_MALFORMED: 'MDP_CLUSTER_MALFORMED',
} as const;
export type MdpErrorCode = (typeof MdpErrorCode)[keyof typeof MdpErrorCode];

/** Why a message was refused by the codec; metrics count drops per reason. */
export const MalformedReason = {
  TOO_FEW_FRAMES: 'too-few-frames',
  WRONG_FRAME_COUNT: 'wrong-frame-count',
  BAD_HEADER: 'bad-header',
  MISSING_EMPTY_FRAME: 'missing-empty-frame',
  BAD_COMMAND: 'bad-command',
  WRONG_DIRECTION: 'wrong-direction',
  EMPTY_SERVICE: 'empty-service',
  EMPTY_ADDRESS: 'empty-address',
  ADDRESS_TOO_LONG: 'address-too-long',
} as const;
export type MalformedReason = (typeof MalformedReason)[keyof typeof MalformedReason];

export interface MdpErrorOptions {
  cause?: unknown;
  /** The service the operation was about. */
  service?: string;
  /** For MDP_MALFORMED: the codec's reason. */
  reason?: MalformedReason;
  /** For MDP_CONFIG: one message per bad field. */
  issues?: readonly string[];
  /** Endpoint involved, when there is one. */
  address?: string;
  /** For MDP_TITANIC: the status frame the broker answered (e.g. "400 dead-lettered: expired"). */
  status?: string;
  /** For store errors: the file involved. */
  file?: string;
  /** For MDP_STORE_CORRUPT: the byte offset of the bad record in `file`. */
  offset?: number;
  /** For MDP_CERTIFICATE: the 1-based line of `file` at fault. */
  line?: number;
}

export class MdpError extends Error {
  readonly code: MdpErrorCode;
  readonly service: string | undefined;
  readonly reason: MalformedReason | undefined;
  readonly issues: readonly string[];
  address: string | undefined;
  readonly file: string | undefined;
  readonly offset: number | undefined;
  readonly status: string | undefined;
  readonly line: number | undefined;

  constructor(code: MdpErrorCode, message: string, options: MdpErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'MdpError';
    this.code = code;
    this.service = options.service;
    this.reason = options.reason;
    this.issues = options.issues ?? [];
    this.address = options.address;
    this.file = options.file;
    this.status = options.status;
    this.offset = options.offset;
    this.line = options.line;
  }
}

/** The single factory for Majordomo errors. */
export function mdpError(code: MdpErrorCode, message: string, options?: MdpErrorOptions): MdpError {
  return new MdpError(code, message, options);
}

export function isMdpError(err: unknown): err is MdpError {
  return err instanceof MdpError;
}

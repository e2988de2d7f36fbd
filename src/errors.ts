/**
 * One error type, one factory. Every error purezmq raises or reports carries a stable `code`.
 * API-level codes follow zeromq.js (which follows errno names) so that code written against
 * zeromq.js keeps working; peer/protocol failures use `ERR_ZMTP_*` codes
 * (the names zeromq.js gives libzmq's protocol errors, plus a few of our own in the same style).
 */

export const ErrorCode = {
  // API-level, same names as zeromq.js / libzmq errno
  EAGAIN: 'EAGAIN',
  EBADF: 'EBADF',
  EHOSTUNREACH: 'EHOSTUNREACH',
  EFSM: 'EFSM',
  ENOTSUP: 'ENOTSUP',
  EINVAL: 'EINVAL',
  ETERM: 'ETERM',
  EBUSY: 'EBUSY',
  EADDRINUSE: 'EADDRINUSE',
  EADDRNOTAVAIL: 'EADDRNOTAVAIL',
  ENOENT: 'ENOENT',
  EPROTONOSUPPORT: 'EPROTONOSUPPORT',
  ECONNREFUSED: 'ECONNREFUSED',
  EMFILE: 'EMFILE',
  // Wire / peer errors: each closes only the offending connection
  BAD_GREETING: 'ERR_ZMTP_BAD_GREETING',
  UNSUPPORTED_VERSION: 'ERR_ZMTP_UNSUPPORTED_VERSION',
  MECHANISM_MISMATCH: 'ERR_ZMTP_MECHANISM_MISMATCH',
  RESERVED_FLAGS: 'ERR_ZMTP_RESERVED_FLAGS',
  FRAME_TOO_LARGE: 'ERR_ZMTP_FRAME_TOO_LARGE',
  MESSAGE_TOO_LARGE: 'ERR_ZMTP_MESSAGE_TOO_LARGE',
  TOO_MANY_FRAMES: 'ERR_ZMTP_TOO_MANY_FRAMES',
  BAD_COMMAND: 'ERR_ZMTP_MALFORMED_COMMAND_UNSPECIFIED',
  BAD_METADATA: 'ERR_ZMTP_INVALID_METADATA',
  UNEXPECTED_COMMAND: 'ERR_ZMTP_UNEXPECTED_COMMAND',
  UNEXPECTED_MESSAGE: 'ERR_ZMTP_INVALID_SEQUENCE',
  INCOMPATIBLE_SOCKET_TYPE: 'ERR_ZMTP_INCOMPATIBLE_SOCKET_TYPE',
  PEER_ERROR: 'ERR_ZMTP_PEER_ERROR',
  HANDSHAKE_TIMEOUT: 'ERR_ZMTP_HANDSHAKE_TIMEOUT',
  /** The peer closed the connection before the handshake completed (libzmq: HANDSHAKE_FAILED_NO_DETAIL). */
  HANDSHAKE_CLOSED: 'ERR_ZMTP_HANDSHAKE_CLOSED',
  HEARTBEAT_TIMEOUT: 'ERR_ZMTP_HEARTBEAT_TIMEOUT',
  AUTH_FAILED: 'ERR_ZMTP_AUTH_FAILED',
  DUPLICATE_IDENTITY: 'ERR_ZMTP_DUPLICATE_IDENTITY',
  // Security mechanisms (PLAIN/CURVE) and ZAP: the codes zeromq.js reports for libzmq's events
  MALFORMED_HELLO: 'ERR_ZMTP_MALFORMED_COMMAND_HELLO',
  MALFORMED_WELCOME: 'ERR_ZMTP_MALFORMED_COMMAND_WELCOME',
  MALFORMED_INITIATE: 'ERR_ZMTP_MALFORMED_COMMAND_INITIATE',
  MALFORMED_READY: 'ERR_ZMTP_MALFORMED_COMMAND_READY',
  MALFORMED_MESSAGE: 'ERR_ZMTP_MALFORMED_COMMAND_MESSAGE',
  MALFORMED_ERROR: 'ERR_ZMTP_MALFORMED_COMMAND_ERROR',
  CRYPTOGRAPHIC: 'ERR_ZMTP_CRYPTOGRAPHIC',
  KEY_EXCHANGE: 'ERR_ZMTP_KEY_EXCHANGE',
  ZAP_UNSPECIFIED: 'ERR_ZAP_UNSPECIFIED',
  ZAP_MALFORMED_REPLY: 'ERR_ZAP_MALFORMED_REPLY',
  ZAP_BAD_REQUEST_ID: 'ERR_ZAP_BAD_REQUEST_ID',
  ZAP_BAD_VERSION: 'ERR_ZAP_BAD_VERSION',
  ZAP_INVALID_STATUS_CODE: 'ERR_ZAP_INVALID_STATUS_CODE',
  ZAP_INVALID_METADATA: 'ERR_ZAP_INVALID_METADATA',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** zeromq.js-style numeric errno for the API codes (Linux values), for code that inspects `errno`. */
const ERRNO: Partial<Record<ErrorCode, number>> = {
  EAGAIN: 11,
  EBADF: 9,
  EHOSTUNREACH: 113,
  EFSM: 156384763,
  ENOTSUP: 95,
  EINVAL: 22,
  ETERM: 156384765,
  EBUSY: 16,
  EADDRINUSE: 98,
  EADDRNOTAVAIL: 99,
  ENOENT: 2,
  EPROTONOSUPPORT: 93,
  ECONNREFUSED: 111,
  EMFILE: 24,
};

export class ZmqError extends Error {
  readonly code: ErrorCode;
  readonly errno: number | undefined;
  /** The endpoint involved, when there is one. */
  address: string | undefined;
  /** Authentication failures (handshake:error:auth): the ZAP status 300/400/500, as zeromq.js's AuthError. */
  status: number | undefined;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; address?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ZmqError';
    this.code = code;
    this.errno = ERRNO[code];
    this.address = options?.address;
    this.status = undefined;
  }
}

/** A peer broke the protocol or a limit; only its own connection is closed. */
export class ProtocolError extends ZmqError {
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; address?: string }) {
    super(code, message, options);
    this.name = 'ProtocolError';
  }
}

const PROTOCOL_CODES: ReadonlySet<string> = new Set(
  Object.values(ErrorCode).filter((c) => c.startsWith('ERR_')),
);

/** The single factory: picks the class from the code. */
export function createError(
  code: ErrorCode,
  message: string,
  options?: { cause?: unknown; address?: string },
): ZmqError {
  return PROTOCOL_CODES.has(code) ? new ProtocolError(code, message, options) : new ZmqError(code, message, options);
}

export function isZmqError(err: unknown): err is ZmqError {
  return err instanceof ZmqError;
}

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

/**
 * Which text an error's `message` carries. purezmq's own texts name the cause (`Not bound to
 * 'tcp://…'`); libzmq's are the short strerror-style texts zeromq.js passes on (`No such endpoint`),
 * which code written against zeromq.js may compare. Either way `detail` holds purezmq's text and
 * `code`, `errno` and `address` are the same.
 */
export const ErrorMessages = {
  PUREZMQ: 'purezmq',
  LIBZMQ: 'libzmq',
} as const;
export type ErrorMessages = (typeof ErrorMessages)[keyof typeof ErrorMessages];

let messages: ErrorMessages = ErrorMessages.PUREZMQ;

/**
 * Chooses the texts of errors made from now on, process-wide (as zeromq.js's are). `purezmq/zeromq`
 * sets libzmq's when it is imported.
 */
export function setErrorMessages(style: ErrorMessages): void {
  if (style !== ErrorMessages.PUREZMQ && style !== ErrorMessages.LIBZMQ) {
    throw new TypeError(`error messages must be '${ErrorMessages.PUREZMQ}' or '${ErrorMessages.LIBZMQ}', not ${String(style)}`);
  }
  messages = style;
}

export function errorMessages(): ErrorMessages {
  return messages;
}

/** zeromq.js's texts for the API codes: its own for a few (util/error.h), zmq_strerror's for the rest. */
const LIBZMQ_TEXT: Partial<Record<ErrorCode, string>> = {
  EAGAIN: 'Operation was not possible or timed out',
  EBADF: 'Socket is closed',
  EHOSTUNREACH: 'Host unreachable',
  EFSM: 'Operation cannot be accomplished in current state',
  ENOTSUP: 'Operation not supported',
  EINVAL: 'Invalid argument',
  ETERM: 'Context was terminated',
  EBUSY: 'Socket is busy',
  EADDRINUSE: 'Address already in use',
  EADDRNOTAVAIL: 'Cannot assign requested address',
  ENOENT: 'No such endpoint',
  EPROTONOSUPPORT: 'Protocol not supported',
  ECONNREFUSED: 'Connection refused',
  EMFILE: 'Too many open file descriptors',
};

/** The protocol errors libzmq reports (ZMQ_PROTOCOL_ERROR_*): zeromq.js calls them all "<prefix> protocol error". */
const LIBZMQ_PROTOCOL_CODES: ReadonlySet<string> = new Set([
  'ERR_ZMTP_UNSPECIFIED',
  'ERR_ZMTP_UNEXPECTED_COMMAND',
  'ERR_ZMTP_INVALID_SEQUENCE',
  'ERR_ZMTP_KEY_EXCHANGE',
  'ERR_ZMTP_MALFORMED_COMMAND_UNSPECIFIED',
  'ERR_ZMTP_MALFORMED_COMMAND_MESSAGE',
  'ERR_ZMTP_MALFORMED_COMMAND_HELLO',
  'ERR_ZMTP_MALFORMED_COMMAND_INITIATE',
  'ERR_ZMTP_MALFORMED_COMMAND_ERROR',
  'ERR_ZMTP_MALFORMED_COMMAND_READY',
  'ERR_ZMTP_MALFORMED_COMMAND_WELCOME',
  'ERR_ZMTP_INVALID_METADATA',
  'ERR_ZMTP_CRYPTOGRAPHIC',
  'ERR_ZMTP_MECHANISM_MISMATCH',
  'ERR_ZAP_UNSPECIFIED',
  'ERR_ZAP_MALFORMED_REPLY',
  'ERR_ZAP_BAD_REQUEST_ID',
  'ERR_ZAP_BAD_VERSION',
  'ERR_ZAP_INVALID_STATUS_CODE',
  'ERR_ZAP_INVALID_METADATA',
]);

/** zeromq.js's texts for a ZAP status in an authentication failure. */
const LIBZMQ_AUTH_TEXT: Record<number, string> = { 300: 'Temporary error', 400: 'Authentication failure', 500: 'Internal error' };

/**
 * libzmq's text for an error, or undefined where libzmq has none (purezmq's own protocol codes, an
 * authentication failure without a ZAP status).
 */
function libzmqText(code: ErrorCode, status: number | undefined): string | undefined {
  if (code === ErrorCode.AUTH_FAILED) return status === undefined ? undefined : (LIBZMQ_AUTH_TEXT[status] ?? 'Unknown error');
  if (LIBZMQ_PROTOCOL_CODES.has(code)) return code.startsWith('ERR_ZAP_') ? 'ZAP protocol error' : 'ZMTP protocol error';
  return LIBZMQ_TEXT[code];
}

export interface ErrorOptions {
  cause?: unknown;
  address?: string;
  /** Authentication failures: the ZAP status (300/400/500). */
  status?: number;
  /** The text is zeromq.js's own for this very error (a proxy's "Front-end socket must be bound or connected"): kept in either style. */
  zeromqText?: boolean;
}

export class ZmqError extends Error {
  readonly code: ErrorCode;
  readonly errno: number | undefined;
  /** The endpoint involved, when there is one. */
  address: string | undefined;
  /** Authentication failures (handshake:error:auth): the ZAP status 300/400/500, as zeromq.js's AuthError. */
  status: number | undefined;
  /** purezmq's text, which names the cause; `message` is the same unless libzmq's texts were chosen. */
  readonly detail: string;

  constructor(code: ErrorCode, message: string, options?: ErrorOptions) {
    const text = messages === ErrorMessages.LIBZMQ && !options?.zeromqText ? (libzmqText(code, options?.status) ?? message) : message;
    super(text, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ZmqError';
    this.code = code;
    this.errno = ERRNO[code];
    this.address = options?.address;
    this.status = options?.status;
    this.detail = message;
  }
}

/** A peer broke the protocol or a limit; only its own connection is closed. */
export class ProtocolError extends ZmqError {
  constructor(code: ErrorCode, message: string, options?: ErrorOptions) {
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
  options?: ErrorOptions,
): ZmqError {
  return PROTOCOL_CODES.has(code) ? new ProtocolError(code, message, options) : new ZmqError(code, message, options);
}

export function isZmqError(err: unknown): err is ZmqError {
  return err instanceof ZmqError;
}

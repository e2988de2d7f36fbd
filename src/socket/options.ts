import type { Context } from './context.ts';
import { curveKeyBytes } from '../crypto/keys.ts';
import { createError, ErrorCode } from '../errors.ts';

/** Options shared by every socket type; names and defaults follow zeromq.js v6. */
export interface SocketOptions {
  /** The context to create the socket on (zeromq.js); `zmq.context` when not given. */
  context?: Context;
  /** ZMQ_ROUTING_ID: sent as Identity to ROUTER peers. */
  routingId: string | null;
  /** ms pending messages may linger after close(); -1 = until delivered (or the peer is gone). */
  linger: number;
  /** Messages queued per peer for sending (0 = no limit). */
  sendHighWaterMark: number;
  /** Messages queued per peer for receiving (0 = no limit). */
  receiveHighWaterMark: number;
  /** ms send() may wait for room; -1 = forever, 0 = fail at once with EAGAIN. */
  sendTimeout: number;
  /** ms receive() may wait; -1 = forever. */
  receiveTimeout: number;
  /** ms before reconnecting; -1 = never reconnect. */
  reconnectInterval: number;
  /** Upper bound for the doubling reconnect delay; 0 = no backoff (libzmq's default). */
  reconnectMaxInterval: number;
  /** ms a TCP connect may take; 0 = the OS default. */
  connectTimeout: number;
  /** ms from connection to end of handshake; 0 = no limit. */
  handshakeInterval: number;
  /** Largest frame accepted from a peer in bytes; -1 = no limit beyond the hard cap. */
  maxMessageSize: number;
  /** ms between PINGs; 0 = no heartbeats. */
  heartbeatInterval: number;
  /** TTL announced in our PINGs, ms (sent in deciseconds, capped at 65.5 s for libzmq). */
  heartbeatTimeToLive: number;
  /** ms without any traffic after a PING before the peer is dropped; -1 = heartbeatInterval. */
  heartbeatTimeout: number;
  /** Queue messages only to completed connections. */
  immediate: boolean;
  /** Resolve and bind IPv6 as well as IPv4. */
  ipv6: boolean;
  /** purezmq: most frames one incoming message may have. */
  maxMessageFrames: number;
  /**
   * purezmq: most bytes one incoming message may have, all frames together (-1 = no limit). Checked
   * as each frame arrives: a peer that keeps sending frames marked "more" is cut off at the limit,
   * not after it has sent the whole message. maxMessageSize bounds each frame.
   */
  maxMessageBytes: number;
  /**
   * purezmq: bytes of whole messages queued per peer for receiving (-1 = no limit, as in libzmq).
   * At the limit the peer's connection is not read until the application takes messages, as at
   * receiveHighWaterMark, so a peer's queue is bounded in bytes as well as in messages. A message
   * larger than the limit still gets through, alone.
   */
  maxReceiveQueueBytes: number;
  /** ZMQ_BACKLOG: pending connections a bound TCP/IPC endpoint queues. */
  backlog: number;
  /** ZMQ_TCP_KEEPALIVE: -1 = OS default, 0 = off, 1 = on. */
  tcpKeepalive: number;
  /** ZMQ_TCP_KEEPALIVE_IDLE: seconds of idleness before the first probe; -1 = OS default. */
  tcpKeepaliveIdle: number;
  /** ZMQ_PLAIN_SERVER: act as PLAIN server (needs a ZAP handler, e.g. an Authenticator). */
  plainServer: boolean;
  /** ZMQ_PLAIN_USERNAME: non-null makes this socket a PLAIN client. */
  plainUsername: string | null;
  /** ZMQ_PLAIN_PASSWORD: non-null makes this socket a PLAIN client. */
  plainPassword: string | null;
  /** ZMQ_CURVE_SERVER: act as CURVE server (needs curveSecretKey). */
  curveServer: boolean;
  /** ZMQ_CURVE_PUBLICKEY: this socket's long-term public key (40 Z85 chars or 32 bytes). */
  curvePublicKey: string | Uint8Array | null;
  /** ZMQ_CURVE_SECRETKEY: this socket's long-term secret key (40 Z85 chars or 32 bytes). */
  curveSecretKey: string | Uint8Array | null;
  /** ZMQ_CURVE_SERVERKEY: the server's public key; non-null makes this socket a CURVE client. */
  curveServerKey: string | Uint8Array | null;
  /** ZMQ_ZAP_DOMAIN: sent in ZAP requests; for NULL, setting it turns ZAP on. */
  zapDomain: string | null;
  /** ZMQ_ZAP_ENFORCE_DOMAIN: a CURVE server (or NULL with zapDomain) fails handshakes when no ZAP handler is bound. */
  zapEnforceDomain: boolean;
  /** ZMQ_SOCKS_PROXY: `host:port` of a SOCKS5 proxy (no authentication) that TCP connects go through. */
  socksProxy: string | null;
}

/**
 * Hard cap on frame size when maxMessageSize is -1, so no peer can make us buffer without
 * bound (Buffers cannot exceed this anyway on 64-bit Node).
 */
export const HARD_MAX_FRAME_SIZE = 2 ** 31;

export const DEFAULT_OPTIONS: SocketOptions = {
  routingId: null,
  linger: -1,
  sendHighWaterMark: 1000,
  receiveHighWaterMark: 1000,
  sendTimeout: -1,
  receiveTimeout: -1,
  reconnectInterval: 100,
  reconnectMaxInterval: 0,
  connectTimeout: 0,
  handshakeInterval: 30000,
  maxMessageSize: -1,
  heartbeatInterval: 0,
  heartbeatTimeToLive: 0,
  heartbeatTimeout: -1,
  immediate: false,
  ipv6: false,
  maxMessageFrames: 65536,
  maxMessageBytes: -1,
  maxReceiveQueueBytes: -1,
  backlog: 100,
  tcpKeepalive: -1,
  tcpKeepaliveIdle: -1,
  plainServer: false,
  plainUsername: null,
  plainPassword: null,
  curveServer: false,
  curvePublicKey: null,
  curveSecretKey: null,
  curveServerKey: null,
  zapDomain: null,
  zapEnforceDomain: false,
  socksProxy: null,
};

const CURVE_KEY_OPTIONS: ReadonlySet<string> = new Set(['curvePublicKey', 'curveSecretKey', 'curveServerKey']);
const STRING_255_OPTIONS: ReadonlySet<string> = new Set(['plainUsername', 'plainPassword', 'zapDomain', 'socksProxy']);

const INTEGER_MIN: Partial<Record<keyof SocketOptions, number>> = {
  linger: -1,
  sendHighWaterMark: 0,
  receiveHighWaterMark: 0,
  sendTimeout: -1,
  receiveTimeout: -1,
  reconnectInterval: -1,
  reconnectMaxInterval: 0,
  connectTimeout: 0,
  handshakeInterval: 0,
  maxMessageSize: -1,
  heartbeatInterval: 0,
  heartbeatTimeToLive: 0,
  heartbeatTimeout: -1,
  maxMessageFrames: 1,
  maxMessageBytes: -1,
  maxReceiveQueueBytes: -1,
  backlog: 0,
  tcpKeepalive: -1,
  tcpKeepaliveIdle: -1,
};

/**
 * zeromq.js options for transports and platforms purezmq has no use for (multicast, VMCI, CPU
 * affinity, Windows loopback): accepted, so code written for zeromq.js runs unchanged, and they
 * truly change nothing here. Values are what zeromq.js reads back by default (undefined: it
 * cannot read them either, without VMCI).
 */
export const NO_EFFECT_OPTIONS: Readonly<Record<string, unknown>> = {
  affinity: 0,
  rate: 100,
  recoveryInterval: 10000,
  multicastHops: 1,
  multicastMaxTransportDataUnit: 1500,
  loopbackFastPath: false,
  vmciBufferSize: undefined,
  vmciBufferMinSize: undefined,
  vmciBufferMaxSize: undefined,
  vmciConnectTimeout: undefined,
};

/**
 * zeromq.js options whose behaviour purezmq cannot provide on node:net. Their defaults are
 * accepted; anything else is refused with ENOTSUP rather than silently ignored.
 */
export const UNSUPPORTED_OPTIONS: Readonly<Record<string, unknown>> = {
  // SO_SNDBUF/SO_RCVBUF: node:net has no way to set them; -1 leaves the OS default, as in libzmq
  sendBufferSize: -1,
  receiveBufferSize: -1,
  tcpKeepaliveCount: -1,
  tcpKeepaliveInterval: -1,
  tcpMaxRetransmitTimeout: 0,
  typeOfService: 0,
  tcpAcceptFilter: null,
  interface: null,
  gssapiServer: false,
  gssapiPrincipal: null,
  gssapiServicePrincipal: null,
  gssapiPlainText: false,
};

/** How the numeric option API (getInt32Option(id) and friends) reads and writes an option. */
export const OptionType = { BOOL: 'bool', INT32: 'int32', INT64: 'int64', UINT64: 'uint64', STRING: 'string' } as const;
export type OptionType = (typeof OptionType)[keyof typeof OptionType];

interface OptionSpec {
  /** libzmq's option number (zmq.h), for getInt32Option(id) and friends. */
  readonly id: number;
  readonly type: OptionType;
  /**
   * Takes effect on connections that exist already. The others apply from the next connect or
   * bind, and setting them on a socket with endpoints warns, as zeromq.js does.
   */
  readonly immediate?: true;
}

const { BOOL, INT32, INT64, UINT64, STRING } = OptionType;

/**
 * Every option zeromq.js exposes, by property name: libzmq's number and type. Options of one
 * socket type only (mandatory, correlate, …) are listed too, so the numeric API finds them on the
 * sockets that have them.
 */
export const OPTION_SPECS: Readonly<Record<string, OptionSpec>> = {
  affinity: { id: 4, type: UINT64 },
  routingId: { id: 5, type: STRING },
  rate: { id: 8, type: INT32 },
  recoveryInterval: { id: 9, type: INT32 },
  sendBufferSize: { id: 11, type: INT32 },
  receiveBufferSize: { id: 12, type: INT32 },
  linger: { id: 17, type: INT32, immediate: true },
  reconnectInterval: { id: 18, type: INT32 },
  backlog: { id: 19, type: INT32 },
  reconnectMaxInterval: { id: 21, type: INT32 },
  maxMessageSize: { id: 22, type: INT64 },
  // libzmq 4.2+ applies high-water marks to existing pipes too
  sendHighWaterMark: { id: 23, type: INT32, immediate: true },
  receiveHighWaterMark: { id: 24, type: INT32, immediate: true },
  multicastHops: { id: 25, type: INT32 },
  // read at each call here, as in zeromq.js
  receiveTimeout: { id: 27, type: INT32, immediate: true },
  sendTimeout: { id: 28, type: INT32, immediate: true },
  mandatory: { id: 33, type: BOOL, immediate: true },
  tcpKeepalive: { id: 34, type: INT32 },
  tcpKeepaliveCount: { id: 35, type: INT32 },
  tcpKeepaliveIdle: { id: 36, type: INT32 },
  tcpKeepaliveInterval: { id: 37, type: INT32 },
  tcpAcceptFilter: { id: 38, type: STRING },
  immediate: { id: 39, type: BOOL },
  ipv6: { id: 42, type: BOOL },
  plainServer: { id: 44, type: BOOL },
  plainUsername: { id: 45, type: STRING },
  plainPassword: { id: 46, type: STRING },
  curveServer: { id: 47, type: BOOL },
  curvePublicKey: { id: 48, type: STRING },
  curveSecretKey: { id: 49, type: STRING },
  curveServerKey: { id: 50, type: STRING },
  probeRouter: { id: 51, type: BOOL, immediate: true },
  correlate: { id: 52, type: BOOL, immediate: true },
  relaxed: { id: 53, type: BOOL, immediate: true },
  conflate: { id: 54, type: BOOL },
  zapDomain: { id: 55, type: STRING },
  handover: { id: 56, type: BOOL, immediate: true },
  typeOfService: { id: 57, type: INT32 },
  gssapiServer: { id: 62, type: BOOL },
  gssapiPrincipal: { id: 63, type: STRING },
  gssapiServicePrincipal: { id: 64, type: STRING },
  gssapiPlainText: { id: 65, type: BOOL },
  handshakeInterval: { id: 66, type: INT32 },
  socksProxy: { id: 68, type: STRING },
  noDrop: { id: 69, type: BOOL },
  welcomeMessage: { id: 72, type: STRING },
  notify: { id: 73, type: BOOL },
  invertMatching: { id: 74, type: BOOL },
  heartbeatInterval: { id: 75, type: INT32 },
  heartbeatTimeToLive: { id: 76, type: INT32 },
  heartbeatTimeout: { id: 77, type: INT32 },
  connectTimeout: { id: 79, type: INT32 },
  tcpMaxRetransmitTimeout: { id: 80, type: INT32 },
  multicastMaxTransportDataUnit: { id: 84, type: INT32 },
  interface: { id: 92, type: STRING },
  zapEnforceDomain: { id: 93, type: BOOL },
  loopbackFastPath: { id: 94, type: BOOL },
};

/** Option name by libzmq option number. */
export const OPTION_NAMES: ReadonlyMap<number, string> = new Map(Object.entries(OPTION_SPECS).map(([name, s]) => [s.id, name]));

/** Options of the numeric API that may be read or set on a socket (of the kinds that have them). */
export function optionByNumber(id: number): string {
  const name = OPTION_NAMES.get(id);
  if (name === undefined) throw createError(ErrorCode.EINVAL, `Unknown socket option number ${id}`);
  return name;
}

function typeError(message: string): TypeError {
  return new TypeError(message);
}

/** The JavaScript type an option takes; a value of another type is a TypeError, as in zeromq.js. */
function checkType(name: string, value: unknown): void {
  const spec = OPTION_SPECS[name];
  const type = spec?.type ?? (typeof (DEFAULT_OPTIONS as unknown as Record<string, unknown>)[name] === 'boolean' ? BOOL : INT32);
  if (type === BOOL) {
    if (typeof value !== 'boolean') throw typeError('Option value must be a boolean');
  } else if (type === STRING) {
    if (value !== null && typeof value !== 'string' && !(value instanceof Uint8Array)) {
      throw typeError('Option value must be a string or buffer');
    }
  } else if (typeof value !== 'number') {
    throw typeError('Option value must be a number');
  }
}

/**
 * Validates one option value: a value of the wrong type is a TypeError (zeromq.js), a value of the
 * right type that libzmq refuses is EINVAL naming the option.
 */
export function checkOption(name: string, value: unknown): void {
  checkType(name, value);
  const min = INTEGER_MIN[name as keyof SocketOptions];
  if (min !== undefined) {
    if (!Number.isInteger(value) || (value as number) < min) {
      throw createError(ErrorCode.EINVAL, `Option '${name}' must be an integer >= ${min}, got ${String(value)}`);
    }
  } else if (name === 'routingId') {
    const len = value === null ? 0 : typeof value === 'string' ? new TextEncoder().encode(value).length : (value as Uint8Array).length;
    if (len > 255) throw createError(ErrorCode.EINVAL, `Option 'routingId' must be at most 255 bytes`);
  } else if (CURVE_KEY_OPTIONS.has(name)) {
    if (value !== null) curveKeyBytes(value as string | Uint8Array, `Option '${name}'`);
  } else if (STRING_255_OPTIONS.has(name)) {
    if (value !== null && (typeof value === 'string' ? new TextEncoder().encode(value).length : (value as Uint8Array).length) > 255) {
      throw createError(ErrorCode.EINVAL, `Option '${name}' must be at most 255 bytes`);
    }
  }
}

/** Options zeromq.js has that purezmq accepts without effect, or accepts at their default only. */
export function checkForeignOption(name: string, value: unknown): void {
  checkType(name, value);
  if (name in UNSUPPORTED_OPTIONS && value !== UNSUPPORTED_OPTIONS[name]) {
    throw createError(ErrorCode.ENOTSUP, `Option '${name}' is not supported by purezmq (only its default, ${String(UNSUPPORTED_OPTIONS[name])})`);
  }
}

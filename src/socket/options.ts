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
};

const CURVE_KEY_OPTIONS: ReadonlySet<string> = new Set(['curvePublicKey', 'curveSecretKey', 'curveServerKey']);
const STRING_255_OPTIONS: ReadonlySet<string> = new Set(['plainUsername', 'plainPassword', 'zapDomain']);

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
  socksProxy: null,
  interface: null,
  gssapiServer: false,
  gssapiPrincipal: null,
  gssapiServicePrincipal: null,
  gssapiPlainText: false,
};

/** Validates one option value; throws EINVAL with the option's name. */
export function checkOption(name: string, value: unknown): void {
  const min = INTEGER_MIN[name as keyof SocketOptions];
  if (min !== undefined) {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
      throw createError(ErrorCode.EINVAL, `Option '${name}' must be an integer >= ${min}, got ${String(value)}`);
    }
  } else if (name === 'routingId') {
    if (value !== null && typeof value !== 'string' && !(value instanceof Uint8Array)) {
      throw createError(ErrorCode.EINVAL, `Option 'routingId' must be a string or null`);
    }
    const len = value === null ? 0 : typeof value === 'string' ? new TextEncoder().encode(value).length : (value as Uint8Array).length;
    if (len > 255) throw createError(ErrorCode.EINVAL, `Option 'routingId' must be at most 255 bytes`);
  } else if (CURVE_KEY_OPTIONS.has(name)) {
    if (value !== null) curveKeyBytes(value as string | Uint8Array, `Option '${name}'`);
  } else if (STRING_255_OPTIONS.has(name)) {
    if (value !== null && typeof value !== 'string') throw createError(ErrorCode.EINVAL, `Option '${name}' must be a string or null`);
    if (value !== null && new TextEncoder().encode(value).length > 255) {
      throw createError(ErrorCode.EINVAL, `Option '${name}' must be at most 255 bytes`);
    }
  } else if (name === 'plainServer' || name === 'curveServer' || name === 'zapEnforceDomain') {
    if (typeof value !== 'boolean') throw createError(ErrorCode.EINVAL, `Option '${name}' must be a boolean`);
  } else if (name === 'immediate' || name === 'ipv6') {
    if (typeof value !== 'boolean') throw createError(ErrorCode.EINVAL, `Option '${name}' must be a boolean`);
  }
}

import { createError, ErrorCode, type ZmqError } from '../errors.ts';
import { parseErrorReason } from '../zmtp/command.ts';
import type { ParsedCommand } from '../zmtp/command.ts';
import type { Metadata } from '../zmtp/metadata.ts';

/** What a mechanism needs to know about the connection it secures. */
export interface HandshakeContext {
  /** Our own properties for READY/INITIATE: Socket-Type, Identity, X-*. */
  readonly localMetadata: readonly [string, Uint8Array][];
  /** Peer address, for authentication. */
  readonly remoteAddress: string;
  /** We accepted (bound) this connection: the server role of RFC 37's NULL handshake. */
  readonly accepted: boolean;
  /** The socket's verdict on the peer's metadata (socket-type compatibility), before we answer it. */
  readonly checkPeer: (peer: Metadata) => ZmqError | undefined;
}

/**
 * One step of a handshake. `send` holds command bodies to write, in order. When `done` is set the
 * handshake is complete and `done.peer` holds the peer's metadata. `error` ends the connection;
 * `errorReason`, if set, goes to the peer in an ERROR command first.
 */
export interface HandshakeStep {
  send?: Uint8Array[];
  done?: {
    peer: Metadata;
    userId?: string;
    /** CURVE: the peer's permanent public key, Z85 (the client's, on a server). */
    publicKey?: string;
  };
  error?: ZmqError;
  errorReason?: string;
  /** Reported to the socket at once while the connection stays open (ZAP 300, as libzmq reports it). */
  notice?: ZmqError;
}

/**
 * A security mechanism as a pure state machine: it never touches the connection itself.
 * Traffic transforms are optional; NULL and PLAIN leave frames untouched (the fast path).
 */
export interface Mechanism {
  readonly name: string;
  readonly asServer: boolean;
  /** Called once both greetings are exchanged and the mechanism names match (a Promise: NULL with ZAP). */
  start(ctx: HandshakeContext): HandshakeStep | Promise<HandshakeStep>;
  /** Handshake command parsing, when the mechanism must accept a quirk (libzmq's `5E RROR` PLAIN ERROR). */
  parseCommand?(body: Uint8Array): ParsedCommand | ZmqError;
  /** The peer closed the stream mid-handshake: the mechanism may say what that most likely means. */
  peerClosed?(): ZmqError | undefined;
  /** Every command frame received before the handshake is done. */
  onCommand(name: string, data: Uint8Array): HandshakeStep | Promise<HandshakeStep>;
  /** Traffic encryption (CURVE): wraps one outgoing frame into the frame that goes on the wire. */
  encodeFrame?(flags: number, body: Uint8Array): { flags: number; body: Uint8Array };
  /** Reverse of encodeFrame for incoming frames. */
  decodeFrame?(flags: number, body: Uint8Array): { flags: number; body: Uint8Array } | ZmqError;
}

export type MechanismFactory = () => Mechanism;

/**
 * The error for an ERROR command from the peer. libzmq puts a ZAP status there ("300", "400",
 * "500"): that is an authentication failure (handshake:error:auth, with `status`). Any other
 * reason (a refused socket type, say) is a protocol failure.
 */
export function refused(data: Uint8Array): ZmqError {
  const reason = parseErrorReason(data);
  if (/^[345]00$/.test(reason)) {
    return createError(ErrorCode.AUTH_FAILED, `peer refused the handshake: ${reason}`, { status: Number(reason) });
  }
  const code = reason === INCOMPATIBLE_REASON ? ErrorCode.INCOMPATIBLE_SOCKET_TYPE : ErrorCode.PEER_ERROR;
  return createError(code, `peer refused the handshake: ${reason || 'no reason given'}`);
}

/** The ERROR reason a purezmq server gives a peer whose socket type it cannot talk to. */
export const INCOMPATIBLE_REASON = 'incompatible socket type';

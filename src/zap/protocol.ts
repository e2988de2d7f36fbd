import { createError, ErrorCode, type ZmqError } from '../errors.ts';
import { asciiString, EMPTY, fromString, toString } from '../util/bytes.ts';
import { Metadata, parseMetadata } from '../zmtp/metadata.ts';

/**
 * ZAP (RFC 27/ZAP) as libzmq speaks it. This file is the pure part: request/reply frames and the
 * hook a server mechanism uses to ask. The socket-side client lives in client.ts.
 */

export const ZAP_ENDPOINT = 'inproc://zeromq.zap.01';
export const ZAP_VERSION = '1.0';

export type ZapMechanism = 'NULL' | 'PLAIN' | 'CURVE';

/** What a server mechanism asks about one connecting client. */
export interface ZapRequest {
  /** The server socket's zapDomain ('' when unset; libzmq sends it empty too). */
  domain: string;
  /** Client IP as text ('' for ipc). */
  address: string;
  /** libzmq quirk, kept for compatibility: the *server* socket's own routing id. */
  identity: Uint8Array;
  mechanism: ZapMechanism;
  /** PLAIN: [username, password]; CURVE: [client public key, 32 raw bytes]; NULL: []. */
  credentials: Uint8Array[];
}

/** A handler's answer. */
export interface ZapReply {
  /** '200' OK, '300' try later, '400' refused, '500' internal error. */
  statusCode: '200' | '300' | '400' | '500';
  statusText: string;
  userId: string;
  /** Properties the handler attaches to the connection (returned with 200). */
  metadata: Metadata;
}

/** How a server mechanism reaches a ZAP handler; supplied by the socket. */
export interface ZapHook {
  /** A handler is bound at inproc://zeromq.zap.01 right now. */
  available(): boolean;
  /** Sends the request; resolves with the reply, or an error when the reply is malformed. */
  request(req: ZapRequest): Promise<ZapReply | ZmqError>;
}

/** Request frames after the empty delimiter: version, request id, domain, address, identity, mechanism, credentials... */
export function encodeZapRequest(req: ZapRequest, requestId: string): Uint8Array[] {
  return [
    EMPTY,
    fromString(ZAP_VERSION),
    fromString(requestId),
    fromString(req.domain),
    fromString(req.address),
    req.identity,
    fromString(req.mechanism),
    ...req.credentials,
  ];
}

/** Fields of a request as a handler sees them (frames after the delimiter). */
export interface ParsedZapRequest extends ZapRequest {
  version: string;
  requestId: Uint8Array;
}

/** Parses a request as a handler receives it (REP view: no delimiter). */
export function parseZapRequest(frames: readonly Uint8Array[]): ParsedZapRequest | ZmqError {
  if (frames.length < 6) return createError(ErrorCode.BAD_COMMAND, `ZAP request has ${frames.length} frames, expected at least 6`);
  const mechanism = asciiString(frames[5]!);
  if (mechanism !== 'NULL' && mechanism !== 'PLAIN' && mechanism !== 'CURVE') {
    return createError(ErrorCode.BAD_COMMAND, `ZAP request for unknown mechanism '${mechanism}'`);
  }
  return {
    version: asciiString(frames[0]!),
    requestId: frames[1]!,
    domain: toString(frames[2]!),
    address: toString(frames[3]!),
    identity: frames[4]!,
    mechanism,
    credentials: frames.slice(6),
  };
}

/**
 * Parses a reply as the requester sees it (DEALER view, delimiter included), as strictly as
 * libzmq: exactly 7 frames, an empty delimiter, version 1.0, the request id we sent, a status of
 * 200/300/400/500.
 */
export function parseZapReply(frames: readonly Uint8Array[], requestId: string): ZapReply | ZmqError {
  const bad = (code: ErrorCode, why: string) => createError(code, `malformed ZAP reply: ${why}`);
  if (frames.length !== 7) return bad(ErrorCode.ZAP_MALFORMED_REPLY, `${frames.length} frames, expected 7 (delimiter + 6)`);
  if (frames[0]!.length !== 0) return bad(ErrorCode.ZAP_MALFORMED_REPLY, 'first frame is not an empty delimiter');
  if (asciiString(frames[1]!) !== ZAP_VERSION) return bad(ErrorCode.ZAP_BAD_VERSION, 'version is not 1.0');
  if (asciiString(frames[2]!) !== requestId) return bad(ErrorCode.ZAP_BAD_REQUEST_ID, 'request id does not match');
  const code = asciiString(frames[3]!);
  if (code !== '200' && code !== '300' && code !== '400' && code !== '500') {
    return bad(ErrorCode.ZAP_INVALID_STATUS_CODE, `status code '${code.slice(0, 8)}'`);
  }
  const metadata = frames[6]!.length === 0 ? new Metadata() : parseMetadata(frames[6]!);
  if (!('entries' in metadata)) return bad(ErrorCode.ZAP_INVALID_METADATA, 'metadata does not parse');
  return { statusCode: code, statusText: toString(frames[4]!), userId: toString(frames[5]!), metadata };
}

/** Reply frames a REP handler sends (REP adds the delimiter): version, id, code, text, user id, metadata. */
export function encodeZapReply(requestId: Uint8Array, statusCode: string, statusText: string, userId: string, metadata: Uint8Array): Uint8Array[] {
  return [fromString(ZAP_VERSION), requestId, fromString(statusCode), fromString(statusText), fromString(userId), metadata];
}

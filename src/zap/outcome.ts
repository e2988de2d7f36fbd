import { createError, ErrorCode, ZmqError } from '../errors.ts';
import type { HandshakeStep } from '../mechanism/mechanism.ts';
import { fromString } from '../util/bytes.ts';
import { Metadata } from '../zmtp/metadata.ts';
import type { ZapHook, ZapReply, ZapRequest } from './protocol.ts';

/**
 * What a server mechanism does with a ZAP answer, as libzmq does it:
 * 200 → go on; 300 → say nothing and wait (the handshake deadline ends it); 400/500 → ERROR whose
 * reason is the status code; a malformed reply → close without ERROR.
 */
export type ZapOutcome = { ok: ZapReply } | { stall: HandshakeStep } | { step: HandshakeStep };

export async function askZap(zap: ZapHook, req: ZapRequest): Promise<ZapOutcome> {
  let reply: ZapReply | ZmqError;
  try {
    reply = await zap.request(req);
  } catch (err) {
    reply = createError(ErrorCode.ZAP_UNSPECIFIED, 'ZAP request failed', { cause: err });
  }
  if (reply instanceof ZmqError) return { step: { error: reply } };
  switch (reply.statusCode) {
    case '200':
      return { ok: reply };
    case '300': {
      // libzmq reports the temporary failure at once, and leaves the connection to the deadline
      const notice = createError(ErrorCode.AUTH_FAILED, `ZAP handler answered 300 (temporary failure) for the ${req.mechanism} client`, { status: 300 });
      return { stall: { notice } };
    }
    default: {
      const text = reply.statusText ? `: ${reply.statusText}` : '';
      const error = createError(ErrorCode.AUTH_FAILED, `ZAP handler refused the ${req.mechanism} client (${reply.statusCode}${text})`, {
        status: Number(reply.statusCode),
      });
      return { step: { error, errorReason: reply.statusCode } };
    }
  }
}

/**
 * Peer properties as the application sees them: the peer's own metadata, then the ZAP handler's
 * properties and User-Id. On a name clash the ZAP value wins (as in libzmq): the peer's entry is
 * dropped, so a client cannot forge its User-Id.
 */
export function withZapProperties(peer: Metadata, reply: ZapReply | undefined): Metadata {
  if (!reply) return peer;
  const extra: [string, Uint8Array][] = [...reply.metadata.entries];
  if (reply.userId !== '') extra.push(['User-Id', fromString(reply.userId)]);
  const names = new Set(extra.map(([n]) => n.toLowerCase()));
  names.add('user-id');
  const entries = peer.entries.filter(([n]) => !names.has(n.toLowerCase()));
  return new Metadata([...entries, ...extra]);
}

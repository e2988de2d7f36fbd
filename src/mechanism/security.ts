import { curveKeyBytes, type CurveKey } from '../crypto/keys.ts';
import { publicFromSecret, keyPair } from '../crypto/box.ts';
import { createError, ErrorCode, type ZmqError } from '../errors.ts';
import { EMPTY, toFrame } from '../util/bytes.ts';
import { Command } from '../zmtp/constants.ts';
import { parseMetadata } from '../zmtp/metadata.ts';
import { askZap, withZapProperties } from '../zap/outcome.ts';
import { ZAP_ENDPOINT, type ZapHook, type ZapReply } from '../zap/protocol.ts';
import { CurveClient, CurveServer } from './curve.ts';
import { refused, type HandshakeContext, type HandshakeStep, type Mechanism } from './mechanism.ts';
import { encodeReady, NullMechanism } from './null.ts';
import { PlainClient, PlainServer } from './plain.ts';

/** The socket options that pick and configure a security mechanism (names as in zeromq.js). */
export interface SecurityOptions {
  plainServer: boolean;
  plainUsername: string | null;
  plainPassword: string | null;
  curveServer: boolean;
  curvePublicKey: CurveKey | null;
  curveSecretKey: CurveKey | null;
  curveServerKey: CurveKey | null;
  zapDomain: string | null;
  zapEnforceDomain: boolean;
  routingId: string | null;
}

/**
 * Picks the mechanism from local configuration only (libzmq ignores the peer's as-server byte):
 * curveServer → CURVE server; curveServerKey → CURVE client; plainServer → PLAIN server;
 * plainUsername/plainPassword → PLAIN client; otherwise NULL (which asks ZAP only when zapDomain
 * is set and a handler is bound). Bad keys throw EINVAL.
 */
/** The mechanism the options select, by libzmq's precedence: 'CURVE', 'PLAIN' or 'NULL'. */
export function mechanismName(o: SecurityOptions): 'CURVE' | 'PLAIN' | 'NULL' {
  return o.curveServer || o.curveServerKey !== null ? 'CURVE' : o.plainServer || o.plainUsername !== null ? 'PLAIN' : 'NULL';
}

export function createSecurityMechanism(o: SecurityOptions, zap: ZapHook | undefined): Mechanism {
  try {
    return pick(o, zap);
  } catch (err) {
    // options assigned after construction skip validation: fail each handshake, visibly
    return new MisconfiguredMechanism(mechanismName(o), err as ZmqError);
  }
}

/** Fails every handshake with the configuration error (a bad key assigned after construction). */
class MisconfiguredMechanism implements Mechanism {
  readonly name: string;
  readonly asServer = false;
  private readonly error: ZmqError;
  constructor(name: string, error: ZmqError) {
    this.name = name;
    this.error = error;
  }
  start(): HandshakeStep {
    return { error: this.error };
  }
  onCommand(): HandshakeStep {
    return { error: this.error };
  }
}

function pick(o: SecurityOptions, zap: ZapHook | undefined): Mechanism {
  const domain = o.zapDomain ?? '';
  const identity = o.routingId === null ? EMPTY : toFrame(o.routingId);
  if (o.curveServer) {
    if (o.curveSecretKey === null) throw createError(ErrorCode.EINVAL, 'A CURVE server needs curveSecretKey');
    return new CurveServer({ secretKey: curveKeyBytes(o.curveSecretKey, 'curveSecretKey'), zap, domain, identity, requireZap: o.zapEnforceDomain });
  }
  if (o.curveServerKey !== null) {
    const serverKey = curveKeyBytes(o.curveServerKey, 'curveServerKey');
    let secretKey: Uint8Array;
    let publicKey: Uint8Array;
    if (o.curveSecretKey !== null) {
      secretKey = curveKeyBytes(o.curveSecretKey, 'curveSecretKey');
      publicKey = o.curvePublicKey !== null ? curveKeyBytes(o.curvePublicKey, 'curvePublicKey') : publicFromSecret(secretKey);
    } else {
      // No permanent key of our own: a throwaway one (the server still encrypts; it cannot know us)
      ({ secretKey, publicKey } = keyPair());
    }
    return new CurveClient({ serverKey, publicKey, secretKey });
  }
  if (o.plainServer) return new PlainServer({ zap, domain, identity });
  if (o.plainUsername !== null || o.plainPassword !== null) return new PlainClient(o.plainUsername ?? '', o.plainPassword ?? '');
  if (domain !== '' && zap) return new NullZapMechanism(zap, domain, identity, o.zapEnforceDomain);
  return new NullMechanism();
}

/** zapEnforceDomain without a handler: libzmq fails the handshake (no ERROR sent). */
export function noHandler(): ZmqError {
  return createError(ErrorCode.AUTH_FAILED, `zapEnforceDomain is set but no ZAP handler is bound at ${ZAP_ENDPOINT}`);
}

/**
 * NULL with a zapDomain (libzmq): ask ZAP (mechanism "NULL", no credentials) before sending READY.
 * Without a handler bound it is plain NULL, as in libzmq without ZMQ_ZAP_ENFORCE_DOMAIN.
 */
export class NullZapMechanism implements Mechanism {
  readonly name = 'NULL';
  readonly asServer = false;
  private readonly zap: ZapHook;
  private readonly domain: string;
  private readonly identity: Uint8Array;
  private readonly plain = new NullMechanism();
  private asking = false;
  private stalled = false;
  private readonly requireZap: boolean;
  private reply: ZapReply | undefined;

  constructor(zap: ZapHook, domain: string, identity: Uint8Array, requireZap = false) {
    this.zap = zap;
    this.domain = domain;
    this.identity = identity;
    this.requireZap = requireZap;
  }

  start(ctx: HandshakeContext): HandshakeStep | Promise<HandshakeStep> {
    if (!this.zap.available()) {
      if (this.requireZap) return { error: noHandler() };
      return this.plain.start(ctx);
    }
    this.asking = true;
    return askZap(this.zap, { domain: this.domain, address: ctx.remoteAddress, identity: this.identity, mechanism: 'NULL', credentials: [] }).then(
      (outcome) => {
        if ('ok' in outcome) {
          this.reply = outcome.ok;
          return { send: [encodeReady(ctx.localMetadata)] };
        }
        if ('stall' in outcome) {
          this.stalled = true;
          return outcome.stall;
        }
        return outcome.step;
      },
    );
  }

  onCommand(name: string, data: Uint8Array): HandshakeStep {
    if (!this.asking) return this.plain.onCommand(name, data);
    if (this.stalled) return { error: createError(ErrorCode.UNEXPECTED_COMMAND, `unexpected ${name} command while ZAP said 300`) };
    if (name === Command.READY) {
      const peer = parseMetadata(data);
      if (!('entries' in peer)) return { error: peer };
      return { done: { peer: withZapProperties(peer, this.reply), userId: this.reply?.userId } };
    }
    if (name === Command.ERROR) {
      return { error: refused(data) };
    }
    return { error: createError(ErrorCode.UNEXPECTED_COMMAND, `unexpected ${name} command during NULL handshake`) };
  }
}

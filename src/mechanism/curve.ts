import {
  box,
  boxAfter,
  boxBefore,
  boxOpen,
  boxOpenAfter,
  openInPlace,
  permanentPublicKey,
  publicFromSecret,
  randomBytes,
  sealInPlace,
  secretbox,
  secretboxOpen,
} from '../crypto/box.ts';
import { encode as z85encode } from '../crypto/z85.ts';
import { createError, ErrorCode, type ZmqError } from '../errors.ts';
import { alloc, asBuffer, asciiBytes, equals, readU64, writeU64 } from '../util/bytes.ts';
import { Command, FrameFlag } from '../zmtp/constants.ts';
import { encodeMetadata, parseMetadata, type Metadata } from '../zmtp/metadata.ts';
import { askZap, withZapProperties } from '../zap/outcome.ts';
import { ZAP_ENDPOINT, type ZapHook, type ZapReply } from '../zap/protocol.ts';
import type { HandshakeContext, HandshakeStep, Mechanism } from './mechanism.ts';
import { refused } from './mechanism.ts';

/**
 * CURVE (RFC 25/ZMTP-CURVE + 26/CURVEZMQ), laid out byte for byte as libzmq does it
 * (see shared/specs/security.md §3):
 *
 *   C: HELLO    C', Box[64 zeros](C'→S)                     nonce "CurveZMQHELLO---" + short
 *   S: WELCOME  Box[S' ‖ cookie](S→C')                      nonce "WELCOME-" + long
 *   C: INITIATE cookie, Box[C ‖ vouch ‖ metadata](C'→S')    nonce "CurveZMQINITIATE" + short
 *               vouch = Box[C' ‖ S](C→S')                   nonce "VOUCH---" + long
 *   S: READY    Box[metadata](S'→C')                        nonce "CurveZMQREADY---" + short
 *   both: MESSAGE Box[flags ‖ frame](sender'→receiver')      nonce "CurveZMQMESSAGEC"/"...S" + short
 *
 * Short nonces count from 1 on each side (client HELLO 1, INITIATE 2, MESSAGE 3…; server READY 1,
 * MESSAGE 2…). A received MESSAGE nonce must be strictly greater than the last one (gaps are fine,
 * as in libzmq). Every ZMTP frame after the handshake, commands included, travels as one MESSAGE
 * in a plain message frame (outer flags 0x00/0x02); inside, flags bit 0 = MORE, bit 1 = COMMAND.
 */

const HELLO_NONCE = asciiBytes('CurveZMQHELLO---');
const WELCOME_NONCE = asciiBytes('WELCOME-');
const COOKIE_NONCE = asciiBytes('COOKIE--');
const INITIATE_NONCE = asciiBytes('CurveZMQINITIATE');
const VOUCH_NONCE = asciiBytes('VOUCH---');
const READY_NONCE = asciiBytes('CurveZMQREADY---');
const MESSAGE_NONCE_C = asciiBytes('CurveZMQMESSAGEC');
const MESSAGE_NONCE_S = asciiBytes('CurveZMQMESSAGES');
const MESSAGE_HEADER = asciiBytes('\x07MESSAGE');

/** Body sizes (command name included). */
export const HELLO_SIZE = 200;
export const WELCOME_SIZE = 168;
export const INITIATE_MIN = 257;
export const READY_MIN = 30;
export const MESSAGE_MIN = 33;
const COOKIE_SIZE = 96;

/** Inner MESSAGE flags (libzmq). */
const INNER_MORE = 0x01;
const INNER_COMMAND = 0x02;

/**
 * Fixed inputs, for tests only: with them a handshake is reproducible byte for byte
 * (spec-vectors/curve/). Anything left out is random, as it must be in production.
 */
export interface CurveFixedInputs {
  /** c' or s': this side's transient secret key. */
  transientSecretKey?: Uint8Array;
  /** Server: the WELCOME long nonce W (16 bytes). */
  welcomeNonce?: Uint8Array;
  /** Server: the cookie long nonce K (16 bytes). */
  cookieNonce?: Uint8Array;
  /** Server: the cookie key (32 bytes). */
  cookieKey?: Uint8Array;
  /** Client: the vouch long nonce V (16 bytes). */
  vouchNonce?: Uint8Array;
}

function shortNonce(prefix: Uint8Array, n: number): Uint8Array {
  const out = new Uint8Array(24);
  out.set(prefix);
  writeU64(out, 16, n);
  return out;
}

function longNonce(prefix: Uint8Array, tail: Uint8Array): Uint8Array {
  const out = new Uint8Array(24);
  out.set(prefix);
  out.set(tail, 8);
  return out;
}

function fail(code: ErrorCode, message: string): HandshakeStep {
  return { error: createError(code, message) };
}

/**
 * What both roles share after the handshake: the precomputed transient key and the MESSAGE
 * nonce counters. encodeFrame/decodeFrame work in place on the one buffer that goes on (or came
 * off) the wire.
 */
abstract class CurveBase implements Mechanism {
  readonly name = 'CURVE';
  abstract readonly asServer: boolean;
  /** Precomputed key for C'/s' (server) or S'/c' (client). */
  protected shared: Uint8Array | undefined;
  /** Next short nonce we send. */
  protected sendNonce = 1;
  /** Last short nonce the peer used. */
  protected peerNonce = 0;
  private readonly sendPrefix: Uint8Array;
  private readonly recvPrefix: Uint8Array;
  private readonly sendScratch = new Uint8Array(24);
  private readonly recvScratch = new Uint8Array(24);

  constructor(asServer: boolean) {
    this.sendPrefix = asServer ? MESSAGE_NONCE_S : MESSAGE_NONCE_C;
    this.recvPrefix = asServer ? MESSAGE_NONCE_C : MESSAGE_NONCE_S;
    this.sendScratch.set(this.sendPrefix);
    this.recvScratch.set(this.recvPrefix);
  }

  abstract start(ctx: HandshakeContext): HandshakeStep;
  abstract onCommand(name: string, data: Uint8Array): HandshakeStep | Promise<HandshakeStep>;

  protected nextNonce(): number {
    const n = this.sendNonce;
    // RFC 26: never more than 2^64-1 commands; we stop well before 2^53 (never reached in practice)
    if (n >= Number.MAX_SAFE_INTEGER) throw createError(ErrorCode.CRYPTOGRAPHIC, 'CURVE nonce space exhausted');
    this.sendNonce = n + 1;
    return n;
  }

  /** One ZMTP frame → one MESSAGE command body, carried in a plain message frame. */
  encodeFrame(flags: number, body: Uint8Array): { flags: number; body: Uint8Array } {
    const len = body.length;
    const out = alloc(MESSAGE_MIN + len);
    out.fill(0, 0, 32);
    out[32] = (flags & FrameFlag.MORE ? INNER_MORE : 0) | (flags & FrameFlag.COMMAND ? INNER_COMMAND : 0);
    if (len > 0) out.set(body, 33);
    const n = this.nextNonce();
    writeU64(this.sendScratch, 16, n);
    sealInPlace(out, this.sendScratch, this.shared!);
    // out[0..16) is free: the command header and the short nonce go there, tag and box follow
    out.set(MESSAGE_HEADER, 0);
    writeU64(out, 8, n);
    return { flags: 0, body: out };
  }

  /**
   * A MESSAGE from the wire → the frame it carries. Decrypts in place (the body is ours). Any
   * fault is fatal for the connection: libzmq closes too, and a server must not answer with ERROR.
   */
  decodeFrame(_flags: number, body: Uint8Array): { flags: number; body: Uint8Array } | ZmqError {
    if (body.length < MESSAGE_MIN) return createError(ErrorCode.MALFORMED_MESSAGE, `CURVE MESSAGE of ${body.length} bytes, at least ${MESSAGE_MIN} needed`);
    for (let i = 0; i < 8; i++) {
      if (body[i] !== MESSAGE_HEADER[i]) return createError(ErrorCode.MALFORMED_MESSAGE, 'expected a CURVE MESSAGE command after the handshake');
    }
    const n = readU64(body, 8);
    if (n <= this.peerNonce) {
      // -1 (beyond 2^53) lands here too: we could never have counted that far
      return createError(ErrorCode.UNEXPECTED_MESSAGE, `CURVE MESSAGE nonce ${n < 0 ? 'out of range' : n} does not increase (last ${this.peerNonce})`);
    }
    const nonce = this.recvScratch;
    for (let i = 0; i < 8; i++) nonce[16 + i] = body[8 + i]!;
    if (!openInPlace(body, nonce, this.shared!)) return createError(ErrorCode.CRYPTOGRAPHIC, 'CURVE MESSAGE does not decrypt');
    this.peerNonce = n;
    const inner = body[32]!;
    return {
      flags: (inner & INNER_MORE ? FrameFlag.MORE : 0) | (inner & INNER_COMMAND ? FrameFlag.COMMAND : 0),
      body: body.subarray(33),
    };
  }
}

export interface CurveClientOptions {
  /** S: the server's permanent public key (32 bytes). */
  serverKey: Uint8Array;
  /** C: our permanent public key. */
  publicKey: Uint8Array;
  /** c: our permanent secret key. */
  secretKey: Uint8Array;
  fixed?: CurveFixedInputs;
}

const ClientState = { START: 0, WELCOME: 1, READY: 2, DONE: 3, FAILED: 4 } as const;
type ClientState = (typeof ClientState)[keyof typeof ClientState];

export class CurveClient extends CurveBase {
  readonly asServer = false;
  private readonly opts: CurveClientOptions;
  private state: ClientState = ClientState.START;
  private transientSecret: Uint8Array;
  private readonly transientPublic: Uint8Array;
  /** C'·S, computed once: it seals HELLO and opens WELCOME. */
  private helloShared: Uint8Array | undefined;
  private metadata: readonly [string, Uint8Array][] = [];

  constructor(opts: CurveClientOptions) {
    super(false);
    this.opts = opts;
    this.transientSecret = opts.fixed?.transientSecretKey ? new Uint8Array(opts.fixed.transientSecretKey) : randomBytes(32);
    this.transientPublic = publicFromSecret(this.transientSecret);
  }

  start(ctx: HandshakeContext): HandshakeStep {
    this.metadata = ctx.localMetadata;
    const body = new Uint8Array(HELLO_SIZE); // zeroed: the 72 padding bytes must be 0
    body.set(asciiBytes('\x05HELLO'), 0);
    body[6] = 1; // version 1.0
    body[7] = 0;
    body.set(this.transientPublic, 80);
    const n = this.nextNonce();
    writeU64(body, 112, n);
    this.helloShared = boxBefore(this.opts.serverKey, this.transientSecret);
    body.set(boxAfter(new Uint8Array(64), shortNonce(HELLO_NONCE, n), this.helloShared), 120);
    this.state = ClientState.WELCOME;
    return { send: [body] };
  }

  onCommand(name: string, data: Uint8Array): HandshakeStep {
    const state = this.state;
    this.state = ClientState.FAILED; // until a branch succeeds
    if (name === Command.ERROR && (state === ClientState.WELCOME || state === ClientState.READY)) {
      return { error: refused(data) };
    }
    if (name === Command.WELCOME && state === ClientState.WELCOME) return this.onWelcome(data);
    if (name === Command.READY && state === ClientState.READY) return this.onReady(data);
    return fail(ErrorCode.UNEXPECTED_COMMAND, `unexpected ${name} command ${state === ClientState.WELCOME ? 'while waiting for WELCOME' : 'while waiting for READY'} (CURVE client)`);
  }

  peerClosed(): ZmqError | undefined {
    if (this.state !== ClientState.WELCOME) return undefined;
    // A libzmq (or purezmq) CURVE server that cannot open our HELLO closes without a word.
    return createError(
      ErrorCode.KEY_EXCHANGE,
      'CURVE server closed the connection without answering HELLO: curveServerKey is most likely not the public key of this server',
    );
  }

  private onWelcome(data: Uint8Array): HandshakeStep {
    const { serverKey, publicKey, secretKey } = this.opts;
    if (data.length !== WELCOME_SIZE - 8) return fail(ErrorCode.MALFORMED_WELCOME, `CURVE WELCOME of ${data.length + 8} bytes, expected ${WELCOME_SIZE}`);
    const plain = boxOpenAfter(data.subarray(16), longNonce(WELCOME_NONCE, data.subarray(0, 16)), this.helloShared!);
    this.helloShared!.fill(0);
    this.helloShared = undefined;
    if (!plain) {
      return fail(ErrorCode.CRYPTOGRAPHIC, 'CURVE WELCOME does not decrypt: curveServerKey is not the key of this server');
    }
    const serverTransient = plain.subarray(0, 32);
    const cookie = plain.subarray(32, 32 + COOKIE_SIZE);
    this.shared = boxBefore(serverTransient, this.transientSecret);

    const vouchNonce = this.opts.fixed?.vouchNonce ?? randomBytes(16);
    const vouchPlain = new Uint8Array(64);
    vouchPlain.set(this.transientPublic, 0);
    vouchPlain.set(serverKey, 32);
    const vouch = box(vouchPlain, longNonce(VOUCH_NONCE, vouchNonce), serverTransient, secretKey);

    const meta = encodeMetadata(this.metadata);
    const inner = new Uint8Array(32 + 16 + 80 + meta.length);
    inner.set(publicKey, 0);
    inner.set(vouchNonce, 32);
    inner.set(vouch, 48);
    inner.set(meta, 128);
    const n = this.nextNonce();
    const sealed = boxAfter(inner, shortNonce(INITIATE_NONCE, n), this.shared);

    const body = alloc(9 + COOKIE_SIZE + 8 + sealed.length);
    body.set(asciiBytes('\x08INITIATE'), 0);
    body.set(cookie, 9);
    writeU64(body, 105, n);
    body.set(sealed, 113);
    this.state = ClientState.READY;
    return { send: [body] };
  }

  private onReady(data: Uint8Array): HandshakeStep {
    if (data.length < READY_MIN - 6) return fail(ErrorCode.MALFORMED_READY, `CURVE READY of ${data.length + 6} bytes, at least ${READY_MIN} needed`);
    const n = readU64(data, 0);
    const plain = boxOpenAfter(data.subarray(8), shortNonce(READY_NONCE, Math.max(n, 0)), this.shared!);
    if (!plain || n < 0) return fail(ErrorCode.CRYPTOGRAPHIC, 'CURVE READY does not decrypt');
    const peer = parseMetadata(asBuffer(plain)); // values reach users (Identity): Buffer, like every frame
    if (!('entries' in peer)) return fail(ErrorCode.BAD_METADATA, peer.message);
    this.peerNonce = n;
    this.transientSecret.fill(0);
    this.state = ClientState.DONE;
    return { done: { peer, publicKey: z85encode(this.opts.serverKey) } };
  }
}

export interface CurveServerOptions {
  /** s: our permanent secret key (the public key is derived). */
  secretKey: Uint8Array;
  zap: ZapHook | undefined;
  /** zapDomain ('' when unset). */
  domain: string;
  /** This socket's routing id, sent in the ZAP identity frame (as libzmq does). */
  identity: Uint8Array;
  /** zapEnforceDomain: with no handler bound, fail instead of admitting every key. */
  requireZap?: boolean;
  fixed?: CurveFixedInputs;
}

const ServerState = { HELLO: 0, INITIATE: 1, ZAP: 2, STALLED: 3, DONE: 4, FAILED: 5 } as const;
type ServerState = (typeof ServerState)[keyof typeof ServerState];

/**
 * The server. libzmq keeps s' and the cookie key per connection and cross-checks the cookie; so
 * do we. The cookie key is fresh for every WELCOME and wiped once INITIATE is in, as is s'.
 * A HELLO that does not open is answered by closing the connection, nothing else.
 */
export class CurveServer extends CurveBase {
  readonly asServer = true;
  private readonly opts: CurveServerOptions;
  private readonly publicKey: Uint8Array;
  private state: ServerState = ServerState.HELLO;
  private metadata: readonly [string, Uint8Array][] = [];
  private remoteAddress = '';
  private clientTransient: Uint8Array | undefined;
  private transientSecret: Uint8Array | undefined;
  private cookieKey: Uint8Array | undefined;

  constructor(opts: CurveServerOptions) {
    super(true);
    this.opts = opts;
    this.publicKey = permanentPublicKey(opts.secretKey);
  }

  start(ctx: HandshakeContext): HandshakeStep {
    this.metadata = ctx.localMetadata;
    this.remoteAddress = ctx.remoteAddress;
    return {};
  }

  onCommand(name: string, data: Uint8Array): HandshakeStep | Promise<HandshakeStep> {
    const state = this.state;
    this.state = ServerState.FAILED;
    if (name === Command.HELLO && state === ServerState.HELLO) return this.onHello(data);
    if (name === Command.INITIATE && state === ServerState.INITIATE) return this.onInitiate(data);
    return fail(ErrorCode.UNEXPECTED_COMMAND, `unexpected ${name} command ${state === ServerState.HELLO ? 'while waiting for HELLO' : 'while waiting for INITIATE'} (CURVE server)`);
  }

  private onHello(data: Uint8Array): HandshakeStep {
    if (data.length !== HELLO_SIZE - 6) return fail(ErrorCode.MALFORMED_HELLO, `CURVE HELLO of ${data.length + 6} bytes, expected ${HELLO_SIZE}`);
    if (data[0] !== 1 || data[1] !== 0) return fail(ErrorCode.MALFORMED_HELLO, `CURVE HELLO version ${data[0]}.${data[1]}, expected 1.0`);
    const clientTransient = new Uint8Array(data.subarray(74, 106)); // a copy, never a view of the wire buffer
    const n = readU64(data, 106);
    if (n < 0) return fail(ErrorCode.CRYPTOGRAPHIC, 'CURVE HELLO does not decrypt: the client uses another server key');
    // C'·s, computed once: it opens HELLO and seals WELCOME
    const helloShared = boxBefore(clientTransient, this.opts.secretKey);
    const plain = boxOpenAfter(data.subarray(114, 194), shortNonce(HELLO_NONCE, n), helloShared);
    if (!plain) {
      helloShared.fill(0);
      return fail(ErrorCode.CRYPTOGRAPHIC, 'CURVE HELLO does not decrypt: the client uses another server key');
    }
    for (let i = 0; i < 64; i++) {
      if (plain[i] !== 0) {
        helloShared.fill(0);
        return fail(ErrorCode.CRYPTOGRAPHIC, 'CURVE HELLO signature box is not 64 zero bytes');
      }
    }
    this.peerNonce = n;
    this.clientTransient = clientTransient;

    const fixed = this.opts.fixed;
    const transientSecret = fixed?.transientSecretKey ? new Uint8Array(fixed.transientSecretKey) : randomBytes(32);
    this.transientSecret = transientSecret;
    // a fresh cookie key for every WELCOME (libzmq does the same)
    const cookieKey = fixed?.cookieKey ? new Uint8Array(fixed.cookieKey) : randomBytes(32);
    this.cookieKey = cookieKey;

    const cookiePlain = new Uint8Array(64);
    cookiePlain.set(clientTransient, 0);
    cookiePlain.set(transientSecret, 32);
    const cookieNonce = fixed?.cookieNonce ?? randomBytes(16);
    const cookie = new Uint8Array(COOKIE_SIZE);
    cookie.set(cookieNonce, 0);
    cookie.set(secretbox(cookiePlain, longNonce(COOKIE_NONCE, cookieNonce), cookieKey), 16);
    cookiePlain.fill(0);

    const welcomePlain = new Uint8Array(32 + COOKIE_SIZE);
    welcomePlain.set(publicFromSecret(transientSecret), 0);
    welcomePlain.set(cookie, 32);
    const welcomeNonce = fixed?.welcomeNonce ?? randomBytes(16);
    const body = alloc(WELCOME_SIZE);
    body.set(asciiBytes('\x07WELCOME'), 0);
    body.set(welcomeNonce, 8);
    body.set(boxAfter(welcomePlain, longNonce(WELCOME_NONCE, welcomeNonce), helloShared), 24);
    helloShared.fill(0);
    this.state = ServerState.INITIATE;
    return { send: [body] };
  }

  private onInitiate(data: Uint8Array): HandshakeStep | Promise<HandshakeStep> {
    if (data.length < INITIATE_MIN - 9) return fail(ErrorCode.MALFORMED_INITIATE, `CURVE INITIATE of ${data.length + 9} bytes, at least ${INITIATE_MIN} needed`);
    const cookieKey = this.cookieKey!;
    const transientSecret = this.transientSecret!;
    const clientTransient = this.clientTransient!;
    this.cookieKey = undefined;

    const cookie = secretboxOpen(data.subarray(16, COOKIE_SIZE), longNonce(COOKIE_NONCE, data.subarray(0, 16)), cookieKey);
    cookieKey.fill(0);
    if (!cookie || !equals(cookie.subarray(0, 32), clientTransient) || !equals(cookie.subarray(32, 64), transientSecret)) {
      return fail(ErrorCode.CRYPTOGRAPHIC, 'CURVE INITIATE carries a cookie we did not issue');
    }
    const n = readU64(data, COOKIE_SIZE);
    if (n < 0) return fail(ErrorCode.MALFORMED_INITIATE, 'CURVE INITIATE nonce out of range');
    this.shared = boxBefore(clientTransient, transientSecret);
    const inner = boxOpenAfter(data.subarray(COOKIE_SIZE + 8), shortNonce(INITIATE_NONCE, n), this.shared);
    if (!inner) return fail(ErrorCode.CRYPTOGRAPHIC, 'CURVE INITIATE does not decrypt');
    const clientKey = new Uint8Array(inner.subarray(0, 32));
    const vouch = boxOpen(inner.subarray(48, 128), longNonce(VOUCH_NONCE, inner.subarray(32, 48)), clientKey, transientSecret);
    transientSecret.fill(0);
    this.transientSecret = undefined;
    // RFC 26: the vouch is Box[C' ‖ S]; libzmq checks only C', we check both (its own client sends both right)
    if (!vouch || !equals(vouch.subarray(0, 32), clientTransient) || !equals(vouch.subarray(32, 64), this.publicKey)) {
      return fail(ErrorCode.KEY_EXCHANGE, 'CURVE INITIATE vouch does not check out');
    }
    const peer = parseMetadata(asBuffer(inner).subarray(128)); // values reach users (Identity): Buffer, like every frame
    if (!('entries' in peer)) return fail(ErrorCode.BAD_METADATA, peer.message);
    this.peerNonce = n;

    const zap = this.opts.zap;
    // libzmq: with no ZAP handler bound, every client key is accepted (encryption without authentication)
    if (!zap || !zap.available()) {
      if (this.opts.requireZap) {
        return fail(ErrorCode.AUTH_FAILED, `zapEnforceDomain is set but no ZAP handler is bound at ${ZAP_ENDPOINT}`);
      }
      return this.ready(peer, clientKey, undefined);
    }
    this.state = ServerState.ZAP;
    return askZap(zap, {
      domain: this.opts.domain,
      address: this.remoteAddress,
      identity: this.opts.identity,
      mechanism: 'CURVE',
      credentials: [clientKey],
    }).then((outcome) => {
      if ('ok' in outcome) return this.ready(peer, clientKey, outcome.ok);
      if ('stall' in outcome) {
        this.state = ServerState.STALLED;
        return outcome.stall;
      }
      this.state = ServerState.FAILED;
      return outcome.step;
    });
  }

  private ready(peer: Metadata, clientKey: Uint8Array, reply: ZapReply | undefined): HandshakeStep {
    const meta = encodeMetadata(this.metadata);
    const n = this.nextNonce();
    const sealed = boxAfter(meta, shortNonce(READY_NONCE, n), this.shared!);
    const body = alloc(14 + sealed.length);
    body.set(asciiBytes('\x05READY'), 0);
    writeU64(body, 6, n);
    body.set(sealed, 14);
    this.state = ServerState.DONE;
    return {
      send: [body],
      done: { peer: withZapProperties(peer, reply), userId: reply?.userId, publicKey: z85encode(clientKey) },
    };
  }
}

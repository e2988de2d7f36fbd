import { createError, ErrorCode, type ZmqError } from '../errors.ts';
import { asciiString, copyBytes, fromString } from '../util/bytes.ts';
import { commandBody, parseCommand, type ParsedCommand } from '../zmtp/command.ts';
import { Command } from '../zmtp/constants.ts';
import { encodeMetadataSize, parseMetadata, writeMetadata } from '../zmtp/metadata.ts';
import { askZap, withZapProperties } from '../zap/outcome.ts';
import { ZAP_ENDPOINT, type ZapHook, type ZapReply } from '../zap/protocol.ts';
import { refused, type HandshakeContext, type HandshakeStep, type Mechanism } from './mechanism.ts';

/**
 * PLAIN (RFC 24/ZMTP-PLAIN): clear-text username/password, checked by the server through ZAP.
 *
 *   C: HELLO (username, password)   S: WELCOME | ERROR
 *   C: INITIATE (metadata)          S: READY (metadata) | ERROR
 */

const State = { HELLO: 0, WELCOME: 1, INITIATE: 2, READY: 3, ZAP: 4, STALLED: 5, DONE: 6, FAILED: 7 } as const;
type State = (typeof State)[keyof typeof State];

/** A command body made of a name and a metadata property list. */
function metadataCommand(name: string, props: readonly [string, Uint8Array][]): Uint8Array {
  const { body, offset } = commandBody(name, encodeMetadataSize(props));
  writeMetadata(body, offset, props);
  return body;
}

function unexpected(name: string, state: string): HandshakeStep {
  return { error: createError(ErrorCode.UNEXPECTED_COMMAND, `unexpected ${name} command ${state} (PLAIN)`) };
}

/** The client: sends its credentials, then its metadata. */
export class PlainClient implements Mechanism {
  readonly name = 'PLAIN';
  readonly asServer = false;
  private readonly username: Uint8Array;
  private readonly password: Uint8Array;
  private state: State = State.HELLO;
  private metadata: readonly [string, Uint8Array][] = [];

  constructor(username: string | Uint8Array, password: string | Uint8Array) {
    this.username = typeof username === 'string' ? fromString(username) : username;
    this.password = typeof password === 'string' ? fromString(password) : password;
    if (this.username.length > 255 || this.password.length > 255) {
      throw createError(ErrorCode.EINVAL, 'PLAIN username and password must be at most 255 bytes each');
    }
  }

  start(ctx: HandshakeContext): HandshakeStep {
    this.metadata = ctx.localMetadata;
    const u = this.username;
    const p = this.password;
    const { body, offset } = commandBody(Command.HELLO, 2 + u.length + p.length);
    body[offset] = u.length;
    body.set(u, offset + 1);
    body[offset + 1 + u.length] = p.length;
    body.set(p, offset + 2 + u.length);
    this.state = State.WELCOME;
    return { send: [body] };
  }

  /**
   * libzmq 4.3.0–4.3.5 PLAIN servers send ERROR as `5E 'RROR' len reason` (a C "\x05ERROR" literal
   * that swallowed the 'E'). Accept that form as well as the correct `05 'ERROR'`.
   */
  parseCommand(body: Uint8Array): ParsedCommand | ZmqError {
    if (body.length >= 5 && body[0] === 0x5e && asciiString(body, 1, 5) === 'RROR') {
      return { name: Command.ERROR, data: body.subarray(5) };
    }
    return parseCommand(body);
  }

  onCommand(name: string, data: Uint8Array): HandshakeStep {
    if (name === Command.ERROR && (this.state === State.WELCOME || this.state === State.READY)) {
      this.state = State.FAILED;
      return { error: refused(data) };
    }
    if (name === Command.WELCOME && this.state === State.WELCOME) {
      // libzmq: the WELCOME body is exactly `07 WELCOME`
      if (data.length !== 0) return this.fail(ErrorCode.MALFORMED_WELCOME, 'PLAIN WELCOME carries data');
      this.state = State.READY;
      return { send: [metadataCommand(Command.INITIATE, this.metadata)] };
    }
    if (name === Command.READY && this.state === State.READY) {
      const peer = parseMetadata(data);
      if (!('entries' in peer)) return this.fail(ErrorCode.MALFORMED_READY, peer.message);
      this.state = State.DONE;
      return { done: { peer } };
    }
    const where = this.state === State.WELCOME ? 'while waiting for WELCOME' : this.state === State.READY ? 'while waiting for READY' : 'in this state';
    this.state = State.FAILED;
    return unexpected(name, where);
  }

  private fail(code: ErrorCode, message: string): HandshakeStep {
    this.state = State.FAILED;
    return { error: createError(code, message) };
  }
}

export interface PlainServerOptions {
  zap: ZapHook | undefined;
  /** zapDomain ('' when unset). */
  domain: string;
  /** This socket's routing id, sent in the ZAP identity frame (libzmq does the same). */
  identity: Uint8Array;
}

/**
 * The server: every HELLO is checked by the ZAP handler. Like libzmq, a PLAIN server without a
 * handler bound at inproc://zeromq.zap.01 fails every handshake (closes without ERROR).
 */
export class PlainServer implements Mechanism {
  readonly name = 'PLAIN';
  readonly asServer = true;
  private readonly opts: PlainServerOptions;
  private state: State = State.HELLO;
  private metadata: readonly [string, Uint8Array][] = [];
  private remoteAddress = '';
  private zapReply: ZapReply | undefined;

  constructor(opts: PlainServerOptions) {
    this.opts = opts;
  }

  start(ctx: HandshakeContext): HandshakeStep {
    this.metadata = ctx.localMetadata;
    this.remoteAddress = ctx.remoteAddress;
    return {};
  }

  onCommand(name: string, data: Uint8Array): HandshakeStep | Promise<HandshakeStep> {
    if (name === Command.HELLO && this.state === State.HELLO) return this.onHello(data);
    // libzmq 4.3.0 and 4.3.1 clients (Debian 10's, for one) name their HELLO "WELCOME" (libzmq
    // issue 3500); a client sends nothing else first, so it can only mean HELLO
    if (name === Command.WELCOME && this.state === State.HELLO) return this.onHello(data);
    if (name === Command.INITIATE && this.state === State.INITIATE) {
      const peer = parseMetadata(data);
      if (!('entries' in peer)) return this.fail(ErrorCode.MALFORMED_INITIATE, peer.message);
      this.state = State.DONE;
      return {
        send: [metadataCommand(Command.READY, this.metadata)],
        done: { peer: withZapProperties(peer, this.zapReply), userId: this.zapReply?.userId },
      };
    }
    const where = this.state === State.HELLO ? 'while waiting for HELLO' : this.state === State.INITIATE ? 'while waiting for INITIATE' : 'in this state';
    this.state = State.FAILED;
    return unexpected(name, where);
  }

  private onHello(data: Uint8Array): HandshakeStep | Promise<HandshakeStep> {
    // ulen username plen password, nothing after (libzmq is this strict)
    const ulen = data[0];
    if (ulen === undefined || data.length < 2 + ulen) return this.fail(ErrorCode.MALFORMED_HELLO, 'PLAIN HELLO truncated');
    const plen = data[1 + ulen]!;
    if (data.length !== 2 + ulen + plen) return this.fail(ErrorCode.MALFORMED_HELLO, 'PLAIN HELLO password length does not match the body');
    const username = data.subarray(1, 1 + ulen);
    const password = data.subarray(2 + ulen);
    const zap = this.opts.zap;
    if (!zap || !zap.available()) {
      this.state = State.FAILED;
      return {
        error: createError(ErrorCode.AUTH_FAILED, `PLAIN server has no ZAP handler: bind one at ${ZAP_ENDPOINT} (for example an Authenticator)`),
      };
    }
    this.state = State.ZAP;
    return askZap(zap, {
      domain: this.opts.domain,
      address: this.remoteAddress,
      identity: this.opts.identity,
      mechanism: 'PLAIN',
      credentials: [copyBytes(username), copyBytes(password)],
    }).then((outcome) => {
      if ('ok' in outcome) {
        this.zapReply = outcome.ok;
        this.state = State.INITIATE;
        return { send: [commandBody(Command.WELCOME, 0).body] };
      }
      if ('stall' in outcome) {
        this.state = State.STALLED;
        return outcome.stall;
      }
      this.state = State.FAILED;
      return outcome.step;
    });
  }

  private fail(code: ErrorCode, message: string): HandshakeStep {
    this.state = State.FAILED;
    return { error: createError(code, message) };
  }
}

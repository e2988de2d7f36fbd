import { createError, ErrorCode, ZmqError } from '../errors.ts';
import type { HandshakeStep, Mechanism } from '../mechanism/mechanism.ts';
import { type Connection } from '../transport/transport.ts';
import { alloc, EMPTY } from '../util/bytes.ts';
import { clearTimer, unrefTimer, type TimerHandle } from '../util/timers.ts';
import { encodeCommand, encodeError, encodePing, parseCommand } from '../zmtp/command.ts';
import { Command, FrameFlag, MAX_PING_CONTEXT, MAX_PING_TTL_DECISECONDS } from '../zmtp/constants.ts';
import { FrameDecoder } from '../zmtp/decoder.ts';
import type { Metadata } from '../zmtp/metadata.ts';
import { encodeGreeting, type Greeting } from '../zmtp/greeting.ts';
import { isCompatible, type SocketType } from '../zmtp/socket_types.ts';
import type { Engine, PeerInfo, PipeEnd } from './link.ts';
import { requestFlush, type Flushable } from './flush.ts';
import { ENCODED, FrameWriter, type MaybeEncoded } from './writer.ts';

export interface SessionOptions {
  socketType: SocketType;
  localMetadata: [string, Uint8Array][];
  mechanism: Mechanism;
  maxFrameSize: number;
  maxMessageFrames: number;
  /** Bytes of one message, all frames together; -1 = no limit. */
  maxMessageBytes: number;
  handshakeInterval: number;
  heartbeatInterval: number;
  heartbeatTimeToLive: number;
  heartbeatTimeout: number;
  /** This side accepted the connection (bound), which makes it the server in RFC 37's NULL handshake. */
  accepted: boolean;
}

/** What a session needs from its socket. */
export interface SessionHost {
  /** Handshake done: returns the pipe to feed and drain, or an error to refuse the peer. */
  sessionReady(session: Engine, peer: PeerInfo): PipeEnd | ZmqError;
  /** A handshake problem worth reporting now, while the connection stays open (ZAP 300). */
  sessionNotice(session: Engine, error: ZmqError): void;
  /** Gone: `error` is why, when it was not an orderly close; `handshaken` tells which phase. */
  sessionClosed(session: Engine, error: ZmqError | undefined, handshaken: boolean): void;
}

const Phase = { GREETING: 0, HANDSHAKE: 1, TRAFFIC: 2, CLOSED: 3 } as const;
type Phase = (typeof Phase)[keyof typeof Phase];

/**
 * Largest frame accepted before the handshake completes, whatever maxMessageSize says: the
 * biggest ZMTP command (a CURVE INITIATE with its metadata) is a few hundred bytes, and without a
 * cap an unauthenticated peer could make us buffer up to the message limit (libzmq has none).
 */
export const MAX_HANDSHAKE_FRAME = 64 * 1024;

/** How long an ended connection may take to deliver its last bytes before it is destroyed. */
const END_GRACE_MS = 2000;
/** Bytes encoded per flush before yielding to the transport. */
const FLUSH_BYTES = 256 * 1024;

/**
 * One ZMTP connection: greeting, mechanism handshake, then traffic with heartbeats.
 * Every failure ends this connection only, reported once to the host.
 */
export class Session implements Engine, Flushable {
  readonly connection: Connection;
  private readonly host: SessionHost;
  private readonly opts: SessionOptions;
  private readonly mechanism: Mechanism;
  private readonly decoder: FrameDecoder;
  private readonly writer = new FrameWriter();
  private phase: Phase = Phase.GREETING;
  private pipe: PipeEnd | undefined;
  private peerGreeting: Greeting | undefined;
  private parts: Uint8Array[] = [];
  /** Bytes in `parts`. */
  private partsBytes = 0;
  private handshakeTimer: TimerHandle | undefined;
  private heartbeatTimer: TimerHandle | undefined;
  private livenessTimer: TimerHandle | undefined;
  private lastReceived = 0;
  private pingSentAt = 0;
  private peerTtl = 0;
  /** Flushable: already in the shared flush chain's list. */
  flushQueued = false;
  private transportFull = false;
  private inputPaused = false;
  private closing = false;
  private lingerTimer: TimerHandle | undefined;
  private ended = false;
  private readonly encode: ((flags: number, body: Uint8Array) => { flags: number; body: Uint8Array }) | undefined;
  private readonly decode: Mechanism['decodeFrame'];

  constructor(connection: Connection, host: SessionHost, opts: SessionOptions) {
    this.connection = connection;
    this.host = host;
    this.opts = opts;
    this.mechanism = opts.mechanism;
    this.encode = this.mechanism.encodeFrame?.bind(this.mechanism);
    this.decode = this.mechanism.decodeFrame?.bind(this.mechanism);
    this.decoder = new FrameDecoder(
      {
        onGreeting: (g) => this.onGreeting(g),
        onFrame: (flags, body) => this.onFrame(flags, body),
        onDecodeError: (err) => this.fail(err),
      },
      // until the handshake is done only command frames are expected, and none needs more
      { maxFrameSize: Math.min(opts.maxFrameSize, MAX_HANDSHAKE_FRAME) },
    );
    connection.setHandler({
      onData: (chunk) => {
        this.lastReceived = Date.now();
        this.decoder.push(chunk);
      },
      onDrain: () => {
        this.transportFull = false;
        this.flush();
      },
      // A dropped stream is not a protocol error: it ends in a plain 'disconnect'. During the
      // handshake it is reported (libzmq: HANDSHAKE_FAILED_NO_DETAIL), as the peer never joined.
      onClose: (cause) =>
        this.terminate(
          this.phase < Phase.TRAFFIC && !this.closing
            ? ((this.phase === Phase.HANDSHAKE ? this.mechanism.peerClosed?.() : undefined) ??
                createError(ErrorCode.HANDSHAKE_CLOSED, 'peer closed the connection during the handshake', { cause }))
            : undefined,
        ),
    });
    if (opts.handshakeInterval > 0) {
      this.handshakeTimer = unrefTimer(
        setTimeout(() => {
          this.handshakeTimer = undefined;
          if (this.phase < Phase.TRAFFIC) {
            this.fail(createError(ErrorCode.HANDSHAKE_TIMEOUT, `handshake not complete after ${opts.handshakeInterval} ms`));
          }
        }, opts.handshakeInterval),
      );
    }
    // Whole greeting at once: libzmq accepts it, and it never makes a peer wait on us.
    this.writer.writeRaw(encodeGreeting(this.mechanism.name, this.mechanism.asServer));
    this.writeOut();
  }

  private get isClosed(): boolean {
    return this.phase === Phase.CLOSED;
  }

  /** Greeting or security handshake still in progress. */
  get handshaking(): boolean {
    return this.phase < Phase.TRAFFIC;
  }

  get peerMinor(): number {
    return this.peerGreeting?.minor ?? 1;
  }

  // ---- inbound -------------------------------------------------------------------------

  private onGreeting(g: Greeting): void {
    if (this.phase !== Phase.GREETING) return;
    if (g.mechanism !== this.mechanism.name) {
      this.fail(createError(ErrorCode.MECHANISM_MISMATCH, `peer uses mechanism ${g.mechanism || '(none)'}, we use ${this.mechanism.name}`));
      return;
    }
    this.peerGreeting = g;
    this.phase = Phase.HANDSHAKE;
    this.runStep(
      this.mechanism.start({
        localMetadata: this.opts.localMetadata,
        remoteAddress: this.connection.remoteAddress,
        accepted: this.opts.accepted,
        checkPeer: (peer) => this.checkPeer(peer),
      }),
    );
  }

  private onFrame(flags: number, body: Uint8Array): void {
    if (this.phase === Phase.HANDSHAKE) {
      if (!(flags & FrameFlag.COMMAND)) {
        this.fail(createError(ErrorCode.UNEXPECTED_MESSAGE, 'message frame before the handshake completed'));
        return;
      }
      const cmd = this.mechanism.parseCommand ? this.mechanism.parseCommand(body) : parseCommand(body);
      if (cmd instanceof ZmqError) return this.fail(cmd);
      this.runStep(this.mechanism.onCommand(cmd.name, cmd.data));
      return;
    }
    if (this.phase !== Phase.TRAFFIC) return;
    if (this.decode) {
      const plain = this.decode(flags, body);
      if (!('flags' in plain)) return this.fail(plain);
      flags = plain.flags;
      body = plain.body;
    }
    if (flags & FrameFlag.COMMAND) {
      this.onTrafficCommand(body);
      return;
    }
    const parts = this.parts;
    parts.push(body);
    const max = this.opts.maxMessageBytes;
    if (max >= 0 && (this.partsBytes += body.length) > max) {
      this.fail(createError(ErrorCode.MESSAGE_TOO_LARGE, `message is larger than ${max} bytes (maxMessageBytes)`));
      return;
    }
    if (flags & FrameFlag.MORE) {
      if (parts.length >= this.opts.maxMessageFrames) {
        this.fail(createError(ErrorCode.TOO_MANY_FRAMES, `message has more than ${this.opts.maxMessageFrames} frames`));
      }
      return;
    }
    this.parts = [];
    this.partsBytes = 0;
    if (!this.pipe!.pushIncoming(parts)) {
      this.inputPaused = true;
      this.decoder.pause();
      this.connection.pause();
    }
  }

  private onTrafficCommand(body: Uint8Array): void {
    const cmd = parseCommand(body);
    if (cmd instanceof ZmqError) return this.fail(cmd);
    switch (cmd.name) {
      case Command.PING: {
        if (cmd.data.length < 2) return this.fail(createError(ErrorCode.BAD_COMMAND, 'PING shorter than its TTL field'));
        this.peerTtl = ((cmd.data[0]! << 8) | cmd.data[1]!) * 100;
        const context = cmd.data.subarray(2, 2 + MAX_PING_CONTEXT);
        this.sendCommand(encodeCommand(Command.PONG, context));
        if (this.peerTtl > 0) this.armLiveness();
        return;
      }
      case Command.PONG:
        return; // any traffic is a sign of life, already recorded
      case Command.SUBSCRIBE:
        this.pipe!.onSubscription(cmd.data, true);
        return;
      case Command.CANCEL:
        this.pipe!.onSubscription(cmd.data, false);
        return;
      default:
        // RFC 37 leaves unknown commands undefined; libzmq ignores them, and so do we.
        return;
    }
  }

  private runStep(step: HandshakeStep | Promise<HandshakeStep>): void {
    if (!(step instanceof Promise)) return this.applyStep(step);
    // ZAP and other async checks: hold further input until the answer is in
    this.decoder.pause();
    step.then(
      (s) => {
        if (this.phase === Phase.CLOSED) return;
        this.applyStep(s);
        if (!this.isClosed) this.decoder.resume();
      },
      (err) => this.fail(createError(ErrorCode.AUTH_FAILED, 'authentication handler failed', { cause: err })),
    );
  }

  private applyStep(step: HandshakeStep): void {
    if (this.phase === Phase.CLOSED) return;
    if (step.notice) this.host.sessionNotice(this, step.notice);
    if (step.send) for (const body of step.send) this.writer.writeCommand(body);
    if (step.error) {
      if (step.errorReason !== undefined) {
        this.writer.writeCommand(encodeError(step.errorReason));
      }
      this.writeOut();
      this.fail(step.error, step.errorReason !== undefined);
      return;
    }
    this.writeOut();
    if (step.done) this.handshakeDone(step.done.peer, step.done.userId, step.done.publicKey);
  }

  /** Socket-type compatibility (RFC 23 §"Socket types"). libzmq accepts a READY without Socket-Type; so do we. */
  private checkPeer(peer: Metadata): ZmqError | undefined {
    const typeBytes = peer.get('Socket-Type');
    if (!typeBytes) return undefined;
    const socketType = String.fromCharCode(...typeBytes);
    if (isCompatible(this.opts.socketType, socketType)) return undefined;
    return createError(ErrorCode.INCOMPATIBLE_SOCKET_TYPE, `${this.opts.socketType} cannot talk to ${socketType}`);
  }

  private handshakeDone(peer: Metadata, userId: string | undefined, publicKey?: string): void {
    const typeBytes = peer.get('Socket-Type');
    const socketType = typeBytes ? String.fromCharCode(...typeBytes) : '';
    const refused = this.checkPeer(peer);
    if (refused) {
      this.fail(refused);
      return;
    }
    this.handshakeTimer = clearTimer(this.handshakeTimer);
    const info: PeerInfo = {
      socketType,
      identity: peer.get('Identity') ?? EMPTY,
      metadata: peer,
      userId,
      ...(publicKey === undefined ? {} : { publicKey }),
      remoteAddress: this.connection.remoteAddress,
      minor: this.peerMinor,
    };
    // TRAFFIC before the host sees us, so it can send (subscriptions) from sessionReady
    this.phase = Phase.TRAFFIC;
    this.decoder.setLimits({ maxFrameSize: this.opts.maxFrameSize });
    const pipe = this.host.sessionReady(this, info);
    if (!('pushIncoming' in pipe)) {
      this.fail(pipe);
      return;
    }
    this.pipe = pipe;
    this.startHeartbeats();
    this.outgoingReady();
  }

  // ---- heartbeats -----------------------------------------------------------------------

  private startHeartbeats(): void {
    const ivl = this.opts.heartbeatInterval;
    if (ivl <= 0) return;
    const ttl = Math.min(MAX_PING_TTL_DECISECONDS, Math.floor(this.opts.heartbeatTimeToLive / 100));
    const timeout = this.opts.heartbeatTimeout > 0 ? this.opts.heartbeatTimeout : ivl;
    const tick = () => {
      if (this.phase !== Phase.TRAFFIC) return;
      const now = Date.now();
      // RFC 37: a PING unanswered (no traffic at all) within the timeout means the peer is gone
      if (this.pingSentAt > 0 && this.lastReceived < this.pingSentAt && now - this.pingSentAt >= timeout) {
        this.fail(createError(ErrorCode.HEARTBEAT_TIMEOUT, `no traffic for ${timeout} ms after PING`));
        return;
      }
      if (this.pingSentAt === 0 || this.lastReceived >= this.pingSentAt) {
        this.pingSentAt = now;
        this.sendCommand(encodePing(ttl));
      }
      this.heartbeatTimer = unrefTimer(setTimeout(tick, Math.min(ivl, timeout)));
    };
    this.heartbeatTimer = unrefTimer(setTimeout(tick, ivl));
  }

  /** The peer asked (PING TTL) to be considered dead after TTL without traffic. */
  private armLiveness(): void {
    if (this.livenessTimer) return;
    const check = () => {
      this.livenessTimer = undefined;
      if (this.phase !== Phase.TRAFFIC) return;
      const idle = Date.now() - this.lastReceived;
      if (idle >= this.peerTtl) {
        this.fail(createError(ErrorCode.HEARTBEAT_TIMEOUT, `peer silent for longer than its TTL of ${this.peerTtl} ms`));
      } else {
        this.livenessTimer = unrefTimer(setTimeout(check, this.peerTtl - idle));
      }
    };
    this.livenessTimer = unrefTimer(setTimeout(check, this.peerTtl));
  }

  // ---- outbound -------------------------------------------------------------------------

  /** Link: the pipe has messages. Batches over microtasks so `await send()` loops coalesce. */
  outgoingReady(): void {
    if (this.phase === Phase.TRAFFIC) requestFlush(this);
  }

  /** Flushable: called once per batch by the shared flush chain. */
  flushNow(): void {
    this.flush();
  }

  private flush(): void {
    if (this.phase !== Phase.TRAFFIC || this.transportFull) return;
    const pipe = this.pipe!;
    const w = this.writer;
    const enc = this.encode;
    while (w.pendingBytes < FLUSH_BYTES) {
      const msg = pipe.pullOutgoing();
      if (!msg) break;
      if (enc) {
        const last = msg.length - 1;
        for (let i = 0; i <= last; i++) {
          const f = enc(i < last ? FrameFlag.MORE : 0, msg[i]!);
          w.writeFrame(f.flags, f.body);
        }
      } else {
        const encoded = (msg as MaybeEncoded)[ENCODED];
        if (encoded) w.writeEncoded(encoded);
        else w.writeMessage(msg);
      }
      if (w.pendingBytes >= FLUSH_BYTES) {
        this.writeOut();
        if (this.transportFull) return;
      }
    }
    this.writeOut();
    if (this.closing && !this.transportFull) this.finishClose();
  }

  private writeOut(): void {
    if (this.writer.pendingBytes === 0) return;
    if (!this.connection.write(this.writer.take())) this.transportFull = true;
  }

  private sendCommand(body: Uint8Array): void {
    if (this.encode) {
      const f = this.encode(FrameFlag.COMMAND, body);
      this.writer.writeFrame(f.flags, f.body);
    } else {
      this.writer.writeCommand(body);
    }
    this.writeOut();
  }

  /** Link: subscription, as a command for 3.1 peers and as a 0x01/0x00 message for 3.0 peers. */
  sendSubscription(topic: Uint8Array, subscribe: boolean): void {
    if (this.phase !== Phase.TRAFFIC) return;
    if (this.peerMinor >= 1) {
      this.sendCommand(encodeCommand(subscribe ? Command.SUBSCRIBE : Command.CANCEL, topic));
    } else {
      const body = alloc(topic.length + 1);
      body[0] = subscribe ? 1 : 0;
      body.set(topic, 1);
      const f = this.encode ? this.encode(0, body) : { flags: 0, body };
      this.writer.writeFrame(f.flags, f.body);
      this.writeOut();
    }
  }

  /** Link: the pipe has room again. */
  incomingSpace(): void {
    if (!this.inputPaused || this.phase !== Phase.TRAFFIC) return;
    this.inputPaused = false;
    this.connection.resume();
    this.decoder.resume();
  }

  // ---- closing --------------------------------------------------------------------------

  /** Link: orderly close; pending output is flushed for up to `lingerMs` (-1: until done). */
  close(lingerMs: number): void {
    if (this.phase === Phase.CLOSED || this.closing) return;
    this.closing = true;
    this.decoder.stop();
    if (this.phase !== Phase.TRAFFIC || lingerMs === 0) {
      this.terminate(undefined);
      return;
    }
    if (lingerMs > 0) this.lingerTimer = unrefTimer(setTimeout(() => this.terminate(undefined), lingerMs));
    this.flush();
  }

  private finishClose(): void {
    this.ended = true;
    this.connection.end();
    this.terminate(undefined);
  }

  /** Ends this connection because of `error`. `graceful` lets queued bytes (an ERROR) go out first. */
  fail(error: ZmqError, graceful = false): void {
    if (this.phase === Phase.CLOSED) return;
    this.decoder.stop();
    if (graceful) {
      this.ended = true;
      this.connection.end();
    }
    this.terminate(error);
  }

  private terminate(error: ZmqError | undefined): void {
    if (this.phase === Phase.CLOSED) return;
    const handshaken = this.phase === Phase.TRAFFIC;
    this.phase = Phase.CLOSED;
    this.decoder.stop();
    this.handshakeTimer = clearTimer(this.handshakeTimer);
    this.heartbeatTimer = clearTimer(this.heartbeatTimer);
    this.livenessTimer = clearTimer(this.livenessTimer);
    this.lingerTimer = clearTimer(this.lingerTimer);
    if (this.ended) {
      // let the last bytes (ERROR, lingering messages) go out, but never wait on a peer forever
      const c = this.connection;
      unrefTimer(setTimeout(() => c.destroy(), END_GRACE_MS));
    } else {
      this.connection.destroy();
    }
    this.host.sessionClosed(this, error, handshaken);
  }
}

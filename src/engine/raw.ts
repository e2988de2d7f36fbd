import type { Connection } from '../transport/transport.ts';
import { asBuffer, EMPTY } from '../util/bytes.ts';
import { clearTimer, unrefTimer, type TimerHandle } from '../util/timers.ts';
import { Metadata } from '../zmtp/metadata.ts';
import { requestFlush, type Flushable } from './flush.ts';
import type { Engine, PeerInfo, PipeEnd } from './link.ts';
import type { SessionHost } from './session.ts';

/** How long an ended connection may take to deliver its last bytes before it is destroyed. */
const END_GRACE_MS = 2000;

/**
 * The engine of a STREAM socket: raw bytes, no ZMTP. Every chunk read is one incoming message
 * `[data]`; each outgoing message `[data]` is written as it is, and an empty one ends the
 * connection (after what was queued before it), as libzmq's ZMQ_STREAM does.
 */
export class RawSession implements Engine, Flushable {
  readonly handshaking = false;
  flushQueued = false;
  private readonly connection: Connection;
  private readonly host: SessionHost;
  private pipe: PipeEnd | undefined;
  private transportFull = false;
  private inputPaused = false;
  private ending = false;
  /** close() was called: end once what is queued has been written (within the linger). */
  private closing = false;
  private closed = false;
  private endTimer: TimerHandle | undefined;
  /** Bytes read before the socket took the connection (a microtask at most; kept, not lost). */
  private early: Uint8Array[] | undefined;

  constructor(connection: Connection, host: SessionHost) {
    this.connection = connection;
    this.host = host;
    connection.setHandler({
      onData: (chunk) => this.onData(chunk),
      onDrain: () => {
        this.transportFull = false;
        this.flushNow();
        if (this.closing && !this.transportFull && !this.ending) {
          this.ending = true;
          this.end();
        }
      },
      onClose: () => this.onClose(),
    });
    // the host registers this engine when the constructor returns; no data can arrive before
    // a microtask has run
    queueMicrotask(() => this.start());
  }

  private start(): void {
    if (this.closed) return;
    const peer: PeerInfo = {
      socketType: 'STREAM',
      identity: EMPTY,
      metadata: new Metadata(),
      userId: undefined,
      remoteAddress: this.connection.remoteAddress,
      minor: 0,
    };
    const pipe = this.host.sessionReady(this, peer);
    if (!('pushIncoming' in pipe)) {
      this.closed = true;
      this.connection.destroy();
      this.host.sessionClosed(this, pipe, false);
      return;
    }
    this.pipe = pipe;
    const early = this.early;
    this.early = undefined;
    if (early) for (const chunk of early) this.onData(chunk);
    this.outgoingReady();
  }

  private onData(chunk: Uint8Array): void {
    if (this.closed || this.ending) return;
    if (!this.pipe) {
      (this.early ??= []).push(chunk);
      return;
    }
    if (!this.pipe.pushIncoming([asBuffer(chunk)])) {
      // the receive queue is at its high-water mark: stop reading until the application catches up
      this.inputPaused = true;
      this.connection.pause();
    }
  }

  incomingSpace(): void {
    if (!this.inputPaused || this.closed) return;
    this.inputPaused = false;
    this.connection.resume();
  }

  outgoingReady(): void {
    if (this.pipe && !this.closed && !this.ending) requestFlush(this);
  }

  flushNow(): void {
    if (!this.pipe || this.closed || this.ending || this.transportFull) return;
    const out: Uint8Array[] = [];
    let msg;
    while ((msg = this.pipe.pullOutgoing()) !== undefined) {
      const data = msg[0] ?? EMPTY;
      if (data.length === 0) {
        this.ending = true;
        break;
      }
      out.push(data);
    }
    if (out.length > 0 && !this.connection.write(out)) this.transportFull = true;
    if (this.ending) this.end();
  }

  /** Ends our side; a peer that never closes its own is cut off after a grace period. */
  private end(): void {
    this.connection.end();
    this.endTimer ??= unrefTimer(setTimeout(() => this.connection.destroy(), END_GRACE_MS));
  }

  sendSubscription(): void {
    // no subscriptions on a raw connection
  }

  close(lingerMs: number): void {
    if (this.closed || this.closing) return;
    if (lingerMs === 0) {
      this.connection.destroy();
      return;
    }
    this.closing = true;
    if (lingerMs > 0) this.endTimer = unrefTimer(setTimeout(() => this.connection.destroy(), lingerMs));
    this.flushNow();
    // a full transport ends after its drain has let the rest of the queue out (see onDrain)
    if (!this.transportFull && !this.ending) {
      this.ending = true;
      this.end();
    }
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.endTimer = clearTimer(this.endTimer);
    // a raw peer going away, reset or not, is a disconnect like any other
    this.host.sessionClosed(this, undefined, this.pipe !== undefined);
  }
}

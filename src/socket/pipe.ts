import type { Link, Message, PeerInfo, PipeEnd } from '../engine/link.ts';
import { EMPTY } from '../util/bytes.ts';
import { Fifo } from '../util/fifo.ts';
import { clearTimer, unrefTimer, type TimerHandle } from '../util/timers.ts';
import type { SubscriptionSet } from './subscriptions.ts';

/** What a pipe tells its socket. */
export interface PipeOwner {
  onPipeReadable(pipe: Pipe): void;
  onPipeWritable(pipe: Pipe): void;
  onPipeSubscription(pipe: Pipe, topic: Uint8Array, subscribe: boolean): void;
  /** A conflating pipe replaced `count` queued messages with a newer one. */
  onPipeConflated(pipe: Pipe, count: number): void;
}

/**
 * The socket's pair of bounded queues for one peer. A connecting socket keeps its pipe across
 * reconnects (messages queue while the peer is away, as in libzmq); a binding socket has a pipe
 * only while a peer is connected.
 */
export class Pipe implements PipeEnd {
  readonly owner: PipeOwner;
  readonly outgoing = new Fifo<Message>();
  readonly incoming = new Fifo<Message>();
  sendHwm: number;
  recvHwm: number;
  /** Bytes of queued incoming messages past which input is blocked (maxReceiveQueueBytes; Infinity: none). */
  recvHwmBytes: number;
  /** Bytes of the messages in `incoming`, kept while recvHwmBytes is finite. */
  private incomingBytes = 0;
  /** The endpoint this pipe belongs to (connect or bind address). */
  readonly endpoint: string;
  link: Link | undefined;
  peer: PeerInfo | undefined;
  /** ROUTER's name for this peer. */
  routingId: Uint8Array = EMPTY;
  /** Routing id given to connect() (ZMQ_CONNECT_ROUTING_ID); wins over the peer's Identity. */
  fixedRoutingId: Uint8Array | undefined;
  /** Subscriptions the peer asked for (PUB/XPUB side). */
  subscriptions: SubscriptionSet | undefined;
  /** Set once the pipe is removed from its socket; stale references skip it. */
  detached = false;
  /** In the socket's fair-queue ready list. */
  queued = false;
  /** ZMQ_CONFLATE: each queue keeps only the newest message, and never blocks. */
  conflate = false;
  private inputBlocked = false;
  /** Input held back by holdInput() until the timer fires. */
  private held = false;
  private holdTimer: TimerHandle | undefined;

  constructor(owner: PipeOwner, endpoint: string, sendHwm: number, recvHwm: number, recvHwmBytes = -1) {
    this.owner = owner;
    this.endpoint = endpoint;
    this.sendHwm = sendHwm <= 0 ? Infinity : sendHwm;
    this.recvHwm = recvHwm <= 0 ? Infinity : recvHwm;
    this.recvHwmBytes = recvHwmBytes < 0 ? Infinity : recvHwmBytes;
  }

  /** The socket's high-water marks changed: they apply to this pipe at once, as in libzmq 4.2+. */
  setHighWaterMarks(sendHwm: number, recvHwm: number, recvHwmBytes = -1): void {
    const wasWritable = this.writable;
    this.sendHwm = sendHwm <= 0 ? Infinity : sendHwm;
    this.recvHwm = recvHwm <= 0 ? Infinity : recvHwm;
    const countBytes = recvHwmBytes >= 0;
    if (countBytes && this.recvHwmBytes === Infinity) this.incomingBytes = queuedBytes(this.incoming);
    this.recvHwmBytes = countBytes ? recvHwmBytes : Infinity;
    this.unblockInput();
    if (!wasWritable && this.writable) this.owner.onPipeWritable(this);
  }

  /** Below the send high-water mark. */
  get writable(): boolean {
    return this.conflate || this.outgoing.length < this.sendHwm;
  }

  /** Handshake done and an engine attached. */
  get active(): boolean {
    return this.link !== undefined;
  }

  write(msg: Message): void {
    if (this.conflate) this.keepOnlyNewest(this.outgoing);
    this.outgoing.push(msg);
    this.link?.outgoingReady();
  }

  read(): Message | undefined {
    const msg = this.incoming.shift();
    if (msg !== undefined && this.recvHwmBytes !== Infinity) this.incomingBytes -= messageBytes(msg);
    if (this.inputBlocked) this.unblockInput();
    return msg;
  }

  /**
   * Takes no more input for `ms`: the engine stops reading at its next message, so the peer's
   * further messages wait in its connection (the transport's flow control makes its sends wait, as
   * at a full HWM). What was already read is still delivered. A new hold replaces the one running.
   */
  holdInput(ms: number): void {
    clearTimer(this.holdTimer);
    this.held = true;
    this.holdTimer = unrefTimer(setTimeout(() => this.releaseInput(), ms));
  }

  /** Ends a hold early (the pipe is detached, or the hold is lifted). */
  releaseInput(): void {
    this.holdTimer = clearTimer(this.holdTimer);
    if (!this.held) return;
    this.held = false;
    this.unblockInput();
  }

  /** At a limit: the engine stops reading. */
  private get inputFull(): boolean {
    return this.held || this.incoming.length >= this.recvHwm || (this.incomingBytes >= this.recvHwmBytes && this.incoming.length > 0);
  }

  private unblockInput(): void {
    if (this.inputBlocked && !this.inputFull) {
      this.inputBlocked = false;
      this.link?.incomingSpace();
    }
  }

  // PipeEnd (engine side)

  pushIncoming(msg: Message): boolean {
    if (this.conflate) {
      this.keepOnlyNewest(this.incoming);
      this.incoming.push(msg);
      if (this.recvHwmBytes !== Infinity) this.incomingBytes = messageBytes(msg);
      this.owner.onPipeReadable(this);
      return true;
    }
    this.incoming.push(msg);
    if (this.recvHwmBytes !== Infinity) this.incomingBytes += messageBytes(msg);
    this.owner.onPipeReadable(this);
    if (this.inputFull) {
      this.inputBlocked = true;
      return false;
    }
    return true;
  }

  pullOutgoing(): Message | undefined {
    const msg = this.outgoing.shift();
    if (msg !== undefined && this.outgoing.length === this.sendHwm - 1) this.owner.onPipeWritable(this);
    return msg;
  }

  /** Conflation: a newer message is about to replace whatever `queue` holds. */
  private keepOnlyNewest(queue: Fifo<Message>): void {
    const stale = queue.length;
    if (stale === 0) return;
    queue.drain();
    if (queue === this.incoming) this.incomingBytes = 0;
    this.owner.onPipeConflated(this, stale);
  }

  onSubscription(topic: Uint8Array, subscribe: boolean): void {
    this.owner.onPipeSubscription(this, topic, subscribe);
  }
}

function messageBytes(msg: Message): number {
  let n = 0;
  for (let i = 0; i < msg.length; i++) n += msg[i]!.length;
  return n;
}

function queuedBytes(queue: Fifo<Message>): number {
  let n = 0;
  for (const msg of queue) n += messageBytes(msg);
  return n;
}

import { createError, ErrorCode, type ZmqError } from '../errors.ts';
import type { SocketType } from '../zmtp/socket_types.ts';
import { SocketBase } from './socket_base.ts';

/** Socket types that never receive (their receive() is ENOTSUP) or never send. */
const SEND_ONLY: ReadonlySet<SocketType> = new Set(['PUB', 'PUSH']);
const RECEIVE_ONLY: ReadonlySet<SocketType> = new Set(['SUB', 'PULL']);

const State = { IDLE: 0, RUNNING: 1, PAUSED: 2, TERMINATED: 3 } as const;
type State = (typeof State)[keyof typeof State];

function closedError(): ZmqError {
  return createError(ErrorCode.EBADF, 'Socket is closed');
}

/**
 * zeromq.js's Proxy (zmq_proxy_steerable): forwards every message from the front end to the back
 * end and back, for a ROUTER–DEALER queue, an XSUB–XPUB forwarder or a PULL–PUSH streamer. Each
 * direction waits for the other socket to take a message (its high-water mark), so a slow side
 * slows the proxy instead of filling memory. A send that fails (EHOSTUNREACH from a mandatory
 * ROUTER, …) stops the proxy and run() rejects with it, as zmq_proxy returns. Terminating closes
 * both sockets.
 */
export class Proxy<F extends SocketBase = SocketBase, B extends SocketBase = SocketBase> {
  readonly frontEnd: F;
  readonly backEnd: B;
  private state: State = State.IDLE;
  private resumed: Promise<void> | undefined;
  private wake: (() => void) | undefined;

  constructor(frontEnd: F, backEnd: B, ...extra: unknown[]) {
    // zeromq.js checks its arguments the same way
    if (extra.length > 0) throw new TypeError('Expected 2 arguments');
    if (frontEnd === null || typeof frontEnd !== 'object') throw new TypeError('Front-end must be a socket object');
    if (backEnd === null || typeof backEnd !== 'object') throw new TypeError('Back-end must be a socket object');
    if (!(frontEnd instanceof SocketBase)) throw createError(ErrorCode.EINVAL, 'Invalid argument: the front end is not a purezmq socket');
    if (!(backEnd instanceof SocketBase)) throw createError(ErrorCode.EINVAL, 'Invalid argument: the back end is not a purezmq socket');
    this.frontEnd = frontEnd;
    this.backEnd = backEnd;
  }

  /** Forwards until terminate() (or a send fails); both sockets are closed at the end. */
  async run(): Promise<void> {
    if (this.state === State.TERMINATED) throw closedError();
    if (this.state !== State.IDLE) throw createError(ErrorCode.EBUSY, 'The proxy is already running');
    // zeromq.js: EINVAL for a socket that is closed as well as for one with no endpoint
    if (this.frontEnd.closed || !this.frontEnd.hasEndpoints) throw createError(ErrorCode.EINVAL, 'Front-end socket must be bound or connected', { zeromqText: true });
    if (this.backEnd.closed || !this.backEnd.hasEndpoints) throw createError(ErrorCode.EINVAL, 'Back-end socket must be bound or connected', { zeromqText: true });
    this.state = State.RUNNING;
    try {
      await Promise.all([this.forward(this.frontEnd, this.backEnd), this.forward(this.backEnd, this.frontEnd)]);
    } finally {
      this.finish();
    }
  }

  /** Holds messages where they are (in the sockets' queues, up to their HWMs) until resume(). */
  pause(): void {
    this.assertStarted();
    if (this.state === State.PAUSED) return;
    this.state = State.PAUSED;
    this.resumed = new Promise((resolve) => (this.wake = resolve));
  }

  resume(): void {
    this.assertStarted();
    if (this.state !== State.PAUSED) return;
    this.state = State.RUNNING;
    this.wake?.();
    this.wake = this.resumed = undefined;
  }

  /** Stops forwarding and closes both sockets; run() then resolves. */
  terminate(): void {
    this.assertStarted();
    this.finish();
  }

  private get terminated(): boolean {
    return this.state === State.TERMINATED;
  }

  private assertStarted(): void {
    // zeromq.js: the proxy's control socket exists only while run() runs
    if (this.state === State.IDLE || this.state === State.TERMINATED) throw closedError();
  }

  private finish(): void {
    if (this.state === State.TERMINATED) return;
    this.state = State.TERMINATED;
    this.wake?.();
    this.wake = this.resumed = undefined;
    this.frontEnd.close();
    this.backEnd.close();
  }

  private async forward(from: SocketBase, to: SocketBase): Promise<void> {
    if (SEND_ONLY.has(from.socketType) || RECEIVE_ONLY.has(to.socketType)) return;
    for await (const msg of from) {
      if (this.resumed) await this.resumed;
      if (this.terminated) return;
      try {
        await to.send(msg);
      } catch (err) {
        if (this.terminated) return; // closed under a waiting send
        throw err;
      }
    }
    // `from` was closed by someone else: the proxy ends, as zmq_proxy does when a socket goes
    this.finish();
  }
}

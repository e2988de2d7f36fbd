import { createError, ErrorCode, type ZmqError } from '../errors.ts';
import { Fifo } from '../util/fifo.ts';
import { hold, release } from '../util/keepalive.ts';

/** Monitor events, named as in zeromq.js. */
export type Event =
  | { type: 'accept'; address: string }
  | { type: 'accept:error'; address: string; error: ZmqError }
  | { type: 'bind'; address: string }
  | { type: 'bind:error'; address: string; error: ZmqError }
  | { type: 'connect'; address: string }
  | { type: 'connect:delay'; address: string }
  | { type: 'connect:retry'; address: string; interval: number; error?: ZmqError }
  | { type: 'close'; address: string }
  | { type: 'close:error'; address: string; error: ZmqError }
  /** `error`: why the connection was dropped, when it was a protocol/heartbeat failure (not a plain close). */
  | { type: 'disconnect'; address: string; error?: ZmqError }
  | { type: 'end' }
  | { type: 'handshake'; address: string }
  | { type: 'handshake:error:protocol'; address: string; error: ZmqError }
  | { type: 'handshake:error:auth'; address: string; error: ZmqError }
  | { type: 'handshake:error:other'; address: string; error: ZmqError }
  /** zeromq.js's name for a libzmq event it does not know; purezmq emits none. */
  | { type: 'unknown' };
export type EventType = Event['type'];
export type EventOfType<T extends EventType> = Extract<Event, { type: T }>;

/** zeromq.js: reading events after the socket's 'end' is EBADF. */
function endedError(): ZmqError {
  return createError(ErrorCode.EBADF, 'Socket is closed');
}

/** Events kept for `receive()`/`for await` when nobody reads them; older ones are dropped and counted. */
const MAX_QUEUED_EVENTS = 1000;

/**
 * `socket.events`: listeners (`on`) get every event synchronously; `receive()` and `for await`
 * read a bounded queue.
 */
export class Observer implements AsyncIterable<Event> {
  private readonly listeners = new Map<string, Set<(e: Event) => void>>();
  private readonly queue = new Fifo<Event>();
  private readonly waiters = new Fifo<{ resolve: (e: Event) => void; reject: (err: Error) => void }>();
  private ended = false;
  /** on() was used: receive() throws (as in zeromq.js). */
  private emitterMode = false;
  /** Events dropped because the queue was full. */
  droppedEvents = 0;

  get closed(): boolean {
    return this.ended;
  }

  on<T extends EventType>(type: T, listener: (event: EventOfType<T>) => void): this {
    let set = this.listeners.get(type);
    if (!set) this.listeners.set(type, (set = new Set()));
    set.add(listener as (e: Event) => void);
    // from now on receive() throws, as in zeromq.js; an iteration already under way goes on
    this.emitterMode = true;
    return this;
  }

  off<T extends EventType>(type: T, listener: (event: EventOfType<T>) => void): this {
    this.listeners.get(type)?.delete(listener as (e: Event) => void);
    return this;
  }

  receive(): Promise<Event> {
    if (this.emitterMode) {
      // thrown, not a rejection: mixing the two ways is a programming error (zeromq.js does the same)
      throw createError(
        ErrorCode.EINVAL,
        'Observer is in event emitter mode. After a call to events.on() it is not possible to read events with events.receive().',
        { zeromqText: true },
      );
    }
    const e = this.queue.shift();
    if (e) return Promise.resolve(e);
    if (this.ended) return Promise.reject(endedError());
    return this.wait();
  }

  /** A pending read keeps the process alive, as in zeromq.js. */
  private wait(): Promise<Event> {
    hold();
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Event> {
    while (true) {
      const e = this.queue.shift();
      if (e) {
        yield e;
        continue;
      }
      if (this.ended) return;
      try {
        yield await this.wait();
      } catch {
        return;
      }
    }
  }

  /** Stops observing; pending receivers are released. */
  close(): void {
    if (this.ended) return;
    this.ended = true;
    for (const w of this.waiters.drain()) {
      release();
      w.reject(endedError());
    }
  }

  /** @internal */
  emit(event: Event): void {
    if (this.ended) return;
    const set = this.listeners.get(event.type);
    if (set) {
      for (const fn of set) {
        try {
          fn(event);
        } catch (err) {
          // a throwing listener must not break the socket; surface it like an unhandled rejection would
          queueMicrotask(() => {
            throw err;
          });
        }
      }
    }
    const w = this.waiters.shift();
    if (w) {
      release();
      w.resolve(event);
    } else {
      this.queue.push(event);
      if (this.queue.length > MAX_QUEUED_EVENTS) {
        this.queue.shift();
        this.droppedEvents++;
      }
    }
    if (event.type === 'end') this.close();
  }
}

import { createError, ErrorCode } from '../errors.ts';

/** Options of a Context, as zeromq.js's (ZMQ_BLOCKY, ZMQ_IO_THREADS, …). */
export interface ContextOptions {
  /** zeromq.js: whether closing the context at exit waits for lingering messages. Kept, no effect: there is no context to close. */
  blocky: boolean;
  /** No effect: purezmq does its I/O on the JavaScript thread. Kept for zeromq.js code that sets it. */
  ioThreads: number;
  /** Kept for zeromq.js code that sets it; the per-socket `maxMessageSize` is what purezmq enforces. */
  maxMessageSize: number;
  /** At most this many sockets open at once on the context; one more throws EMFILE, as libzmq does. */
  maxSockets: number;
  /** The `ipv6` default of sockets created on this context. */
  ipv6: boolean;
  /** No effect (no thread pool). */
  threadPriority: number;
  /** No effect (no thread pool). */
  threadSchedulingPolicy: number;
}

const CONTEXT_DEFAULTS: ContextOptions = {
  // libzmq's defaults, as zeromq.js reports them
  blocky: true,
  ioThreads: 1,
  maxMessageSize: 2147483647,
  maxSockets: 1023,
  ipv6: false,
  threadPriority: -1,
  threadSchedulingPolicy: -1,
};

/**
 * zeromq.js's Context, so that code passing `{ context }` or tuning `zmq.context` runs unchanged.
 * purezmq has no I/O threads to configure; what a context still decides here is how many sockets
 * it may hold (`maxSockets`) and the `ipv6` default of its sockets.
 */
export class Context implements ContextOptions {
  blocky = CONTEXT_DEFAULTS.blocky;
  ioThreads = CONTEXT_DEFAULTS.ioThreads;
  maxMessageSize = CONTEXT_DEFAULTS.maxMessageSize;
  maxSockets = CONTEXT_DEFAULTS.maxSockets;
  ipv6 = CONTEXT_DEFAULTS.ipv6;
  threadPriority = CONTEXT_DEFAULTS.threadPriority;
  threadSchedulingPolicy = CONTEXT_DEFAULTS.threadSchedulingPolicy;

  constructor(options: Partial<ContextOptions> = {}) {
    for (const [key, value] of Object.entries(options)) {
      if (value === undefined) continue;
      if (!(key in CONTEXT_DEFAULTS)) throw createError(ErrorCode.EINVAL, `Unknown option '${key}' for a context`);
      const expected = typeof CONTEXT_DEFAULTS[key as keyof ContextOptions];
      if (typeof value !== expected) throw createError(ErrorCode.EINVAL, `Context option '${key}' must be a ${expected}`);
      if (expected === 'number' && key !== 'threadPriority' && key !== 'threadSchedulingPolicy' && !(Number.isInteger(value) && (value as number) >= 0)) {
        throw createError(ErrorCode.EINVAL, `Context option '${key}' must be a non-negative integer`);
      }
      (this as Record<string, unknown>)[key] = value;
    }
  }
}

/** Open sockets per context (kept off the public class). */
const openSockets = new WeakMap<Context, number>();

/** A socket opens on `ctx`: EMFILE beyond its maxSockets, as libzmq's zmq_socket(). */
export function attachSocket(ctx: Context): void {
  const open = openSockets.get(ctx) ?? 0;
  if (open >= ctx.maxSockets) throw createError(ErrorCode.EMFILE, 'Too many open file descriptors');
  openSockets.set(ctx, open + 1);
}

/** A socket on `ctx` closed. */
export function detachSocket(ctx: Context): void {
  const open = openSockets.get(ctx) ?? 0;
  if (open > 0) openSockets.set(ctx, open - 1);
}

/** The context of every socket created without one, as zeromq.js's `context`. */
export const context = new Context();

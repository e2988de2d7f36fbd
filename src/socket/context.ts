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
/** Option values of each context, kept off the public object (as zeromq.js's hold none of their own). */
const contextValues = new WeakMap<Context, ContextOptions>();

export class Context implements ContextOptions {
  // Options live beside the context (contextValues) behind accessors on the prototype (installed
  // below the class), so that a value of the wrong type throws when set, as in zeromq.js.
  declare blocky: boolean;
  declare ioThreads: number;
  declare maxMessageSize: number;
  declare maxSockets: number;
  declare ipv6: boolean;
  declare threadPriority: number;
  declare threadSchedulingPolicy: number;

  constructor(options: Partial<ContextOptions> = {}, ...extra: unknown[]) {
    // zeromq.js checks its arguments, and seals the context so that a misspelt option throws
    if (extra.length > 0) throw new TypeError('Expected 1 argument');
    if (options === null || typeof options !== 'object') throw new TypeError('Options must be an object');
    contextValues.set(this, { ...CONTEXT_DEFAULTS });
    Object.seal(this);
    for (const [key, value] of Object.entries(options)) {
      if (value === undefined) continue;
      (this as Record<string, unknown>)[key] = value;
    }
  }

  /** libzmq's ZMQ_SOCKET_LIMIT: the largest maxSockets it accepts (read-only, as in zeromq.js). */
  get maxSocketsLimit(): number {
    return MAX_SOCKETS_LIMIT;
  }

  set maxSocketsLimit(_value: unknown) {
    throw new TypeError('Cannot set property maxSocketsLimit of #<Context> which has only a getter');
  }
}

for (const key of Object.keys(CONTEXT_DEFAULTS) as (keyof ContextOptions)[]) {
  Object.defineProperty(Context.prototype, key, {
    get(this: Context) {
      return contextValues.get(this)![key];
    },
    set(this: Context, value: unknown) {
      checkContextOption(key, value);
      (contextValues.get(this) as unknown as Record<string, unknown>)[key] = value;
    },
    configurable: true,
  });
}

/** libzmq's socket limit on Linux (ZMQ_SOCKET_LIMIT), which zeromq.js reports. */
const MAX_SOCKETS_LIMIT = 65535;

/** A value of the wrong type is zeromq.js's TypeError; one libzmq refuses is EINVAL. */
function checkContextOption(key: keyof ContextOptions, value: unknown): void {
  const expected = typeof CONTEXT_DEFAULTS[key];
  if (typeof value !== expected) throw new TypeError(`Option value must be a ${expected}`);
  // libzmq: at least one socket, any number of I/O threads from 0; the thread options are free
  const min = key === 'maxSockets' ? 1 : 0;
  if (expected === 'number' && key !== 'threadPriority' && key !== 'threadSchedulingPolicy' && !(Number.isInteger(value) && (value as number) >= min)) {
    throw createError(ErrorCode.EINVAL, `Invalid argument: context option '${key}' must be an integer >= ${min}`);
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

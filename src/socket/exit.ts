import { hold, release } from '../util/keepalive.ts';
import type { SocketBase } from './socket_base.ts';

/**
 * Linger at exit, as zeromq.js: when the process would exit (nothing else keeps it alive) while
 * sockets still hold queued messages, it waits up to each socket's `linger` for them to be
 * written (-1: as long as it takes when `context.blocky`, not at all otherwise, which is libzmq's
 * ZMQ_BLOCKY), with zeromq.js's warning on stderr when the wait may last more than half a second.
 * Then the sockets close.
 */

/** zeromq.js warns when terminating its context takes longer than this. */
const LONG_WAIT_MS = 500;
/**
 * The warning is given once messages are still queued this long into a wait that may last
 * LONG_WAIT_MS or more: sooner than zeromq.js (which can only tell after the fact), so that it
 * is seen even when something ends the process meanwhile.
 */
const WARN_AFTER_MS = 100;
const POLL_MS = 10;

type Proc = { on?(event: string, fn: () => void): unknown; pid?: number; stderr?: { write(s: string): unknown } };
const proc = (globalThis as { process?: Proc }).process;

const open = new Set<WeakRef<SocketBase>>();
const refs = new WeakMap<SocketBase, WeakRef<SocketBase>>();
// a socket dropped without close() leaves the set once collected
const collected = new FinalizationRegistry<WeakRef<SocketBase>>((ref) => open.delete(ref));
let hooked = false;
let waiting = false;

/** A socket opened: it is looked at when the process would exit. */
export function registerForExit(socket: SocketBase): void {
  const ref = new WeakRef(socket);
  open.add(ref);
  refs.set(socket, ref);
  collected.register(socket, ref, ref);
  if (!hooked && typeof proc?.on === 'function') {
    hooked = true;
    proc.on('beforeExit', beforeExit);
  }
}

/** A socket closed: nothing of it is left to deliver at exit. */
export function forgetForExit(socket: SocketBase): void {
  const ref = refs.get(socket);
  if (!ref) return;
  open.delete(ref);
  collected.unregister(ref);
}

/** How long `socket` may hold the exit: ms, Infinity, or 0. */
function lingerAtExit(socket: SocketBase): number {
  if (socket.linger >= 0) return socket.linger;
  return socket.context?.blocky === false ? 0 : Infinity;
}

function beforeExit(): void {
  if (waiting) return;
  const lingering: SocketBase[] = [];
  let deadline = 0;
  let blocky = false;
  for (const ref of open) {
    const socket = ref.deref();
    if (!socket || socket.closed) {
      open.delete(ref);
      continue;
    }
    const linger = lingerAtExit(socket);
    if (linger === 0 || !socket.hasQueuedMessages) continue;
    lingering.push(socket);
    deadline = Math.max(deadline, linger);
    blocky ||= socket.context?.blocky !== false;
  }
  if (lingering.length === 0) return;
  waiting = true;
  hold();
  const start = Date.now();
  let warned = false;
  const timer = setInterval(() => {
    const elapsed = Date.now() - start;
    const pending = lingering.filter((s) => !s.closed && s.hasQueuedMessages && elapsed < lingerAtExit(s));
    if (!warned && pending.length > 0 && elapsed >= WARN_AFTER_MS && deadline >= LONG_WAIT_MS) {
      warned = true;
      // zeromq.js prints this itself (process.emitWarning is gone by then), in Node's format
      proc?.stderr?.write(
        `(node:${proc.pid}) WARNING: Waiting for queued ZeroMQ messages to be delivered.` +
          (blocky ? " Set 'context.blocky = false' to change this behaviour." : '') +
          '\n',
      );
    }
    if (pending.length > 0 && elapsed < deadline) return;
    clearInterval(timer);
    waiting = false;
    for (const s of lingering) s.close();
    release();
  }, POLL_MS);
}

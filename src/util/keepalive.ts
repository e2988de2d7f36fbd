/**
 * When the process may exit, as zeromq.js decides it: sockets that are merely open (bound,
 * connected, idle) do not keep it alive, and a pending send(), receive() or events read does.
 * Every transport handle is unref'd (transport/tcp.ts); each pending call holds this one
 * process-wide timer, which is ref'd while anyone holds it.
 */

type Handle = ReturnType<typeof setInterval> & { ref?: () => unknown; unref?: () => unknown };

let holders = 0;
let handle: Handle | undefined;

/** Keep the process alive until the matching release(). */
export function hold(): void {
  if (holders++ > 0) return;
  if (handle?.ref) {
    // toggling a ref is cheaper than a new timer per pending call
    handle.ref();
    return;
  }
  handle = setInterval(noop, 0x3fffffff) as Handle;
}

export function release(): void {
  if (holders === 0 || --holders > 0) return;
  if (handle?.unref) handle.unref();
  else if (handle !== undefined) {
    clearInterval(handle);
    handle = undefined;
  }
}

/** Pending calls holding the process now (for tests). */
export function holding(): number {
  return holders;
}

function noop(): void {}

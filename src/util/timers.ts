/** Runtime-neutral timer handles (setTimeout exists in every runtime; `unref` only in some). */
export type TimerHandle = ReturnType<typeof setTimeout>;

export function unrefTimer(t: TimerHandle): TimerHandle {
  (t as { unref?: () => void }).unref?.();
  return t;
}

export function clearTimer(t: TimerHandle | undefined): undefined {
  if (t !== undefined) clearTimeout(t);
  return undefined;
}

/** Runs `fn` on the next turn of the event loop (setImmediate where the runtime has it). */
export const nextTurn: (fn: () => void) => void =
  typeof (globalThis as { setImmediate?: unknown }).setImmediate === 'function'
    ? (fn) => (globalThis as unknown as { setImmediate(f: () => void): unknown }).setImmediate(fn)
    : (fn) => setTimeout(fn, 0);

/** How long a run of calls that completed at once may hold the event loop before one waits a turn. */
const MAX_BURST_MS = 10;
/** The clock is read once per this many calls (a power of two). */
const CHECK_EVERY = 1024;
let calls = 0;
let burstStart = -1;

function endBurst(): void {
  burstStart = -1;
}

/**
 * True when calls that completed at once (a `send()` under the HWM resolves in a microtask) have
 * kept the event loop from turning for MAX_BURST_MS: the caller should then complete on the next
 * turn, so that timers and I/O of the process run. Without it, a tight `await send()` loop over a
 * fast transport held the loop for 100 ms and more.
 */
export function burstTooLong(): boolean {
  if ((++calls & (CHECK_EVERY - 1)) !== 0) return false;
  const t = performance.now();
  if (burstStart < 0) {
    burstStart = t;
    nextTurn(endBurst);
    return false;
  }
  return t - burstStart >= MAX_BURST_MS;
}

/** A promise fulfilled on the next turn of the event loop. */
export function afterTurn(): Promise<void> {
  return new Promise((resolve) => nextTurn(resolve));
}

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

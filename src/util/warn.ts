/**
 * zeromq.js reports misuse that is not an error (an option set too late) with
 * `process.emitWarning`. Runtimes without `process` get a console warning instead.
 */
export function emitWarning(message: string): void {
  const proc = (globalThis as { process?: { emitWarning?: (m: string) => void } }).process;
  if (typeof proc?.emitWarning === 'function') proc.emitWarning(message);
  else console.warn(message);
}

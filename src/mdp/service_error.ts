/**
 * A worker's way to say "this request failed" (MDP has no status of its own): a FINAL whose body is
 * exactly two frames, the marker `purezmq/error` and a JSON object { code, message, … }. purezmq's
 * Client turns it into MdpError MDP_SERVICE_ERROR (status = code), and `purezmq request` into exit
 * code 7; the `purezmq worker --exec` CLI replies with it when its command fails or times out. Any
 * other client sees two ordinary frames. A reply that happens to have this shape for another reason
 * would be read as a failure: the marker is chosen so that this does not happen by accident.
 */
import { fromString } from '../util/bytes.ts';

export const SERVICE_ERROR_MARKER = 'purezmq/error';

export interface ServiceErrorInfo {
  /** Stable, machine-readable: EXEC_FAILED, EXEC_TIMEOUT, OUTPUT_TOO_LARGE, or the service's own. */
  code: string;
  message: string;
  [detail: string]: unknown;
}

const MARKER = fromString(SERVICE_ERROR_MARKER);

/** The reply body of a failure: pass it as the FINAL (a Worker handler's return, or errorReply). */
export function serviceError(info: ServiceErrorInfo): Uint8Array[] {
  return [MARKER, fromString(JSON.stringify(info))];
}

/** The failure a reply body carries, or undefined for an ordinary reply. */
export function decodeServiceError(body: readonly Uint8Array[]): (ServiceErrorInfo & Error) | undefined {
  if (body.length !== 2 || body[0]!.length !== MARKER.length) return undefined;
  for (let i = 0; i < MARKER.length; i++) if (body[0]![i] !== MARKER[i]) return undefined;
  let info: unknown;
  try {
    info = JSON.parse(new TextDecoder().decode(body[1]));
  } catch {
    return undefined;
  }
  if (!info || typeof info !== 'object' || typeof (info as ServiceErrorInfo).code !== 'string') return undefined;
  const i = info as ServiceErrorInfo;
  return Object.assign(new Error(typeof i.message === 'string' ? i.message : i.code), i);
}

/**
 * The broker's answer to a request its access policy denies. It has to reach the client at once (no
 * waiting for a timeout) in every dialect, and must never pass for a worker's reply. After the
 * dialect's reply prefix it always carries the same four frames:
 *
 *   "mmi.denied"  "403"  <requested service>  "access denied"
 *
 *   rfc18      MDPC02  0x03  mmi.denied  403  service  "access denied"           a FINAL
 *   rfc7   ""  MDPC01        mmi.denied  403  service  "access denied"           a REPLY
 *   majortomo ""  MDPC02  0x06  mmi.denied  403  service  "access denied"       not a reply (0x06)
 *   plantd     MDPC02  "DISCONNECT"  mmi.denied  403  service  "access denied"  not a reply
 *
 * rfc18 and rfc7 replies name their service, and `mmi.denied` cannot be a worker's: workers may not
 * register in the mmi. namespace, and the broker's MMI answers name the service that was asked. So
 * there it is a well-formed FINAL/REPLY that clients checking the service frame (as the RFCs' and the
 * Guide's do) cannot take for the answer to their request. majortomo's replies carry no service frame
 * and plantd's client drops it, so a FINAL would reach their applications looking like a worker's
 * reply; there the denial uses a command that is not a reply (0x06 and "DISCONNECT": the broker ends
 * the conversation), which their clients refuse with an error at once.
 */
import { EMPTY, equals, fromString, toString } from '../../util/bytes.ts';
import { ascii, Direction, H_C02, type MdpCodec } from '../codec.ts';
import { Dialect } from '../constants.ts';

/** The service frame (or, for majortomo, first frame) of a denial: reserved, answered by no worker. */
export const DENIED_SERVICE = 'mmi.denied';
/** The status frame of a denial (as in HTTP: forbidden). */
export const DENIED_CODE = '403';
export const DENIED_TEXT = 'access denied';

const DENIED = fromString(DENIED_SERVICE);
const CODE = fromString(DENIED_CODE);
const TEXT = fromString(DENIED_TEXT);
/** majortomo's DISCONNECT byte (its one command table), and plantd's word. */
const MAJORTOMO_END = Uint8Array.of(0x06);
const PLANTD_END = ascii('DISCONNECT');

/** The reply prefix of each dialect's denial (frames before `mmi.denied`). */
function prefix(codec: MdpCodec): Uint8Array[] {
  switch (codec.dialect) {
    case Dialect.MAJORTOMO:
      return [EMPTY, H_C02, MAJORTOMO_END];
    case Dialect.PLANTD:
      return [H_C02, PLANTD_END];
    default: {
      // the dialect's own FINAL (REPLY for 7/MDP), with mmi.denied for the service
      const f = codec.encode({ protocol: 'client', command: 'FINAL', version: codec.version, service: DENIED, body: [EMPTY] }, Direction.TO_CLIENT);
      return f.slice(0, f.length - 2);
    }
  }
}

/** The frames (after the routing id) that tell a client of `codec` that `service` is denied to it. */
export function encodeDenial(codec: MdpCodec, service: Uint8Array): Uint8Array[] {
  return [...prefix(codec), DENIED, CODE, service, TEXT];
}

/** The denial in a message a client of `codec` received, or undefined when it is something else. */
export function parseDenial(codec: MdpCodec, frames: readonly Uint8Array[]): { service: Uint8Array; code: string; text: string } | undefined {
  const head = prefix(codec);
  if (frames.length < head.length + 3) return undefined;
  for (let i = 0; i < head.length; i++) if (!equals(frames[i]!, head[i]!)) return undefined;
  if (!equals(frames[head.length]!, DENIED)) return undefined;
  const text = frames[head.length + 3];
  return { code: toString(frames[head.length + 1]!), service: frames[head.length + 2]!, text: text === undefined ? '' : toString(text) };
}

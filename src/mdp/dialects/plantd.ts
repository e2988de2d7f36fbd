/**
 * The plantd dialect: geoffjay/plantd `core/mdp` (Go, goczmq), the code purezmq's Majordomo grew from.
 * Read from its broker.go, client.go, worker.go, const.go and util.go; written here in our own words.
 *
 * It says MDPC02/MDPW02 but spells every command as an ASCII word and frames each direction differently:
 *
 *   client -> broker   ""  MDPC02  "REQUEST"  service  body...            (body >= 1 frame)
 *   broker -> client       MDPC02  "PARTIAL"|"FINAL"  service  body...   (no leading empty frame)
 *   worker -> broker   ""  MDPW02  "READY"  service                       (exactly 4 frames)
 *   worker -> broker   ""  MDPW02  "PARTIAL"|"FINAL"  client  [""]  body...
 *   worker -> broker   ""  MDPW02  "HEARTBEAT"|"DISCONNECT"
 *   broker -> worker       MDPW02  "REQUEST"  client  ""  body...
 *   broker -> worker       MDPW02  "HEARTBEAT"|"DISCONNECT"
 *
 * Leniencies, each the same as plantd's own code (so a plantd peer means on our broker what it
 * means on plantd's):
 * - plantd's worker sends PARTIAL/FINAL as `client, body...` with no empty delimiter; its broker
 *   "unwraps" the client frame and drops one empty frame right after it if there is one. Decoding does
 *   the same, so a body whose first frame is empty loses that frame, exactly as on plantd's broker.
 *   Encoding always writes the delimiter, which plantd's broker strips, so our bodies survive intact.
 * - A reply with no body frame at all (plantd's client accepts `MDPC02 FINAL service`) decodes to a
 *   body of one empty frame, the MDP spelling of an empty body; encode(decode(x)) is that normal form.
 * - The worker's REQUEST parser also unwraps (the delimiter is optional when decoding toward a worker).
 */
import {
  ascii,
  bad,
  checkBody,
  commandByte,
  EMPTY_FRAME,
  exactly,
  H_C02,
  H_W02,
  MAX_ADDRESS_LENGTH,
  ok,
  same,
  serviceAndBody,
  unsupported,
  Direction,
  type MdpCodec,
  type ParseResult,
} from '../codec.ts';
import { Dialect, MdpVersion } from '../constants.ts';
import { MalformedReason, MdpErrorCode, mdpError, type MdpError } from '../errors.ts';

type Frames = readonly Uint8Array[];

/** plantd's command words (const.go): the same word for clients and workers where both have it. */
export const PlantdCommand = {
  REQUEST: 'REQUEST',
  PARTIAL: 'PARTIAL',
  FINAL: 'FINAL',
  READY: 'READY',
  HEARTBEAT: 'HEARTBEAT',
  DISCONNECT: 'DISCONNECT',
} as const;
export type PlantdCommand = (typeof PlantdCommand)[keyof typeof PlantdCommand];

const WORDS = new Map<string, Uint8Array>(Object.values(PlantdCommand).map((w) => [w, ascii(w)]));
const W = (w: PlantdCommand): Uint8Array => WORDS.get(w)!;

const LABEL = 'plantd';

/**
 * True for a command frame spelled as a word: two or more bytes, all ASCII capital letters. The
 * other dialects' command frames are exactly one byte, so this is what tells plantd apart.
 */
export function isTextCommand(frame: Uint8Array | undefined): boolean {
  if (frame === undefined || frame.length < 2) return false;
  for (let i = 0; i < frame.length; i++) if (frame[i]! < 0x41 || frame[i]! > 0x5a) return false;
  return true;
}

function word(frame: Uint8Array | undefined): string | undefined {
  if (!isTextCommand(frame)) return undefined;
  const w = String.fromCharCode(...frame!);
  return WORDS.has(w) ? w : undefined;
}

function describe(frame: Uint8Array | undefined): string {
  if (frame === undefined) return 'nothing';
  if (isTextCommand(frame)) return `"${String.fromCharCode(...frame)}"`;
  const b = commandByte(frame);
  return b >= 0 ? `byte 0x${b.toString(16).padStart(2, '0')}` : `a ${frame.length}-byte frame`;
}

/** plantd's util.Unwrap: the client frame, then one empty frame dropped if there is one. */
function unwrap(frames: Frames, at: number, what: string): { ok: true; client: Uint8Array; body: Uint8Array[] } | { ok: false; error: MdpError } {
  const client = frames[at];
  if (client === undefined) return bad(MalformedReason.TOO_FEW_FRAMES, `${what} needs a client address frame`);
  if (client.length === 0) return bad(MalformedReason.EMPTY_ADDRESS, `${what}: the client address frame is empty`);
  if (client.length > MAX_ADDRESS_LENGTH) {
    return bad(MalformedReason.ADDRESS_TOO_LONG, `${what}: client address of ${client.length} bytes (max ${MAX_ADDRESS_LENGTH})`);
  }
  const rest = frames[at + 1] !== undefined && frames[at + 1]!.length === 0 ? frames.slice(at + 2) : frames.slice(at + 1);
  return { ok: true, client, body: rest.length > 0 ? rest : [EMPTY_FRAME] };
}

function decodeToBroker(frames: Frames): ParseResult {
  const v = MdpVersion.V02;
  if (frames.length < 3 || frames[0]!.length !== 0) {
    return bad(MalformedReason.MISSING_EMPTY_FRAME, 'plantd peers start every message to the broker with an empty frame');
  }
  const cmd = word(frames[2]);
  if (same(frames[1], H_C02)) {
    if (cmd !== PlantdCommand.REQUEST) {
      return cmd === PlantdCommand.PARTIAL || cmd === PlantdCommand.FINAL
        ? bad(MalformedReason.WRONG_DIRECTION, 'plantd client PARTIAL and FINAL go from broker to client only')
        : bad(MalformedReason.BAD_COMMAND, `plantd client command ${describe(frames[2])} is not defined`);
    }
    const sb = serviceAndBody(frames, 3, 'plantd REQUEST');
    if (!sb.ok) return sb;
    return ok({ protocol: 'client', command: 'REQUEST', version: v, service: sb.service, body: sb.body });
  }
  if (!same(frames[1], H_W02)) return bad(MalformedReason.BAD_HEADER, 'expected header MDPC02 or MDPW02 after the empty frame');
  switch (cmd) {
    case PlantdCommand.READY: {
      const n = exactly(frames, 4, 'plantd READY');
      if (n) return n;
      if (frames[3]!.length === 0) return bad(MalformedReason.EMPTY_SERVICE, 'plantd READY: the service name frame is empty');
      return ok({ protocol: 'worker', command: 'READY', version: v, service: frames[3]! });
    }
    case PlantdCommand.PARTIAL:
    case PlantdCommand.FINAL: {
      const e = unwrap(frames, 3, `plantd ${cmd}`);
      if (!e.ok) return e;
      return ok({ protocol: 'worker', command: cmd, version: v, client: e.client, body: e.body });
    }
    case PlantdCommand.HEARTBEAT:
    case PlantdCommand.DISCONNECT: {
      const n = exactly(frames, 3, `plantd ${cmd}`);
      if (n) return n;
      return ok({ protocol: 'worker', command: cmd, version: v });
    }
    case PlantdCommand.REQUEST:
      return bad(MalformedReason.WRONG_DIRECTION, 'plantd worker REQUEST goes from broker to worker only');
    default:
      return bad(MalformedReason.BAD_COMMAND, `plantd worker command ${describe(frames[2])} is not defined`);
  }
}

function decodeFromBroker(frames: Frames, direction: Direction): ParseResult {
  const v = MdpVersion.V02;
  if (frames.length > 0 && frames[0]!.length === 0) {
    return bad(MalformedReason.BAD_HEADER, "plantd's broker sends no leading empty frame");
  }
  const cmd = word(frames[1]);
  if (same(frames[0], H_C02)) {
    if (direction === Direction.TO_WORKER) return bad(MalformedReason.WRONG_DIRECTION, 'MDPC02 client messages never go to a worker');
    if (cmd !== PlantdCommand.PARTIAL && cmd !== PlantdCommand.FINAL) {
      return cmd === PlantdCommand.REQUEST
        ? bad(MalformedReason.WRONG_DIRECTION, 'plantd client REQUEST goes from client to broker only')
        : bad(MalformedReason.BAD_COMMAND, `plantd client reply command ${describe(frames[1])} is not defined`);
    }
    if (frames.length < 3) return bad(MalformedReason.TOO_FEW_FRAMES, `plantd ${cmd} needs 3 or more frames, got ${frames.length}`);
    if (frames[2]!.length === 0) return bad(MalformedReason.EMPTY_SERVICE, `plantd ${cmd}: the service name frame is empty`);
    const body = frames.length > 3 ? frames.slice(3) : [EMPTY_FRAME];
    return ok({ protocol: 'client', command: cmd, version: v, service: frames[2]!, body });
  }
  if (!same(frames[0], H_W02)) return bad(MalformedReason.BAD_HEADER, 'expected header MDPC02 or MDPW02');
  if (direction === Direction.TO_CLIENT) return bad(MalformedReason.WRONG_DIRECTION, 'MDPW02 worker messages never go to a client');
  switch (cmd) {
    case PlantdCommand.REQUEST: {
      const e = unwrap(frames, 2, 'plantd REQUEST');
      if (!e.ok) return e;
      return ok({ protocol: 'worker', command: 'REQUEST', version: v, client: e.client, body: e.body });
    }
    case PlantdCommand.HEARTBEAT:
    case PlantdCommand.DISCONNECT: {
      const n = exactly(frames, 2, `plantd ${cmd}`);
      if (n) return n;
      return ok({ protocol: 'worker', command: cmd, version: v });
    }
    case PlantdCommand.READY:
    case PlantdCommand.PARTIAL:
    case PlantdCommand.FINAL:
      return bad(MalformedReason.WRONG_DIRECTION, `plantd ${cmd} goes from worker to broker only`);
    default:
      return bad(MalformedReason.BAD_COMMAND, `plantd worker command ${describe(frames[1])} is not defined`);
  }
}

export const PLANTD: MdpCodec = {
  dialect: Dialect.PLANTD,
  version: MdpVersion.V02,
  label: 'plantd (MDP/0.2 with text commands)',
  streams: true,
  replyHasService: true,

  /** "" then MDPC02/MDPW02 then a command word (see isTextCommand). */
  claims(frames) {
    return (
      frames.length >= 3 && frames[0]!.length === 0 && (same(frames[1], H_C02) || same(frames[1], H_W02)) && isTextCommand(frames[2])
    );
  },

  decode(frames, direction) {
    return direction === Direction.TO_BROKER ? decodeToBroker(frames) : decodeFromBroker(frames, direction);
  },

  encode(c, direction) {
    if (c.protocol === 'client') {
      checkBody(c.body, `plantd ${c.command}`);
      if (c.command === 'REQUEST') return [EMPTY_FRAME, H_C02, W(PlantdCommand.REQUEST), c.service, ...c.body];
      return [H_C02, W(c.command), c.service, ...c.body];
    }
    switch (c.command) {
      case 'READY':
        return [EMPTY_FRAME, H_W02, W(PlantdCommand.READY), c.service];
      case 'REQUEST':
        checkBody(c.body, 'plantd REQUEST');
        return [H_W02, W(PlantdCommand.REQUEST), c.client, EMPTY_FRAME, ...c.body];
      case 'PARTIAL':
      case 'FINAL':
        checkBody(c.body, `plantd ${c.command}`);
        return [EMPTY_FRAME, H_W02, W(c.command), c.client, EMPTY_FRAME, ...c.body];
      case 'HEARTBEAT':
      case 'DISCONNECT':
        // the only commands that travel both ways, framed differently each way
        if (direction === Direction.TO_BROKER) return [EMPTY_FRAME, H_W02, W(c.command)];
        if (direction === Direction.TO_WORKER) return [H_W02, W(c.command)];
        throw mdpError(MdpErrorCode.UNSUPPORTED, `plantd ${c.command} is framed differently each way: give the direction`);
      default:
        return unsupported(c, LABEL);
    }
  },
};

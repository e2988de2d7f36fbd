/**
 * The majortomo dialect: shoppimon/majortomo (Python, pyzmq), a popular "MDP/0.2" implementation.
 * Read from its protocol.py, broker.py, client.py and worker.py; written here in our own words.
 *
 * It differs from 18/MDP in two ways: every message, in both directions, starts with an empty frame,
 * and clients use the worker command table (protocol.py has one table: READY 0x01, REQUEST 0x02,
 * PARTIAL 0x03, FINAL 0x04, HEARTBEAT 0x05, DISCONNECT 0x06). Its broker answers clients without
 * the service frame, and its client parser expects exactly that.
 *
 *   client -> broker   ""  MDPC02  0x02  service  body...          (body >= 1 frame)
 *   broker -> client   ""  MDPC02  0x03|0x04  body...              (no service frame)
 *   worker -> broker   ""  MDPW02  0x01  service                   (READY, exactly 4 frames)
 *   worker -> broker   ""  MDPW02  0x03|0x04  client  ""  body...  (PARTIAL / FINAL)
 *   broker -> worker   ""  MDPW02  0x02  client  ""  body...       (REQUEST)
 *   both ways          ""  MDPW02  0x05|0x06                       (HEARTBEAT / DISCONNECT)
 *
 * A reply may have no body frame at all (majortomo's worker can send FINAL with an empty list, and
 * its client accepts a 3-frame reply); it decodes to a body of one empty frame, the MDP spelling of an
 * empty body, and encode(decode(x)) is that normal form. Decoded client replies have an empty
 * `service` (the dialect does not carry it: `replyHasService` is false).
 */
import {
  bad,
  BYTE,
  checkBody,
  commandByte,
  EMPTY_FRAME,
  envelope,
  exactly,
  H_C02,
  H_W02,
  hexByte,
  ok,
  same,
  serviceAndBody,
  unsupported,
  Direction,
  type MdpCodec,
  type ParseResult,
} from '../codec.ts';
import { Dialect, MdpVersion, WorkerCommand02 } from '../constants.ts';
import { MalformedReason } from '../errors.ts';
import { isTextCommand } from './plantd.ts';

type Frames = readonly Uint8Array[];

/**
 * majortomo's single command table (protocol.py), used by clients and workers alike: the bytes
 * of RFC 18's worker table.
 */
export const MajortomoCommand = WorkerCommand02;

const LABEL = 'majortomo';
const C = MajortomoCommand;

function clientDecode(frames: Frames, direction: Direction): ParseResult {
  const v = MdpVersion.V02;
  const cmd = commandByte(frames[2]);
  if (direction === Direction.TO_WORKER) return bad(MalformedReason.WRONG_DIRECTION, 'MDPC02 client messages never go to a worker');
  if (direction === Direction.TO_BROKER) {
    if (cmd !== C.REQUEST) {
      return cmd === C.PARTIAL || cmd === C.FINAL
        ? bad(MalformedReason.WRONG_DIRECTION, 'majortomo client PARTIAL and FINAL go from broker to client only')
        : bad(MalformedReason.BAD_COMMAND, `majortomo client command ${hexByte(frames[2])} is not defined (REQUEST is 0x02)`);
    }
    const sb = serviceAndBody(frames, 3, 'majortomo REQUEST');
    if (!sb.ok) return sb;
    return ok({ protocol: 'client', command: 'REQUEST', version: v, service: sb.service, body: sb.body });
  }
  if (cmd !== C.PARTIAL && cmd !== C.FINAL) {
    return cmd === C.REQUEST
      ? bad(MalformedReason.WRONG_DIRECTION, 'majortomo client REQUEST goes from client to broker only')
      : bad(MalformedReason.BAD_COMMAND, `majortomo client reply command ${hexByte(frames[2])} is not defined`);
  }
  const body = frames.length > 3 ? frames.slice(3) : [EMPTY_FRAME];
  return ok({ protocol: 'client', command: cmd === C.PARTIAL ? 'PARTIAL' : 'FINAL', version: v, service: EMPTY_FRAME, body });
}

function workerDecode(frames: Frames, direction: Direction): ParseResult {
  const v = MdpVersion.V02;
  if (direction === Direction.TO_CLIENT) return bad(MalformedReason.WRONG_DIRECTION, 'MDPW02 worker messages never go to a client');
  const toBroker = direction === Direction.TO_BROKER;
  const cmd = commandByte(frames[2]);
  switch (cmd) {
    case C.READY: {
      if (!toBroker) return bad(MalformedReason.WRONG_DIRECTION, 'majortomo READY goes from worker to broker only');
      const n = exactly(frames, 4, 'majortomo READY');
      if (n) return n;
      if (frames[3]!.length === 0) return bad(MalformedReason.EMPTY_SERVICE, 'majortomo READY: the service name frame is empty');
      return ok({ protocol: 'worker', command: 'READY', version: v, service: frames[3]! });
    }
    case C.REQUEST: {
      if (toBroker) return bad(MalformedReason.WRONG_DIRECTION, 'majortomo REQUEST goes from broker to worker only');
      const e = envelope(frames, 3, 'majortomo REQUEST');
      if (!e.ok) return e;
      return ok({ protocol: 'worker', command: 'REQUEST', version: v, client: e.client, body: e.body });
    }
    case C.PARTIAL:
    case C.FINAL: {
      const name = cmd === C.PARTIAL ? 'PARTIAL' : 'FINAL';
      if (!toBroker) return bad(MalformedReason.WRONG_DIRECTION, `majortomo ${name} goes from worker to broker only`);
      // majortomo's worker may send an empty body: client and delimiter only
      const e = envelope(frames.length === 5 ? [...frames, EMPTY_FRAME] : frames, 3, `majortomo ${name}`);
      if (!e.ok) return e;
      return ok({ protocol: 'worker', command: name, version: v, client: e.client, body: e.body });
    }
    case C.HEARTBEAT:
    case C.DISCONNECT: {
      const name = cmd === C.HEARTBEAT ? 'HEARTBEAT' : 'DISCONNECT';
      const n = exactly(frames, 3, `majortomo ${name}`);
      if (n) return n;
      return ok({ protocol: 'worker', command: name, version: v });
    }
    default:
      return bad(MalformedReason.BAD_COMMAND, `majortomo worker command ${hexByte(frames[2])} is not defined`);
  }
}

export const MAJORTOMO: MdpCodec = {
  dialect: Dialect.MAJORTOMO,
  version: MdpVersion.V02,
  label: 'majortomo (MDP/0.2 with leading empty frames)',
  streams: true,
  replyHasService: false,

  /** "" then MDPC02/MDPW02 then anything but a plantd command word (normally one byte). */
  claims(frames) {
    return (
      frames.length >= 2 && frames[0]!.length === 0 && (same(frames[1], H_C02) || same(frames[1], H_W02)) && !isTextCommand(frames[2])
    );
  },

  decode(frames, direction) {
    if (frames.length < 3 || frames[0]!.length !== 0) {
      return frames.length > 0 && frames[0]!.length !== 0
        ? bad(MalformedReason.MISSING_EMPTY_FRAME, 'majortomo messages start with an empty frame')
        : bad(MalformedReason.TOO_FEW_FRAMES, `majortomo messages have 3 or more frames, got ${frames.length}`);
    }
    if (same(frames[1], H_C02)) return clientDecode(frames, direction);
    if (same(frames[1], H_W02)) return workerDecode(frames, direction);
    return bad(MalformedReason.BAD_HEADER, 'expected header MDPC02 or MDPW02 after the empty frame');
  },

  encode(c) {
    if (c.protocol === 'client') {
      checkBody(c.body, `majortomo ${c.command}`);
      if (c.command === 'REQUEST') return [EMPTY_FRAME, H_C02, BYTE[C.REQUEST]!, c.service, ...c.body];
      return [EMPTY_FRAME, H_C02, BYTE[C[c.command]]!, ...c.body];
    }
    switch (c.command) {
      case 'READY':
        return [EMPTY_FRAME, H_W02, BYTE[C.READY]!, c.service];
      case 'REQUEST':
      case 'PARTIAL':
      case 'FINAL':
        checkBody(c.body, `majortomo ${c.command}`);
        return [EMPTY_FRAME, H_W02, BYTE[C[c.command]]!, c.client, EMPTY_FRAME, ...c.body];
      case 'HEARTBEAT':
      case 'DISCONNECT':
        return [EMPTY_FRAME, H_W02, BYTE[C[c.command]]!];
      default:
        return unsupported(c, LABEL);
    }
  },
};

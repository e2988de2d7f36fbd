/**
 * Majordomo codec: frames <-> typed commands, with no I/O.
 *
 * Internal commands are version-neutral (7/MDP REPLY is a FINAL with version '0.1'), so a broker can
 * bridge 0.1 and 0.2 peers by decoding with one codec and encoding with another. Each wire format
 * is one `MdpCodec`; `parse()` picks the codec from the header frames. The RFC codecs live here; the
 * codecs of the other dialects (majortomo, plantd) and the rules that tell dialects apart live in
 * src/mdp/dialects/, built on the helpers exported below.
 *
 * Frames are given as the peer's DEALER sends them, i.e. what the broker's ROUTER receives minus
 * the identity frame (shared/specs/mdp.md conventions). Bodies are views of the input frames.
 */
import { ClientCommand02, Dialect, Header, MdpVersion, WorkerCommand01, WorkerCommand02 } from './constants.ts';
import { MalformedReason, MdpError, MdpErrorCode, mdpError } from './errors.ts';

type Frames = readonly Uint8Array[];

/** Client sub-protocol, client -> broker. */
export interface ClientRequest {
  readonly protocol: 'client';
  readonly command: 'REQUEST';
  readonly version: MdpVersion;
  readonly service: Uint8Array;
  readonly body: Uint8Array[];
}
/** Client sub-protocol, broker -> client. A 7/MDP REPLY is a FINAL with version '0.1'. */
export interface ClientReply {
  readonly protocol: 'client';
  readonly command: 'PARTIAL' | 'FINAL';
  readonly version: MdpVersion;
  readonly service: Uint8Array;
  readonly body: Uint8Array[];
}
/** Worker sub-protocol, worker -> broker. */
export interface WorkerReady {
  readonly protocol: 'worker';
  readonly command: 'READY';
  readonly version: MdpVersion;
  readonly service: Uint8Array;
}
/** Worker sub-protocol, broker -> worker. */
export interface WorkerRequest {
  readonly protocol: 'worker';
  readonly command: 'REQUEST';
  readonly version: MdpVersion;
  readonly client: Uint8Array;
  readonly body: Uint8Array[];
}
/** Worker sub-protocol, worker -> broker. A 7/MDP REPLY is a FINAL with version '0.1'. */
export interface WorkerReply {
  readonly protocol: 'worker';
  readonly command: 'PARTIAL' | 'FINAL';
  readonly version: MdpVersion;
  readonly client: Uint8Array;
  readonly body: Uint8Array[];
}
/** Worker sub-protocol, both directions. */
export interface WorkerControl {
  readonly protocol: 'worker';
  readonly command: 'HEARTBEAT' | 'DISCONNECT';
  readonly version: MdpVersion;
}

export type ClientCommand = ClientRequest | ClientReply;
export type WorkerCommand = WorkerReady | WorkerRequest | WorkerReply | WorkerControl;
export type MdpCommand = ClientCommand | WorkerCommand;

/** Who receives the message being parsed; the same frames can be valid one way and not the other. */
export const Direction = {
  TO_BROKER: 'toBroker',
  TO_CLIENT: 'toClient',
  TO_WORKER: 'toWorker',
} as const;
export type Direction = (typeof Direction)[keyof typeof Direction];

export type ParseResult<C extends MdpCommand = MdpCommand> = { ok: true; command: C } | { ok: false; error: MdpError };

/** One wire format (one dialect). */
export interface MdpCodec {
  readonly dialect: Dialect;
  /** The MDP version the dialect claims on the wire (majortomo and plantd say MDP/0.2). */
  readonly version: MdpVersion;
  /** Human name for logs and help, e.g. "RFC 18 (MDP/0.2)". */
  readonly label: string;
  /** The dialect has PARTIAL (worker -> broker and broker -> client); 7/MDP has a single REPLY. */
  readonly streams: boolean;
  /** Broker -> client replies carry the service frame (majortomo's do not). */
  readonly replyHasService: boolean;
  /**
   * True when a message sent *to the broker* has this dialect's shape (header frames and the width
   * of the command frame; cheap, no full validation). See src/mdp/dialects/index.ts for the rules.
   */
  claims(frames: Frames): boolean;
  decode(frames: Frames, direction: Direction): ParseResult;
  /**
   * Throws MdpError(MDP_UNSUPPORTED) for a command this dialect cannot express. `direction` is needed
   * only where a dialect frames the same command differently each way (plantd HEARTBEAT/DISCONNECT).
   */
  encode(command: MdpCommand, direction?: Direction): Uint8Array[];
}

/** ZMTP routing ids are at most 255 bytes; so is the client address frame. */
export const MAX_ADDRESS_LENGTH = 255;

// ---- shared constant frames and helpers (never mutated; also used by src/mdp/dialects/) ----------

export function ascii(s: string): Uint8Array {
  const b = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i);
  return b;
}

export const EMPTY_FRAME = new Uint8Array(0);
export const H_C01 = ascii(Header.CLIENT_01);
export const H_W01 = ascii(Header.WORKER_01);
export const H_C02 = ascii(Header.CLIENT_02);
export const H_W02 = ascii(Header.WORKER_02);
export const BYTE: Uint8Array[] = Array.from({ length: 8 }, (_, i) => Uint8Array.of(i));

export function same(a: Uint8Array | undefined, b: Uint8Array): boolean {
  if (a === undefined || a.length !== b.length) return false;
  for (let i = 0; i < b.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function bad(reason: MalformedReason, message: string): { ok: false; error: MdpError } {
  return { ok: false, error: mdpError(MdpErrorCode.MALFORMED, message, { reason }) };
}

export function ok<C extends MdpCommand>(command: C): { ok: true; command: C } {
  return { ok: true, command };
}

/** The single command byte of a command frame, or -1 when the frame is not exactly one byte. */
export function commandByte(frame: Uint8Array | undefined): number {
  return frame !== undefined && frame.length === 1 ? frame[0]! : -1;
}

export function hexByte(frame: Uint8Array | undefined): string {
  if (frame === undefined) return 'nothing';
  if (frame.length !== 1) return `a ${frame.length}-byte frame`;
  return `0x${frame[0]!.toString(16).padStart(2, '0')}`;
}

/** Frames at `at`: client address, empty delimiter, body (>= 1 frame). */
export function envelope(
  frames: Frames,
  at: number,
  what: string,
): { ok: true; client: Uint8Array; body: Uint8Array[] } | { ok: false; error: MdpError } {
  if (frames.length < at + 3) {
    return bad(MalformedReason.TOO_FEW_FRAMES, `${what} needs ${at + 3} or more frames, got ${frames.length}`);
  }
  const client = frames[at]!;
  if (client.length === 0) return bad(MalformedReason.EMPTY_ADDRESS, `${what}: the client address frame is empty`);
  if (client.length > MAX_ADDRESS_LENGTH) {
    return bad(MalformedReason.ADDRESS_TOO_LONG, `${what}: client address of ${client.length} bytes (max ${MAX_ADDRESS_LENGTH})`);
  }
  if (frames[at + 1]!.length !== 0) {
    return bad(MalformedReason.MISSING_EMPTY_FRAME, `${what}: the frame after the client address must be empty`);
  }
  return { ok: true, client, body: frames.slice(at + 2) };
}

export function serviceAndBody(
  frames: Frames,
  at: number,
  what: string,
): { ok: true; service: Uint8Array; body: Uint8Array[] } | { ok: false; error: MdpError } {
  if (frames.length < at + 2) {
    return bad(MalformedReason.TOO_FEW_FRAMES, `${what} needs ${at + 2} or more frames, got ${frames.length}`);
  }
  const service = frames[at]!;
  if (service.length === 0) return bad(MalformedReason.EMPTY_SERVICE, `${what}: the service name frame is empty`);
  return { ok: true, service, body: frames.slice(at + 1) };
}

export function exactly(frames: Frames, n: number, what: string): { ok: false; error: MdpError } | undefined {
  return frames.length === n ? undefined : bad(MalformedReason.WRONG_FRAME_COUNT, `${what} has exactly ${n} frames, got ${frames.length}`);
}

export function unsupported(command: MdpCommand, label = `MDP/${command.version}`): never {
  throw mdpError(MdpErrorCode.UNSUPPORTED, `${label} has no ${command.protocol} ${command.command} command`);
}

export function checkBody(body: readonly Uint8Array[], what: string): void {
  // 7/MDP and 18/MDP: a body is one or more frames; an empty body is one empty frame
  if (body.length === 0) throw mdpError(MdpErrorCode.MALFORMED, `${what}: the body needs at least one frame`);
}

// ---- 7/MDP (0.1) -------------------------------------------------------------------------------

/**
 * 7/MDP: a leading empty frame on every message, no command frame for clients, worker commands
 * READY 0x01, REQUEST 0x02, REPLY 0x03, HEARTBEAT 0x04, DISCONNECT 0x05.
 */
export const MDP01: MdpCodec = {
  dialect: Dialect.RFC7,
  version: MdpVersion.V01,
  label: 'RFC 7 (MDP/0.1)',
  streams: false,
  replyHasService: true,

  claims(frames) {
    return frames.length >= 2 && frames[0]!.length === 0 && (same(frames[1], H_C01) || same(frames[1], H_W01));
  },

  decode(frames, direction) {
    if (frames.length < 2 || frames[0]!.length !== 0) {
      return bad(MalformedReason.MISSING_EMPTY_FRAME, 'MDP/0.1 messages start with an empty frame');
    }
    const v = MdpVersion.V01;
    if (same(frames[1], H_C01)) {
      // REQUEST and REPLY have the same layout: "" MDPC01 service body...
      if (direction === Direction.TO_WORKER) {
        return bad(MalformedReason.WRONG_DIRECTION, 'MDPC01 client messages never go to a worker');
      }
      const sb = serviceAndBody(frames, 2, direction === Direction.TO_BROKER ? 'MDP/0.1 REQUEST' : 'MDP/0.1 REPLY');
      if (!sb.ok) return sb;
      return direction === Direction.TO_BROKER
        ? ok({ protocol: 'client', command: 'REQUEST', version: v, service: sb.service, body: sb.body })
        : ok({ protocol: 'client', command: 'FINAL', version: v, service: sb.service, body: sb.body });
    }
    if (!same(frames[1], H_W01)) return bad(MalformedReason.BAD_HEADER, 'expected header MDPC01 or MDPW01');
    if (direction === Direction.TO_CLIENT) {
      return bad(MalformedReason.WRONG_DIRECTION, 'MDPW01 worker messages never go to a client');
    }
    const toBroker = direction === Direction.TO_BROKER;
    const cmd = commandByte(frames[2]);
    switch (cmd) {
      case WorkerCommand01.READY: {
        if (!toBroker) return bad(MalformedReason.WRONG_DIRECTION, 'MDP/0.1 READY goes from worker to broker only');
        const n = exactly(frames, 4, 'MDP/0.1 READY');
        if (n) return n;
        if (frames[3]!.length === 0) return bad(MalformedReason.EMPTY_SERVICE, 'MDP/0.1 READY: the service name frame is empty');
        return ok({ protocol: 'worker', command: 'READY', version: v, service: frames[3]! });
      }
      case WorkerCommand01.REQUEST: {
        if (toBroker) return bad(MalformedReason.WRONG_DIRECTION, 'MDP/0.1 REQUEST goes from broker to worker only');
        const e = envelope(frames, 3, 'MDP/0.1 REQUEST');
        if (!e.ok) return e;
        return ok({ protocol: 'worker', command: 'REQUEST', version: v, client: e.client, body: e.body });
      }
      case WorkerCommand01.REPLY: {
        if (!toBroker) return bad(MalformedReason.WRONG_DIRECTION, 'MDP/0.1 REPLY goes from worker to broker only');
        const e = envelope(frames, 3, 'MDP/0.1 REPLY');
        if (!e.ok) return e;
        return ok({ protocol: 'worker', command: 'FINAL', version: v, client: e.client, body: e.body });
      }
      case WorkerCommand01.HEARTBEAT:
      case WorkerCommand01.DISCONNECT: {
        const name = cmd === WorkerCommand01.HEARTBEAT ? 'HEARTBEAT' : 'DISCONNECT';
        const n = exactly(frames, 3, `MDP/0.1 ${name}`);
        if (n) return n;
        return ok({ protocol: 'worker', command: name, version: v });
      }
      default:
        return bad(MalformedReason.BAD_COMMAND, `MDP/0.1 worker command ${hexByte(frames[2])} is not defined`);
    }
  },

  encode(c) {
    if (c.version !== MdpVersion.V01) throw mdpError(MdpErrorCode.UNSUPPORTED, `the MDP/0.1 codec cannot encode MDP/${c.version}`);
    if (c.protocol === 'client') {
      if (c.command === 'PARTIAL') unsupported(c);
      checkBody(c.body, `MDP/0.1 ${c.command}`);
      return [EMPTY_FRAME, H_C01, c.service, ...c.body];
    }
    switch (c.command) {
      case 'READY':
        return [EMPTY_FRAME, H_W01, BYTE[WorkerCommand01.READY]!, c.service];
      case 'REQUEST':
        checkBody(c.body, 'MDP/0.1 REQUEST');
        return [EMPTY_FRAME, H_W01, BYTE[WorkerCommand01.REQUEST]!, c.client, EMPTY_FRAME, ...c.body];
      case 'FINAL':
        checkBody(c.body, 'MDP/0.1 REPLY');
        return [EMPTY_FRAME, H_W01, BYTE[WorkerCommand01.REPLY]!, c.client, EMPTY_FRAME, ...c.body];
      case 'HEARTBEAT':
        return [EMPTY_FRAME, H_W01, BYTE[WorkerCommand01.HEARTBEAT]!];
      case 'DISCONNECT':
        return [EMPTY_FRAME, H_W01, BYTE[WorkerCommand01.DISCONNECT]!];
      default:
        return unsupported(c);
    }
  },
};

// ---- 18/MDP (0.2) ------------------------------------------------------------------------------

/**
 * 18/MDP: no leading empty frame; client REQUEST 0x01, PARTIAL 0x02, FINAL 0x03 (followed by the
 * service frame); worker READY 0x01, REQUEST 0x02, PARTIAL 0x03, FINAL 0x04, HEARTBEAT 0x05,
 * DISCONNECT 0x06. The empty frame after the client address stays.
 */
export const MDP02: MdpCodec = {
  dialect: Dialect.RFC18,
  version: MdpVersion.V02,
  label: 'RFC 18 (MDP/0.2)',
  streams: true,
  replyHasService: true,

  claims(frames) {
    return frames.length >= 1 && (same(frames[0], H_C02) || same(frames[0], H_W02));
  },

  decode(frames, direction) {
    const v = MdpVersion.V02;
    const cmd = commandByte(frames[1]);
    if (same(frames[0], H_C02)) {
      if (direction === Direction.TO_WORKER) {
        return bad(MalformedReason.WRONG_DIRECTION, 'MDPC02 client messages never go to a worker');
      }
      if (direction === Direction.TO_BROKER) {
        if (cmd !== ClientCommand02.REQUEST) {
          return cmd === ClientCommand02.PARTIAL || cmd === ClientCommand02.FINAL
            ? bad(MalformedReason.WRONG_DIRECTION, 'MDP/0.2 client PARTIAL and FINAL go from broker to client only')
            : bad(MalformedReason.BAD_COMMAND, `MDP/0.2 client command ${hexByte(frames[1])} is not defined`);
        }
        const sb = serviceAndBody(frames, 2, 'MDP/0.2 REQUEST');
        if (!sb.ok) return sb;
        return ok({ protocol: 'client', command: 'REQUEST', version: v, service: sb.service, body: sb.body });
      }
      if (cmd !== ClientCommand02.PARTIAL && cmd !== ClientCommand02.FINAL) {
        return cmd === ClientCommand02.REQUEST
          ? bad(MalformedReason.WRONG_DIRECTION, 'MDP/0.2 client REQUEST goes from client to broker only')
          : bad(MalformedReason.BAD_COMMAND, `MDP/0.2 client command ${hexByte(frames[1])} is not defined`);
      }
      const name = cmd === ClientCommand02.PARTIAL ? 'PARTIAL' : 'FINAL';
      const sb = serviceAndBody(frames, 2, `MDP/0.2 ${name}`);
      if (!sb.ok) return sb;
      return ok({ protocol: 'client', command: name, version: v, service: sb.service, body: sb.body });
    }
    if (!same(frames[0], H_W02)) {
      if (frames.length > 1 && frames[0]!.length === 0 && (same(frames[1], H_C02) || same(frames[1], H_W02))) {
        return bad(MalformedReason.BAD_HEADER, 'MDP/0.2 messages have no leading empty frame');
      }
      return bad(MalformedReason.BAD_HEADER, 'expected header MDPC02 or MDPW02');
    }
    if (direction === Direction.TO_CLIENT) {
      return bad(MalformedReason.WRONG_DIRECTION, 'MDPW02 worker messages never go to a client');
    }
    const toBroker = direction === Direction.TO_BROKER;
    switch (cmd) {
      case WorkerCommand02.READY: {
        if (!toBroker) return bad(MalformedReason.WRONG_DIRECTION, 'MDP/0.2 READY goes from worker to broker only');
        const n = exactly(frames, 3, 'MDP/0.2 READY');
        if (n) return n;
        if (frames[2]!.length === 0) return bad(MalformedReason.EMPTY_SERVICE, 'MDP/0.2 READY: the service name frame is empty');
        return ok({ protocol: 'worker', command: 'READY', version: v, service: frames[2]! });
      }
      case WorkerCommand02.REQUEST: {
        if (toBroker) return bad(MalformedReason.WRONG_DIRECTION, 'MDP/0.2 REQUEST goes from broker to worker only');
        const e = envelope(frames, 2, 'MDP/0.2 REQUEST');
        if (!e.ok) return e;
        return ok({ protocol: 'worker', command: 'REQUEST', version: v, client: e.client, body: e.body });
      }
      case WorkerCommand02.PARTIAL:
      case WorkerCommand02.FINAL: {
        const name = cmd === WorkerCommand02.PARTIAL ? 'PARTIAL' : 'FINAL';
        if (!toBroker) return bad(MalformedReason.WRONG_DIRECTION, `MDP/0.2 ${name} goes from worker to broker only`);
        const e = envelope(frames, 2, `MDP/0.2 ${name}`);
        if (!e.ok) return e;
        return ok({ protocol: 'worker', command: name, version: v, client: e.client, body: e.body });
      }
      case WorkerCommand02.HEARTBEAT:
      case WorkerCommand02.DISCONNECT: {
        const name = cmd === WorkerCommand02.HEARTBEAT ? 'HEARTBEAT' : 'DISCONNECT';
        const n = exactly(frames, 2, `MDP/0.2 ${name}`);
        if (n) return n;
        return ok({ protocol: 'worker', command: name, version: v });
      }
      default:
        return bad(MalformedReason.BAD_COMMAND, `MDP/0.2 worker command ${hexByte(frames[1])} is not defined`);
    }
  },

  encode(c) {
    if (c.version !== MdpVersion.V02) throw mdpError(MdpErrorCode.UNSUPPORTED, `the MDP/0.2 codec cannot encode MDP/${c.version}`);
    if (c.protocol === 'client') {
      checkBody(c.body, `MDP/0.2 ${c.command}`);
      return [H_C02, BYTE[ClientCommand02[c.command]]!, c.service, ...c.body];
    }
    switch (c.command) {
      case 'READY':
        return [H_W02, BYTE[WorkerCommand02.READY]!, c.service];
      case 'REQUEST':
      case 'PARTIAL':
      case 'FINAL':
        checkBody(c.body, `MDP/0.2 ${c.command}`);
        return [H_W02, BYTE[WorkerCommand02[c.command]]!, c.client, EMPTY_FRAME, ...c.body];
      case 'HEARTBEAT':
      case 'DISCONNECT':
        return [H_W02, BYTE[WorkerCommand02[c.command]]!];
      default:
        return unsupported(c);
    }
  },
};

/**
 * The RFC codecs, tried in order by `parse()`. The broker detects every dialect with
 * `detect()` from src/mdp/dialects/, which adds the majortomo and plantd codecs.
 */
export const CODECS: readonly MdpCodec[] = [MDP02, MDP01];

export function codecFor(version: MdpVersion): MdpCodec {
  return version === MdpVersion.V01 ? MDP01 : MDP02;
}

/**
 * Parses one message. Never throws: returns the typed command, or MDP_MALFORMED with a `reason`.
 * A message is accepted only if it is exactly the canonical encoding of the command returned
 * (encode(parse(x)) reproduces x), so nothing outside the grammar slips through.
 */
export function parse(frames: Frames, direction: Direction, codecs: readonly MdpCodec[] = CODECS): ParseResult {
  for (const codec of codecs) if (codec.claims(frames)) return codec.decode(frames, direction);
  if (frames.length === 0) return bad(MalformedReason.TOO_FEW_FRAMES, 'empty message');
  const first = frames[0]!;
  if (same(first, H_C01) || same(first, H_W01)) {
    return bad(MalformedReason.MISSING_EMPTY_FRAME, 'MDP/0.1 messages start with an empty frame');
  }
  return bad(MalformedReason.BAD_HEADER, 'no MDP header (MDPC01, MDPW01, MDPC02, MDPW02) where one is expected');
}

/** Encodes one command in its version's wire format. */
export function encode(command: MdpCommand): Uint8Array[] {
  return codecFor(command.version).encode(command);
}

/** The direction(s) a command travels, for validation and tests. */
export function directionsOf(command: MdpCommand): Direction[] {
  if (command.protocol === 'client') {
    return command.command === 'REQUEST' ? [Direction.TO_BROKER] : [Direction.TO_CLIENT];
  }
  switch (command.command) {
    case 'REQUEST':
      return [Direction.TO_WORKER];
    case 'HEARTBEAT':
    case 'DISCONNECT':
      return [Direction.TO_BROKER, Direction.TO_WORKER];
    default:
      return [Direction.TO_BROKER];
  }
}

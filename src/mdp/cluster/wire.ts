/**
 * The inter-broker wire format (PZC01, docs/cluster-wire.md): multipart messages, no I/O.
 *
 *   frame 0  "PZC01"          protocol and version
 *   frame 1  command          one byte (ClusterCommand)
 *   frame 2  sender node id   1..255 bytes, UTF-8
 *   frame 3… fields           per command
 *
 * Lists (members, services) are packed into one frame each, so that a message's frame count does not
 * grow with the cluster. Decoding is strict: every length is checked against the bytes there are and
 * against a bound before anything is read, unknown command bytes and trailing bytes are refused, and a
 * bad message is a typed MdpError (MDP_CLUSTER_MALFORMED) returned, never thrown.
 */
import { fromString, readU32, readU64, toString, writeU32, writeU64 } from '../../util/bytes.ts';
import { MdpErrorCode, mdpError, type MdpError } from '../errors.ts';

export const CLUSTER_PROTOCOL = 'PZC01';
const PROTOCOL_FRAME = fromString(CLUSTER_PROTOCOL);

export const ClusterCommand = {
  HELLO: 0x01,
  WELCOME: 0x02,
  MEMBERS: 0x03,
  HEARTBEAT: 0x04,
  SERVICES: 0x05,
  FORWARD: 0x06,
  PARTIAL: 0x07,
  FINAL: 0x08,
  REFUSE: 0x09,
  CANCEL: 0x0a,
} as const;
export type ClusterCommandName = keyof typeof ClusterCommand;
const COMMAND_NAMES = new Map<number, ClusterCommandName>(Object.entries(ClusterCommand).map(([k, v]) => [v, k as ClusterCommandName]));

/** A member's state as gossiped (suspicion is local, never on the wire). */
export const WireState = { ALIVE: 0, DEAD: 1, LEFT: 2 } as const;
export type WireState = (typeof WireState)[keyof typeof WireState];

/** Why a FORWARD was not taken (REFUSE), or why it ended without a FINAL. */
export const RefuseReason = {
  /** The receiver has no worker for the service (any more): try another member, not counted as a failure. */
  NO_WORKER: 0x01,
  /** The service name is one the receiver answers itself (mmi., titanic.) or too many services. */
  UNKNOWN_SERVICE: 0x02,
  /** The receiver's byte or queue budget has no room. */
  OVER_BUDGET: 0x03,
  /** It was taken and then failed there (worker lost, expired, shutdown): counted as a failed dispatch. */
  FAILED: 0x04,
} as const;
export type RefuseReason = (typeof RefuseReason)[keyof typeof RefuseReason];
const REASONS = new Set<number>(Object.values(RefuseReason));

/** Bounds of the decoder (and of what the encoder is given). */
export const WireLimits = {
  ID_BYTES: 255,
  ENDPOINT_BYTES: 1024,
  CLIENT_ENDPOINTS: 32,
  MEMBERS: 1024,
  SERVICE_BYTES: 1024,
  SERVICES: 100_000,
  DIALECT_BYTES: 32,
  TEXT_BYTES: 1024,
  KEY_BYTES: 32,
} as const;

export interface MemberRecord {
  id: string;
  /** Cluster endpoint (where its ROUTER listens for other brokers). */
  endpoint: string;
  /** Endpoints its clients and workers use. */
  clientEndpoints: string[];
  /** Grows each time the member (re)starts or refutes a rumour of its death: newer news wins. */
  incarnation: number;
  /** Its heartbeat counter within the incarnation. */
  heartbeat: number;
  state: WireState;
  /** Its CURVE public key (32 bytes) when the cluster links use CURVE. */
  publicKey: Uint8Array | undefined;
}

export interface ServiceLoad {
  name: string;
  idle: number;
  busy: number;
  queued: number;
}

interface Base {
  /** Sender node id. */
  from: string;
}
export type ClusterMessage =
  | (Base & { command: 'HELLO'; member: MemberRecord })
  | (Base & { command: 'WELCOME'; members: MemberRecord[] })
  | (Base & { command: 'MEMBERS'; members: MemberRecord[] })
  | (Base & { command: 'HEARTBEAT'; incarnation: number; heartbeat: number })
  | (Base & {
      command: 'SERVICES';
      /** The whole view (replaces) or a delta over version `base`. */
      full: boolean;
      version: number;
      base: number;
      /** FORWARDs from the receiver of this message that the sender had taken when it made the view. */
      seen: number;
      services: ServiceLoad[];
    })
  | (Base & { command: 'FORWARD'; rid: number; service: Uint8Array; dialect: string; body: Uint8Array[] })
  | (Base & { command: 'PARTIAL' | 'FINAL'; rid: number; body: Uint8Array[] })
  | (Base & { command: 'REFUSE'; rid: number; reason: RefuseReason; text: string })
  | (Base & { command: 'CANCEL'; rid: number });

export type DecodeResult = { ok: true; message: ClusterMessage } | { ok: false; error: MdpError };

// ---- encoding -------------------------------------------------------------------------------------

/** A growable byte buffer for packed frames (lists), written once per message. */
class Writer {
  private buf = new Uint8Array(256);
  private at = 0;

  private room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.at + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.at));
    this.buf = next;
  }
  u8(v: number): void {
    this.room(1);
    this.buf[this.at++] = v;
  }
  u16(v: number): void {
    this.room(2);
    this.buf[this.at++] = v >>> 8;
    this.buf[this.at++] = v & 0xff;
  }
  u32(v: number): void {
    this.room(4);
    writeU32(this.buf, this.at, v);
    this.at += 4;
  }
  u64(v: number): void {
    this.room(8);
    writeU64(this.buf, this.at, v);
    this.at += 8;
  }
  bytes(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.at);
    this.at += b.length;
  }
  /** A string with a u8 (short) or u16 length. */
  str(s: string, wide: boolean): void {
    const b = fromString(s);
    // the decoder's bounds are the callers' to keep (config checks node ids and endpoints); a
    // string past the length field would corrupt every field after it
    if (b.length > (wide ? 0xffff : 0xff)) throw new RangeError(`cluster message: a ${b.length}-byte string does not fit its length field`);
    if (wide) this.u16(b.length);
    else this.u8(b.length);
    this.bytes(b);
  }
  done(): Uint8Array {
    return this.buf.slice(0, this.at);
  }
}

function u64Frame(...values: number[]): Uint8Array {
  const f = new Uint8Array(values.length * 8);
  values.forEach((v, i) => writeU64(f, i * 8, v));
  return f;
}

function writeMember(w: Writer, m: MemberRecord): void {
  w.str(m.id, false);
  w.u8(m.state);
  w.u64(m.incarnation);
  w.u64(m.heartbeat);
  w.str(m.endpoint, true);
  w.u8(m.clientEndpoints.length);
  for (const ep of m.clientEndpoints) w.str(ep, true);
  const key = m.publicKey ?? new Uint8Array(0);
  w.u8(key.length);
  w.bytes(key);
}

function membersFrame(members: readonly MemberRecord[]): Uint8Array {
  const w = new Writer();
  w.u16(members.length);
  for (const m of members) writeMember(w, m);
  return w.done();
}

const commandFrames = new Map<number, Uint8Array>([...COMMAND_NAMES.keys()].map((c) => [c, Uint8Array.of(c)]));
/** Sender id frames: a broker sends as itself, every message (frames are never written to). */
const senderFrames = new Map<string, Uint8Array>();
function senderFrame(id: string): Uint8Array {
  let f = senderFrames.get(id);
  if (f === undefined) {
    f = fromString(id);
    if (senderFrames.size < 64) senderFrames.set(id, f);
  }
  return f;
}

/** The frames of a message (bodies are not copied). */
export function encodeCluster(msg: ClusterMessage): Uint8Array[] {
  const head = [PROTOCOL_FRAME, commandFrames.get(ClusterCommand[msg.command])!, senderFrame(msg.from)];
  switch (msg.command) {
    case 'HELLO':
      return [...head, membersFrame([msg.member])];
    case 'WELCOME':
    case 'MEMBERS':
      return [...head, membersFrame(msg.members)];
    case 'HEARTBEAT':
      return [...head, u64Frame(msg.incarnation, msg.heartbeat)];
    case 'SERVICES': {
      const w = new Writer();
      w.u8(msg.full ? 1 : 0);
      w.u64(msg.version);
      w.u64(msg.base);
      w.u64(msg.seen);
      w.u32(msg.services.length);
      for (const s of msg.services) {
        w.str(s.name, true);
        w.u32(s.idle);
        w.u32(s.busy);
        w.u32(s.queued);
      }
      return [...head, w.done()];
    }
    case 'FORWARD':
      return [...head, u64Frame(msg.rid), msg.service, fromString(msg.dialect), ...msg.body];
    case 'PARTIAL':
    case 'FINAL':
      return [...head, u64Frame(msg.rid), ...msg.body];
    case 'REFUSE':
      return [...head, u64Frame(msg.rid), Uint8Array.of(msg.reason), fromString(msg.text)];
    case 'CANCEL':
      return [...head, u64Frame(msg.rid)];
  }
}

// ---- decoding -------------------------------------------------------------------------------------

/** Thrown inside the decoder only, and caught at its edge: callers get a result, never a throw. */
class Bad {
  readonly message: string;
  constructor(message: string) {
    this.message = message;
  }
}

class Reader {
  private at = 0;
  private readonly b: Uint8Array;
  private readonly what: string;
  constructor(b: Uint8Array, what: string) {
    this.b = b;
    this.what = what;
  }
  private need(n: number, field: string): void {
    if (this.at + n > this.b.length) throw new Bad(`${this.what}: ${field} needs ${n} bytes, ${this.b.length - this.at} left`);
  }
  u8(field: string): number {
    this.need(1, field);
    return this.b[this.at++]!;
  }
  u16(field: string): number {
    this.need(2, field);
    const v = (this.b[this.at]! << 8) | this.b[this.at + 1]!;
    this.at += 2;
    return v;
  }
  u32(field: string): number {
    this.need(4, field);
    const v = readU32(this.b, this.at);
    this.at += 4;
    return v;
  }
  u64(field: string): number {
    this.need(8, field);
    const v = readU64(this.b, this.at);
    if (v < 0) throw new Bad(`${this.what}: ${field} is above 2^53-1`);
    this.at += 8;
    return v;
  }
  bytes(n: number, field: string): Uint8Array {
    this.need(n, field);
    const v = this.b.subarray(this.at, this.at + n);
    this.at += n;
    return v;
  }
  str(wide: boolean, max: number, field: string, nonEmpty = true): string {
    const n = wide ? this.u16(`${field} length`) : this.u8(`${field} length`);
    if (n > max) throw new Bad(`${this.what}: ${field} is ${n} bytes, at most ${max}`);
    if (nonEmpty && n === 0) throw new Bad(`${this.what}: ${field} is empty`);
    return utf8(this.bytes(n, field), field);
  }
  end(): void {
    if (this.at !== this.b.length) throw new Bad(`${this.what}: ${this.b.length - this.at} bytes after the last field`);
  }
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
function utf8(b: Uint8Array, field: string): string {
  try {
    return strictUtf8.decode(b);
  } catch {
    throw new Bad(`${field} is not valid UTF-8`);
  }
}

function readMember(r: Reader): MemberRecord {
  const id = r.str(false, WireLimits.ID_BYTES, 'member id');
  const state = r.u8('member state');
  if (state !== WireState.ALIVE && state !== WireState.DEAD && state !== WireState.LEFT) throw new Bad(`member state ${state} is not 0, 1 or 2`);
  const incarnation = r.u64('incarnation');
  const heartbeat = r.u64('heartbeat');
  const endpoint = r.str(true, WireLimits.ENDPOINT_BYTES, 'cluster endpoint');
  const n = r.u8('client endpoint count');
  if (n > WireLimits.CLIENT_ENDPOINTS) throw new Bad(`${n} client endpoints, at most ${WireLimits.CLIENT_ENDPOINTS}`);
  const clientEndpoints: string[] = [];
  for (let i = 0; i < n; i++) clientEndpoints.push(r.str(true, WireLimits.ENDPOINT_BYTES, 'client endpoint'));
  const keyLength = r.u8('key length');
  if (keyLength !== 0 && keyLength !== WireLimits.KEY_BYTES) throw new Bad(`public key is ${keyLength} bytes, not 0 or 32`);
  const publicKey = keyLength === 0 ? undefined : r.bytes(keyLength, 'public key').slice();
  return { id, endpoint, clientEndpoints, incarnation, heartbeat, state: state as WireState, publicKey };
}

function readMembers(frame: Uint8Array, what: string, min: number): MemberRecord[] {
  const r = new Reader(frame, what);
  const n = r.u16('member count');
  if (n > WireLimits.MEMBERS) throw new Bad(`${what}: ${n} members, at most ${WireLimits.MEMBERS}`);
  if (n < min) throw new Bad(`${what}: ${n} members, at least ${min}`);
  const out: MemberRecord[] = [];
  for (let i = 0; i < n; i++) out.push(readMember(r));
  r.end();
  return out;
}

function frameCount(frames: readonly Uint8Array[], exact: number | undefined, min: number, command: string): void {
  if (exact !== undefined ? frames.length !== exact : frames.length < min) {
    throw new Bad(`${command}: ${frames.length} frames, ${exact !== undefined ? `expected ${exact}` : `at least ${min}`}`);
  }
}

function rid(frame: Uint8Array, command: string): number {
  if (frame.length !== 8) throw new Bad(`${command}: request id is ${frame.length} bytes, not 8`);
  const v = readU64(frame, 0);
  if (v < 0) throw new Bad(`${command}: request id is above 2^53-1`);
  return v;
}

function decodeOrThrow(frames: readonly Uint8Array[]): ClusterMessage {
  if (frames.length < 3) throw new Bad(`${frames.length} frames, at least 3 (protocol, command, sender)`);
  const p = frames[0]!;
  if (p.length !== PROTOCOL_FRAME.length || toString(p) !== CLUSTER_PROTOCOL) throw new Bad('frame 0 is not "PZC01"');
  const c = frames[1]!;
  if (c.length !== 1) throw new Bad(`command frame is ${c.length} bytes, not 1`);
  const command = COMMAND_NAMES.get(c[0]!);
  if (command === undefined) throw new Bad(`unknown command 0x${c[0]!.toString(16).padStart(2, '0')}`);
  const s = frames[2]!;
  if (s.length === 0 || s.length > WireLimits.ID_BYTES) throw new Bad(`${command}: sender id is ${s.length} bytes, 1 to ${WireLimits.ID_BYTES}`);
  const from = utf8(s, 'sender id');
  switch (command) {
    case 'HELLO': {
      frameCount(frames, 4, 4, command);
      const members = readMembers(frames[3]!, command, 1);
      if (members.length !== 1) throw new Bad(`HELLO: ${members.length} members, exactly 1`);
      return { command, from, member: members[0]! };
    }
    case 'WELCOME':
    case 'MEMBERS': {
      frameCount(frames, 4, 4, command);
      return { command, from, members: readMembers(frames[3]!, command, command === 'WELCOME' ? 1 : 0) };
    }
    case 'HEARTBEAT': {
      frameCount(frames, 4, 4, command);
      const r = new Reader(frames[3]!, command);
      const incarnation = r.u64('incarnation');
      const heartbeat = r.u64('heartbeat');
      r.end();
      return { command, from, incarnation, heartbeat };
    }
    case 'SERVICES': {
      frameCount(frames, 4, 4, command);
      const r = new Reader(frames[3]!, command);
      const flag = r.u8('full flag');
      if (flag > 1) throw new Bad(`SERVICES: full flag ${flag} is not 0 or 1`);
      const version = r.u64('version');
      const base = r.u64('base');
      const seen = r.u64('seen');
      const n = r.u32('service count');
      if (n > WireLimits.SERVICES) throw new Bad(`SERVICES: ${n} services, at most ${WireLimits.SERVICES}`);
      const services: ServiceLoad[] = [];
      for (let i = 0; i < n; i++) {
        const name = r.str(true, WireLimits.SERVICE_BYTES, 'service name');
        services.push({ name, idle: r.u32('idle'), busy: r.u32('busy'), queued: r.u32('queued') });
      }
      r.end();
      if (flag === 0 && base >= version) throw new Bad(`SERVICES: delta base ${base} is not below its version ${version}`);
      return { command, from, full: flag === 1, version, base, seen, services };
    }
    case 'FORWARD': {
      frameCount(frames, undefined, 6, command);
      const service = frames[4]!;
      if (service.length === 0 || service.length > WireLimits.SERVICE_BYTES) throw new Bad(`FORWARD: service name is ${service.length} bytes, 1 to ${WireLimits.SERVICE_BYTES}`);
      const d = frames[5]!;
      if (d.length > WireLimits.DIALECT_BYTES) throw new Bad(`FORWARD: dialect is ${d.length} bytes, at most ${WireLimits.DIALECT_BYTES}`);
      return { command, from, rid: rid(frames[3]!, command), service, dialect: utf8(d, 'dialect'), body: frames.slice(6) };
    }
    case 'PARTIAL':
    case 'FINAL':
      frameCount(frames, undefined, 4, command);
      return { command, from, rid: rid(frames[3]!, command), body: frames.slice(4) };
    case 'REFUSE': {
      frameCount(frames, 6, 6, command);
      const reason = frames[4]!;
      if (reason.length !== 1 || !REASONS.has(reason[0]!)) throw new Bad('REFUSE: reason is not one byte 0x01-0x04');
      const text = frames[5]!;
      if (text.length > WireLimits.TEXT_BYTES) throw new Bad(`REFUSE: text is ${text.length} bytes, at most ${WireLimits.TEXT_BYTES}`);
      return { command, from, rid: rid(frames[3]!, command), reason: reason[0] as RefuseReason, text: utf8(text, 'text') };
    }
    case 'CANCEL':
      frameCount(frames, 4, 4, command);
      return { command, from, rid: rid(frames[3]!, command) };
  }
}

/** Frames → message, or a typed error (MDP_CLUSTER_MALFORMED). Bodies are views of the input frames. */
export function decodeCluster(frames: readonly Uint8Array[]): DecodeResult {
  try {
    return { ok: true, message: decodeOrThrow(frames) };
  } catch (err) {
    if (err instanceof Bad) return { ok: false, error: mdpError(MdpErrorCode.CLUSTER_MALFORMED, `cluster message: ${err.message}`) };
    // a bug in the decoder, not the input: still a typed error, never a throw out of it
    return { ok: false, error: mdpError(MdpErrorCode.CLUSTER_MALFORMED, `cluster message: ${(err as Error).message}`, { cause: err }) };
  }
}

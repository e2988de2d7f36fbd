/**
 * The journal's byte format: file headers and checksummed records, with no I/O (journal.ts does the
 * reading and writing). Runtime-neutral: Uint8Array, DataView and TextEncoder only.
 *
 * All integers are little-endian.
 *
 *   file header (16 bytes)  magic (8 ASCII: PZMQJRNL segment, PZMQSNAP snapshot) | u32 version = 1
 *                           | u32 crc32c of bytes 0..11
 *   record                  u32 n = payload length (17 ≤ n ≤ MAX_RECORD_BYTES) | u32 crc32c(payload)
 *                           | payload (n bytes)
 *   payload                 u8 type | 16-byte id | fields by type:
 *     REQUEST (1)  u8 kind (0 plain, 1 titanic) | f64 createdAt | bytes service | bytes client
 *                  | str dialect | frames body
 *     REPLY   (2)  frames body
 *     DONE    (3)  —
 *     ATTEMPT (4)  u32 attempts | str error
 *     DEAD    (5)  f64 at | str reason | str error
 *     REQUEUE (6)  f64 at
 *   bytes / str = u32 length + bytes (str is UTF-8); frames = u32 count + count × bytes.
 *
 * The length comes first and the checksum covers the payload only, so a reader can tell a record
 * cut short by a crash (its length runs past the end of the file, or the file ends right after a
 * record whose checksum fails) from damage in the middle (a bad record followed by more bytes).
 */
import { alloc, copyBytes } from '../../util/bytes.ts';
import { MdpErrorCode, isMdpError, mdpError } from '../errors.ts';
import { crc32c } from './crc32c.ts';
import { REQUEST_ID_BYTES, RecordType, RequestKind, type StoreRecord } from './records.ts';

/** What a file holds: a segment of the journal, or a snapshot of the live requests. */
export const FileKind = { SEGMENT: 'segment', SNAPSHOT: 'snapshot' } as const;
export type FileKind = (typeof FileKind)[keyof typeof FileKind];

export const FILE_HEADER_BYTES = 16;
export const FORMAT_VERSION = 1;
/** u32 length + u32 checksum in front of every payload. */
export const RECORD_HEADER_BYTES = 8;
/** The smallest payload: type + id (a DONE). */
export const MIN_PAYLOAD_BYTES = 1 + REQUEST_ID_BYTES;
/**
 * The largest payload. A length above it cannot have been written by us, so it is read as damage
 * (or a zero-filled tail) instead of an instruction to buffer that much.
 */
export const MAX_RECORD_BYTES = 1 << 30;

const MAGIC: Record<FileKind, string> = { segment: 'PZMQJRNL', snapshot: 'PZMQSNAP' };
const KIND_BYTE: Record<RequestKind, number> = { plain: 0, titanic: 1 };

const encoder = new TextEncoder();
// fatal: invalid UTF-8 cannot come from TextEncoder, so it means damage; ignoreBOM: a string that
// starts with U+FEFF must come back with it
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

// ---- file header ----------------------------------------------------------------------------------

export function encodeFileHeader(kind: FileKind): Uint8Array {
  const out = new Uint8Array(FILE_HEADER_BYTES);
  const magic = MAGIC[kind];
  for (let i = 0; i < 8; i++) out[i] = magic.charCodeAt(i);
  const dv = new DataView(out.buffer);
  dv.setUint32(8, FORMAT_VERSION, true);
  dv.setUint32(12, crc32c(out.subarray(0, 12)), true);
  return out;
}

/**
 * The kind of file `bytes` (at least its first 16 bytes) starts. A damaged header throws
 * MDP_STORE_CORRUPT (offset 0); a sound header of another format version throws MDP_STORE, since
 * that file is not damaged and must not be repaired away.
 */
export function checkFileHeader(bytes: Uint8Array): FileKind {
  if (bytes.length < FILE_HEADER_BYTES) {
    throw mdpError(MdpErrorCode.STORE_CORRUPT, `file header cut short (${bytes.length} of ${FILE_HEADER_BYTES} bytes)`, { offset: 0 });
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, FILE_HEADER_BYTES);
  if (dv.getUint32(12, true) !== crc32c(bytes.subarray(0, 12))) {
    throw mdpError(MdpErrorCode.STORE_CORRUPT, 'file header checksum mismatch', { offset: 0 });
  }
  let magic = '';
  for (let i = 0; i < 8; i++) magic += String.fromCharCode(bytes[i]!);
  const kind = magic === MAGIC.segment ? FileKind.SEGMENT : magic === MAGIC.snapshot ? FileKind.SNAPSHOT : undefined;
  if (kind === undefined) throw mdpError(MdpErrorCode.STORE_CORRUPT, `not a journal file (magic ${JSON.stringify(magic)})`, { offset: 0 });
  const version = dv.getUint32(8, true);
  if (version !== FORMAT_VERSION) {
    throw mdpError(MdpErrorCode.STORE, `journal format version ${version} is not supported (this build reads version ${FORMAT_VERSION})`, {
      offset: 0,
    });
  }
  return kind;
}

// ---- sizes ----------------------------------------------------------------------------------------

/** UTF-8 length of a string as TextEncoder writes it (a lone surrogate becomes U+FFFD, 3 bytes). */
export function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 2; // a pair: 2 UTF-16 units, 4 bytes
      i++;
    } else n += 2;
  }
  return n;
}

function framesSize(frames: readonly Uint8Array[]): number {
  let n = 4 + 4 * frames.length;
  for (let i = 0; i < frames.length; i++) n += frames[i]!.length;
  return n;
}

/** Payload bytes after type and id. */
function fieldsSize(record: StoreRecord): number {
  switch (record.type) {
    case RecordType.REQUEST:
      return 1 + 8 + 4 + record.service.length + 4 + record.client.length + 4 + utf8Length(record.dialect) + framesSize(record.body);
    case RecordType.REPLY:
      return framesSize(record.body);
    case RecordType.DONE:
      return 0;
    case RecordType.ATTEMPT:
      return 4 + 4 + utf8Length(record.error);
    case RecordType.DEAD:
      return 8 + 4 + utf8Length(record.reason) + 4 + utf8Length(record.error);
    case RecordType.REQUEUE:
      return 8;
  }
}

/** Exact bytes the record takes in a file (header included). Arithmetic only: no encoding. */
export function recordSize(record: StoreRecord): number {
  return RECORD_HEADER_BYTES + MIN_PAYLOAD_BYTES + fieldsSize(record);
}

// ---- encoding -------------------------------------------------------------------------------------

/**
 * The record as chunks to write in order: one small buffer for the header and every field but the
 * body frames, which are passed through without a copy (between them, 4-byte views of that same
 * buffer carry each frame's length). The checksum is computed over the chunks.
 */
export function encodeRecord(record: StoreRecord): Uint8Array[] {
  if (record.id.length !== REQUEST_ID_BYTES) {
    throw mdpError(MdpErrorCode.STORE, `a request id has ${REQUEST_ID_BYTES} bytes, not ${record.id.length}`);
  }
  const size = recordSize(record);
  if (size - RECORD_HEADER_BYTES > MAX_RECORD_BYTES) {
    throw mdpError(MdpErrorCode.STORE, `a record of ${size} bytes is larger than the journal's limit of ${MAX_RECORD_BYTES}`);
  }
  const frames = record.type === RecordType.REQUEST || record.type === RecordType.REPLY ? record.body : undefined;
  let frameBytes = 0;
  if (frames) for (let i = 0; i < frames.length; i++) frameBytes += frames[i]!.length;

  const head = alloc(size - frameBytes);
  const dv = new DataView(head.buffer, head.byteOffset, head.byteLength);
  dv.setUint32(0, size - RECORD_HEADER_BYTES, true);
  head[8] = record.type;
  head.set(record.id, 9);
  let pos = 9 + REQUEST_ID_BYTES;
  const putBytes = (b: Uint8Array): void => {
    dv.setUint32(pos, b.length, true);
    head.set(b, pos + 4);
    pos += 4 + b.length;
  };
  const putString = (s: string): void => {
    const { written } = encoder.encodeInto(s, head.subarray(pos + 4));
    dv.setUint32(pos, written, true);
    pos += 4 + written;
  };
  switch (record.type) {
    case RecordType.REQUEST: {
      const kind = KIND_BYTE[record.kind];
      if (kind === undefined) throw mdpError(MdpErrorCode.STORE, `unknown request kind ${JSON.stringify(record.kind)}`);
      head[pos] = kind;
      dv.setFloat64(pos + 1, record.createdAt, true);
      pos += 9;
      putBytes(record.service);
      putBytes(record.client);
      putString(record.dialect);
      break;
    }
    case RecordType.ATTEMPT:
      if (!Number.isInteger(record.attempts) || record.attempts < 0 || record.attempts > 0xffffffff) {
        throw mdpError(MdpErrorCode.STORE, `attempts must be a u32, not ${record.attempts}`);
      }
      dv.setUint32(pos, record.attempts, true);
      pos += 4;
      putString(record.error);
      break;
    case RecordType.DEAD:
      dv.setFloat64(pos, record.at, true);
      pos += 8;
      putString(record.reason);
      putString(record.error);
      break;
    case RecordType.REQUEUE:
      dv.setFloat64(pos, record.at, true);
      pos += 8;
      break;
  }

  const chunks: Uint8Array[] = [];
  let from = 0; // start of the part of `head` not yet handed out
  if (frames) {
    dv.setUint32(pos, frames.length, true);
    pos += 4;
    for (let i = 0; i < frames.length; i++) {
      const frame = frames[i]!;
      dv.setUint32(pos, frame.length, true);
      pos += 4;
      if (frame.length === 0) continue; // the next length prefix follows in the same view
      chunks.push(head.subarray(from, pos), frame);
      from = pos;
    }
  }
  if (pos !== head.length) throw mdpError(MdpErrorCode.STORE, `record encoding mismatch: ${pos} bytes written, ${head.length} expected`);
  if (from < pos) chunks.push(head.subarray(from, pos));

  let crc = crc32c(chunks[0]!.subarray(RECORD_HEADER_BYTES));
  for (let i = 1; i < chunks.length; i++) crc = crc32c(chunks[i]!, crc);
  dv.setUint32(4, crc, true);
  return chunks;
}

// ---- decoding -------------------------------------------------------------------------------------

/** How a walk over a file's records ended. */
export const DecodeEnd = {
  /** Every byte belongs to a sound record. */
  CLEAN: 'clean',
  /** The bytes from `offset` on are a record cut short by a crash (or a zero-filled tail). */
  TORN: 'torn',
  /** The record at `offset` is damaged and more follows it: recovery must not guess. */
  CORRUPT: 'corrupt',
} as const;
export type DecodeEnd = (typeof DecodeEnd)[keyof typeof DecodeEnd];

export type DecodeResult =
  | { readonly end: typeof DecodeEnd.CLEAN; readonly records: number; readonly offset: number }
  | { readonly end: typeof DecodeEnd.TORN; readonly records: number; readonly offset: number }
  | { readonly end: typeof DecodeEnd.CORRUPT; readonly records: number; readonly offset: number; readonly reason: string };

/** Called for each sound record: the record, where it starts, and the bytes it takes. */
export type OnRecord = (record: StoreRecord, offset: number, size: number) => void;

function zeroFrom(bytes: Uint8Array, from: number): boolean {
  for (let i = from; i < bytes.length; i++) if (bytes[i] !== 0) return false;
  return true;
}

/**
 * Walks the records of `bytes` from `start` (after the file header) to the end. Records are
 * reported as they are read, so that the caller keeps everything before a torn or damaged one.
 *
 * Where the walk stops:
 * - fewer than 8 bytes left, or a record that runs past the end: torn (a write cut short);
 * - a length out of range: torn if every byte from there on is zero (a filesystem that extended
 *   the file before the data reached it, after a power loss), else corrupt;
 * - a checksum mismatch: torn if nothing but zeros follows the record (for the same reason, and
 *   trivially when the record ends the file), else corrupt;
 * - a payload that cannot be decoded although its checksum holds: corrupt.
 *
 * Byte fields of the decoded records are copies: a view would keep the whole file buffer alive
 * for as long as the request lives.
 */
export function decodeRecords(bytes: Uint8Array, start: number, onRecord: OnRecord): DecodeResult {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = bytes.length;
  let off = start;
  let records = 0;
  while (off < end) {
    if (end - off < RECORD_HEADER_BYTES) return { end: DecodeEnd.TORN, records, offset: off };
    const n = dv.getUint32(off, true);
    if (n < MIN_PAYLOAD_BYTES || n > MAX_RECORD_BYTES) {
      if (zeroFrom(bytes, off)) return { end: DecodeEnd.TORN, records, offset: off };
      return { end: DecodeEnd.CORRUPT, records, offset: off, reason: `record length ${n} out of range` };
    }
    const stop = off + RECORD_HEADER_BYTES + n;
    if (stop > end) return { end: DecodeEnd.TORN, records, offset: off };
    const payload = bytes.subarray(off + RECORD_HEADER_BYTES, stop);
    if (crc32c(payload) !== dv.getUint32(off + 4, true)) {
      if (zeroFrom(bytes, stop)) return { end: DecodeEnd.TORN, records, offset: off };
      return { end: DecodeEnd.CORRUPT, records, offset: off, reason: 'record checksum mismatch' };
    }
    let record: StoreRecord;
    try {
      record = decodePayload(payload, dv, off + RECORD_HEADER_BYTES);
    } catch (err) {
      if (!isMdpError(err)) throw err;
      return { end: DecodeEnd.CORRUPT, records, offset: off, reason: err.message };
    }
    onRecord(record, off, stop - off);
    records++;
    off = stop;
  }
  return { end: DecodeEnd.CLEAN, records, offset: off };
}

/**
 * Reads the fields of one payload; `dv` views the whole buffer, `base` is where the payload starts
 * in it. One instance serves every payload (reset per record): replay decodes millions of them.
 */
class FieldReader {
  private pos = 0;
  private bytes: Uint8Array = new Uint8Array(0);
  private dv: DataView = new DataView(new ArrayBuffer(0));
  private base = 0;
  /** The payload copied out of the file buffer, made at the first byte field the record reads. */
  private own: Uint8Array | undefined;

  reset(payload: Uint8Array, dv: DataView, base: number): this {
    this.bytes = payload;
    this.dv = dv;
    this.base = base;
    this.pos = 0;
    this.own = undefined;
    return this;
  }

  private need(n: number): number {
    const at = this.pos;
    if (n > this.bytes.length - at) throw mdpError(MdpErrorCode.STORE_CORRUPT, 'a field runs past the end of its record');
    this.pos = at + n;
    return at;
  }

  u8(): number {
    return this.bytes[this.need(1)]!;
  }

  u32(): number {
    return this.dv.getUint32(this.base + this.need(4), true);
  }

  f64(): number {
    return this.dv.getFloat64(this.base + this.need(8), true);
  }

  /**
   * The next n bytes, as a view of one copy of the whole payload: never a view of the file buffer
   * (that would pin a whole read of the journal), and one allocation per record rather than one per
   * field (replaying a million live requests is mostly allocation).
   */
  raw(n: number): Uint8Array {
    const at = this.need(n);
    this.own ??= copyBytes(this.bytes);
    return this.own.subarray(at, at + n);
  }

  bytesField(): Uint8Array {
    return this.raw(this.u32());
  }

  /**
   * A short byte field that repeats across records (service names, client ids): one shared copy per
   * distinct value. Replaying a journal of a million live requests keeps every field of every one in
   * the heap, and most of them say the same few things. The broker never writes into these.
   */
  interned(): Uint8Array {
    const n = this.u32();
    if (n > INTERN_MAX_BYTES) return this.raw(n);
    const at = this.need(n);
    let k = '';
    for (let i = at; i < at + n; i++) k += String.fromCharCode(this.bytes[i]!);
    const known = interned.get(k);
    if (known) return known;
    const copy = copyBytes(this.bytes.subarray(at, at + n));
    if (interned.size < INTERN_MAX_ENTRIES) interned.set(k, copy);
    return copy;
  }

  /** A string field that repeats across records (dialect names): one string per distinct value. */
  internedStr(): string {
    const s = this.str();
    const known = internedStrings.get(s);
    if (known !== undefined) return known;
    if (internedStrings.size < INTERN_MAX_ENTRIES) internedStrings.set(s, s);
    return s;
  }

  str(): string {
    const n = this.u32();
    if (n === 0) return '';
    const at = this.need(n);
    try {
      return decoder.decode(this.bytes.subarray(at, at + n));
    } catch {
      throw mdpError(MdpErrorCode.STORE_CORRUPT, 'a string field is not UTF-8');
    }
  }

  frames(): Uint8Array[] {
    const count = this.u32();
    // each frame takes at least its 4-byte length: a count beyond that is damage, not an allocation
    if (count > (this.bytes.length - this.pos) / 4) throw mdpError(MdpErrorCode.STORE_CORRUPT, `frame count ${count} does not fit its record`);
    const out = new Array<Uint8Array>(count);
    for (let i = 0; i < count; i++) out[i] = this.bytesField();
    return out;
  }

  end(): void {
    if (this.pos !== this.bytes.length) {
      throw mdpError(MdpErrorCode.STORE_CORRUPT, `${this.bytes.length - this.pos} bytes left over after the record's fields`);
    }
  }
}

/** Bounds of the decoder's intern tables: short values only, and not without limit. */
const INTERN_MAX_BYTES = 256;
const INTERN_MAX_ENTRIES = 4096;
const interned = new Map<string, Uint8Array>();
const internedStrings = new Map<string, string>();

const reader = new FieldReader();

function decodePayload(payload: Uint8Array, dv: DataView, base: number): StoreRecord {
  const r = reader.reset(payload, dv, base);
  const type = r.u8();
  const id = r.raw(REQUEST_ID_BYTES);
  let record: StoreRecord;
  switch (type) {
    case RecordType.REQUEST: {
      const kindByte = r.u8();
      const kind = kindByte === 0 ? RequestKind.PLAIN : kindByte === 1 ? RequestKind.TITANIC : undefined;
      if (kind === undefined) throw mdpError(MdpErrorCode.STORE_CORRUPT, `unknown request kind ${kindByte}`);
      const createdAt = r.f64();
      const service = r.interned();
      const client = r.interned();
      const dialect = r.internedStr();
      record = { type, id, kind, service, client, dialect, createdAt, body: r.frames() };
      break;
    }
    case RecordType.REPLY:
      record = { type, id, body: r.frames() };
      break;
    case RecordType.DONE:
      record = { type, id };
      break;
    case RecordType.ATTEMPT: {
      const attempts = r.u32();
      record = { type, id, attempts, error: r.str() };
      break;
    }
    case RecordType.DEAD: {
      const at = r.f64();
      const reason = r.str();
      record = { type, id, at, reason, error: r.str() };
      break;
    }
    case RecordType.REQUEUE:
      record = { type, id, at: r.f64() };
      break;
    default:
      throw mdpError(MdpErrorCode.STORE_CORRUPT, `unknown record type ${type}`);
  }
  r.end();
  return record;
}

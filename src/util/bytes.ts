/**
 * Byte helpers on Uint8Array only. `alloc` prefers Buffer where the runtime has one, so that frames
 * handed to users are Buffers (zeromq.js returns Buffer[], and users call `.toString()` on them),
 * while the core never depends on Buffer methods.
 */

type BufferLike = { allocUnsafe(n: number): Uint8Array; from(b: ArrayBuffer, o: number, l: number): Uint8Array };
const NodeBuffer = (globalThis as unknown as { Buffer?: BufferLike }).Buffer;

export const EMPTY: Uint8Array = alloc(0);

export function alloc(size: number): Uint8Array {
  return NodeBuffer ? NodeBuffer.allocUnsafe(size) : new Uint8Array(size);
}

/** View a Uint8Array as the runtime's preferred byte type without copying. */
export function asBuffer(bytes: Uint8Array): Uint8Array {
  if (!NodeBuffer || bytes.constructor !== Uint8Array) return bytes;
  return NodeBuffer.from(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength);
}

/** A copy that shares no memory with `bytes` (Buffer's slice() is a view, not a copy). */
export function copyBytes(bytes: Uint8Array): Uint8Array {
  const out = alloc(bytes.length);
  out.set(bytes);
  return out;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function fromString(s: string): Uint8Array {
  return asBuffer(encoder.encode(s));
}

export function toString(b: Uint8Array): string {
  return decoder.decode(b);
}

/** ASCII only; used for command names and metadata names, which are ASCII by grammar. */
export function asciiBytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff;
  return out;
}

export function asciiString(b: Uint8Array, start = 0, end = b.length): string {
  let s = '';
  for (let i = start; i < end; i++) s += String.fromCharCode(b[i]!);
  return s;
}

export function equals(a: Uint8Array, b: Uint8Array): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function startsWith(data: Uint8Array, prefix: Uint8Array): boolean {
  if (prefix.length > data.length) return false;
  for (let i = 0; i < prefix.length; i++) if (data[i] !== prefix[i]) return false;
  return true;
}

/** Concatenate; a single part passes through without a copy. */
export function concat(parts: readonly Uint8Array[], total?: number): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  if (parts.length === 0) return EMPTY;
  const size = total ?? parts.reduce((n, p) => n + p.length, 0);
  const out = alloc(size);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

export function readU32(b: Uint8Array, off: number): number {
  return ((b[off]! << 24) | (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!) >>> 0;
}

export function writeU32(b: Uint8Array, off: number, v: number): void {
  b[off] = v >>> 24;
  b[off + 1] = (v >>> 16) & 0xff;
  b[off + 2] = (v >>> 8) & 0xff;
  b[off + 3] = v & 0xff;
}

/**
 * Reads a big-endian uint64. Returns -1 when the value exceeds 2^53-1 (it cannot be a
 * length we could ever honour, and must not be wrapped into a small one).
 */
export function readU64(b: Uint8Array, off: number): number {
  const hi = readU32(b, off);
  const lo = readU32(b, off + 4);
  if (hi > 0x1fffff) return -1;
  return hi * 0x100000000 + lo;
}

export function writeU64(b: Uint8Array, off: number, v: number): void {
  writeU32(b, off, Math.floor(v / 0x100000000));
  writeU32(b, off + 4, v >>> 0);
}

const HEX_DIGITS = asciiBytes('0123456789abcdef');
let hexScratch = new Uint8Array(64);

/**
 * Lower-case hex digits. They are written into bytes and decoded once: building the string with
 * `+=` makes a rope of short strings, which costs about three times as much for a 16-byte request
 * id (the request store computes one for every record it replays).
 */
export function toHex(b: Uint8Array): string {
  const n = 2 * b.length;
  // the scratch buffer grows for ids and keys, not for the odd large input (kept for good otherwise)
  const out = n <= 4096 ? (hexScratch.length >= n ? hexScratch : (hexScratch = new Uint8Array(n))) : new Uint8Array(n);
  for (let i = 0; i < b.length; i++) {
    const v = b[i]!;
    out[2 * i] = HEX_DIGITS[v >>> 4]!;
    out[2 * i + 1] = HEX_DIGITS[v & 15]!;
  }
  return decoder.decode(out.subarray(0, n));
}

export function fromHex(hex: string): Uint8Array {
  const clean = hex.replace(/\s+/g, '');
  const out = alloc(clean.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.substr(i * 2, 2), 16);
  return out;
}

export type MessageLike = ArrayBufferView | ArrayBuffer | SharedArrayBuffer | string | number | boolean | null | object;

/**
 * Frames up to this size are copied when sent, as zeromq.js does: the caller may reuse or change
 * its buffer once send() returns, and a small copy is cheaper than keeping the caller's memory.
 */
const COPY_THRESHOLD = 128;

/** Converts one user-supplied frame to bytes (zeromq.js semantics: small buffers copied, large ones not). */
export function toFrame(part: MessageLike): Uint8Array {
  // plain Uint8Arrays become Buffer views (no copy), so receivers always get Buffers, as with zeromq.js
  if (part instanceof Uint8Array) {
    if (part.length <= COPY_THRESHOLD) return copyBytes(part);
    return part.constructor === Uint8Array ? asBuffer(part) : part;
  }
  if (typeof part === 'string') return fromString(part);
  if (part === null || part === undefined) return EMPTY;
  if (ArrayBuffer.isView(part)) return toFrame(new Uint8Array(part.buffer, part.byteOffset, part.byteLength));
  if (part instanceof ArrayBuffer || (typeof SharedArrayBuffer !== 'undefined' && part instanceof SharedArrayBuffer)) {
    return toFrame(new Uint8Array(part));
  }
  // anything else is sent as its string form (numbers, booleans, objects, functions), as zeromq.js does
  return fromString(String(part));
}

import { createError, ErrorCode } from '../errors.ts';
import { alloc } from '../util/bytes.ts';

/**
 * Z85 (RFC 32/Z85): 4 bytes ↔ 5 printable characters, big-endian, most significant digit first.
 * Strict like libzmq's zmq_z85_decode: the length must be a multiple of 4 (encode) or 5 (decode),
 * every character must be in the alphabet, and a group above 0xFFFFFFFF (e.g. `#####`) is an error,
 * never silently wrapped. Errors are ZmqError EINVAL.
 */

const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#';

const DECODE = new Int8Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) DECODE[ALPHABET.charCodeAt(i)] = i;

/** Encodes bytes (length a multiple of 4) as Z85 text. */
export function encode(data: Uint8Array): string {
  if (!(data instanceof Uint8Array)) throw createError(ErrorCode.EINVAL, 'z85.encode: input must be a Uint8Array');
  if (data.length % 4 !== 0) {
    throw createError(ErrorCode.EINVAL, `z85.encode: input length must be a multiple of 4, got ${data.length}`);
  }
  let out = '';
  for (let i = 0; i < data.length; i += 4) {
    let v = ((data[i]! << 24) | (data[i + 1]! << 16) | (data[i + 2]! << 8) | data[i + 3]!) >>> 0;
    const d4 = v % 85;
    v = (v - d4) / 85;
    const d3 = v % 85;
    v = (v - d3) / 85;
    const d2 = v % 85;
    v = (v - d2) / 85;
    const d1 = v % 85;
    const d0 = (v - d1) / 85;
    out += ALPHABET[d0]! + ALPHABET[d1]! + ALPHABET[d2]! + ALPHABET[d3]! + ALPHABET[d4]!;
  }
  return out;
}

/** Decodes Z85 text (length a multiple of 5, at least 5) into bytes. */
export function decode(text: string): Uint8Array {
  if (typeof text !== 'string') throw createError(ErrorCode.EINVAL, 'z85.decode: input must be a string');
  // libzmq rejects an empty/short input as well as a length that is not a multiple of 5
  if (text.length < 5 || text.length % 5 !== 0) {
    throw createError(ErrorCode.EINVAL, `z85.decode: input length must be a positive multiple of 5, got ${text.length}`);
  }
  const out = alloc((text.length / 5) * 4);
  let o = 0;
  for (let i = 0; i < text.length; i += 5) {
    let v = 0;
    for (let j = i; j < i + 5; j++) {
      const c = text.charCodeAt(j);
      const d = c < 128 ? DECODE[c]! : -1;
      if (d < 0) throw createError(ErrorCode.EINVAL, `z85.decode: invalid character at offset ${j}`);
      v = v * 85 + d;
    }
    if (v > 0xffffffff) throw createError(ErrorCode.EINVAL, `z85.decode: group at offset ${i} exceeds 32 bits`);
    out[o++] = (v / 0x1000000) & 0xff;
    out[o++] = (v >>> 16) & 0xff;
    out[o++] = (v >>> 8) & 0xff;
    out[o++] = v & 0xff;
  }
  return out;
}

/** True when `text` decodes (used to tell Z85 key strings from other input). */
export function isZ85(text: string): boolean {
  try {
    decode(text);
    return true;
  } catch {
    return false;
  }
}

import { createError, ErrorCode, type ZmqError } from '../errors.ts';
import { alloc, asciiString, readU32, writeU32 } from '../util/bytes.ts';

/** Connection metadata (RFC 23 §"Connection metadata"). Names keep their spelling; lookups ignore case. */
export class Metadata {
  readonly entries: [name: string, value: Uint8Array][];

  constructor(entries: [string, Uint8Array][] = []) {
    this.entries = entries;
  }

  get(name: string): Uint8Array | undefined {
    const lower = name.toLowerCase();
    for (const [n, v] of this.entries) if (n.toLowerCase() === lower) return v;
    return undefined;
  }

  /** All properties as strings, for users (`Socket-Type`, `Identity`, `User-Id`, `X-*`). */
  toObject(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [n, v] of this.entries) out[n] = new TextDecoder().decode(v);
    return out;
  }
}

function isNameChar(c: number): boolean {
  return (
    (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) ||
    c === 0x2d || c === 0x5f || c === 0x2e || c === 0x2b
  );
}

export function encodeMetadataSize(entries: readonly [string, Uint8Array][]): number {
  let n = 0;
  for (const [name, value] of entries) n += 1 + name.length + 4 + value.length;
  return n;
}

/** Writes properties into `out` at `off`; returns the new offset. */
export function writeMetadata(out: Uint8Array, off: number, entries: readonly [string, Uint8Array][]): number {
  for (const [name, value] of entries) {
    out[off++] = name.length;
    for (let i = 0; i < name.length; i++) out[off++] = name.charCodeAt(i);
    writeU32(out, off, value.length);
    off += 4;
    out.set(value, off);
    off += value.length;
  }
  return off;
}

export function encodeMetadata(entries: readonly [string, Uint8Array][]): Uint8Array {
  const out = alloc(encodeMetadataSize(entries));
  writeMetadata(out, 0, entries);
  return out;
}

/** Parses a property list that runs to the end of `data`; every length is checked before use. */
export function parseMetadata(data: Uint8Array): Metadata | ZmqError {
  const entries: [string, Uint8Array][] = [];
  let off = 0;
  while (off < data.length) {
    const nameLen = data[off]!;
    if (nameLen === 0) return createError(ErrorCode.BAD_METADATA, 'metadata property with empty name');
    if (off + 1 + nameLen + 4 > data.length) return createError(ErrorCode.BAD_METADATA, 'metadata property truncated');
    for (let i = off + 1; i <= off + nameLen; i++) {
      if (!isNameChar(data[i]!)) return createError(ErrorCode.BAD_METADATA, 'metadata property name has invalid characters');
    }
    const name = asciiString(data, off + 1, off + 1 + nameLen);
    off += 1 + nameLen;
    const valueLen = readU32(data, off);
    off += 4;
    if (valueLen > data.length - off) return createError(ErrorCode.BAD_METADATA, `metadata value of '${name}' overruns the command`);
    entries.push([name, data.subarray(off, off + valueLen)]);
    off += valueLen;
  }
  return new Metadata(entries);
}

import { describe, expect, it } from 'vitest';
import {
  alloc,
  asBuffer,
  asciiBytes,
  asciiString,
  concat,
  copyBytes,
  EMPTY,
  equals,
  fromHex,
  fromString,
  readU32,
  readU64,
  startsWith,
  toFrame,
  toHex,
  toString,
  writeU32,
  writeU64,
} from '../../../src/util/bytes.ts';

const u8 = (...b: number[]): Uint8Array => Uint8Array.from(b);

describe('util/bytes readU64 / writeU64', () => {
  it('reads big-endian values up to 2^53-1 exactly', () => {
    expect(readU64(u8(0, 0, 0, 0, 0, 0, 0, 0), 0)).toBe(0);
    expect(readU64(u8(0, 0, 0, 0, 0, 0, 1, 0x2c), 0)).toBe(300);
    expect(readU64(u8(0, 0, 0, 1, 0, 0, 0, 0), 0)).toBe(2 ** 32);
    expect(readU64(u8(0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff), 0)).toBe(2 ** 32 - 1);
    expect(readU64(u8(0x00, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), 0)).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('returns -1 (never a wrapped value) from 2^53 up', () => {
    expect(readU64(u8(0x00, 0x20, 0, 0, 0, 0, 0, 0), 0)).toBe(-1);
    expect(readU64(u8(0x00, 0x20, 0, 0, 0, 0, 0, 1), 0)).toBe(-1);
    expect(readU64(u8(0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), 0)).toBe(-1);
    expect(readU64(u8(0x80, 0, 0, 0, 0, 0, 0, 0), 0)).toBe(-1);
    expect(readU64(u8(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), 0)).toBe(-1);
  });

  it('reads at an offset', () => {
    expect(readU64(u8(9, 9, 0, 0, 0, 0, 0, 0, 1, 0), 2)).toBe(256);
  });

  it('writeU64 round-trips through readU64', () => {
    for (const v of [0, 1, 255, 256, 70000, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 40 + 12345, Number.MAX_SAFE_INTEGER]) {
      const b = new Uint8Array(10);
      writeU64(b, 1, v);
      expect(readU64(b, 1)).toBe(v);
    }
    const b = new Uint8Array(8);
    writeU64(b, 0, 70000);
    expect(toHex(b)).toBe('0000000000011170');
  });

  it('toHex gives two lower-case digits per byte, at every length (Buffer.toString("hex") as reference)', () => {
    for (const n of [0, 1, 16, 2048, 2049, 5000]) {
      const b = Uint8Array.from({ length: n }, (_, i) => (i * 37 + n) & 0xff);
      expect(toHex(b)).toBe(Buffer.from(b).toString('hex'));
    }
    expect(toHex(u8(0, 0x0f, 0xf0, 0xff))).toBe('000ff0ff');
  });

  it('readU32 / writeU32 are unsigned big-endian', () => {
    const b = new Uint8Array(4);
    writeU32(b, 0, 0xfedcba98);
    expect(toHex(b)).toBe('fedcba98');
    expect(readU32(b, 0)).toBe(0xfedcba98);
    expect(readU32(u8(0xff, 0xff, 0xff, 0xff), 0)).toBe(2 ** 32 - 1);
  });
});

describe('util/bytes toFrame', () => {
  it('a Buffer over 128 bytes passes through as the same object; a plain Uint8Array becomes a Buffer view of the same memory', () => {
    const b = Buffer.alloc(129);
    expect(toFrame(b)).toBe(b);
    const a = new Uint8Array(200);
    const f = toFrame(a);
    expect(Buffer.isBuffer(f)).toBe(true);
    expect(f.buffer).toBe(a.buffer); // no copy
    a[0] = 9;
    expect(f[0]).toBe(9);
  });

  it('up to 128 bytes are copied, as zeromq.js does: the caller may reuse its buffer after send()', () => {
    const small = Buffer.from('hi');
    const f = toFrame(small);
    expect(f).not.toBe(small);
    small[0] = 0x78;
    expect(toString(f)).toBe('hi');
    expect(Buffer.isBuffer(toFrame(u8(1, 2)))).toBe(true);
    expect(toFrame(Buffer.alloc(128)).buffer).not.toBe(Buffer.alloc(128).buffer);
  });

  it('strings are UTF-8 encoded into a Buffer', () => {
    const f = toFrame('héllo');
    expect(Buffer.isBuffer(f)).toBe(true);
    expect(toHex(f)).toBe('68c3a96c6c6f');
    expect(toFrame('').length).toBe(0);
  });

  it('numbers are sent as their decimal string (zeromq.js)', () => {
    expect(toString(toFrame(42))).toBe('42');
    expect(toString(toFrame(-1.5))).toBe('-1.5');
  });

  it('null and undefined are empty frames', () => {
    expect(toFrame(null)).toBe(EMPTY);
    expect(toFrame(undefined as unknown as null).length).toBe(0);
  });

  it('other views over 128 bytes are wrapped without copying: same memory, same window', () => {
    const ab = new ArrayBuffer(1024);
    const u16 = new Uint16Array(ab, 4, 300);
    const f = toFrame(u16);
    expect(f).toBeInstanceOf(Uint8Array);
    expect(f.buffer).toBe(ab);
    expect(f.byteOffset).toBe(4);
    expect(f.byteLength).toBe(600);
    const dv = new DataView(ab, 2, 500);
    const g = toFrame(dv);
    expect([g.buffer === ab, g.byteOffset, g.byteLength]).toEqual([true, 2, 500]);
    new Uint8Array(ab)[2] = 7;
    expect(g[0]).toBe(7);
    const i8 = new Int8Array([-1, 1]);
    expect(toHex(toFrame(i8))).toBe('ff01');
    const f64 = new Float64Array(1);
    expect(toFrame(f64).byteLength).toBe(8);
  });

  it('ArrayBuffer and SharedArrayBuffer over 128 bytes are wrapped whole without copying', () => {
    const ab = new ArrayBuffer(300);
    const f = toFrame(ab);
    expect(f.buffer).toBe(ab);
    expect(f.length).toBe(300);
    const sab = new SharedArrayBuffer(500);
    const s = toFrame(sab);
    expect(s.buffer).toBe(sab);
    expect(s.length).toBe(500);
    expect(toFrame(new ArrayBuffer(3)).length).toBe(3);
  });

  it('anything else is sent as its string form, as zeromq.js does', () => {
    const cases: [unknown, string][] = [[true, 'true'], [{}, '[object Object]'], [[1, 2], '1,2'], [10n, '10'], [Promise.resolve(), '[object Promise]']];
    for (const [value, text] of cases) expect(toString(toFrame(value as null))).toBe(text);
  });
});

describe('util/bytes helpers', () => {
  it('copyBytes: a Buffer view is copied out, not aliased (Buffer#slice would alias)', () => {
    const chunk = Buffer.from([9, 1, 2, 3, 9]);
    const view = chunk.subarray(1, 4);
    const copy = copyBytes(view);
    chunk[2] = 0xff;
    expect([...copy]).toEqual([1, 2, 3]);
    expect(Buffer.isBuffer(copy)).toBe(true);
  });

  it('concat: one part passes through, none gives EMPTY, several are joined once', () => {
    const a = u8(1);
    expect(concat([a])).toBe(a);
    expect(concat([])).toBe(EMPTY);
    expect(toHex(concat([u8(1, 2), u8(), u8(3)]))).toBe('010203');
    expect(toHex(concat([u8(1, 2), u8(3)], 3))).toBe('010203');
  });

  it('alloc gives a Buffer on Node; asBuffer views a Uint8Array as Buffer without copying', () => {
    expect(Buffer.isBuffer(alloc(3))).toBe(true);
    expect(alloc(3).length).toBe(3);
    const raw = new Uint8Array([1, 2, 3]).subarray(1);
    const buf = asBuffer(raw);
    expect(Buffer.isBuffer(buf)).toBe(true);
    expect(buf.buffer).toBe(raw.buffer);
    expect(buf.byteOffset).toBe(1);
    const already = Buffer.from('x');
    expect(asBuffer(already)).toBe(already);
  });

  it('hex and strings round-trip', () => {
    expect(toHex(fromHex('00 ff 10\n7f'))).toBe('00ff107f');
    expect(toString(fromString('zürich'))).toBe('zürich');
    expect(asciiString(asciiBytes('READY'))).toBe('READY');
    expect(asciiString(u8(0x41, 0x42, 0x43, 0x44), 1, 3)).toBe('BC');
  });

  it('equals and startsWith compare bytes', () => {
    expect(equals(u8(1, 2), u8(1, 2))).toBe(true);
    expect(equals(u8(1, 2), u8(1, 3))).toBe(false);
    expect(equals(u8(1), u8(1, 2))).toBe(false);
    expect(startsWith(u8(1, 2, 3), u8(1, 2))).toBe(true);
    expect(startsWith(u8(1, 2, 3), u8())).toBe(true);
    expect(startsWith(u8(1), u8(1, 2))).toBe(false);
    expect(startsWith(u8(1, 2), u8(2))).toBe(false);
  });
});

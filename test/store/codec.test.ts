/**
 * The journal codec: round trips of every record type, exact sizes, the byte layout read back by
 * an independent reader written from the format comment, torn and corrupt endings, file headers.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isMdpError } from '../../src/mdp/errors.ts';
import { crc32c } from '../../src/mdp/store/crc32c.ts';
import {
  checkFileHeader,
  decodeRecords,
  DecodeEnd,
  encodeFileHeader,
  encodeRecord,
  FILE_HEADER_BYTES,
  FileKind,
  MAX_RECORD_BYTES,
  recordSize,
  utf8Length,
  type DecodeResult,
} from '../../src/mdp/store/codec.ts';
import { RecordType, RequestKind, type StoreRecord } from '../../src/mdp/store/records.ts';
import { concatBytes } from '../_helpers/decode.ts';
import { record as anyRecord } from './arbitraries.ts';

const encode = (r: StoreRecord): Uint8Array => concatBytes(encodeRecord(r));

function decodeAll(bytes: Uint8Array, start = 0): { records: StoreRecord[]; offsets: number[]; result: DecodeResult } {
  const records: StoreRecord[] = [];
  const offsets: number[] = [];
  const result = decodeRecords(bytes, start, (r, offset) => {
    records.push(r);
    offsets.push(offset);
  });
  return { records, offsets, result };
}

/** Records compared as plain data (Buffer vs Uint8Array must not matter; NaN and -0 compared by Object.is). */
const plain = (v: unknown): unknown => {
  if (v instanceof Uint8Array) return Array.from(v);
  if (Array.isArray(v)) return v.map(plain);
  if (typeof v === 'number') return Object.is(v, -0) ? '-0' : v;
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
};

function expectSame(a: StoreRecord, b: StoreRecord): void {
  expect(plain(a)).toEqual(plain(b));
}

const ID = Uint8Array.from({ length: 16 }, (_, i) => i + 1);
const u8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const sample: StoreRecord[] = [
  { type: RecordType.REQUEST, id: ID, kind: RequestKind.TITANIC, service: u8('echo'), body: [u8('a'), u8(''), u8('héllo')], client: u8(''), dialect: '', createdAt: 1700000000123 },
  { type: RecordType.ATTEMPT, id: ID, attempts: 2, error: 'worker lost' },
  { type: RecordType.REPLY, id: ID, body: [u8('ok')] },
  { type: RecordType.DEAD, id: ID, reason: 'expired', error: 'ttl', at: 5.5 },
  { type: RecordType.REQUEUE, id: ID, at: 7 },
  { type: RecordType.DONE, id: ID },
];
const sampleBytes = concatBytes(sample.map(encode));

describe('record encoding', () => {
  it('round-trips every record type, and recordSize is the encoded length', () => {
    fc.assert(
      fc.property(anyRecord, (r) => {
        const chunks = encodeRecord(r);
        const bytes = concatBytes(chunks);
        expect(bytes.length).toBe(recordSize(r));
        const { records, result } = decodeAll(bytes);
        expect(result).toEqual({ end: DecodeEnd.CLEAN, records: 1, offset: bytes.length });
        expectSame(records[0]!, r);
      }),
      { numRuns: 300 },
    );
  });

  it('passes non-empty body frames through uncopied, and leaves out empty ones', () => {
    const body = [new Uint8Array(5000), new Uint8Array(0), u8('x')];
    const chunks = encodeRecord({ type: RecordType.REPLY, id: ID, body });
    expect(chunks.filter((c) => c === body[0] || c === body[2])).toHaveLength(2);
    expect(chunks.some((c) => c.length === 0)).toBe(false);
  });

  it('lays out fields as the format says (read back by an independent reader)', () => {
    const bytes = encode(sample[0]!);
    const dv = new DataView(bytes.buffer);
    const n = dv.getUint32(0, true);
    expect(n).toBe(bytes.length - 8);
    expect(dv.getUint32(4, true)).toBe(crc32c(bytes.subarray(8)));
    let p = 8;
    expect(bytes[p++]).toBe(1); // REQUEST
    expect(Array.from(bytes.subarray(p, p + 16))).toEqual(Array.from(ID));
    p += 16;
    expect(bytes[p++]).toBe(1); // titanic
    expect(dv.getFloat64(p, true)).toBe(1700000000123);
    p += 8;
    const field = (): Uint8Array => {
      const len = dv.getUint32(p, true);
      const out = bytes.subarray(p + 4, p + 4 + len);
      p += 4 + len;
      return out;
    };
    expect(new TextDecoder().decode(field())).toBe('echo');
    expect(field()).toHaveLength(0); // client
    expect(field()).toHaveLength(0); // dialect
    expect(dv.getUint32(p, true)).toBe(3);
    p += 4;
    expect([field(), field(), field()].map((f) => new TextDecoder().decode(f))).toEqual(['a', '', 'héllo']);
    expect(p).toBe(bytes.length);
  });

  it('measures strings as TextEncoder writes them, lone surrogates included', () => {
    const utf16 = fc.array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 12 }).map((units) => String.fromCharCode(...units));
    fc.assert(
      fc.property(fc.oneof(utf16, fc.string({ unit: 'binary' })), (s) => {
        expect(utf8Length(s)).toBe(new TextEncoder().encode(s).length);
        const r: StoreRecord = { type: RecordType.DEAD, id: ID, reason: s, error: s, at: 0 };
        expect(encode(r).length).toBe(recordSize(r));
      }),
    );
  });

  it('refuses what the format cannot hold (MDP_STORE)', () => {
    const bad: StoreRecord[] = [
      { type: RecordType.DONE, id: new Uint8Array(15) },
      { type: RecordType.ATTEMPT, id: ID, attempts: -1, error: '' },
      { type: RecordType.ATTEMPT, id: ID, attempts: 2 ** 32, error: '' },
      { type: RecordType.ATTEMPT, id: ID, attempts: 1.5, error: '' },
      { ...(sample[0] as Extract<StoreRecord, { type: 1 }>), kind: 'other' as never },
      { type: RecordType.REPLY, id: ID, body: [{ length: MAX_RECORD_BYTES } as Uint8Array] },
    ];
    for (const r of bad) expect(() => encodeRecord(r)).toThrow(expect.objectContaining({ code: 'MDP_STORE' }));
  });
});

describe('decodeRecords', () => {
  it('decodes a prefix cut at any byte into exactly its complete records and a torn tail', () => {
    const ends = [0];
    for (const r of sample) ends.push(ends.at(-1)! + recordSize(r));
    for (let cut = 0; cut <= sampleBytes.length; cut++) {
      const { records, result } = decodeAll(sampleBytes.subarray(0, cut));
      const complete = ends.filter((e) => e <= cut).length - 1;
      expect(records).toHaveLength(complete);
      records.forEach((r, i) => expectSame(r, sample[i]!));
      const boundary = ends[complete]!;
      expect(result).toEqual({ end: boundary === cut ? DecodeEnd.CLEAN : DecodeEnd.TORN, records: complete, offset: boundary });
    }
  });

  it('decodes random record lists at every split point the same way', () => {
    fc.assert(
      fc.property(fc.array(anyRecord, { minLength: 1, maxLength: 4 }), fc.nat(), (list, seed) => {
        const bytes = concatBytes(list.map(encode));
        const cut = seed % (bytes.length + 1);
        let end = 0;
        let complete = 0;
        while (complete < list.length && end + recordSize(list[complete]!) <= cut) end += recordSize(list[complete++]!);
        const { records, result } = decodeAll(bytes.subarray(0, cut));
        expect(records).toHaveLength(complete);
        expect(result.end).toBe(end === cut ? DecodeEnd.CLEAN : DecodeEnd.TORN);
        expect(result.offset).toBe(end);
      }),
      { numRuns: 200 },
    );
  });

  it('starts at the given offset and reports offsets and sizes', () => {
    const withHeader = concatBytes([encodeFileHeader(FileKind.SEGMENT), sampleBytes]);
    const seen: [number, number][] = [];
    const result = decodeRecords(withHeader, FILE_HEADER_BYTES, (_r, offset, size) => seen.push([offset, size]));
    expect(result.end).toBe(DecodeEnd.CLEAN);
    let off = FILE_HEADER_BYTES;
    sample.forEach((r, i) => {
      expect(seen[i]).toEqual([off, recordSize(r)]);
      off += recordSize(r);
    });
  });

  it('hands out copies, not views of the file buffer', () => {
    const bytes = sampleBytes.slice();
    const { records } = decodeAll(bytes);
    const req = records[0] as Extract<StoreRecord, { type: 1 }>;
    for (const b of [req.id, req.service, req.client, ...req.body]) expect(b.buffer).not.toBe(bytes.buffer);
    const before = Array.from(req.body[2]!);
    bytes.fill(0xee);
    expect(Array.from(req.body[2]!)).toEqual(before);
  });

  const second = recordSize(sample[0]!);
  const third = second + recordSize(sample[1]!);
  const mutate = (f: (b: Uint8Array, dv: DataView) => void, bytes = sampleBytes): Uint8Array => {
    const copy = bytes.slice();
    f(copy, new DataView(copy.buffer));
    return copy;
  };

  it('reads a zero-filled tail as torn, at any length', () => {
    for (const zeros of [1, 7, 8, 9, 100]) {
      const bytes = concatBytes([sampleBytes.subarray(0, third), new Uint8Array(zeros)]);
      expect(decodeAll(bytes).result).toEqual({ end: DecodeEnd.TORN, records: 2, offset: third });
    }
  });

  it('reads a length out of range followed by non-zero bytes as corrupt', () => {
    for (const n of [0, 16, MAX_RECORD_BYTES + 1, 0xffffffff]) {
      const { records, result } = decodeAll(mutate((_b, dv) => dv.setUint32(second, n, true)));
      expect(records).toHaveLength(1);
      expect(result).toMatchObject({ end: DecodeEnd.CORRUPT, offset: second, reason: `record length ${n} out of range` });
    }
  });

  it('reads a checksum mismatch as corrupt in the middle, torn at the end or before zeros', () => {
    const flipped = mutate((b) => (b[second + 20] ^= 1));
    expect(decodeAll(flipped).result).toMatchObject({ end: DecodeEnd.CORRUPT, records: 1, offset: second, reason: 'record checksum mismatch' });
    const last = sampleBytes.length - recordSize(sample.at(-1)!);
    const lastFlipped = mutate((b) => (b[b.length - 1] ^= 1));
    expect(decodeAll(lastFlipped).result).toEqual({ end: DecodeEnd.TORN, records: sample.length - 1, offset: last });
    const thenZeros = concatBytes([lastFlipped, new Uint8Array(64)]);
    expect(decodeAll(thenZeros).result).toEqual({ end: DecodeEnd.TORN, records: sample.length - 1, offset: last });
    const thenData = concatBytes([lastFlipped, new Uint8Array(64).fill(1)]);
    expect(decodeAll(thenData).result).toMatchObject({ end: DecodeEnd.CORRUPT, offset: last });
  });

  /** Rewrites the payload of the first record and fixes its length and checksum. */
  const forged = (payload: number[]): Uint8Array => {
    const p = Uint8Array.from(payload);
    const out = new Uint8Array(8 + p.length);
    const dv = new DataView(out.buffer);
    dv.setUint32(0, p.length, true);
    dv.setUint32(4, crc32c(p), true);
    out.set(p, 8);
    return concatBytes([out, sampleBytes]);
  };
  const id = Array.from(ID);

  it.each([
    ['an unknown record type', [9, ...id], 'unknown record type 9'],
    ['an unknown request kind', [1, ...id, 7, ...new Array(8).fill(0)], 'unknown request kind 7'],
    ['bytes left over', [3, ...id, 0], '1 bytes left over after the record\'s fields'],
    ['a field past the end', [4, ...id, 1, 0, 0, 0, 5, 0, 0, 0, 0x61], 'a field runs past the end of its record'],
    ['a frame count that cannot fit', [2, ...id, 0xff, 0xff, 0xff, 0xff], 'frame count 4294967295 does not fit its record'],
    ['invalid UTF-8', [4, ...id, 1, 0, 0, 0, 1, 0, 0, 0, 0xff], 'a string field is not UTF-8'],
  ])('reads a sound checksum over %s as corrupt', (_name, payload, reason) => {
    const { records, result } = decodeAll(forged(payload));
    expect(records).toHaveLength(0);
    expect(result).toEqual({ end: DecodeEnd.CORRUPT, records: 0, offset: 0, reason });
  });
});

describe('file header', () => {
  it('round-trips both kinds, 16 bytes: magic, version 1, checksum', () => {
    for (const kind of [FileKind.SEGMENT, FileKind.SNAPSHOT]) {
      const h = encodeFileHeader(kind);
      expect(h).toHaveLength(16);
      expect(new TextDecoder().decode(h.subarray(0, 8))).toBe(kind === FileKind.SEGMENT ? 'PZMQJRNL' : 'PZMQSNAP');
      const dv = new DataView(h.buffer);
      expect(dv.getUint32(8, true)).toBe(1);
      expect(dv.getUint32(12, true)).toBe(crc32c(h.subarray(0, 12)));
      expect(checkFileHeader(concatBytes([h, sampleBytes]))).toBe(kind);
    }
  });

  const code = (f: () => unknown): string | undefined => {
    try {
      f();
    } catch (err) {
      return isMdpError(err) ? err.code : 'not an MdpError';
    }
    return undefined;
  };

  it('calls a damaged or short header corrupt, and another version MDP_STORE', () => {
    const h = encodeFileHeader(FileKind.SEGMENT);
    for (let i = 0; i < 16; i++) {
      const bad = h.slice();
      bad[i] ^= 0x40;
      expect(code(() => checkFileHeader(bad))).toBe('MDP_STORE_CORRUPT');
    }
    expect(code(() => checkFileHeader(h.subarray(0, 15)))).toBe('MDP_STORE_CORRUPT');
    const other = u8('NOTAJRNL\x01\x00\x00\x00\x00\x00\x00\x00');
    new DataView(other.buffer).setUint32(12, crc32c(other.subarray(0, 12)), true);
    expect(code(() => checkFileHeader(other))).toBe('MDP_STORE_CORRUPT');
    const v2 = h.slice();
    new DataView(v2.buffer).setUint32(8, 2, true);
    new DataView(v2.buffer).setUint32(12, crc32c(v2.subarray(0, 12)), true);
    expect(code(() => checkFileHeader(v2))).toBe('MDP_STORE');
  });
});

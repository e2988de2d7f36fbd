/**
 * CRC-32C against published vectors (the "check" value of the Castagnoli CRC catalogue entry and
 * RFC 3720 appendix B.4), and incremental use equal to one pass over the concatenation.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crc32c } from '../../src/mdp/store/crc32c.ts';

const fill = (n: number, f: (i: number) => number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => f(i));

describe('crc32c', () => {
  it('matches the catalogue check value ("123456789")', () => {
    expect(crc32c(new TextEncoder().encode('123456789'))).toBe(0xe3069283);
  });

  it('is 0 for no bytes', () => {
    expect(crc32c(new Uint8Array(0))).toBe(0);
  });

  // RFC 3720 B.4 prints the CRC bytes in the order they go on the wire (little-endian)
  it.each([
    ['32 bytes of zeros', fill(32, () => 0), 0x8a9136aa],
    ['32 bytes of 0xff', fill(32, () => 0xff), 0x62a8ab43],
    ['32 incrementing bytes', fill(32, (i) => i), 0x46dd794e],
    ['32 decrementing bytes', fill(32, (i) => 31 - i), 0x113fdb5c],
    [
      'an iSCSI read PDU',
      Uint8Array.from([
        0x01, 0xc0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x14, 0, 0, 0, 0, 0, 0x04, 0, 0, 0, 0, 0x14, 0, 0, 0, 0x18, 0x28, 0, 0, 0, 0, 0, 0,
        0, 0x02, 0, 0, 0, 0, 0, 0, 0,
      ]),
      0xd9963a56,
    ],
  ])('RFC 3720 B.4: %s', (_name, bytes, expected) => {
    expect(crc32c(bytes)).toBe(expected);
  });

  it('gives the same value byte by byte (the 8-byte loop agrees with the 1-byte loop)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
        let crc = 0;
        for (let i = 0; i < bytes.length; i++) crc = crc32c(bytes.subarray(i, i + 1), crc);
        expect(crc).toBe(crc32c(bytes));
      }),
    );
  });

  it('continues across chunks: crc32c(b, crc32c(a)) === crc32c(a ++ b)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ maxLength: 64 }), (a, b) => {
        const ab = new Uint8Array(a.length + b.length);
        ab.set(a);
        ab.set(b, a.length);
        expect(crc32c(b, crc32c(a))).toBe(crc32c(ab));
      }),
    );
  });
});

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { curveKeyPair, curvePublicKey, z85, ZmqError } from '../../src/mod.ts';
import { curveKeyBytes } from '../../src/crypto/keys.ts';
import { fromHex, toHex } from '../../src/util/bytes.ts';

const vectors = JSON.parse(readFileSync(new URL('../../spec-vectors/z85/vectors.json', import.meta.url), 'utf8')) as {
  valid: { name: string; hex: string; z85: string }[];
  invalidDecode: { name: string; z85: string }[];
  invalidEncodeLengths: number[];
  curveKeys: { name: string; publicZ85: string; publicHex: string; secretZ85: string; secretHex: string }[];
};

describe('Z85 (RFC 32)', () => {
  for (const v of vectors.valid) {
    it(`encodes and decodes ${v.name}`, () => {
      expect(z85.encode(fromHex(v.hex))).toBe(v.z85);
      expect(toHex(z85.decode(v.z85))).toBe(v.hex);
    });
  }

  for (const v of vectors.invalidDecode) {
    it(`rejects ${v.name} with EINVAL`, () => {
      let err: unknown;
      try {
        z85.decode(v.z85);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ZmqError);
      expect((err as ZmqError).code).toBe('EINVAL');
    });
  }

  it('rejects encode input whose length is not a multiple of 4', () => {
    for (const n of vectors.invalidEncodeLengths) {
      expect(() => z85.encode(new Uint8Array(n))).toThrow(/multiple of 4/);
    }
  });

  it('round-trips any 4k-byte input (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }).map((a) => a.subarray(0, a.length - (a.length % 4))), (bytes) => {
        const text = z85.encode(bytes);
        expect(text.length).toBe((bytes.length / 4) * 5);
        expect(toHex(bytes.length === 0 ? bytes : z85.decode(text))).toBe(toHex(bytes));
      }),
    );
  });

  it('never accepts a group above 0xFFFFFFFF and never wraps (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...'0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#'), minLength: 5, maxLength: 5 }), (s) => {
        let value = 0;
        for (const ch of s) value = value * 85 + '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#'.indexOf(ch);
        if (value > 0xffffffff) {
          expect(() => z85.decode(s)).toThrow(/exceeds 32 bits/);
        } else {
          expect(z85.encode(z85.decode(s))).toBe(s);
        }
      }),
    );
  });
});

describe('CURVE keys', () => {
  for (const k of vectors.curveKeys) {
    it(`well-known ${k.name} keys decode and match (public = X25519(secret))`, () => {
      expect(toHex(z85.decode(k.publicZ85))).toBe(k.publicHex);
      expect(toHex(z85.decode(k.secretZ85))).toBe(k.secretHex);
      expect(curvePublicKey(k.secretZ85)).toBe(k.publicZ85);
      expect(curvePublicKey(fromHex(k.secretHex))).toBe(k.publicZ85);
    });
  }

  it('curveKeyPair returns a matching Z85 pair, different each time', () => {
    const a = curveKeyPair();
    const b = curveKeyPair();
    expect(a.publicKey).toHaveLength(40);
    expect(a.secretKey).toHaveLength(40);
    expect(curvePublicKey(a.secretKey)).toBe(a.publicKey);
    expect(a.secretKey).not.toBe(b.secretKey);
  });

  it('accepts keys as 40 Z85 chars, 41 with a trailing NUL, 32 raw bytes, or 40 bytes of Z85 text', () => {
    const k = vectors.curveKeys[0]!;
    const raw = fromHex(k.publicHex);
    expect(toHex(curveKeyBytes(k.publicZ85, 'k'))).toBe(k.publicHex);
    expect(toHex(curveKeyBytes(k.publicZ85 + '\0', 'k'))).toBe(k.publicHex);
    expect(toHex(curveKeyBytes(raw, 'k'))).toBe(k.publicHex);
    expect(toHex(curveKeyBytes(new TextEncoder().encode(k.publicZ85), 'k'))).toBe(k.publicHex);
  });

  it('rejects bad keys with EINVAL naming the option', () => {
    expect(() => curveKeyBytes('short', 'curveServerKey')).toThrow(/curveServerKey/);
    expect(() => curveKeyBytes('#'.repeat(40), 'curveServerKey')).toThrow(/not valid Z85/);
    expect(() => curveKeyBytes(new Uint8Array(31), 'curveSecretKey')).toThrow(/32 bytes/);
  });
});

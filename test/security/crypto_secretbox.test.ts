import fc from 'fast-check';
import nacl from 'tweetnacl';
import { describe, expect, it } from 'vitest';
import * as box from '../../src/crypto/box.ts';
import { implementations, secretboxImpl, type Secretbox } from '../../src/crypto/xsalsa20poly1305.ts';
import { fromHex, toHex } from '../../src/util/bytes.ts';

/**
 * XSalsa20-Poly1305 (src/crypto/xsalsa20poly1305.ts, WebAssembly) against tweetnacl byte for byte,
 * the NaCl distribution's known answers, forgery rejection, and the in-place helpers CURVE uses.
 */

// NaCl tests/secretbox.c and tests/box.c (firstkey = crypto_box_beforenm(bobpk, alicesk))
const KAT = {
  key: '1b27556473e985d462cd51197a9a46c76009549eac6474f206c4ee0844f68389',
  aliceSecret: '77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a',
  bobPublic: 'de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f',
  nonce: '69696ee955b62b73cd62bda875fc73d68219e0036b7a0b37',
  m:
    'be075fc53c81f2d5cf141316ebeb0c7b5228c52a4c62cbd44b66849b64244ffce5ecbaaf33bd751a1ac728d45e6c61296cdc3c01233561f41db66cce31' +
    '4adb310e3be8250c46f06dceea3a7fa1348057e2f6556ad6b1318a024a838f21af1fde048977eb48f59ffd4924ca1c60902e52f0a089bc76897040e082f9' +
    '37763848645e0705',
  c:
    'f3ffc7703f9400e52a7dfb4b3d3305d98e993b9f48681273c29650ba32fc76ce48332ea7164d96a4476fb8c531a1186ac0dfc17c98dce87b4da7f011ec48' +
    'c97271d2c20f9b928fe2270d6fb863d51738b48eeee314a7cc8ab932164548e526ae90224368517acfeabd6bb3732bc0e9da99832b61ca01b6de56244a9e' +
    '88d5f9b37973f622a43d14a6599b1f654cb45a74e355a5',
};

const impls = implementations();
// around the 64 KiB window (the stream covers 32 + length bytes), the 4-block SIMD Salsa20 stride and
// where Poly1305 switches to pairs of blocks (8 full blocks) with an odd block left over
const EDGE = [0, 1, 15, 16, 17, 31, 32, 33, 63, 64, 65, 111, 112, 127, 128, 129, 143, 144, 145, 160, 255, 256, 257, 1023, 1024, 65503, 65504, 65505, 65536, 131040, 131041];

/** Deterministic filler: fast-check supplies the seed, not 64 KiB of shrinkable bytes. */
function bytesFrom(seed: number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed | 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

const key32 = fc.uint8Array({ minLength: 32, maxLength: 32 });
const nonce24 = fc.uint8Array({ minLength: 24, maxLength: 24 });
const length = fc.oneof(fc.constantFrom(...EDGE), fc.integer({ min: 0, max: 2048 }), fc.integer({ min: 0, max: 140000 }));

function sealWith(impl: Secretbox, msg: Uint8Array, nonce: Uint8Array, key: Uint8Array): Uint8Array {
  const out = new Uint8Array(msg.length + 16);
  impl.seal(msg, 0, msg.length, out, 0, nonce, key);
  return out;
}

function openWith(impl: Secretbox, sealed: Uint8Array, nonce: Uint8Array, key: Uint8Array): Uint8Array | null {
  const out = new Uint8Array(Math.max(0, sealed.length - 16));
  return impl.open(sealed, 0, sealed.length, out, 0, nonce, key) ? out : null;
}

describe('xsalsa20poly1305 implementations', () => {
  it('Node runs the WebAssembly SIMD module, with its scalar-Salsa20 mode (Bun), the scalar module and tweetnacl also available', () => {
    expect(impls.map((i) => i.name)).toEqual(['wasm-simd', 'wasm-simd (scalar Salsa20)', 'wasm-scalar', 'tweetnacl']);
    expect(secretboxImpl.name).toBe('wasm-simd');
  });
});

describe.each(impls.map((impl) => [impl.name, impl] as const))('secretbox %s', (_name, impl) => {
  it('reproduces the NaCl secretbox known answer and opens it', () => {
    const sealed = sealWith(impl, fromHex(KAT.m), fromHex(KAT.nonce), fromHex(KAT.key));
    expect(toHex(sealed)).toBe(KAT.c);
    expect(toHex(openWith(impl, fromHex(KAT.c), fromHex(KAT.nonce), fromHex(KAT.key))!)).toBe(KAT.m);
  });

  it('equals tweetnacl byte for byte at every edge length, and opens its boxes', () => {
    for (const n of EDGE) {
      const key = bytesFrom(n + 1, 32);
      const nonce = bytesFrom(n + 2, 24);
      const msg = bytesFrom(n + 3, n);
      const ref = nacl.secretbox(msg, nonce, key);
      const sealed = sealWith(impl, msg, nonce, key);
      expect(sealed.length, `length ${n}`).toBe(n + 16);
      expect(toHex(sealed) === toHex(ref), `seal, length ${n}`).toBe(true);
      const opened = openWith(impl, ref, nonce, key);
      expect(opened !== null && toHex(opened) === toHex(msg), `open, length ${n}`).toBe(true);
    }
  });

  it('property: seal = tweetnacl secretbox, open inverts it (random keys, nonces, lengths)', () => {
    fc.assert(
      fc.property(key32, nonce24, length, fc.integer(), (key, nonce, n, seed) => {
        const msg = bytesFrom(seed, n);
        const sealed = sealWith(impl, msg, nonce, key);
        const ref = nacl.secretbox(msg, nonce, key);
        if (toHex(sealed) !== toHex(ref)) return false;
        const opened = openWith(impl, sealed, nonce, key);
        return opened !== null && toHex(opened) === toHex(msg);
      }),
      { numRuns: 40 },
    );
  });

  it('property: any single-bit flip in tag or ciphertext is rejected, and the output stays untouched', () => {
    fc.assert(
      fc.property(key32, nonce24, length, fc.integer(), fc.nat(), (key, nonce, n, seed, where) => {
        const sealed = nacl.secretbox(bytesFrom(seed, n), nonce, key);
        const bit = where % (sealed.length * 8);
        sealed[bit >> 3]! ^= 1 << (bit & 7);
        const out = new Uint8Array(n).fill(0xa5);
        const ok = impl.open(sealed, 0, sealed.length, out, 0, nonce, key);
        return !ok && out.every((b) => b === 0xa5);
      }),
      { numRuns: 40 },
    );
  });

  it('rejects every single-bit flip of a short box, a wrong key, a wrong nonce and short input', () => {
    const key = bytesFrom(7, 32);
    const nonce = bytesFrom(8, 24);
    const sealed = nacl.secretbox(bytesFrom(9, 40), nonce, key);
    let accepted = 0;
    for (let bit = 0; bit < sealed.length * 8; bit++) {
      const forged = sealed.slice();
      forged[bit >> 3]! ^= 1 << (bit & 7);
      if (openWith(impl, forged, nonce, key)) accepted++;
    }
    expect(accepted).toBe(0);
    expect(openWith(impl, sealed, nonce, key)).not.toBeNull();
    const otherKey = key.slice();
    otherKey[31]! ^= 0x80;
    expect(openWith(impl, sealed, nonce, otherKey)).toBeNull();
    const otherNonce = nonce.slice();
    otherNonce[23]! ^= 1;
    expect(openWith(impl, sealed, otherNonce, key)).toBeNull();
    for (let n = 0; n < 16; n++) expect(impl.open(sealed, 0, n, new Uint8Array(16), 0, nonce, key)).toBe(false);
    // an empty message has a tag all the same
    expect(openWith(impl, sealWith(impl, new Uint8Array(0), nonce, key), nonce, key)).toEqual(new Uint8Array(0));
  });

  it('seals and opens in place at any offset inside a larger buffer', () => {
    for (const n of [0, 5, 1024, 65505, 70000]) {
      const key = bytesFrom(n + 11, 32);
      const nonce = bytesFrom(n + 12, 24);
      const msg = bytesFrom(n + 13, n);
      const backing = new Uint8Array(n + 16 + 100).fill(0x5a);
      const off = 37; // tag at 37, message/ciphertext at 53
      backing.set(msg, off + 16);
      impl.seal(backing, off + 16, n, backing, off, nonce, key);
      expect(toHex(backing.subarray(off, off + 16 + n)) === toHex(nacl.secretbox(msg, nonce, key)), `seal in place ${n}`).toBe(true);
      expect(backing.subarray(0, off).every((b) => b === 0x5a) && backing.subarray(off + 16 + n).every((b) => b === 0x5a)).toBe(true);
      expect(impl.open(backing, off, n + 16, backing, off + 16, nonce, key)).toBe(true);
      expect(toHex(backing.subarray(off + 16, off + 16 + n)) === toHex(msg), `open in place ${n}`).toBe(true);
    }
  });
});

describe('box.ts on top of it (what CURVE calls)', () => {
  it('box / boxOpen reproduce the NaCl box known answer (Alice to Bob)', () => {
    const nonce = fromHex(KAT.nonce);
    const sealed = box.box(fromHex(KAT.m), nonce, fromHex(KAT.bobPublic), fromHex(KAT.aliceSecret));
    expect(toHex(sealed)).toBe(KAT.c);
    expect(toHex(box.boxBefore(fromHex(KAT.bobPublic), fromHex(KAT.aliceSecret)))).toBe(KAT.key);
    const bob = nacl.box.keyPair.fromSecretKey(fromHex('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb'));
    expect(toHex(box.boxOpen(sealed, nonce, box.publicFromSecret(fromHex(KAT.aliceSecret)), bob.secretKey)!)).toBe(KAT.m);
    expect(toHex(bob.publicKey)).toBe(KAT.bobPublic);
  });

  it('boxAfter / boxOpenAfter / secretbox / secretboxOpen equal tweetnacl', () => {
    const shared = bytesFrom(21, 32);
    const nonce = bytesFrom(22, 24);
    for (const n of [0, 64, 1000]) {
      const msg = bytesFrom(n, n);
      const ref = nacl.box.after(msg, nonce, shared);
      expect(toHex(box.boxAfter(msg, nonce, shared))).toBe(toHex(ref));
      expect(toHex(box.secretbox(msg, nonce, shared))).toBe(toHex(ref));
      expect(toHex(box.boxOpenAfter(ref, nonce, shared)!)).toBe(toHex(msg));
      expect(toHex(box.secretboxOpen(ref, nonce, shared)!)).toBe(toHex(msg));
    }
    expect(box.boxOpenAfter(new Uint8Array(15), nonce, shared)).toBeNull();
    expect(box.secretboxOpen(new Uint8Array(15), nonce, shared)).toBeNull();
  });

  it('sealInPlace / openInPlace: the CURVE MESSAGE layout, as tweetnacl lays it out', () => {
    const lowlevel = (nacl as unknown as { lowlevel: { crypto_secretbox(c: Uint8Array, m: Uint8Array, d: number, n: Uint8Array, k: Uint8Array): number } }).lowlevel;
    fc.assert(
      fc.property(key32, nonce24, length, fc.integer(), (key, nonce, n, seed) => {
        const padded = new Uint8Array(32 + n);
        padded.set(bytesFrom(seed, n), 32);
        const ref = new Uint8Array(32 + n);
        lowlevel.crypto_secretbox(ref, padded, padded.length, nonce, key);
        const buf = padded.slice();
        buf.fill(0xee, 0, 32); // the leading 32 bytes need not be zero
        box.sealInPlace(buf, nonce, key);
        if (toHex(buf) !== toHex(ref)) return false; // buf[0..16) zero, tag, ciphertext
        buf.fill(0x11, 0, 16);
        if (!box.openInPlace(buf, nonce, key)) return false;
        if (toHex(buf.subarray(32)) !== toHex(padded.subarray(32))) return false;
        // a flipped ciphertext bit: refused, buffer untouched
        if (n === 0) return true;
        const forged = ref.slice();
        forged[32 + (seed >>> 0) % n]! ^= 0x04;
        const before = toHex(forged);
        return !box.openInPlace(forged, nonce, key) && toHex(forged) === before;
      }),
      { numRuns: 30 },
    );
  });

  it('permanentPublicKey is publicFromSecret, computed once per key', () => {
    const a = bytesFrom(31, 32);
    const b = bytesFrom(32, 32);
    const pa = box.permanentPublicKey(a);
    expect(toHex(pa)).toBe(toHex(nacl.scalarMult.base(a)));
    expect(box.permanentPublicKey(a.slice())).toBe(pa);
    expect(toHex(box.permanentPublicKey(b))).toBe(toHex(nacl.scalarMult.base(b)));
  });
});

import fc from 'fast-check';
import nacl from 'tweetnacl';
import { describe, expect, it } from 'vitest';
import * as box from '../../src/crypto/box.ts';
import { scalarMultImpl, scalarMultImplementations } from '../../src/crypto/x25519.ts';
import { fromHex, toHex } from '../../src/util/bytes.ts';

/** X25519 (src/crypto/x25519.ts, WebAssembly) against RFC 7748 and tweetnacl byte for byte. */

const impls = scalarMultImplementations();
const BASE = new Uint8Array(32);
BASE[0] = 9;

// RFC 7748 §5.2 and §6.1
const RFC = [
  {
    n: 'a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4',
    u: 'e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c',
    out: 'c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552',
  },
  {
    // bit 255 of u is set: it must be ignored
    n: '4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d',
    u: 'e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493',
    out: '95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957',
  },
  {
    n: '77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a',
    u: '0900000000000000000000000000000000000000000000000000000000000000',
    out: '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a',
  },
  {
    n: '5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb',
    u: '0900000000000000000000000000000000000000000000000000000000000000',
    out: 'de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f',
  },
  {
    n: '77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a',
    u: 'de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f',
    out: '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742',
  },
];

// u-coordinates at the edges of the field: 0, 1, p - 1, p, p + 1, 2^255 - 1, all ones (bit 255 set)
const P_HEX = 'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f';
const EDGE_U = [
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0100000000000000000000000000000000000000000000000000000000000000',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  P_HEX,
  'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff',
];

describe('x25519 implementations', () => {
  it('Node runs the WebAssembly SIMD module; the scalar one and tweetnacl are the fallbacks', () => {
    expect(impls.map((i) => i.name)).toEqual(['wasm-simd', 'wasm-scalar', 'tweetnacl']);
    expect(scalarMultImpl.name).toBe('wasm-simd');
  });
});

describe.each(impls.map((impl) => [impl.name, impl] as const))('X25519 %s', (_name, impl) => {
  it('RFC 7748 test vectors (§5.2, §6.1)', () => {
    for (const v of RFC) expect(toHex(impl.scalarMult(fromHex(v.n), fromHex(v.u)))).toBe(v.out);
  });

  it('RFC 7748 §5.2 iterated: 1 iteration (and 1000 for the fast one)', () => {
    let k: Uint8Array = BASE.slice();
    let u: Uint8Array = BASE.slice();
    const rounds = impl.name.startsWith('wasm') ? 1000 : 1;
    for (let i = 1; i <= rounds; i++) {
      const next = impl.scalarMult(k, u);
      u = k;
      k = next;
      if (i === 1) expect(toHex(k)).toBe('422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079');
    }
    if (rounds === 1000) expect(toHex(k)).toBe('684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51');
  });

  it('equals tweetnacl on field-edge points and edge scalars', () => {
    const scalars = [new Uint8Array(32), new Uint8Array(32).fill(0xff), fromHex(RFC[0]!.n)];
    for (const n of scalars) {
      for (const u of EDGE_U) {
        expect(toHex(impl.scalarMult(n, fromHex(u))), `n ${toHex(n)} u ${u}`).toBe(toHex(nacl.scalarMult(n, fromHex(u))));
      }
    }
  });

  it('property: equals tweetnacl for random scalars and points; does not modify its inputs', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ minLength: 32, maxLength: 32 }), (n, u) => {
        const n0 = toHex(n);
        const u0 = toHex(u);
        const ok = toHex(impl.scalarMult(n, u)) === toHex(nacl.scalarMult(n, u));
        return ok && toHex(n) === n0 && toHex(u) === u0;
      }),
      { numRuns: 60 },
    );
  });

  it('Diffie-Hellman agrees: X25519(a, X25519(b, 9)) = X25519(b, X25519(a, 9))', () => {
    const a = nacl.randomBytes(32);
    const b = nacl.randomBytes(32);
    const ab = impl.scalarMult(a, impl.scalarMult(b, BASE));
    expect(toHex(ab)).toBe(toHex(impl.scalarMult(b, impl.scalarMult(a, BASE))));
  });
});

describe('box.ts key agreement on top of it', () => {
  it('publicFromSecret, keyPair and boxBefore equal tweetnacl', () => {
    for (let i = 0; i < 5; i++) {
      const sk = nacl.randomBytes(32);
      expect(toHex(box.publicFromSecret(sk))).toBe(toHex(nacl.scalarMult.base(sk)));
      const kp = box.keyPair();
      expect(toHex(kp.publicKey)).toBe(toHex(nacl.scalarMult.base(kp.secretKey)));
      const peer = nacl.box.keyPair();
      expect(toHex(box.boxBefore(peer.publicKey, sk))).toBe(toHex(nacl.box.before(peer.publicKey, sk)));
    }
  });

  it('box / boxOpen interoperate with tweetnacl both ways', () => {
    const alice = nacl.box.keyPair();
    const bob = nacl.box.keyPair();
    const nonce = nacl.randomBytes(24);
    const msg = nacl.randomBytes(300);
    const sealed = box.box(msg, nonce, bob.publicKey, alice.secretKey);
    expect(toHex(sealed)).toBe(toHex(nacl.box(msg, nonce, bob.publicKey, alice.secretKey)));
    expect(toHex(nacl.box.open(sealed, nonce, alice.publicKey, bob.secretKey)!)).toBe(toHex(msg));
    expect(toHex(box.boxOpen(sealed, nonce, alice.publicKey, bob.secretKey)!)).toBe(toHex(msg));
    expect(box.boxOpen(sealed, nonce, bob.publicKey, bob.secretKey)).toBeNull();
  });
});

import nacl from 'tweetnacl';
import { scalarMult, scalarMultBase } from './x25519.ts';
import { open as secretOpen, seal as secretSeal, secretboxImpl } from './xsalsa20poly1305.ts';

/**
 * The NaCl primitives CURVE needs, with the same bytes as tweetnacl (pure JS, audited), which
 * remains the fallback where WebAssembly is missing: X25519 from x25519.ts and XSalsa20-Poly1305
 * from xsalsa20poly1305.ts, both WebAssembly; tweetnacl still provides randomness and HSalsa20
 * (one block per box.before). Box/secretbox outputs use the libsodium "easy" layout libzmq puts on
 * the wire: 16-byte Poly1305 tag, then ciphertext. The in-place helpers encrypt and decrypt a
 * MESSAGE inside the one buffer that goes on (or came off) the wire.
 */

interface LowLevel {
  crypto_core_hsalsa20(out: Uint8Array, inp: Uint8Array, k: Uint8Array, c: Uint8Array): number;
}
const lowlevel = (nacl as unknown as { lowlevel: LowLevel }).lowlevel;
const ZERO16 = new Uint8Array(16);
const SIGMA = new Uint8Array([101, 120, 112, 97, 110, 100, 32, 51, 50, 45, 98, 121, 116, 101, 32, 107]); // "expand 32-byte k"

export const KEY_BYTES = 32;
export const NONCE_BYTES = 24;
export const TAG_BYTES = 16;

export function randomBytes(n: number): Uint8Array {
  return nacl.randomBytes(n);
}

/** X25519 public key from a secret key. */
export function publicFromSecret(secretKey: Uint8Array): Uint8Array {
  return scalarMultBase(secretKey);
}

/**
 * publicFromSecret for a permanent key (a CURVE server's own key, the same for every connection):
 * remembered per key so that each new connection does not pay one X25519 for it. Never use it for
 * transient keys (they would fill the cache and stay in memory). Bounded; the result is shared, so
 * callers must not modify it.
 */
export function permanentPublicKey(secretKey: Uint8Array): Uint8Array {
  let id = '';
  for (let i = 0; i < secretKey.length; i++) id += String.fromCharCode(secretKey[i]!);
  let pub = permanentCache.get(id);
  if (!pub) {
    pub = publicFromSecret(secretKey);
    if (permanentCache.size >= PERMANENT_CACHE_MAX) permanentCache.delete(permanentCache.keys().next().value!);
    permanentCache.set(id, pub);
  }
  return pub;
}
const PERMANENT_CACHE_MAX = 32;
const permanentCache = new Map<string, Uint8Array>();

/** crypto_box_keypair: 32 random bytes and their public key (as tweetnacl's box.keyPair). */
export function keyPair(): { publicKey: Uint8Array; secretKey: Uint8Array } {
  const secretKey = nacl.randomBytes(32);
  return { publicKey: scalarMultBase(secretKey), secretKey };
}

/** crypto_box_easy: tag ‖ ciphertext. */
export function box(msg: Uint8Array, nonce: Uint8Array, publicKey: Uint8Array, secretKey: Uint8Array): Uint8Array {
  const shared = boxBefore(publicKey, secretKey);
  const out = secretSeal(msg, nonce, shared);
  shared.fill(0);
  return out;
}

/** crypto_box_open_easy; null when the tag does not verify. */
export function boxOpen(ct: Uint8Array, nonce: Uint8Array, publicKey: Uint8Array, secretKey: Uint8Array): Uint8Array | null {
  if (ct.length < TAG_BYTES) return null;
  const shared = boxBefore(publicKey, secretKey);
  const out = secretOpen(ct, nonce, shared);
  shared.fill(0);
  return out;
}

/** crypto_box_beforenm: the shared key for box/open with a fixed key pair. */
export function boxBefore(publicKey: Uint8Array, secretKey: Uint8Array): Uint8Array {
  if (publicKey.length !== KEY_BYTES || secretKey.length !== KEY_BYTES) throw new RangeError('box keys must be 32 bytes');
  const point = scalarMult(secretKey, publicKey);
  const shared = new Uint8Array(32);
  lowlevel.crypto_core_hsalsa20(shared, ZERO16, point, SIGMA);
  point.fill(0);
  return shared;
}

export function boxAfter(msg: Uint8Array, nonce: Uint8Array, shared: Uint8Array): Uint8Array {
  return secretSeal(msg, nonce, shared);
}

export function boxOpenAfter(ct: Uint8Array, nonce: Uint8Array, shared: Uint8Array): Uint8Array | null {
  return secretOpen(ct, nonce, shared);
}

export function secretbox(msg: Uint8Array, nonce: Uint8Array, key: Uint8Array): Uint8Array {
  return secretSeal(msg, nonce, key);
}

export function secretboxOpen(ct: Uint8Array, nonce: Uint8Array, key: Uint8Array): Uint8Array | null {
  return secretOpen(ct, nonce, key);
}

/**
 * In-place crypto_secretbox (= box.after with a precomputed key). `buf` holds 32 bytes of room,
 * then the plaintext; afterwards buf[16..32) is the tag and buf[32..) the ciphertext, buf[0..16)
 * zero (free for a header).
 */
export function sealInPlace(buf: Uint8Array, nonce: Uint8Array, shared: Uint8Array): void {
  if (buf.length < 32) throw new RangeError(`sealInPlace needs at least 32 bytes, got ${buf.length}`);
  secretboxImpl.seal(buf, 32, buf.length - 32, buf, 16, nonce, shared);
  buf.fill(0, 0, 16);
}

/**
 * In-place crypto_secretbox_open. `buf[16..32)` is the tag, `buf[32..)` the ciphertext, buf[0..16)
 * anything (left as it is). Returns false, leaving `buf` untouched, when the tag is wrong;
 * on success buf[32..) is the plaintext.
 */
export function openInPlace(buf: Uint8Array, nonce: Uint8Array, shared: Uint8Array): boolean {
  if (buf.length < 32) return false;
  return secretboxImpl.open(buf, 16, buf.length - 16, buf, 32, nonce, shared);
}

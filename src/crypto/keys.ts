import { createError, ErrorCode } from '../errors.ts';
import { asciiString } from '../util/bytes.ts';
import { keyPair, publicFromSecret, KEY_BYTES } from './box.ts';
import * as z85 from './z85.ts';

/** A CURVE key as accepted by options: 40 Z85 characters, or 32 raw bytes (or 40 bytes of Z85 text). */
export type CurveKey = string | Uint8Array;

/** A new CURVE key pair, Z85-encoded, like zeromq.js `curveKeyPair()`. */
export function curveKeyPair(): { publicKey: string; secretKey: string } {
  const kp = keyPair();
  return { publicKey: z85.encode(kp.publicKey), secretKey: z85.encode(kp.secretKey) };
}

/** The public key that belongs to `secretKey` (libzmq's zmq_curve_public), Z85-encoded. */
export function curvePublicKey(secretKey: CurveKey): string {
  return z85.encode(publicFromSecret(curveKeyBytes(secretKey, 'secretKey')));
}

/**
 * Normalises a key to its 32 raw bytes; throws EINVAL naming `what`. Like libzmq: 32 bytes are
 * binary, 40 characters are Z85, and a trailing NUL (41 bytes) is tolerated.
 */
export function curveKeyBytes(key: CurveKey, what: string): Uint8Array {
  if (key instanceof Uint8Array) {
    if (key.length === KEY_BYTES) return key;
    if (key.length === 40 || (key.length === 41 && key[40] === 0)) return curveKeyBytes(asciiString(key, 0, 40), what);
    throw createError(ErrorCode.EINVAL, `${what} must be 32 bytes or 40 Z85 characters, got ${key.length} bytes`);
  }
  if (typeof key !== 'string') throw createError(ErrorCode.EINVAL, `${what} must be a string or a Uint8Array`);
  const text = key.length === 41 && key.charCodeAt(40) === 0 ? key.slice(0, 40) : key;
  if (text.length !== 40) {
    throw createError(ErrorCode.EINVAL, `${what} must be 40 Z85 characters, got ${key.length}`);
  }
  try {
    return z85.decode(text);
  } catch (err) {
    throw createError(ErrorCode.EINVAL, `${what} is not valid Z85`, { cause: err });
  }
}

/** Z85 text of a key given in either form. */
export function curveKeyText(key: CurveKey, what: string): string {
  return z85.encode(curveKeyBytes(key, what));
}

import { createError, ErrorCode, type ZmqError } from '../errors.ts';
import { alloc } from '../util/bytes.ts';
import { AS_SERVER_OFFSET, GREETING_SIZE, MECHANISM_OFFSET, MECHANISM_SIZE, ZMTP_MAJOR, ZMTP_MINOR } from './constants.ts';

export interface Greeting {
  major: number;
  minor: number;
  mechanism: string;
  asServer: boolean;
}

/** Our 64-byte greeting. Padding is zero, which RFC 23 suggests; libzmq never reads it. */
export function encodeGreeting(mechanism: string, asServer: boolean, minor = ZMTP_MINOR): Uint8Array {
  const g = alloc(GREETING_SIZE).fill(0);
  g[0] = 0xff;
  g[9] = 0x7f;
  g[10] = ZMTP_MAJOR;
  g[11] = minor;
  for (let i = 0; i < mechanism.length; i++) g[MECHANISM_OFFSET + i] = mechanism.charCodeAt(i);
  g[AS_SERVER_OFFSET] = asServer ? 1 : 0;
  return g;
}

/** Checks the 10-byte signature: 0xFF ... 0x7F-with-bit-0 (RFC 23 §"Signature"). */
export function checkSignature(sig: Uint8Array): ZmqError | undefined {
  if (sig[0] !== 0xff || (sig[9]! & 0x01) !== 0x01) {
    return createError(ErrorCode.BAD_GREETING, 'peer greeting has no ZMTP 3 signature (ZMTP 1.0 or not ZeroMQ)');
  }
  return undefined;
}

/** Version major < 3 means ZMTP 1.0/2.0, which we do not speak (it cannot carry 3.x mechanisms). */
export function checkMajor(major: number): ZmqError | undefined {
  if (major < ZMTP_MAJOR) {
    // byte 10 is the revision: 0x00 = ZMTP 1.0, 0x01 = ZMTP 2.0 (13/ZMTP); 0x02 was never used
    const version = major === 0 ? '1.0' : major === 1 ? '2.0' : `${major}.x`;
    return createError(ErrorCode.UNSUPPORTED_VERSION, `peer speaks ZMTP ${version}, need 3.0 or later`);
  }
  return undefined;
}

export function parseGreeting(g: Uint8Array): Greeting | ZmqError {
  const bad = checkSignature(g) ?? checkMajor(g[10]!);
  if (bad) return bad;
  let end = MECHANISM_OFFSET;
  while (end < MECHANISM_OFFSET + MECHANISM_SIZE && g[end] !== 0) end++;
  let mechanism = '';
  for (let i = MECHANISM_OFFSET; i < end; i++) {
    const c = g[i]!;
    // RFC 23 grammar: A-Z 0-9 - _ . + ; anything else is not a mechanism name
    const ok = (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x5f || c === 0x2e || c === 0x2b;
    if (!ok) return createError(ErrorCode.BAD_GREETING, 'peer greeting has an invalid mechanism name');
    mechanism += String.fromCharCode(c);
  }
  for (let i = end; i < MECHANISM_OFFSET + MECHANISM_SIZE; i++) {
    if (g[i] !== 0) return createError(ErrorCode.BAD_GREETING, 'peer greeting mechanism is not NUL-padded');
  }
  return { major: g[10]!, minor: g[11]!, mechanism, asServer: g[AS_SERVER_OFFSET] === 1 };
}

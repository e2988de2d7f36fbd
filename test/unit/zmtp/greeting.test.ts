import { describe, expect, it } from 'vitest';
import { ErrorCode, ProtocolError, ZmqError } from '../../../src/errors.ts';
import { checkMajor, checkSignature, encodeGreeting, parseGreeting, type Greeting } from '../../../src/zmtp/greeting.ts';
import { hex, unhex } from '../../_helpers/decode.ts';

// zmtp.md §2 [obs]: libzmq 4.3.4, NULL, no routing id (padding = routing-id length + 1)
const LIBZMQ_NULL =
  'ff00000000000000017f0301' + '4e554c4c' + '00'.repeat(16) + '00' + '00'.repeat(31);

function ours(mechanism = 'NULL', asServer = false, minor = 1): Uint8Array {
  return encodeGreeting(mechanism, asServer, minor);
}

function expectProtocolError(result: Greeting | ZmqError | undefined, code: string, message: string): void {
  expect(result).toBeInstanceOf(ProtocolError);
  expect(result).toBeInstanceOf(ZmqError);
  const err = result as ProtocolError;
  expect(err.name).toBe('ProtocolError');
  expect(err.code).toBe(code);
  expect(err.message).toBe(message);
}

describe('zmtp/greeting encodeGreeting', () => {
  it('is 64 bytes: signature, 3.1, mechanism NUL-padded, as-server, zero filler (RFC 23/37 §greeting)', () => {
    const g = ours('NULL', false);
    expect(g.length).toBe(64);
    expect(hex(g)).toBe('ff' + '00'.repeat(8) + '7f' + '0301' + '4e554c4c' + '00'.repeat(16) + '00' + '00'.repeat(31));
  });

  it('differs from libzmq only in the padding, which receivers must not interpret', () => {
    const g = ours();
    const lib = unhex(LIBZMQ_NULL);
    for (let i = 0; i < 64; i++) if (i < 1 || i > 8) expect(g[i], `byte ${i}`).toBe(lib[i]);
  });

  it('sets as-server and the requested minor version', () => {
    const g = ours('CURVE', true, 0);
    expect(g[11]).toBe(0);
    expect(hex(g.subarray(12, 32))).toBe('4355525645' + '00'.repeat(15));
    expect(g[32]).toBe(1);
    expect(g.subarray(33).every((b) => b === 0)).toBe(true);
  });

  it('a 20-character mechanism fills the field exactly, leaving as-server untouched', () => {
    const g = ours('ABCDEFGHIJKLMNOPQRST', false);
    expect(String.fromCharCode(...g.subarray(12, 32))).toBe('ABCDEFGHIJKLMNOPQRST');
    expect(g[32]).toBe(0);
  });
});

describe('zmtp/greeting parseGreeting', () => {
  it('parses libzmq\'s greeting', () => {
    expect(parseGreeting(unhex(LIBZMQ_NULL))).toEqual({ major: 3, minor: 1, mechanism: 'NULL', asServer: false });
  });

  it('round-trips our own greetings', () => {
    for (const mech of ['NULL', 'PLAIN', 'CURVE', 'GSSAPI', 'X-1.2_3+', 'ABCDEFGHIJKLMNOPQRST']) {
      for (const asServer of [false, true]) {
        for (const minor of [0, 1]) {
          expect(parseGreeting(ours(mech, asServer, minor))).toEqual({ major: 3, minor, mechanism: mech, asServer });
        }
      }
    }
  });

  it('ignores the padding bytes 1..8 whatever they hold', () => {
    const g = ours();
    g.set([1, 2, 3, 4, 5, 6, 7, 8], 1);
    expect(parseGreeting(g)).toEqual({ major: 3, minor: 1, mechanism: 'NULL', asServer: false });
  });

  it('accepts minor 0 (ZMTP 3.0) and higher versions (3.2, 4.0): RFC 37 says accept any version >= 3', () => {
    const g = ours();
    g[11] = 0;
    expect(parseGreeting(g)).toMatchObject({ major: 3, minor: 0 });
    g[11] = 2;
    expect(parseGreeting(g)).toMatchObject({ major: 3, minor: 2 });
    g[10] = 4;
    g[11] = 0;
    expect(parseGreeting(g)).toMatchObject({ major: 4, minor: 0 });
  });

  it('accepts any last signature byte with bit 0 set (0xff)', () => {
    const g = ours();
    g[9] = 0xff;
    expect(parseGreeting(g)).toMatchObject({ mechanism: 'NULL' });
  });

  const SIG = 'peer greeting has no ZMTP 3 signature (ZMTP 1.0 or not ZeroMQ)';

  it('bad first signature byte → ERR_ZMTP_BAD_GREETING', () => {
    for (const b of [0x00, 0x01, 0x7f, 0xfe]) {
      const g = ours();
      g[0] = b;
      expectProtocolError(parseGreeting(g), ErrorCode.BAD_GREETING, SIG);
      expectProtocolError(checkSignature(g.subarray(0, 10)), ErrorCode.BAD_GREETING, SIG);
    }
  });

  it('byte 9 with bit 0 clear (a ZMTP 1.0 long identity) → ERR_ZMTP_BAD_GREETING', () => {
    for (const b of [0x7e, 0x00, 0xfe]) {
      const g = ours();
      g[9] = b;
      expectProtocolError(parseGreeting(g), ErrorCode.BAD_GREETING, SIG);
    }
  });

  it('checkSignature accepts exactly the 10-byte signature and nothing more', () => {
    expect(checkSignature(ours().subarray(0, 10))).toBeUndefined();
  });

  it('major 0/1/2 → ERR_ZMTP_UNSUPPORTED_VERSION naming the version', () => {
    const cases: [number, string][] = [
      [0, 'peer speaks ZMTP 1.0, need 3.0 or later'],
      [1, 'peer speaks ZMTP 2.0, need 3.0 or later'],
      [2, 'peer speaks ZMTP 2.x, need 3.0 or later'],
    ];
    for (const [major, message] of cases) {
      const g = ours();
      g[10] = major;
      expectProtocolError(parseGreeting(g), ErrorCode.UNSUPPORTED_VERSION, message);
      expectProtocolError(checkMajor(major), ErrorCode.UNSUPPORTED_VERSION, message);
    }
    expect(checkMajor(3)).toBeUndefined();
    expect(checkMajor(255)).toBeUndefined();
  });

  it('the signature is checked before the version', () => {
    const g = ours();
    g[0] = 0;
    g[10] = 1;
    expectProtocolError(parseGreeting(g), ErrorCode.BAD_GREETING, SIG);
  });

  it('mechanism characters outside A-Z 0-9 - _ . + → ERR_ZMTP_BAD_GREETING', () => {
    for (const bad of ['null', 'NU LL', 'NU/L', 'N\x01', '\x7fX', 'NUL\xff', 'A*B', 'É']) {
      const g = ours();
      g.fill(0, 12, 32);
      for (let i = 0; i < bad.length; i++) g[12 + i] = bad.charCodeAt(i) & 0xff;
      expectProtocolError(parseGreeting(g), ErrorCode.BAD_GREETING, 'peer greeting has an invalid mechanism name');
    }
  });

  it('a NUL inside the mechanism followed by more characters → ERR_ZMTP_BAD_GREETING (not NUL-padded)', () => {
    const g = ours('NULL');
    g[12 + 5] = 0x41; // "NULL\0A..."
    expectProtocolError(parseGreeting(g), ErrorCode.BAD_GREETING, 'peer greeting mechanism is not NUL-padded');
    const h = ours('NULL');
    h[31] = 0x41; // last byte of the field
    expectProtocolError(parseGreeting(h), ErrorCode.BAD_GREETING, 'peer greeting mechanism is not NUL-padded');
  });

  it('as-server is true only for exactly 0x01', () => {
    const g = ours();
    g[32] = 1;
    expect(parseGreeting(g)).toMatchObject({ asServer: true });
    g[32] = 2;
    expect(parseGreeting(g)).toMatchObject({ asServer: false });
  });

  it('the filler (33..63) is not validated', () => {
    const g = ours();
    g.fill(0xaa, 33);
    expect(parseGreeting(g)).toEqual({ major: 3, minor: 1, mechanism: 'NULL', asServer: false });
  });
});

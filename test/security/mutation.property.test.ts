import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CurveClient, CurveServer } from '../../src/mechanism/curve.ts';
import { PlainServer } from '../../src/mechanism/plain.ts';
import type { HandshakeStep } from '../../src/mechanism/mechanism.ts';
import { parseCommand } from '../../src/zmtp/command.ts';
import { ZmqError } from '../../src/errors.ts';
import { fromString } from '../../src/util/bytes.ts';
import { curveKeyBytes } from '../../src/crypto/keys.ts';
import { CLIENT, SERVER } from './helpers.ts';

/**
 * Property tests on the mechanisms alone: a mutated HELLO, INITIATE or MESSAGE never throws, never
 * completes a handshake, and always yields a typed error (ZmqError with an ERR_ code).
 */

const ctxClient = { localMetadata: [['Socket-Type', fromString('DEALER')]] as [string, Uint8Array][], remoteAddress: '127.0.0.1', accepted: false, checkPeer: () => undefined };
const ctxServer = { localMetadata: [['Socket-Type', fromString('ROUTER')]] as [string, Uint8Array][], remoteAddress: '127.0.0.1', accepted: false, checkPeer: () => undefined };

function newPair() {
  const client = new CurveClient({
    serverKey: curveKeyBytes(SERVER.publicKey, 'k'),
    publicKey: curveKeyBytes(CLIENT.publicKey, 'k'),
    secretKey: curveKeyBytes(CLIENT.secretKey, 'k'),
  });
  const server = new CurveServer({ secretKey: curveKeyBytes(SERVER.secretKey, 'k'), zap: undefined, domain: '', identity: new Uint8Array(0) });
  server.start(ctxServer);
  return { client, server };
}

function deliverBody(m: CurveClient | CurveServer | PlainServer, body: Uint8Array): HandshakeStep {
  const cmd = parseCommand(body);
  if (cmd instanceof ZmqError) return { error: cmd };
  const step = m.onCommand(cmd.name, cmd.data);
  if (step instanceof Promise) throw new Error('unexpected async step');
  return step;
}

/**
 * A mutation: byte flip, truncation, extension or overwrite, at positions taken modulo the input
 * length. Flips/overwrites touching an `avoid` range are dropped (the result equals the input and
 * the property skips it).
 */
const mutation = (avoid: [number, number][] = []) =>
  fc.oneof(
    fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })).map(([pos, x]) => (b: Uint8Array) => {
      const c = Uint8Array.from(b);
      const i = pos % c.length;
      if (!avoid.some(([lo, hi]) => i >= lo && i < hi)) c[i]! ^= x;
      return c;
    }),
    fc.nat().map((pos) => (b: Uint8Array) => Uint8Array.from(b.subarray(0, pos % b.length))),
    fc.uint8Array({ minLength: 1, maxLength: 64 }).map((extra) => (b: Uint8Array) => {
      const c = new Uint8Array(b.length + extra.length);
      c.set(b);
      c.set(extra, b.length);
      return c;
    }),
    fc.tuple(fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 40 })).map(([pos, r]) => (b: Uint8Array) => {
      const c = Uint8Array.from(b);
      const i = pos % c.length;
      const n = Math.min(r.length, c.length - i);
      if (avoid.some(([lo, hi]) => i < hi && i + n > lo)) return c;
      c.set(r.subarray(0, n), i);
      return c;
    }),
  );

const same = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((v, i) => v === b[i]);

function expectTypedError(step: HandshakeStep): void {
  expect(step.done).toBeUndefined();
  expect(step.error).toBeInstanceOf(ZmqError);
  expect(step.error!.code).toMatch(/^ERR_/);
}

describe('mutated CURVE commands', () => {
  it('HELLO: a typed error (never done); padding bytes 8..80 are not checked, as in libzmq', () => {
    const { client } = newPair();
    const hello = client.start(ctxClient).send![0]!;
    fc.assert(
      fc.property(mutation([[8, 80]]), (mutate) => {
        const mutated = mutate(hello);
        if (same(mutated, hello)) return;
        const { server } = newPair();
        const step = deliverBody(server, mutated);
        expectTypedError(step);
        expect(step.errorReason).toBeUndefined(); // a server answers a bad HELLO with silence
      }),
      { numRuns: 300 },
    );
  });

  it('INITIATE: a typed error, never done, never a READY', () => {
    fc.assert(
      fc.property(mutation(), (mutate) => {
        const { client, server } = newPair();
        const welcome = deliverBody(server, client.start(ctxClient).send![0]!).send![0]!;
        const initiate = deliverBody(client, welcome).send![0]!;
        const mutated = mutate(initiate);
        const step = deliverBody(server, mutated);
        if (same(mutated, initiate)) return;
        expectTypedError(step);
        expect(step.send).toBeUndefined();
      }),
      { numRuns: 150 },
    );
  });

  it('MESSAGE: decodeFrame returns a typed error for any mutation, and never throws', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), mutation(), (data, mutate) => {
        const { client, server } = newPair();
        const welcome = deliverBody(server, client.start(ctxClient).send![0]!).send![0]!;
        const ready = deliverBody(server, deliverBody(client, welcome).send![0]!);
        expect(deliverBody(client, ready.send![0]!).done).toBeDefined();
        const wire = client.encodeFrame(0, data).body;
        const mutated = mutate(wire);
        if (same(mutated, wire)) return;
        const out = server.decodeFrame(0, mutated);
        expect(out).toBeInstanceOf(ZmqError);
        expect((out as ZmqError).code).toMatch(/^ERR_ZMTP_(MALFORMED_COMMAND_MESSAGE|CRYPTOGRAPHIC|INVALID_SEQUENCE)$/);
        // the untouched message still decodes: one bad frame does not poison the state
        const ok = server.decodeFrame(0, wire);
        expect(ok).not.toBeInstanceOf(ZmqError);
      }),
      { numRuns: 150 },
    );
  });

  it('random bytes as any handshake command: typed error or (for a structurally valid HELLO) nothing else', () => {
    fc.assert(
      fc.property(fc.constantFrom('HELLO', 'INITIATE', 'READY', 'WELCOME', 'ERROR', 'MESSAGE', 'PING'), fc.uint8Array({ maxLength: 400 }), (name, data) => {
        const { client, server } = newPair();
        expectTypedError(server.onCommand(name, data) as HandshakeStep);
        client.start(ctxClient);
        const step = client.onCommand(name, data);
        expect(step.done).toBeUndefined();
        expect(step.error).toBeInstanceOf(ZmqError);
      }),
      { numRuns: 300 },
    );
  });
});

describe('mutated PLAIN HELLO', () => {
  it('malformed bodies are typed errors before any ZAP request is made', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (data) => {
        let asked = 0;
        const server = new PlainServer({
          zap: { available: () => true, request: () => ((asked++, new Promise(() => {}))) },
          domain: '',
          identity: new Uint8Array(0),
        });
        server.start(ctxServer);
        const ulen = data[0];
        const wellFormed = ulen !== undefined && data.length >= 2 + ulen && data.length === 2 + ulen + data[1 + ulen]!;
        const step = server.onCommand('HELLO', data);
        if (wellFormed) {
          expect(step).toBeInstanceOf(Promise);
          expect(asked).toBe(1);
        } else {
          expectTypedError(step as HandshakeStep);
          expect(asked).toBe(0);
        }
      }),
      { numRuns: 500 },
    );
  });
});

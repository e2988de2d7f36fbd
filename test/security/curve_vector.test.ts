import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CurveClient, CurveServer } from '../../src/mechanism/curve.ts';
import type { HandshakeStep } from '../../src/mechanism/mechanism.ts';
import { parseCommand } from '../../src/zmtp/command.ts';
import { FrameFlag } from '../../src/zmtp/constants.ts';
import { FrameWriter } from '../../src/engine/writer.ts';
import { fromHex, fromString, toHex } from '../../src/util/bytes.ts';
import { ZmqError } from '../../src/errors.ts';

/**
 * spec-vectors/curve/handshake.json: a whole CURVE handshake and three MESSAGEs with fixed
 * transient keys, nonces and cookie key; every byte must match.
 */
interface Vector {
  inputs: Record<string, string>;
  metadata: { client: [string, string][]; server: [string, string][] };
  commands: Record<'HELLO' | 'WELCOME' | 'INITIATE' | 'READY', { bodyHex: string }>;
  cookieHex: string;
  messages: { direction: string; nonce: number; flags: number; dataHex: string; bodyHex: string }[];
  frameHeadersHex: { HELLO: string; WELCOME: string; INITIATE: string; READY: string; MESSAGE: string[] };
}

const v = JSON.parse(readFileSync(new URL('../../spec-vectors/curve/handshake.json', import.meta.url), 'utf8')) as Vector;
const i = (name: string) => fromHex(v.inputs[name]!);
const meta = (m: [string, string][]) => m.map(([k, val]) => [k, fromString(val)] as [string, Uint8Array]);

function pair() {
  const client = new CurveClient({
    serverKey: i('serverPublic'),
    publicKey: i('clientPublic'),
    secretKey: i('clientSecret'),
    fixed: { transientSecretKey: i('clientTransientSecret'), vouchNonce: i('vouchNonce') },
  });
  const server = new CurveServer({
    secretKey: i('serverSecret'),
    zap: undefined,
    domain: '',
    identity: new Uint8Array(0),
    fixed: {
      transientSecretKey: i('serverTransientSecret'),
      welcomeNonce: i('welcomeNonce'),
      cookieNonce: i('cookieNonce'),
      cookieKey: i('cookieKey'),
    },
  });
  return { client, server };
}

/** Feeds a command body to a mechanism the way Session does (parse, then onCommand). */
function deliver(m: CurveClient | CurveServer, body: Uint8Array): HandshakeStep {
  const cmd = parseCommand(body);
  if (cmd instanceof ZmqError) throw cmd;
  const step = m.onCommand(cmd.name, cmd.data);
  if (step instanceof Promise) throw new Error('unexpected async step');
  return step;
}

/** A client and a server that went through the whole fixed handshake. */
function connected() {
  const p = pair();
  p.server.start({ localMetadata: meta(v.metadata.server), remoteAddress: '', accepted: false, checkPeer: () => undefined });
  const hello = p.client.start({ localMetadata: meta(v.metadata.client), remoteAddress: '', accepted: false, checkPeer: () => undefined }).send![0]!;
  const welcome = deliver(p.server, hello).send![0]!;
  const initiate = deliver(p.client, welcome).send![0]!;
  const ready = deliver(p.server, initiate).send![0]!;
  expect(deliver(p.client, ready).done).toBeDefined();
  return p;
}

function frameHex(flags: number, body: Uint8Array): string {
  const w = new FrameWriter();
  w.writeFrame(flags, body);
  const chunks = w.take();
  return chunks.map((c) => toHex(c)).join('');
}

describe('CURVE deterministic handshake (spec-vectors/curve/handshake.json)', () => {
  it('reproduces HELLO, WELCOME, INITIATE and READY byte for byte', () => {
    const { client, server } = pair();
    expect(server.start({ localMetadata: meta(v.metadata.server), remoteAddress: '127.0.0.1', accepted: false, checkPeer: () => undefined })).toEqual({});

    const hello = client.start({ localMetadata: meta(v.metadata.client), remoteAddress: '127.0.0.1', accepted: false, checkPeer: () => undefined }).send![0]!;
    expect(toHex(hello)).toBe(v.commands.HELLO.bodyHex);
    expect(frameHex(FrameFlag.COMMAND, hello).slice(0, 4)).toBe(v.frameHeadersHex.HELLO);

    const welcome = deliver(server, hello).send![0]!;
    expect(toHex(welcome)).toBe(v.commands.WELCOME.bodyHex);
    expect(frameHex(FrameFlag.COMMAND, welcome).slice(0, 4)).toBe(v.frameHeadersHex.WELCOME);

    const initiate = deliver(client, welcome).send![0]!;
    expect(toHex(initiate)).toBe(v.commands.INITIATE.bodyHex);
    // the cookie travels verbatim at offset 9
    expect(toHex(initiate.subarray(9, 105))).toBe(v.cookieHex);
    expect(frameHex(FrameFlag.COMMAND, initiate).slice(0, 18)).toBe(v.frameHeadersHex.INITIATE);

    const ready = deliver(server, initiate);
    expect(toHex(ready.send![0]!)).toBe(v.commands.READY.bodyHex);
    expect(frameHex(FrameFlag.COMMAND, ready.send![0]!).slice(0, 4)).toBe(v.frameHeadersHex.READY);
    expect(ready.done?.peer.toObject()).toEqual(Object.fromEntries(v.metadata.client));
    expect(ready.done?.publicKey).toBe('Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID');

    const done = deliver(client, ready.send![0]!);
    expect(done.error).toBeUndefined();
    expect(done.done?.peer.toObject()).toEqual(Object.fromEntries(v.metadata.server));
  });

  it('encodes and decodes the MESSAGE vectors byte for byte (outer frame flags 0x00)', () => {
    const p = connected();
    v.messages.forEach((m, idx) => {
      const [sender, receiver] = m.direction === 'client->server' ? [p.client, p.server] : [p.server, p.client];
      const zmtpFlags = (m.flags & 1 ? FrameFlag.MORE : 0) | (m.flags & 2 ? FrameFlag.COMMAND : 0);
      const out = sender.encodeFrame(zmtpFlags, fromHex(m.dataHex));
      expect(out.flags).toBe(0);
      expect(toHex(out.body)).toBe(m.bodyHex);
      expect(frameHex(out.flags, out.body).slice(0, 4)).toBe(v.frameHeadersHex.MESSAGE[idx]);
      const back = receiver.decodeFrame(0, fromHex(m.bodyHex));
      if (!('flags' in back)) throw back;
      expect(back.flags).toBe(zmtpFlags);
      expect(toHex(back.body)).toBe(m.dataHex);
    });
  });

  it('refuses a replayed MESSAGE (nonce not increasing) and a tampered one', () => {
    const p = connected();
    const first = v.messages[0]!;
    const ok = p.server.decodeFrame(0, fromHex(first.bodyHex));
    expect('flags' in ok).toBe(true);
    const replay = p.server.decodeFrame(0, fromHex(first.bodyHex));
    expect('code' in replay && replay.code).toBe('ERR_ZMTP_INVALID_SEQUENCE');
    const tampered = fromHex(v.messages[2]!.bodyHex);
    tampered[tampered.length - 1]! ^= 1;
    const bad = p.server.decodeFrame(0, tampered);
    expect('code' in bad && bad.code).toBe('ERR_ZMTP_CRYPTOGRAPHIC');
  });
});

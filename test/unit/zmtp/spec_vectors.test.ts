/**
 * Every libzmq-captured vector in spec-vectors/zmtp/ run four ways (style guide §3.13):
 * parse (whole), byte by byte (with the decoder's state after every byte), at every two-chunk
 * split point, and generate (our encoders must reproduce libzmq's bytes where our choices match).
 */
import { describe, expect, it } from 'vitest';
import { FrameWriter } from '../../../src/engine/writer.ts';
import { ZmqError } from '../../../src/errors.ts';
import { encodeReady } from '../../../src/mechanism/null.ts';
import { encodeCommand, encodePing, parseCommand } from '../../../src/zmtp/command.ts';
import { FrameFlag } from '../../../src/zmtp/constants.ts';
import { DecoderState } from '../../../src/zmtp/decoder.ts';
import { encodeGreeting, parseGreeting } from '../../../src/zmtp/greeting.ts';
import { Metadata, parseMetadata } from '../../../src/zmtp/metadata.ts';
import { sendsIdentity, SocketType } from '../../../src/zmtp/socket_types.ts';
import { byteChunks, concatBytes, decodeChunks, hex, sameBytes, splitAt, unhex, type RecordingSink } from '../../_helpers/decode.ts';
import { loadZmtpVectors, type FrameExpect, type FramesVector, type GreetingVector, type ZmtpVector } from '../../_helpers/vectors.ts';

const vectors = loadZmtpVectors();
const greetingVectors = vectors.filter((v): v is GreetingVector => v.kind === 'greeting');
const frameVectors = vectors.filter((v): v is FramesVector => v.kind === 'frames');
const S = DecoderState;
const te = new TextEncoder();

interface Prepared {
  v: ZmtpVector;
  bytes: Uint8Array;
  bodies: Uint8Array[]; // frames vectors only
}

function prepare(v: ZmtpVector): Prepared {
  return { v, bytes: unhex(v.hex), bodies: v.kind === 'frames' ? v.expect.map((f) => unhex(f.bodyHex)) : [] };
}

/** Describes how the sink's events differ from the vector's expectation; '' when they match. */
function mismatch(p: Prepared, sink: RecordingSink): string {
  const { v } = p;
  if (sink.errors.length > 0) return `error ${sink.errors[0]!.code}: ${sink.errors[0]!.message}`;
  if (v.kind === 'greeting') {
    if (sink.events.length !== 1 || sink.events[0]!.type !== 'greeting') return `events ${sink.events.map((e) => e.type)}`;
    const g = sink.greetings[0]!;
    const e = v.expect;
    if (g.major !== e.major || g.minor !== e.minor || g.mechanism !== e.mechanism || g.asServer !== e.asServer) {
      return `greeting ${JSON.stringify(g)}`;
    }
    return '';
  }
  if (sink.greetings.length > 0) return 'unexpected greeting';
  const frames = sink.frames;
  if (frames.length !== v.expect.length) return `${frames.length} frames, want ${v.expect.length}`;
  for (let i = 0; i < frames.length; i++) {
    const { flags, body } = frames[i]!;
    const e = v.expect[i]!;
    if (!!(flags & FrameFlag.COMMAND) !== e.command) return `frame ${i}: command bit`;
    if (!!(flags & FrameFlag.MORE) !== e.more) return `frame ${i}: more bit`;
    if (!!(flags & FrameFlag.LONG) !== e.long) return `frame ${i}: long bit`;
    if (!sameBytes(body, p.bodies[i]!)) return `frame ${i}: body ${hex(body).slice(0, 40)}…`;
  }
  return '';
}

/** Decoder state after each byte, derived from the vector's expectation (not from the decoder). */
function expectedStates(v: ZmtpVector): number[] {
  if (v.kind === 'greeting') {
    // 10-byte signature, then major, then the remaining 53 bytes
    return [...Array(9).fill(S.SIGNATURE), S.VERSION, ...Array(53).fill(S.GREETING_REST), S.FLAGS];
  }
  const out: number[] = [];
  for (const f of v.expect) {
    const size = f.bodyHex.length / 2;
    const afterSize = size > 0 ? S.BODY : S.FLAGS;
    if (f.long) out.push(S.SIZE_LONG, ...Array(7).fill(S.SIZE_LONG), afterSize);
    else out.push(S.SIZE_SHORT, afterSize);
    for (let i = 1; i <= size; i++) out.push(i === size ? S.FLAGS : S.BODY);
  }
  return out;
}

function flagsOf(f: FrameExpect): number {
  return (f.command ? FrameFlag.COMMAND : 0) | (f.more ? FrameFlag.MORE : 0);
}

const all = vectors.map(prepare);
const opts = (p: Prepared) => ({ expectGreeting: p.v.kind === 'greeting' });

describe('spec-vectors/zmtp: loader', () => {
  it('finds every file and vector the README lists', () => {
    expect(new Set(vectors.map((v) => v.file))).toEqual(
      new Set(['frames.json', 'greeting.json', 'heartbeat.json', 'ready.json', 'req.json', 'subscribe.json']),
    );
    expect(greetingVectors.map((v) => v.name)).toEqual(['dealer-greeting', 'dealer-routing-id-abc-greeting']);
    for (const t of ['dealer', 'router', 'req', 'rep', 'pub', 'sub', 'xpub', 'xsub', 'push', 'pull', 'pair']) {
      expect(vectors.some((v) => v.name === `${t}-ready`), t).toBe(true);
    }
    expect(vectors.length).toBeGreaterThanOrEqual(36);
  });
});

describe('spec-vectors/zmtp: decode', () => {
  for (const p of all) {
    describe(`${p.v.file} ${p.v.name}`, () => {
      it('whole', () => {
        const { sink, decoder } = decodeChunks([p.bytes], opts(p));
        expect(mismatch(p, sink)).toBe('');
        expect(decoder.state).toBe(S.FLAGS);
        expect(decoder.bufferedBytes).toBe(0);
      });

      it('byte by byte, with the state after every byte', () => {
        const { sink, states } = decodeChunks(byteChunks(p.bytes), opts(p));
        expect(mismatch(p, sink)).toBe('');
        const want = expectedStates(p.v);
        expect(states.length).toBe(want.length);
        // compare as a string: a 70 KB vector would make a 70k-element diff unreadable
        const firstDiff = states.findIndex((s, i) => s !== want[i]);
        expect(firstDiff, `state after byte ${firstDiff + 1}: got ${states[firstDiff]}, want ${want[firstDiff]}`).toBe(-1);
      });

      it('at every split point into two chunks', () => {
        const bad: string[] = [];
        for (let at = 1; at < p.bytes.length && bad.length < 5; at++) {
          const { sink, decoder } = decodeChunks(splitAt(p.bytes, at), opts(p));
          const m = mismatch(p, sink) || (decoder.state !== S.FLAGS ? `final state ${decoder.state}` : '');
          if (m) bad.push(`split at ${at}: ${m}`);
        }
        expect(bad).toEqual([]);
      });
    });
  }

  it('greeting + READY + message as one stream, at every split point', () => {
    const g = all.find((p) => p.v.name === 'dealer-greeting')!;
    const ready = all.find((p) => p.v.name === 'dealer-ready')!;
    const msg = all.find((p) => p.v.name === 'message-abx-tail')!;
    const stream = concatBytes([g.bytes, ready.bytes, msg.bytes]);
    for (let at = 1; at < stream.length; at++) {
      const { sink } = decodeChunks(splitAt(stream, at), { expectGreeting: true });
      expect(sink.events.map((e) => e.type)).toEqual(['greeting', 'frame', 'frame', 'frame']);
      expect(sink.frames.map((f) => [f.flags, hex(f.body)])).toEqual([
        [0x04, ready.v.kind === 'frames' ? ready.v.expect[0]!.bodyHex : ''],
        [0x01, '414278'],
        [0x00, '7461696c'],
      ]);
    }
  });
});

describe('spec-vectors/zmtp: command and metadata content', () => {
  for (const v of frameVectors) {
    v.expect.forEach((f, i) => {
      if (!f.command) return;
      it(`${v.name} frame ${i}: ${f.name}`, () => {
        const cmd = parseCommand(unhex(f.bodyHex));
        if (cmd instanceof ZmqError) throw cmd;
        expect(cmd.name).toBe(f.name);
        switch (f.name) {
          case 'READY': {
            const md = parseMetadata(cmd.data);
            expect(md).toBeInstanceOf(Metadata);
            const entries = (md as Metadata).entries.map(([n, val]) => [n, new TextDecoder().decode(val)]);
            expect(entries).toEqual(Object.entries(f.properties!)); // same names, values and wire order
            break;
          }
          case 'PING':
            expect((cmd.data[0]! << 8) | cmd.data[1]!).toBe(f.ttl);
            expect(hex(cmd.data.subarray(2))).toBe(f.context);
            break;
          case 'PONG':
            expect(hex(cmd.data)).toBe(f.context);
            break;
          case 'SUBSCRIBE':
          case 'CANCEL':
            expect(hex(cmd.data)).toBe(f.topic);
            break;
          default:
            throw new Error(`vector has a command this test does not know: ${f.name}`);
        }
      });
    });
  }
});

describe('spec-vectors/zmtp: re-encode with our encoders', () => {
  for (const v of frameVectors) {
    it(`${v.name}: FrameWriter reproduces the wire bytes`, () => {
      const w = new FrameWriter();
      for (const f of v.expect) w.writeFrame(flagsOf(f), unhex(f.bodyHex));
      expect(hex(concatBytes(w.take()))).toBe(v.hex);
    });

    if (v.expect.every((f) => !f.command) && v.expect.every((f, i) => f.more === (i < v.expect.length - 1))) {
      it(`${v.name}: writeMessage reproduces the message`, () => {
        const w = new FrameWriter();
        w.writeMessage(v.expect.map((f) => unhex(f.bodyHex)));
        expect(hex(concatBytes(w.take()))).toBe(v.hex);
      });
    }

    v.expect.forEach((f, i) => {
      if (!f.command) return;
      it(`${v.name} frame ${i}: the ${f.name} encoder reproduces the body`, () => {
        let body: Uint8Array;
        switch (f.name) {
          case 'READY':
            body = encodeReady(Object.entries(f.properties!).map(([n, val]) => [n, te.encode(val)]));
            break;
          case 'PING':
            body = encodePing(f.ttl!, f.context ? unhex(f.context) : undefined);
            break;
          case 'PONG':
            body = encodeCommand('PONG', unhex(f.context!));
            break;
          default:
            body = encodeCommand(f.name!, unhex(f.topic!));
        }
        expect(hex(body)).toBe(f.bodyHex);
      });
    });
  }

  // Our sockets must announce themselves exactly as libzmq does: Identity only for REQ/DEALER/ROUTER.
  // (STREAM speaks no ZMTP, so it has no READY.)
  for (const type of Object.values(SocketType).filter((t) => t !== 'STREAM')) {
    it(`${type}: our READY metadata matches libzmq's ${type.toLowerCase()}-ready`, () => {
      const v = frameVectors.find((x) => x.name === `${type.toLowerCase()}-ready`)!;
      const props: [string, Uint8Array][] = [['Socket-Type', te.encode(type)]];
      if (sendsIdentity(type)) props.push(['Identity', new Uint8Array(0)]);
      expect(hex(encodeReady(props))).toBe(v.expect[0]!.bodyHex);
    });
  }

  for (const v of greetingVectors) {
    it(`${v.name}: parseGreeting, and encodeGreeting matches except the padding (bytes 1..8)`, () => {
      const bytes = unhex(v.hex);
      expect(parseGreeting(bytes)).toEqual(v.expect);
      const ours = encodeGreeting(v.expect.mechanism, v.expect.asServer, v.expect.minor);
      expect(hex(ours.subarray(0, 1)) + hex(ours.subarray(9))).toBe(v.hex.slice(0, 2) + v.hex.slice(18));
    });
  }
});

/**
 * fast-check properties of the ZMTP codec: chunking invariance, encode/decode round trips, and
 * robustness against random and mutated bytes (compared with the naive reference reader).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FrameWriter } from '../../src/engine/writer.ts';
import { ErrorCode, ProtocolError, ZmqError } from '../../src/errors.ts';
import { encodeCommand, parseCommand } from '../../src/zmtp/command.ts';
import { FrameFlag } from '../../src/zmtp/constants.ts';
import { FrameDecoder } from '../../src/zmtp/decoder.ts';
import { encodeGreeting, parseGreeting } from '../../src/zmtp/greeting.ts';
import { encodeMetadata, Metadata, parseMetadata } from '../../src/zmtp/metadata.ts';
import { SubscriptionSet } from '../../src/socket/subscriptions.ts';
import { concatBytes, cutAt, decodeChunks, RecordingSink, sameBytes } from '../_helpers/decode.ts';
import { referenceDecode } from '../_helpers/reference.ts';

// ---- arbitraries ------------------------------------------------------------------------------

/** Frame bodies around every size boundary: 0, short (≤255), long (>255), uncopied (>4096). */
const body = fc.oneof(
  { weight: 6, arbitrary: fc.uint8Array({ maxLength: 16 }) },
  { weight: 2, arbitrary: fc.uint8Array({ minLength: 250, maxLength: 262 }) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 4090, maxLength: 4200 }) },
);

const message = fc.array(body, { minLength: 1, maxLength: 5 });

const commandName = fc.oneof(
  fc.constantFrom('READY', 'PING', 'PONG', 'SUBSCRIBE', 'CANCEL', 'ERROR'),
  fc.stringMatching(/^[A-Za-z][A-Za-z0-9_.+-]{0,30}$/),
  fc.integer({ min: 1, max: 255 }).map((n) => 'C'.repeat(n)),
);
const command = fc.record({ name: commandName, data: body });

type Item = { kind: 'msg'; frames: Uint8Array[] } | { kind: 'cmd'; name: string; data: Uint8Array };
const item: fc.Arbitrary<Item> = fc.oneof(
  message.map((frames) => ({ kind: 'msg' as const, frames })),
  command.map((c) => ({ kind: 'cmd' as const, ...c })),
);
const stream = fc.array(item, { minLength: 1, maxLength: 6 });

interface Expected {
  flags: number;
  body: Uint8Array;
}

/** Encodes items with our writer; returns the bytes and the frames a reader must see. */
function encode(items: readonly Item[]): { bytes: Uint8Array; frames: Expected[] } {
  const w = new FrameWriter();
  const frames: Expected[] = [];
  const chunks: Uint8Array[] = [];
  for (const it of items) {
    if (it.kind === 'msg') {
      w.writeMessage(it.frames);
      it.frames.forEach((b, i) => {
        const more = i < it.frames.length - 1 ? FrameFlag.MORE : 0;
        frames.push({ flags: more | (b.length > 255 ? FrameFlag.LONG : 0), body: b });
      });
    } else {
      const b = encodeCommand(it.name, it.data);
      w.writeCommand(b);
      frames.push({ flags: FrameFlag.COMMAND | (b.length > 255 ? FrameFlag.LONG : 0), body: b });
    }
    chunks.push(...w.take()); // take as a transport would, so writer regions are exercised
  }
  return { bytes: concatBytes(chunks), frames };
}

function sameFrames(got: { flags: number; body: Uint8Array }[], want: Expected[]): boolean {
  return got.length === want.length && got.every((f, i) => f.flags === want[i]!.flags && sameBytes(f.body, want[i]!.body));
}

const cuts = fc.array(fc.nat(), { maxLength: 12 });

// ---- properties -------------------------------------------------------------------------------

describe('property: chunking invariance', () => {
  it('any chunking of a valid stream decodes to exactly the encoded frames', () => {
    fc.assert(
      fc.property(stream, cuts, (items, rawCuts) => {
        const { bytes, frames } = encode(items);
        const pieces = cutAt(bytes, rawCuts.map((c) => c % (bytes.length + 1)));
        const { sink, decoder } = decodeChunks(pieces);
        expect(sink.errors).toEqual([]);
        expect(sameFrames(sink.frames, frames)).toBe(true);
        expect(decoder.bufferedBytes).toBe(0);
      }),
      { numRuns: 150 },
    );
  });

  it('with a greeting in front, any chunking gives the greeting then the same frames', () => {
    const greeting = fc.record({
      mechanism: fc.stringMatching(/^[A-Z0-9_.+-]{1,20}$/),
      asServer: fc.boolean(),
      minor: fc.integer({ min: 0, max: 255 }),
    });
    fc.assert(
      fc.property(greeting, stream, cuts, (g, items, rawCuts) => {
        const { bytes, frames } = encode(items);
        const all = concatBytes([encodeGreeting(g.mechanism, g.asServer, g.minor), bytes]);
        const { sink } = decodeChunks(cutAt(all, rawCuts.map((c) => c % (all.length + 1))), { expectGreeting: true });
        expect(sink.errors).toEqual([]);
        expect(sink.greetings).toEqual([{ major: 3, ...g }]);
        expect(sink.events[0]!.type).toBe('greeting');
        expect(sameFrames(sink.frames, frames)).toBe(true);
      }),
      { numRuns: 60 },
    );
  });
});

describe('property: round trips', () => {
  it('multipart messages: FrameWriter → FrameDecoder gives the same parts, MORE on all but the last', () => {
    fc.assert(
      fc.property(message, (parts) => {
        const w = new FrameWriter();
        w.writeMessage(parts);
        const { sink } = decodeChunks(w.take());
        expect(sink.frames.length).toBe(parts.length);
        sink.frames.forEach((f, i) => {
          expect(!!(f.flags & FrameFlag.MORE)).toBe(i < parts.length - 1);
          expect(!!(f.flags & FrameFlag.LONG)).toBe(parts[i]!.length > 255);
          expect(f.flags & FrameFlag.COMMAND).toBe(0);
          expect(sameBytes(f.body, parts[i]!)).toBe(true);
        });
      }),
    );
  });

  it('commands: encodeCommand → writer → decoder → parseCommand gives the same name and data', () => {
    fc.assert(
      fc.property(command, ({ name, data }) => {
        const w = new FrameWriter();
        w.writeCommand(encodeCommand(name, data));
        const { sink } = decodeChunks(w.take());
        expect(sink.frames.length).toBe(1);
        expect(sink.frames[0]!.flags & FrameFlag.COMMAND).toBe(FrameFlag.COMMAND);
        const cmd = parseCommand(sink.frames[0]!.body);
        if (cmd instanceof ZmqError) throw cmd;
        expect(cmd.name).toBe(name);
        expect(sameBytes(cmd.data, data)).toBe(true);
      }),
    );
  });

  it('metadata: encodeMetadata → parseMetadata gives the same properties in order', () => {
    const entry = fc.tuple(fc.stringMatching(/^[A-Za-z0-9_.+-]{1,255}$/), fc.uint8Array({ maxLength: 300 }));
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 6 }), (entries) => {
        const md = parseMetadata(encodeMetadata(entries));
        expect(md).toBeInstanceOf(Metadata);
        const got = (md as Metadata).entries;
        expect(got.length).toBe(entries.length);
        got.forEach(([n, v], i) => {
          expect(n).toBe(entries[i]![0]);
          expect(sameBytes(v, entries[i]![1])).toBe(true);
          expect((md as Metadata).get(n.toUpperCase())).toBeDefined();
        });
      }),
    );
  });

  it('greeting: encodeGreeting → parseGreeting', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Z0-9_.+-]{0,20}$/), fc.boolean(), fc.integer({ min: 0, max: 255 }), (mechanism, asServer, minor) => {
        expect(parseGreeting(encodeGreeting(mechanism, asServer, minor))).toEqual({ major: 3, minor, mechanism, asServer });
      }),
    );
  });
});

// ---- robustness -------------------------------------------------------------------------------

const DECODER_CODES = new Set<string>([
  ErrorCode.BAD_GREETING,
  ErrorCode.UNSUPPORTED_VERSION,
  ErrorCode.RESERVED_FLAGS,
  ErrorCode.FRAME_TOO_LARGE,
  ErrorCode.BAD_COMMAND,
]);

/**
 * Decodes `bytes` in `pieces`, asserting: no throw, at most one error and nothing after it, the
 * error typed, every body within maxFrameSize, and the same outcome as the reference reader.
 */
function checkAgainstReference(bytes: Uint8Array, rawCuts: number[], expectGreeting: boolean, maxFrameSize: number): void {
  const pieces = cutAt(bytes, rawCuts.map((c) => c % (bytes.length + 1)));
  const { sink } = decodeChunks(pieces, { expectGreeting, maxFrameSize }); // a throw fails the property
  const errors = sink.errors;
  expect(errors.length).toBeLessThanOrEqual(1);
  if (errors.length === 1) {
    expect(sink.events[sink.events.length - 1]!.type).toBe('error');
    expect(errors[0]).toBeInstanceOf(ProtocolError);
    expect(DECODER_CODES.has(errors[0]!.code)).toBe(true);
  }
  for (const f of sink.frames) expect(f.body.length).toBeLessThanOrEqual(maxFrameSize);
  const ref = referenceDecode(bytes, expectGreeting, maxFrameSize);
  expect(errors[0]?.code).toBe(ref.errorCode);
  expect(sink.greetings).toEqual(ref.greeting ? [ref.greeting] : []);
  expect(sameFrames(sink.frames, ref.frames)).toBe(true);
}

/** Overwrites, inserts and truncations applied to a valid stream. */
const mutation = fc.oneof(
  fc.record({ op: fc.constant('set' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat(), byte: fc.constant(0) }),
);

function mutate(bytes: Uint8Array, muts: { op: 'set' | 'insert' | 'truncate'; at: number; byte: number }[]): Uint8Array {
  let b = Array.from(bytes);
  for (const m of muts) {
    const at = b.length === 0 ? 0 : m.at % (b.length + (m.op === 'insert' ? 1 : 0));
    if (m.op === 'set' && b.length > 0) b[at] = m.byte;
    else if (m.op === 'insert') b.splice(at, 0, m.byte);
    else if (m.op === 'truncate') b = b.slice(0, at);
  }
  return Uint8Array.from(b);
}

const smallBody = fc.uint8Array({ maxLength: 80 });
const smallStream = fc.array(
  fc.oneof(
    fc.array(smallBody, { minLength: 1, maxLength: 3 }).map((frames) => ({ kind: 'msg' as const, frames })),
    fc.record({ name: fc.stringMatching(/^[A-Z]{1,9}$/), data: smallBody }).map((c) => ({ kind: 'cmd' as const, ...c })),
  ),
  { minLength: 1, maxLength: 5 },
);

describe('property: bad input ends in frames or exactly one typed error, never a throw', () => {
  it('random bytes, without and with a greeting expected', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), cuts, fc.boolean(), (bytes, rawCuts, greeting) => {
        checkAgainstReference(bytes, rawCuts, greeting, 64);
      }),
      { numRuns: 300 },
    );
  });

  it('random bytes behind a valid greeting', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), cuts, (tail, rawCuts) => {
        checkAgainstReference(concatBytes([encodeGreeting('NULL', false), tail]), rawCuts, true, 32);
      }),
      { numRuns: 200 },
    );
  });

  it('mutated valid streams (overwrite, insert, truncate), small maxFrameSize', () => {
    fc.assert(
      fc.property(smallStream, fc.array(mutation, { minLength: 1, maxLength: 4 }), cuts, fc.boolean(), (items, muts, rawCuts, greeting) => {
        const { bytes } = encode(items);
        const valid = greeting ? concatBytes([encodeGreeting('NULL', false), bytes]) : bytes;
        checkAgainstReference(mutate(valid, muts), rawCuts, greeting, 40);
      }),
      { numRuns: 300 },
    );
  });

  it('a declared size above maxFrameSize fails on the header alone: no body byte is ever needed', () => {
    const oversize = fc.oneof(
      fc.record({ long: fc.constant(false), size: fc.integer({ min: 33, max: 255 }) }),
      fc.record({ long: fc.constant(true), size: fc.oneof(fc.integer({ min: 33, max: 2 ** 31 }), fc.constant(Number.MAX_SAFE_INTEGER)) }),
    );
    fc.assert(
      fc.property(smallStream, oversize, fc.integer({ min: 0, max: 7 }), cuts, (items, big, flagsLow, rawCuts) => {
        // valid frames first (bodies capped at the limit), then an oversized header
        const capped = items.map((it) =>
          it.kind === 'msg' ? { ...it, frames: it.frames.map((f) => f.subarray(0, 32)) } : { ...it, name: it.name.slice(0, 4), data: it.data.subarray(0, 20) },
        );
        const { bytes, frames } = encode(capped);
        let flags = flagsLow & (FrameFlag.MORE | FrameFlag.COMMAND);
        if (flags & FrameFlag.COMMAND) flags &= ~FrameFlag.MORE; // keep the header itself valid
        if (big.long) flags |= FrameFlag.LONG;
        const header = big.long ? new Uint8Array(9) : new Uint8Array(2);
        header[0] = flags;
        if (big.long) {
          const dv = new DataView(header.buffer);
          dv.setUint32(1, Math.floor(big.size / 2 ** 32));
          dv.setUint32(5, big.size >>> 0);
        } else header[1] = big.size;
        const all = concatBytes([bytes, header]);
        const sink = new RecordingSink();
        const d = new FrameDecoder(sink, { maxFrameSize: 32 }, false);
        for (const piece of cutAt(all, rawCuts.map((c) => c % (all.length + 1)))) d.push(piece);
        expect(sameFrames(sink.frames, frames)).toBe(true);
        expect(sink.errors.length).toBe(1);
        expect(sink.errors[0]!.code).toBe(ErrorCode.FRAME_TOO_LARGE);
        expect(d.bufferedBytes).toBe(0);
      }),
      { numRuns: 200 },
    );
  });
});

describe('property: SubscriptionSet against a naive model', () => {
  it('counted add/remove and prefix matching agree with a list of (topic, count)', () => {
    const topic = fc.uint8Array({ maxLength: 4 }).map((b) => b.map((x) => x % 3)); // small alphabet → collisions
    const op = fc.oneof(
      fc.record({ op: fc.constant('add' as const), topic }),
      fc.record({ op: fc.constant('remove' as const), topic }),
      fc.record({ op: fc.constant('match' as const), topic: fc.uint8Array({ maxLength: 6 }).map((b) => b.map((x) => x % 3)) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        const set = new SubscriptionSet();
        const model = new Map<string, number>();
        const key = (t: Uint8Array): string => Array.from(t).join(',');
        const topics = new Map<string, Uint8Array>();
        for (const o of ops) {
          const k = key(o.topic);
          if (o.op === 'add') {
            const n = model.get(k) ?? 0;
            expect(set.add(o.topic)).toBe(n === 0);
            model.set(k, n + 1);
            topics.set(k, o.topic);
          } else if (o.op === 'remove') {
            const n = model.get(k) ?? 0;
            expect(set.remove(o.topic)).toBe(n === 1);
            if (n > 1) model.set(k, n - 1);
            else model.delete(k);
          } else {
            const want = [...model.keys()].some((mk) => {
              const t = topics.get(mk)!;
              return t.length <= o.topic.length && t.every((b, i) => o.topic[i] === b);
            });
            expect(set.matches(o.topic)).toBe(want);
          }
          expect(set.size).toBe(model.size);
        }
      }),
    );
  });
});

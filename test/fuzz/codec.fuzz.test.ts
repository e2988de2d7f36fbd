/**
 * Seeded, deterministic fuzzing (mqtt-packet testRandom style): ~20k random and mutated inputs with
 * first bytes biased toward valid flags and greeting-like prefixes, against FrameDecoder (with
 * and without greeting) and the command / metadata / greeting parsers. Every input must end in
 * frames or one typed error, never a throw or a hang, and the decoder must agree with the naive
 * reference reader. Failures print the seed, the input index and the input in hex.
 */
import { describe, expect, it } from 'vitest';
import { ErrorCode, ProtocolError, ZmqError } from '../../src/errors.ts';
import { encodeCommand, parseCommand } from '../../src/zmtp/command.ts';
import { encodeGreeting, parseGreeting } from '../../src/zmtp/greeting.ts';
import { encodeMetadata, Metadata, parseMetadata } from '../../src/zmtp/metadata.ts';
import { concatBytes, cutAt, decodeChunks, hex, prng, sameBytes } from '../_helpers/decode.ts';
import { referenceDecode } from '../_helpers/reference.ts';

const SEED = 0x5eed_2026;
const N = 20_000;

const VALID_FLAGS = [0x00, 0x01, 0x02, 0x03, 0x04, 0x06];
const LIMITS = [0, 16, 255, 1000, 2 ** 31, 2 ** 31, 2 ** 31, 2 ** 31];

class Gen {
  readonly rand: () => number;
  constructor(seed: number) {
    this.rand = prng(seed);
  }
  int(n: number): number {
    return Math.floor(this.rand() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  chance(p: number): boolean {
    return this.rand() < p;
  }
  bytes(n: number): Uint8Array {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
  /** A mostly-valid frame: biased flags, a size that usually (not always) matches the body. */
  frame(): Uint8Array {
    const flags = this.chance(0.9) ? this.pick(VALID_FLAGS) : this.int(256);
    const size = this.chance(0.8) ? this.int(40) : this.pick([255, 256, 300, 1000, 5000]);
    const body = this.bytes(Math.min(size, 600));
    if (flags & 0x02) {
      const h = new Uint8Array(9);
      h[0] = flags;
      if (this.chance(0.1)) for (let i = 1; i < 9; i++) h[i] = this.pick([0x00, 0x20, 0x7f, 0x80, 0xff, this.int(256)]);
      else new DataView(h.buffer).setUint32(5, size);
      return concatBytes([h, body]);
    }
    return concatBytes([Uint8Array.of(flags, size & 0xff), body]);
  }
  /** A command body: usually well-formed, sometimes with a broken name length or name bytes. */
  commandBody(): Uint8Array {
    const name = this.bytes(1 + this.int(12)).map((c) => (this.chance(0.95) ? 0x41 + (c % 26) : c));
    const data = this.bytes(this.int(30));
    const b = concatBytes([Uint8Array.of(name.length), name, data]);
    if (this.chance(0.2)) b[0] = this.int(256);
    return this.chance(0.1) ? b.subarray(0, this.int(b.length + 1)) : b;
  }
  metadataBody(): Uint8Array {
    const parts: Uint8Array[] = [];
    const n = this.int(4);
    for (let i = 0; i < n; i++) {
      const name = this.bytes(1 + this.int(12)).map((c) => (this.chance(0.95) ? 0x61 + (c % 26) : c));
      const value = this.bytes(this.int(20));
      const len = new Uint8Array(4);
      new DataView(len.buffer).setUint32(0, this.chance(0.9) ? value.length : this.pick([value.length + 1, 0xffffffff, this.int(1000)]));
      parts.push(Uint8Array.of(this.chance(0.97) ? name.length : 0), name, len, value);
    }
    const b = concatBytes(parts);
    return this.chance(0.15) ? b.subarray(0, this.int(b.length + 1)) : b;
  }
  greeting(): Uint8Array {
    const g = encodeGreeting(this.pick(['NULL', 'PLAIN', 'CURVE']), this.chance(0.5), this.int(3));
    if (this.chance(0.1)) g[10] = this.int(3); // ZMTP 1.0 / 2.0 / never-used 2
    const flips = this.int(3);
    for (let i = 0; i < flips; i++) {
      // hit the bytes that matter most often: signature ends, version, mechanism
      const at = this.chance(0.7) ? this.pick([0, 9, 10, 11, 12, 13, 15, 16, 31, 32]) : this.int(64);
      g[at] = this.chance(0.5) ? this.int(256) : this.pick([0x00, 0x01, 0x02, 0x7e, 0x7f, 0xff, 0x61]);
    }
    return g;
  }
  mutate(b: Uint8Array): Uint8Array {
    const a = Array.from(b);
    const n = 1 + this.int(3);
    for (let i = 0; i < n; i++) {
      const op = this.int(4);
      if (op === 0 && a.length) a[this.int(a.length)] = this.int(256);
      else if (op === 1) a.splice(this.int(a.length + 1), 0, this.int(256));
      else if (op === 2) a.length = this.int(a.length + 1);
      else if (a.length) {
        const from = this.int(a.length);
        a.splice(this.int(a.length), 0, ...a.slice(from, from + 1 + this.int(10)));
      }
    }
    return Uint8Array.from(a);
  }
  cuts(len: number): number[] {
    if (this.chance(0.05)) return Array.from({ length: len }, (_, i) => i); // byte by byte
    return Array.from({ length: this.int(6) }, () => this.int(len + 1));
  }
}

const DECODER_CODES = new Set<string>([
  ErrorCode.BAD_GREETING,
  ErrorCode.UNSUPPORTED_VERSION,
  ErrorCode.RESERVED_FLAGS,
  ErrorCode.FRAME_TOO_LARGE,
  ErrorCode.BAD_COMMAND,
]);

/** One decoder input; returns a failure description or '' (and tallies outcomes). */
function runDecoder(g: Gen, tally: Map<string, number>): { bytes: Uint8Array; greeting: boolean; failure: string } {
  const kind = g.int(5);
  let bytes: Uint8Array;
  let greeting: boolean;
  if (kind === 0) {
    // random bytes, biased first byte
    bytes = g.bytes(g.int(300));
    if (bytes.length) bytes[0] = g.chance(0.6) ? g.pick(VALID_FLAGS) : g.chance(0.4) ? 0xff : bytes[0]!;
    greeting = bytes[0] === 0xff ? g.chance(0.8) : g.chance(0.2);
  } else if (kind === 1) {
    // greeting-like prefix + frames
    const frames = Array.from({ length: g.int(4) }, () => g.frame());
    bytes = concatBytes([g.greeting(), ...frames]);
    if (g.chance(0.3)) bytes = bytes.subarray(0, g.int(bytes.length + 1));
    greeting = true;
  } else if (kind === 2) {
    // valid-ish frames, then mutated
    bytes = g.mutate(concatBytes(Array.from({ length: 1 + g.int(5) }, () => g.frame())));
    greeting = false;
  } else if (kind === 3) {
    // long headers with hostile sizes
    const h = new Uint8Array(9 + g.int(20));
    h[0] = g.pick([0x02, 0x03, 0x06, 0x07]);
    for (let i = 1; i < h.length; i++) h[i] = g.chance(0.5) ? g.pick([0x00, 0x1f, 0x20, 0x7f, 0x80, 0xff]) : g.int(256);
    bytes = h;
    greeting = false;
  } else {
    // a valid greeting + mutated frames
    bytes = concatBytes([encodeGreeting('NULL', false), g.mutate(concatBytes([g.frame(), g.frame()]))]);
    greeting = true;
  }
  const maxFrameSize = g.pick(LIMITS);
  const pieces = cutAt(bytes, g.cuts(bytes.length));
  let result;
  try {
    result = decodeChunks(pieces, { expectGreeting: greeting, maxFrameSize });
  } catch (err) {
    return { bytes, greeting, failure: `decoder threw: ${String(err)}` };
  }
  const { sink } = result;
  const errors = sink.errors;
  if (errors.length > 1) return { bytes, greeting, failure: `${errors.length} errors reported` };
  if (errors.length === 1) {
    const e = errors[0]!;
    if (!(e instanceof ProtocolError) || !DECODER_CODES.has(e.code)) return { bytes, greeting, failure: `untyped error ${String(e)}` };
    if (sink.events[sink.events.length - 1]!.type !== 'error') return { bytes, greeting, failure: 'callback after the error' };
    tally.set(e.code, (tally.get(e.code) ?? 0) + 1);
  } else tally.set('ok', (tally.get('ok') ?? 0) + 1);
  for (const f of sink.frames) {
    if (f.body.length > maxFrameSize) return { bytes, greeting, failure: `body of ${f.body.length} > maxFrameSize ${maxFrameSize}` };
  }
  tally.set('frames', (tally.get('frames') ?? 0) + sink.frames.length);
  const ref = referenceDecode(bytes, greeting, maxFrameSize);
  if (errors[0]?.code !== ref.errorCode) return { bytes, greeting, failure: `error ${errors[0]?.code}, reference ${ref.errorCode}` };
  if (sink.greetings.length !== (ref.greeting ? 1 : 0)) return { bytes, greeting, failure: 'greeting count differs from reference' };
  if (ref.greeting && JSON.stringify(sink.greetings[0]) !== JSON.stringify(ref.greeting)) return { bytes, greeting, failure: 'greeting differs' };
  const frames = sink.frames;
  if (frames.length !== ref.frames.length) return { bytes, greeting, failure: `${frames.length} frames, reference ${ref.frames.length}` };
  for (let i = 0; i < frames.length; i++) {
    if (frames[i]!.flags !== ref.frames[i]!.flags || !sameBytes(frames[i]!.body, ref.frames[i]!.body)) {
      return { bytes, greeting, failure: `frame ${i} differs from reference` };
    }
  }
  return { bytes, greeting, failure: '' };
}

function runParsers(g: Gen, tally: Map<string, number>): string {
  // parseCommand: well-formed results must re-encode to the same bytes
  const cb = g.chance(0.5) ? g.commandBody() : g.bytes(g.int(40));
  const cmd = parseCommand(cb);
  if (!(cmd instanceof ZmqError)) {
    if (!sameBytes(encodeCommand(cmd.name, cmd.data), cb)) return `parseCommand(${hex(cb)}) does not re-encode`;
    tally.set('command ok', (tally.get('command ok') ?? 0) + 1);
  } else if (!(cmd instanceof ProtocolError) || cmd.code !== ErrorCode.BAD_COMMAND) {
    return `parseCommand(${hex(cb)}) gave ${String(cmd)}`;
  } else tally.set('command err', (tally.get('command err') ?? 0) + 1);

  // parseMetadata: the format is canonical, so a parsed list re-encodes to the input exactly
  const mb = g.chance(0.7) ? g.metadataBody() : g.bytes(g.int(40));
  const md = parseMetadata(mb);
  if (md instanceof Metadata) {
    if (!sameBytes(encodeMetadata(md.entries), mb)) return `parseMetadata(${hex(mb)}) does not re-encode`;
    tally.set('metadata ok', (tally.get('metadata ok') ?? 0) + 1);
  } else if (!(md instanceof ProtocolError) || md.code !== ErrorCode.BAD_METADATA) {
    return `parseMetadata(${hex(mb)}) gave ${String(md)}`;
  } else tally.set('metadata err', (tally.get('metadata err') ?? 0) + 1);

  // parseGreeting: accepted greetings agree with the bytes they came from
  const gb = g.chance(0.8) ? g.greeting() : g.bytes(64);
  const gr = parseGreeting(gb);
  if (!(gr instanceof ZmqError)) {
    const again = encodeGreeting(gr.mechanism, gr.asServer, gr.minor);
    again[10] = gr.major;
    // the fields that define a greeting: signature ends, version, mechanism
    if (gb[0] !== 0xff || (gb[9]! & 1) !== 1 || gr.major < 3 || !sameBytes(again.subarray(10, 32), gb.subarray(10, 32))) {
      return `parseGreeting(${hex(gb)}) accepted an inconsistent greeting`;
    }
    tally.set('greeting ok', (tally.get('greeting ok') ?? 0) + 1);
  } else if (!(gr instanceof ProtocolError) || (gr.code !== ErrorCode.BAD_GREETING && gr.code !== ErrorCode.UNSUPPORTED_VERSION)) {
    return `parseGreeting(${hex(gb)}) gave ${String(gr)}`;
  } else tally.set('greeting err', (tally.get('greeting err') ?? 0) + 1);
  return '';
}

describe('fuzz: seeded random and mutated inputs', () => {
  it(`${N} decoder inputs end in frames or one typed error, agreeing with the reference reader`, () => {
    const g = new Gen(SEED);
    const tally = new Map<string, number>();
    const failures: string[] = [];
    for (let i = 0; i < N && failures.length < 5; i++) {
      const { bytes, greeting, failure } = runDecoder(g, tally);
      if (failure) failures.push(`seed ${SEED} input ${i} (greeting=${greeting}) ${hex(bytes).slice(0, 200)}: ${failure}`);
    }
    expect(failures).toEqual([]);
    // the generator must actually reach every outcome, or the run proves little
    for (const code of DECODER_CODES) expect(tally.get(code) ?? 0, code).toBeGreaterThan(50);
    expect(tally.get('ok') ?? 0).toBeGreaterThan(1000);
    expect(tally.get('frames') ?? 0).toBeGreaterThan(5000);
  });

  it(`${N} inputs to parseCommand / parseMetadata / parseGreeting return a value or a typed error`, () => {
    const g = new Gen(SEED ^ 0xabcdef);
    const tally = new Map<string, number>();
    const failures: string[] = [];
    for (let i = 0; i < N && failures.length < 5; i++) {
      let failure: string;
      try {
        failure = runParsers(g, tally);
      } catch (err) {
        failure = `threw: ${String(err)}`;
      }
      if (failure) failures.push(`seed ${SEED ^ 0xabcdef} input ${i}: ${failure}`);
    }
    expect(failures).toEqual([]);
    for (const k of ['command ok', 'command err', 'metadata ok', 'metadata err', 'greeting ok', 'greeting err']) {
      expect(tally.get(k) ?? 0, k).toBeGreaterThan(200);
    }
  });

  it('is deterministic: the same seed gives the same inputs', () => {
    const a = new Gen(SEED);
    const b = new Gen(SEED);
    for (let i = 0; i < 100; i++) expect(hex(a.frame())).toBe(hex(b.frame()));
  });
});

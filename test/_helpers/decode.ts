/**
 * Decoder test helpers: a recording sink, chunkers (whole, byte by byte, every split point,
 * arbitrary cuts) and byte comparison that stays fast for 70 KB bodies.
 */
import { FrameDecoder, type DecoderSink } from '../../src/zmtp/decoder.ts';
import type { Greeting } from '../../src/zmtp/greeting.ts';
import type { ZmqError } from '../../src/errors.ts';

export type DecodeEvent =
  | { type: 'greeting'; greeting: Greeting }
  | { type: 'frame'; flags: number; body: Uint8Array }
  | { type: 'error'; error: ZmqError };

/** Records every callback in order. Optional hooks let a test act from inside a callback. */
export class RecordingSink implements DecoderSink {
  readonly events: DecodeEvent[] = [];
  onFrameHook: ((flags: number, body: Uint8Array) => void) | undefined;

  onGreeting(greeting: Greeting): void {
    this.events.push({ type: 'greeting', greeting });
  }

  onFrame(flags: number, body: Uint8Array): void {
    this.events.push({ type: 'frame', flags, body });
    this.onFrameHook?.(flags, body);
  }

  onDecodeError(error: ZmqError): void {
    this.events.push({ type: 'error', error });
  }

  get frames(): { flags: number; body: Uint8Array }[] {
    return this.events.flatMap((e) => (e.type === 'frame' ? [{ flags: e.flags, body: e.body }] : []));
  }

  get errors(): ZmqError[] {
    return this.events.flatMap((e) => (e.type === 'error' ? [e.error] : []));
  }

  get greetings(): Greeting[] {
    return this.events.flatMap((e) => (e.type === 'greeting' ? [e.greeting] : []));
  }
}

export interface DecodeOptions {
  expectGreeting?: boolean;
  maxFrameSize?: number;
}

export interface DecodeResult {
  sink: RecordingSink;
  decoder: FrameDecoder;
  /** decoder.state after each push */
  states: number[];
}

/** Feeds `chunks` to a fresh decoder, one push per chunk. */
export function decodeChunks(chunks: readonly Uint8Array[], opts: DecodeOptions = {}): DecodeResult {
  const sink = new RecordingSink();
  const decoder = new FrameDecoder(sink, { maxFrameSize: opts.maxFrameSize ?? Number.MAX_SAFE_INTEGER }, opts.expectGreeting ?? false);
  const states: number[] = [];
  for (const c of chunks) {
    decoder.push(c);
    states.push(decoder.state);
  }
  return { sink, decoder, states };
}

export function byteChunks(bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i++) out.push(bytes.subarray(i, i + 1));
  return out;
}

/** Two chunks, split before byte `at` (1 <= at < length). */
export function splitAt(bytes: Uint8Array, at: number): Uint8Array[] {
  return [bytes.subarray(0, at), bytes.subarray(at)];
}

/** Cuts `bytes` at the given (unsorted, possibly duplicated) offsets; empty pieces are kept out. */
export function cutAt(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => Math.max(0, Math.min(bytes.length, c))))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const p of [...points, bytes.length]) {
    if (p > prev) out.push(bytes.subarray(prev, p));
    prev = p;
  }
  return out;
}

/** Fresh copies of every chunk (so views handed out by the decoder can be told apart from inputs). */
export function copyChunks(chunks: readonly Uint8Array[]): Uint8Array[] {
  return chunks.map((c) => new Uint8Array(c));
}

/** memcmp-speed equality (Buffer.compare), for big bodies in tight loops. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  return Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;
}

export function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

export function unhex(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Deterministic PRNG (mulberry32) for seeded fuzzing. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

import { createError, ErrorCode, type ZmqError } from '../errors.ts';
import { alloc, readU64 } from '../util/bytes.ts';
import { checkMajor, checkSignature, parseGreeting, type Greeting } from './greeting.ts';
import { FrameFlag, GREETING_SIZE, SIGNATURE_SIZE } from './constants.ts';

/** Chunks smaller than this are coalesced once more than COALESCE_AFTER are pending. */
const SMALL_CHUNK = 1024;
const COALESCE_AFTER = 32;
const TAIL_SIZE = 16 * 1024;

export const DecoderState = {
  SIGNATURE: 0,
  VERSION: 1,
  GREETING_REST: 2,
  FLAGS: 3,
  SIZE_SHORT: 4,
  SIZE_LONG: 5,
  BODY: 6,
  FAILED: 7,
} as const;
export type DecoderState = (typeof DecoderState)[keyof typeof DecoderState];

export interface DecoderSink {
  onGreeting(greeting: Greeting): void;
  /** `body` is a view into a received chunk when the frame fits in one, else a single copy. */
  onFrame(flags: number, body: Uint8Array): void;
  onDecodeError(error: ZmqError): void;
}

export interface DecoderLimits {
  /** Largest frame body accepted, checked on the declared size before any byte of it is buffered. */
  maxFrameSize: number;
}

/**
 * Resumable ZMTP decoder over a chunk list: greeting first (optional), then frames.
 * Each state either has the bytes it needs or returns and waits for the next push().
 * Chunks are never re-concatenated; a frame body that spans chunks is copied exactly once.
 */
export class FrameDecoder {
  state: DecoderState;
  private readonly sink: DecoderSink;
  private limits: DecoderLimits;
  private chunks: Uint8Array[] = [];
  private tail: Uint8Array | undefined;
  private tailUsed = 0;
  private tailIndex = -1;
  private head = 0; // index of the first unconsumed chunk (Array#shift is O(n) on long lists)
  private offset = 0; // read position inside chunks[head]
  private buffered = 0;
  private flags = 0;
  private size = 0;
  private greeting: Uint8Array | undefined;
  private paused = false;
  private running = false;

  constructor(sink: DecoderSink, limits: DecoderLimits, expectGreeting = true) {
    this.sink = sink;
    this.limits = limits;
    this.state = expectGreeting ? DecoderState.SIGNATURE : DecoderState.FLAGS;
  }

  get bufferedBytes(): number {
    return this.buffered;
  }

  push(chunk: Uint8Array): void {
    if (this.state === DecoderState.FAILED || chunk.length === 0) return;
    if (chunk.length < SMALL_CHUNK && this.chunks.length - this.head > COALESCE_AFTER) this.appendSmall(chunk);
    else this.chunks.push(chunk);
    this.buffered += chunk.length;
    this.run();
  }

  /**
   * A peer trickling tiny chunks into a large frame would otherwise make the list cost far more
   * memory than the bytes themselves; past a few dozen pending chunks, small ones are copied into a
   * shared tail buffer. Bytes already handed out from it are never overwritten.
   */
  private appendSmall(chunk: Uint8Array): void {
    const last = this.chunks.length - 1;
    const tail = this.tail;
    if (tail && this.tailIndex === last && this.tailUsed + chunk.length <= tail.length) {
      tail.set(chunk, this.tailUsed);
      this.tailUsed += chunk.length;
      this.chunks[last] = tail.subarray(0, this.tailUsed);
      return;
    }
    this.tail = alloc(TAIL_SIZE);
    this.tail.set(chunk, 0);
    this.tailUsed = chunk.length;
    this.tailIndex = this.chunks.length;
    this.chunks.push(this.tail.subarray(0, this.tailUsed));
  }

  /** Stops handing out frames (the receive queue is full); buffered bytes stay put. */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.run();
  }

  /** Stops for good: no more callbacks, buffers released. */
  stop(): void {
    this.state = DecoderState.FAILED;
    this.chunks = [];
    this.head = 0;
    this.tail = undefined;
    this.tailIndex = -1;
    this.buffered = 0;
  }

  private fail(error: ZmqError): void {
    this.stop();
    this.sink.onDecodeError(error);
  }

  private run(): void {
    if (this.running) return; // re-entered from a sink callback; the outer loop continues
    this.running = true;
    try {
      this.loop();
    } finally {
      this.running = false;
    }
  }

  private loop(): void {
    while (!this.paused) {
      switch (this.state) {
        case DecoderState.SIGNATURE: {
          if (this.buffered < SIGNATURE_SIZE) return;
          const sig = this.take(SIGNATURE_SIZE);
          const bad = checkSignature(sig);
          if (bad) return this.fail(bad);
          this.greeting = alloc(GREETING_SIZE);
          this.greeting.set(sig, 0);
          this.state = DecoderState.VERSION;
          break;
        }
        case DecoderState.VERSION: {
          if (this.buffered < 1) return;
          const major = this.takeByte();
          const bad = checkMajor(major);
          if (bad) return this.fail(bad);
          this.greeting![SIGNATURE_SIZE] = major;
          this.state = DecoderState.GREETING_REST;
          break;
        }
        case DecoderState.GREETING_REST: {
          const rest = GREETING_SIZE - SIGNATURE_SIZE - 1;
          if (this.buffered < rest) return;
          this.greeting!.set(this.take(rest), SIGNATURE_SIZE + 1);
          const parsed = parseGreeting(this.greeting!);
          this.greeting = undefined;
          if (!('major' in parsed)) return this.fail(parsed);
          this.state = DecoderState.FLAGS;
          this.sink.onGreeting(parsed);
          break;
        }
        case DecoderState.FLAGS: {
          if (this.buffered < 1) return;
          const flags = this.takeByte();
          // RFC 37: reserved bits MUST be zero. libzmq ignores them; we refuse, since a peer
          // that sets them is not speaking ZMTP 3 (or is probing us).
          if (flags & FrameFlag.RESERVED) {
            return this.fail(createError(ErrorCode.RESERVED_FLAGS, `frame flags 0x${flags.toString(16)} set reserved bits`));
          }
          if ((flags & FrameFlag.COMMAND) && (flags & FrameFlag.MORE)) {
            return this.fail(createError(ErrorCode.BAD_COMMAND, 'command frame has the MORE flag'));
          }
          this.flags = flags;
          this.state = flags & FrameFlag.LONG ? DecoderState.SIZE_LONG : DecoderState.SIZE_SHORT;
          break;
        }
        case DecoderState.SIZE_SHORT: {
          if (this.buffered < 1) return;
          if (!this.setSize(this.takeByte())) return;
          break;
        }
        case DecoderState.SIZE_LONG: {
          if (this.buffered < 8) return;
          const size = readU64(this.take(8), 0);
          if (size < 0) {
            return this.fail(createError(ErrorCode.FRAME_TOO_LARGE, 'frame declares a size above 2^53-1'));
          }
          if (!this.setSize(size)) return;
          break;
        }
        case DecoderState.BODY: {
          if (this.buffered < this.size) return;
          const body = this.take(this.size);
          this.state = DecoderState.FLAGS;
          this.sink.onFrame(this.flags, body);
          break;
        }
        default:
          return;
      }
    }
  }

  /** Changes the limits for the frames still to come (the session lifts its handshake cap). */
  setLimits(limits: DecoderLimits): void {
    this.limits = limits;
  }

  private setSize(size: number): boolean {
    if (size > this.limits.maxFrameSize) {
      this.fail(createError(ErrorCode.FRAME_TOO_LARGE, `frame of ${size} bytes exceeds the limit of ${this.limits.maxFrameSize}`));
      return false;
    }
    this.size = size;
    this.state = DecoderState.BODY;
    return true;
  }

  private takeByte(): number {
    const first = this.chunks[this.head]!;
    const b = first[this.offset++]!;
    this.buffered--;
    if (this.offset === first.length) this.dropFirst();
    return b;
  }

  /** The first chunk is used up: advance, and compact once the dead prefix dominates. */
  private dropFirst(): void {
    this.offset = 0;
    if (++this.head === this.chunks.length) {
      this.chunks = [];
      this.head = 0;
      this.tailIndex = -1;
    } else if (this.head >= 1024 && this.head * 2 >= this.chunks.length) {
      this.chunks = this.chunks.slice(this.head);
      this.tailIndex -= this.head;
      this.head = 0;
    }
  }

  /** n bytes as a view when they lie in the first chunk, else one copy. Caller checked `buffered`. */
  private take(n: number): Uint8Array {
    this.buffered -= n;
    const first = this.chunks[this.head];
    if (n === 0 || first === undefined) return alloc(0);
    const avail = first.length - this.offset;
    if (n <= avail) {
      const view = first.subarray(this.offset, this.offset + n);
      this.offset += n;
      if (this.offset === first.length) this.dropFirst();
      return view;
    }
    const out = alloc(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.chunks[this.head]!;
      const count = Math.min(chunk.length - this.offset, n - filled);
      out.set(chunk.subarray(this.offset, this.offset + count), filled);
      filled += count;
      this.offset += count;
      if (this.offset === chunk.length) this.dropFirst();
    }
    return out;
  }
}

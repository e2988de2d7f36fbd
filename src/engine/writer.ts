import { alloc, writeU64 } from '../util/bytes.ts';
import { FrameFlag, SHORT_FRAME_MAX } from '../zmtp/constants.ts';

const ARENA_SIZE = 256 * 1024;
/** Bodies up to this size are copied next to their header; larger ones go out as their own chunk, uncopied. */
const COPY_LIMIT = 4 * 1024;

/**
 * Bump allocator shared by every writer in the process. A region once handed to a transport is
 * never written again, so idle connections hold no buffer of their own (10k connections cost no
 * 10k batch buffers) and busy ones still coalesce small frames into large chunks.
 */
class Arena {
  buf: Uint8Array = alloc(ARENA_SIZE);
  pos = 0;
}
const sharedArena = new Arena();
/** Where fanned-out messages are encoded, apart from the sessions' arena so that they stay contiguous. */
const fanoutArena = new Arena();

/** Wire bytes of a whole message (every frame with its header): buf[start, end). */
export interface EncodedMessage {
  readonly buf: Uint8Array;
  readonly start: number;
  readonly end: number;
}

/** A message may carry its encoding under this symbol (invisible to code that reads its frames). */
export const ENCODED: unique symbol = Symbol('purezmq.encoded');
export type MaybeEncoded = Uint8Array[] & { [ENCODED]?: EncodedMessage };

/** Writes one frame (header, then the body unless `withBody` is false) at b[p]; returns the end. */
function putFrame(b: Uint8Array, p: number, flags: number, body: Uint8Array, withBody: boolean): number {
  const size = body.length;
  if (size > SHORT_FRAME_MAX) {
    b[p] = flags | FrameFlag.LONG;
    writeU64(b, p + 1, size);
    p += 9;
  } else {
    b[p] = flags;
    b[p + 1] = size;
    p += 2;
  }
  if (withBody) {
    if (size === 1) b[p] = body[0]!;
    else if (size > 0) b.set(body, p);
    p += size;
  }
  return p;
}

/**
 * Encodes a message once for every session it fans out to (PUB, XPUB): consecutive messages sit
 * side by side, so a session that sends a run of them writes one view of these bytes instead of
 * copying each frame into its own batch. Undefined when a frame is too large to copy.
 */
export function encodeOnce(frames: readonly Uint8Array[]): EncodedMessage | undefined {
  let size = 0;
  for (const f of frames) {
    if (f.length > COPY_LIMIT) return undefined;
    size += f.length + (f.length > SHORT_FRAME_MAX ? 9 : 2);
  }
  const a = fanoutArena;
  if (a.pos + size > a.buf.length) {
    a.buf = alloc(ARENA_SIZE);
    a.pos = 0;
  }
  const b = a.buf;
  const start = a.pos;
  let p = start;
  const last = frames.length - 1;
  for (let i = 0; i <= last; i++) p = putFrame(b, p, i < last ? FrameFlag.MORE : 0, frames[i]!, true);
  a.pos = p;
  return { buf: b, start, end: p };
}

/**
 * Frame encoder that coalesces many small frames into few large chunks: headers and small bodies
 * are written into the arena, large bodies are passed through without a copy.
 */
export class FrameWriter {
  private readonly arena: Arena;
  private region: Uint8Array | undefined; // arena buffer holding our open region
  private start = 0; // open region: [start, pos) of `region`
  private pos = 0;
  private out: Uint8Array[] = [];
  private outBytes = 0;
  // open run of pre-encoded messages: [encStart, encEnd) of encBuf (at most one of the two regions is open)
  private encBuf: Uint8Array | undefined;
  private encStart = 0;
  private encEnd = 0;

  constructor(arena: Arena = sharedArena) {
    this.arena = arena;
  }

  /** Bytes encoded and not yet taken. */
  get pendingBytes(): number {
    return this.outBytes + (this.pos - this.start) + (this.encEnd - this.encStart);
  }

  writeFrame(flags: number, body: Uint8Array): void {
    if (this.encBuf) this.cut();
    const size = body.length;
    const copy = size <= COPY_LIMIT;
    const b = this.reserve((size > SHORT_FRAME_MAX ? 9 : 2) + (copy ? size : 0));
    this.pos = this.arena.pos = putFrame(b, this.pos, flags, body, copy);
    if (!copy) {
      this.cut();
      this.out.push(body);
      this.outBytes += size;
    }
  }

  /** A multipart message: MORE on every frame but the last. */
  writeMessage(frames: readonly Uint8Array[]): void {
    const last = frames.length - 1;
    for (let i = 0; i < last; i++) this.writeFrame(FrameFlag.MORE, frames[i]!);
    this.writeFrame(0, frames[last]!);
  }

  writeCommand(body: Uint8Array): void {
    this.writeFrame(FrameFlag.COMMAND, body);
  }

  /** A message encoded by encodeOnce(): extends the open run when it follows it in the same buffer. */
  writeEncoded(e: EncodedMessage): void {
    if (this.encBuf === e.buf && this.encEnd === e.start) {
      this.encEnd = e.end;
      return;
    }
    this.cut();
    this.encBuf = e.buf;
    this.encStart = e.start;
    this.encEnd = e.end;
  }

  /** Raw bytes (the greeting). */
  writeRaw(bytes: Uint8Array): void {
    this.cut();
    this.out.push(bytes);
    this.outBytes += bytes.length;
  }

  /** Everything encoded so far, as chunks ready for one vectored write. */
  take(): Uint8Array[] {
    this.cut();
    const out = this.out;
    this.out = [];
    this.outBytes = 0;
    return out;
  }

  private cut(): void {
    if (this.pos > this.start) {
      const chunk = this.region!.subarray(this.start, this.pos);
      this.out.push(chunk);
      this.outBytes += chunk.length;
    }
    this.start = this.pos;
    if (this.encBuf) {
      this.out.push(this.encBuf.subarray(this.encStart, this.encEnd));
      this.outBytes += this.encEnd - this.encStart;
      this.encBuf = undefined;
      this.encStart = this.encEnd = 0;
    }
  }

  /** Makes room for n bytes at this.pos and returns the buffer to write into. */
  private reserve(n: number): Uint8Array {
    const a = this.arena;
    // another writer used the arena since our last write: our region cannot grow in place
    if (this.region !== a.buf || this.pos !== a.pos) {
      this.cut();
      this.region = a.buf;
      this.start = this.pos = a.pos;
    }
    if (a.pos + n > a.buf.length) {
      this.cut();
      a.buf = alloc(Math.max(ARENA_SIZE, n));
      a.pos = 0;
      this.region = a.buf;
      this.start = this.pos = 0;
    }
    return a.buf;
  }
}

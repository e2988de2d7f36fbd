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

  constructor(arena: Arena = sharedArena) {
    this.arena = arena;
  }

  /** Bytes encoded and not yet taken. */
  get pendingBytes(): number {
    return this.outBytes + (this.pos - this.start);
  }

  writeFrame(flags: number, body: Uint8Array): void {
    const size = body.length;
    const long = size > SHORT_FRAME_MAX;
    const headerSize = long ? 9 : 2;
    const copy = size <= COPY_LIMIT;
    const b = this.reserve(copy ? headerSize + size : headerSize);
    let p = this.pos;
    if (long) {
      b[p] = flags | FrameFlag.LONG;
      writeU64(b, p + 1, size);
      p += 9;
    } else {
      b[p] = flags;
      b[p + 1] = size;
      p += 2;
    }
    if (copy) {
      if (size === 1) b[p] = body[0]!;
      else if (size > 0) b.set(body, p);
      p += size;
    }
    this.pos = this.arena.pos = p;
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

import { alloc, writeU64 } from '../util/bytes.ts';
import { FrameFlag, SHORT_FRAME_MAX } from '../zmtp/constants.ts';

const BATCH_SIZE = 64 * 1024;
/** Bodies up to this size are copied into the batch; larger ones go out as their own chunk, uncopied. */
const COPY_LIMIT = 4 * 1024;

/**
 * Frame encoder that coalesces many small frames into few large chunks.
 * Headers (and small bodies) are bump-allocated from a batch buffer; a region once handed out
 * is never written again, since the transport may still hold it.
 */
export class FrameWriter {
  private batch: Uint8Array = alloc(BATCH_SIZE);
  private start = 0; // first byte not yet handed out
  private pos = 0; // next free byte
  private out: Uint8Array[] = [];
  private outBytes = 0;

  /** Bytes encoded and not yet taken. */
  get pendingBytes(): number {
    return this.outBytes + (this.pos - this.start);
  }

  writeFrame(flags: number, body: Uint8Array): void {
    const size = body.length;
    const long = size > SHORT_FRAME_MAX;
    const headerSize = long ? 9 : 2;
    const copy = size <= COPY_LIMIT;
    this.reserve(copy ? headerSize + size : headerSize);
    const b = this.batch;
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
      this.pos = p + size;
    } else {
      this.pos = p;
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
      const chunk = this.batch.subarray(this.start, this.pos);
      this.out.push(chunk);
      this.outBytes += chunk.length;
      this.start = this.pos;
    }
  }

  private reserve(n: number): void {
    if (this.pos + n <= this.batch.length) return;
    this.cut();
    this.batch = alloc(Math.max(BATCH_SIZE, n));
    this.start = this.pos = 0;
  }
}

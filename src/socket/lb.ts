import type { Message } from '../engine/link.ts';
import type { Pipe } from './pipe.ts';

/** Round-robin over pipes with room (RFC 28/30: a whole message goes to one peer). */
export class LoadBalancer {
  private readonly pipes: Pipe[] = [];
  private next = 0;

  get size(): number {
    return this.pipes.length;
  }

  add(pipe: Pipe): void {
    this.pipes.push(pipe);
  }

  remove(pipe: Pipe): void {
    const i = this.pipes.indexOf(pipe);
    if (i < 0) return;
    this.pipes.splice(i, 1);
    if (this.next > i) this.next--;
    if (this.next >= this.pipes.length) this.next = 0;
  }

  /** Writes to the next pipe with room and returns it; undefined when every pipe is full. */
  send(msg: Message): Pipe | undefined {
    const pipes = this.pipes;
    const n = pipes.length;
    for (let i = 0; i < n; i++) {
      const idx = (this.next + i) % n;
      const pipe = pipes[idx]!;
      if (pipe.writable) {
        pipe.write(msg);
        this.next = (idx + 1) % n;
        return pipe;
      }
    }
    return undefined;
  }
}

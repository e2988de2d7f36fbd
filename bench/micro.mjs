// tinybench micro-benchmarks on prebuilt frames: encode and decode, no I/O.
import { Bench } from 'tinybench';
import { FrameDecoder, FrameWriter } from '../dist/internal.js';

function framesOf(size, count) {
  const w = new FrameWriter();
  const body = new Uint8Array(size).fill(1);
  for (let i = 0; i < count; i++) w.writeMessage([body]);
  return w.take();
}

export async function runMicro(quick) {
  const bench = new Bench({ time: quick ? 200 : 1000 });
  for (const size of [16, 1024, 65536]) {
    const count = size === 65536 ? 16 : 1000;
    const chunks = framesOf(size, count);
    const body = new Uint8Array(size);
    bench.add(`encode ${count} × ${size} B`, () => {
      const w = new FrameWriter();
      for (let i = 0; i < count; i++) w.writeMessage([body]);
      w.take();
    });
    bench.add(`decode ${count} × ${size} B`, () => {
      let frames = 0;
      const d = new FrameDecoder({ onGreeting() {}, onFrame() { frames++; }, onDecodeError(e) { throw e; } }, { maxFrameSize: 1 << 30 }, false);
      for (const c of chunks) d.push(c);
      if (frames !== count) throw new Error('decode lost frames');
    });
  }
  await bench.run();
  console.table(bench.table());
}

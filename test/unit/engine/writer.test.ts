import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { encodeOnce, FrameWriter } from '../../../src/engine/writer.ts';
import { FrameFlag } from '../../../src/zmtp/constants.ts';
import { concatBytes, hex, unhex } from '../../_helpers/decode.ts';

const te = new TextEncoder();

function bytesOf(w: FrameWriter): Uint8Array {
  return concatBytes(w.take());
}

function pattern(n: number, seed = 0): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i + seed) & 0xff;
  return b;
}

describe('engine/writer FrameWriter headers', () => {
  it('short form for bodies of 0..255 bytes: flags + 1-byte size', () => {
    const w = new FrameWriter();
    w.writeFrame(0, te.encode('hello'));
    expect(hex(bytesOf(w))).toBe('000568656c6c6f');
    w.writeFrame(0, new Uint8Array(0));
    expect(hex(bytesOf(w))).toBe('0000');
    w.writeFrame(0, pattern(255));
    const out = bytesOf(w);
    expect(out.length).toBe(257);
    expect(hex(out.subarray(0, 2))).toBe('00ff');
  });

  it('long form from 256 bytes on, as libzmq does: LONG flag + 8-byte big-endian size', () => {
    const w = new FrameWriter();
    w.writeFrame(0, pattern(256));
    const out = bytesOf(w);
    expect(hex(out.subarray(0, 9))).toBe('020000000000000100');
    expect(out.length).toBe(265);
    w.writeFrame(0, pattern(300));
    expect(hex(bytesOf(w).subarray(0, 9))).toBe('02000000000000012c');
    w.writeFrame(FrameFlag.MORE, pattern(70000));
    expect(hex(bytesOf(w).subarray(0, 9))).toBe('030000000000011170');
    w.writeCommand(pattern(1000));
    expect(hex(bytesOf(w).subarray(0, 9))).toBe('0600000000000003e8');
  });

  it('writeCommand sets COMMAND (0x04)', () => {
    const w = new FrameWriter();
    w.writeCommand(unhex('04504f4e47'));
    expect(hex(bytesOf(w))).toBe('040504504f4e47');
  });

  it('writeMessage: MORE on every frame but the last', () => {
    const w = new FrameWriter();
    w.writeMessage([te.encode('a'), new Uint8Array(0), te.encode('b')]);
    expect(hex(bytesOf(w))).toBe('01016101000001' + '62');
    w.writeMessage([te.encode('solo')]);
    expect(hex(bytesOf(w))).toBe('0004736f6c6f');
    w.writeMessage([pattern(256), te.encode('x')]);
    const out = bytesOf(w);
    expect(out[0]).toBe(0x03);
    expect(hex(out.subarray(265))).toBe('000178');
  });

  it('writeRaw passes bytes through uncopied and in order with frames', () => {
    const w = new FrameWriter();
    const greeting = new Uint8Array(64).fill(1);
    w.writeFrame(0, te.encode('a'));
    w.writeRaw(greeting);
    w.writeFrame(0, te.encode('b'));
    const chunks = w.take();
    expect(chunks.length).toBe(3);
    expect(chunks[1]).toBe(greeting);
    expect(hex(chunks[0]!)).toBe('000161');
    expect(hex(chunks[2]!)).toBe('000162');
  });
});

describe('engine/writer FrameWriter batching and copying', () => {
  it('many small frames are coalesced into few chunks (not one per frame)', () => {
    const w = new FrameWriter();
    for (let i = 0; i < 1000; i++) w.writeFrame(i === 999 ? 0 : FrameFlag.MORE, Uint8Array.of(i & 0xff));
    const chunks = w.take();
    // one chunk, or two if the shared buffer ran out mid-way
    expect(chunks.length).toBeLessThanOrEqual(2);
    const out = concatBytes(chunks);
    expect(out.length).toBe(3000);
    expect(hex(out.subarray(0, 6))).toBe('010100010101');
    expect(hex(out.subarray(2997))).toBe('0001e7');
    expect(w.take()).toEqual([]);
  });

  it('bodies up to 4 KiB are copied into the batch (the caller may reuse them)', () => {
    const w = new FrameWriter();
    const body = pattern(4096);
    w.writeFrame(0, body);
    const chunks = w.take();
    expect(chunks.length).toBe(1);
    expect(chunks[0]!.buffer).not.toBe(body.buffer);
    body.fill(0);
    expect(chunks[0]![9]).toBe(0);
    expect(chunks[0]![10]).toBe(1);
  });

  it('bodies above 4 KiB are passed through uncopied (the same object), header written just before them', () => {
    const w = new FrameWriter();
    const big = pattern(4097);
    w.writeFrame(0, te.encode('x'));
    w.writeFrame(FrameFlag.MORE, big);
    w.writeFrame(0, te.encode('y'));
    const chunks = w.take();
    const i = chunks.indexOf(big);
    expect(i).toBeGreaterThan(0);
    expect(hex(concatBytes(chunks.slice(0, i)))).toBe('000178' + '030000000000001001');
    expect(hex(concatBytes(chunks.slice(i + 1)))).toBe('000179');
    // exactly 4096 is still copied
    w.writeFrame(0, pattern(4096));
    expect(w.take().some((c) => c.length === 4096)).toBe(false);
  });

  it('pendingBytes counts batched and passed-through bytes until take()', () => {
    const w = new FrameWriter();
    expect(w.pendingBytes).toBe(0);
    w.writeFrame(0, pattern(10));
    expect(w.pendingBytes).toBe(12);
    w.writeFrame(0, pattern(5000));
    expect(w.pendingBytes).toBe(12 + 9 + 5000);
    w.writeRaw(new Uint8Array(64));
    expect(w.pendingBytes).toBe(12 + 9 + 5000 + 64);
    const total = w.take().reduce((n, c) => n + c.length, 0);
    expect(total).toBe(12 + 9 + 5000 + 64);
    expect(w.pendingBytes).toBe(0);
  });

  it('spills into new buffers when one fills up, keeping every byte in order', () => {
    const w = new FrameWriter();
    const frames: Uint8Array[] = [];
    for (let i = 0; i < 300; i++) frames.push(pattern(4000, i)); // 300 × 4009 bytes ≈ 1.2 MB, all copied
    w.writeMessage(frames);
    const chunks = w.take();
    expect(chunks.length).toBeGreaterThan(1);
    const out = concatBytes(chunks);
    expect(out.length).toBe(300 * 4009);
    for (let i = 0; i < 300; i++) {
      const off = i * 4009;
      expect(out[off]).toBe(i === 299 ? 0x02 : 0x03);
      expect(hex(out.subarray(off + 1, off + 9))).toBe('0000000000000fa0');
      expect(Buffer.compare(Buffer.from(out.subarray(off + 9, off + 4009)), Buffer.from(frames[i]!))).toBe(0);
    }
  });

  it('a region once taken is never written again (the transport may still hold it)', () => {
    const w = new FrameWriter();
    w.writeFrame(0, te.encode('first'));
    const [taken] = w.take();
    const snapshot = hex(taken!);
    for (let i = 0; i < 100; i++) w.writeFrame(0, pattern(200, i));
    w.take();
    expect(hex(taken!)).toBe(snapshot);
  });

  it('interleaved writers never overwrite each other\'s pending or taken bytes', () => {
    const a = new FrameWriter();
    const b = new FrameWriter();
    const takenA: Uint8Array[] = [];
    const takenB: Uint8Array[] = [];
    const expectA: Uint8Array[] = [];
    const expectB: Uint8Array[] = [];
    for (let i = 0; i < 500; i++) {
      const bodyA = pattern(1 + ((i * 37) % 700), i);
      const bodyB = pattern(1 + ((i * 53) % 900), i + 1);
      a.writeFrame(0, bodyA);
      b.writeFrame(FrameFlag.MORE, bodyB);
      expectA.push(concatBytes([bodyA.length > 255 ? unhex('02' + bodyA.length.toString(16).padStart(16, '0')) : Uint8Array.of(0, bodyA.length), bodyA]));
      expectB.push(concatBytes([bodyB.length > 255 ? unhex('03' + bodyB.length.toString(16).padStart(16, '0')) : Uint8Array.of(1, bodyB.length), bodyB]));
      if (i % 7 === 0) takenA.push(...a.take());
      if (i % 11 === 0) takenB.push(...b.take());
    }
    takenA.push(...a.take());
    takenB.push(...b.take());
    expect(Buffer.compare(Buffer.from(concatBytes(takenA)), Buffer.from(concatBytes(expectA)))).toBe(0);
    expect(Buffer.compare(Buffer.from(concatBytes(takenB)), Buffer.from(concatBytes(expectB)))).toBe(0);
  });

  it('a body larger than the batch (copied path not taken) does not need a batch that big', () => {
    const w = new FrameWriter();
    const huge = pattern(200000);
    w.writeFrame(0, huge);
    const chunks = w.take();
    expect(chunks.length).toBe(2);
    expect(chunks[0]!.length).toBe(9);
    expect(chunks[1]).toBe(huge);
  });
});

describe('engine/writer encodeOnce + writeEncoded (fan-out)', () => {
  const reference = (msg: Uint8Array[]): Uint8Array => {
    const w = new FrameWriter();
    w.writeMessage(msg);
    return bytesOf(w);
  };

  it('encodes exactly what writeMessage writes: short and long frames, MORE on all but the last', () => {
    for (const msg of [[te.encode('topic'), pattern(3)], [pattern(0)], [pattern(255), pattern(256), pattern(4096)], [pattern(1)]]) {
      const e = encodeOnce(msg)!;
      expect(hex(e.buf.subarray(e.start, e.end))).toBe(hex(reference(msg)));
    }
  });

  it('a frame over the copy limit is not encoded (it goes out uncopied per session instead)', () => {
    expect(encodeOnce([te.encode('t'), pattern(4097)])).toBeUndefined();
  });

  it('a run of consecutive encoded messages leaves as one chunk, the same bytes for every session', () => {
    const msgs = Array.from({ length: 50 }, (_, i) => [te.encode(`t${i}`), pattern(10 + i, i)]);
    const encoded = msgs.map((m) => encodeOnce(m)!);
    const a = new FrameWriter();
    const b = new FrameWriter();
    for (const e of encoded) {
      a.writeEncoded(e);
      b.writeEncoded(e);
    }
    expect(a.pendingBytes).toBe(msgs.reduce((n, m) => n + reference(m).length, 0));
    const chunksA = a.take();
    const chunksB = b.take();
    expect(chunksA).toHaveLength(1);
    expect(chunksB[0]!.buffer).toBe(chunksA[0]!.buffer); // shared, not copied
    expect(hex(chunksA[0]!)).toBe(hex(concatBytes(msgs.map(reference))));
  });

  it('any mix of shared messages (some skipped, as at a HWM), own frames, commands and takes keeps every byte in order', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.record({ kind: fc.constant('shared' as const), frames: fc.array(fc.integer({ min: 0, max: 600 }), { minLength: 1, maxLength: 3 }), skipA: fc.boolean(), skipB: fc.boolean() }),
            fc.record({ kind: fc.constant('own' as const), size: fc.integer({ min: 0, max: 6000 }) }),
            fc.record({ kind: fc.constant('take' as const) }),
          ),
          { maxLength: 60 },
        ),
        (ops) => {
          const writers = [new FrameWriter(), new FrameWriter()];
          const got: Uint8Array[][] = [[], []];
          const want: Uint8Array[][] = [[], []];
          ops.forEach((op, n) => {
            if (op.kind === 'shared') {
              const msg = op.frames.map((size, i) => pattern(size, n + i));
              const e = encodeOnce(msg);
              [op.skipA, op.skipB].forEach((skip, k) => {
                if (skip) return;
                if (e) writers[k]!.writeEncoded(e);
                else writers[k]!.writeMessage(msg);
                want[k]!.push(reference(msg));
              });
            } else if (op.kind === 'own') {
              writers.forEach((w, k) => {
                const body = pattern(op.size, n + k);
                if (n % 2 === 0) w.writeCommand(body);
                else w.writeFrame(FrameFlag.MORE, body);
                const r = new FrameWriter();
                if (n % 2 === 0) r.writeCommand(body);
                else r.writeFrame(FrameFlag.MORE, body);
                want[k]!.push(bytesOf(r));
              });
            } else {
              writers.forEach((w, k) => got[k]!.push(...w.take()));
            }
          });
          writers.forEach((w, k) => {
            got[k]!.push(...w.take());
            expect(hex(concatBytes(got[k]!))).toBe(hex(concatBytes(want[k]!)));
          });
        },
      ),
      { numRuns: 200 },
    );
  });
});

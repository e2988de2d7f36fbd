import { describe, expect, it } from 'vitest';
import { ErrorCode, ProtocolError, type ZmqError } from '../../../src/errors.ts';
import { DecoderState, FrameDecoder } from '../../../src/zmtp/decoder.ts';
import { encodeGreeting } from '../../../src/zmtp/greeting.ts';
import { byteChunks, concatBytes, decodeChunks, hex, RecordingSink, unhex } from '../../_helpers/decode.ts';

const S = DecoderState;

function expectError(err: ZmqError | undefined, code: string, message: string): void {
  expect(err).toBeInstanceOf(ProtocolError);
  expect(err!.code).toBe(code);
  expect(err!.message).toBe(message);
}

function longHeader(flags: number, sizeHex16: string): Uint8Array {
  return unhex(flags.toString(16).padStart(2, '0') + sizeHex16);
}

describe('zmtp/decoder FrameDecoder states', () => {
  it('starts in SIGNATURE with a greeting expected, FLAGS without', () => {
    expect(new FrameDecoder(new RecordingSink(), { maxFrameSize: 10 }).state).toBe(S.SIGNATURE);
    expect(new FrameDecoder(new RecordingSink(), { maxFrameSize: 10 }, true).state).toBe(S.SIGNATURE);
    expect(new FrameDecoder(new RecordingSink(), { maxFrameSize: 10 }, false).state).toBe(S.FLAGS);
  });

  it('walks greeting → flags → size → body → flags, waiting in each state for its bytes', () => {
    const g = encodeGreeting('NULL', false);
    const stream = concatBytes([g, unhex('010141'), unhex('02' + '0000000000000002' + '4243')]);
    const { states, sink } = decodeChunks(byteChunks(stream), { expectGreeting: true });
    const expected = [
      ...Array(9).fill(S.SIGNATURE), // bytes 1..9 of the signature
      S.VERSION, // signature complete
      ...Array(53).fill(S.GREETING_REST), // byte 10 (major) .. byte 62
      S.FLAGS, // greeting complete
      S.SIZE_SHORT, S.BODY, S.FLAGS, // 01 01 'A'
      S.SIZE_LONG, ...Array(7).fill(S.SIZE_LONG), S.BODY, S.BODY, S.FLAGS, // 02 <8> 'BC'
    ];
    expect(states).toEqual(expected);
    expect(sink.events.map((e) => e.type)).toEqual(['greeting', 'frame', 'frame']);
    expect(sink.greetings[0]).toEqual({ major: 3, minor: 1, mechanism: 'NULL', asServer: false });
    expect(sink.frames.map((f) => [f.flags, hex(f.body)])).toEqual([[0x01, '41'], [0x02, '4243']]);
  });

  it('a zero-length body completes on its size byte', () => {
    const { states, sink } = decodeChunks(byteChunks(unhex('0100' + '0200000000000000' + '00')));
    expect(states).toEqual([S.SIZE_SHORT, S.FLAGS, S.SIZE_LONG, ...Array(7).fill(S.SIZE_LONG), S.FLAGS]);
    expect(sink.frames.map((f) => [f.flags, f.body.length])).toEqual([[1, 0], [2, 0]]);
  });

  it('delivers flags as received: MORE, LONG and COMMAND bits, and long form for a small body (libzmq accepts it)', () => {
    const stream = unhex('00016101016102000000000000000363636304020a0b06000000000000000164');
    const { sink } = decodeChunks([stream]);
    expect(sink.errors).toEqual([]);
    expect(sink.frames.map((f) => [f.flags, hex(f.body)])).toEqual([
      [0x00, '61'],
      [0x01, '61'],
      [0x02, '636363'],
      [0x04, '0a0b'],
      [0x06, '64'],
    ]);
  });

  it('MORE|LONG (0x03) is a valid multipart long frame', () => {
    const body = new Uint8Array(300).fill(7);
    const { sink } = decodeChunks([concatBytes([longHeader(3, '000000000000012c'), body, unhex('0000')])]);
    expect(sink.frames.map((f) => [f.flags, f.body.length])).toEqual([[3, 300], [0, 0]]);
  });

  it('reports the greeting before any frame that arrived in the same chunk', () => {
    const { sink, decoder } = decodeChunks([concatBytes([encodeGreeting('PLAIN', true), unhex('000141')])], { expectGreeting: true });
    expect(sink.events.map((e) => e.type)).toEqual(['greeting', 'frame']);
    expect(sink.greetings[0]).toEqual({ major: 3, minor: 1, mechanism: 'PLAIN', asServer: true });
    expect(decoder.state).toBe(S.FLAGS);
  });

  it('counts buffered bytes of an incomplete frame and ignores empty chunks', () => {
    const { decoder, sink } = decodeChunks([unhex('0005'), new Uint8Array(0), unhex('6162')]);
    expect(decoder.bufferedBytes).toBe(2);
    expect(decoder.state).toBe(S.BODY);
    decoder.push(new Uint8Array(0));
    decoder.push(unhex('636465'));
    expect(decoder.bufferedBytes).toBe(0);
    expect(sink.frames.map((f) => hex(f.body))).toEqual(['6162636465']);
  });

  it('a push() from inside onFrame is queued behind the current bytes, order kept', () => {
    const sink = new RecordingSink();
    const d = new FrameDecoder(sink, { maxFrameSize: 100 }, false);
    let pushed = false;
    sink.onFrameHook = () => {
      if (!pushed) {
        pushed = true;
        d.push(unhex('000133'));
      }
    };
    d.push(unhex('000131000132'));
    expect(sink.frames.map((f) => hex(f.body))).toEqual(['31', '32', '33']);
  });
});

describe('zmtp/decoder greeting errors', () => {
  it('bad signature is reported as soon as the 10 signature bytes are in (not after 64)', () => {
    const g = encodeGreeting('NULL', false);
    g[0] = 0x00;
    const sink = new RecordingSink();
    const d = new FrameDecoder(sink, { maxFrameSize: 100 }, true);
    d.push(g.subarray(0, 9));
    expect(sink.events).toEqual([]);
    d.push(g.subarray(9, 10));
    expect(sink.events.length).toBe(1);
    expectError(sink.errors[0], ErrorCode.BAD_GREETING, 'peer greeting has no ZMTP 3 signature (ZMTP 1.0 or not ZeroMQ)');
    expect(d.state).toBe(S.FAILED);
  });

  it('ZMTP 2.0 peer (revision 0x01) is refused after byte 10, before the rest of a 3.x greeting', () => {
    const sink = new RecordingSink();
    const d = new FrameDecoder(sink, { maxFrameSize: 100 }, true);
    d.push(unhex('ff00000000000000017f' + '01'));
    expectError(sink.errors[0], ErrorCode.UNSUPPORTED_VERSION, 'peer speaks ZMTP 2.0, need 3.0 or later');
    expect(d.bufferedBytes).toBe(0);
  });

  it('bad mechanism is reported once the full greeting is in', () => {
    const g = encodeGreeting('NULL', false);
    g[13] = 0x75; // "NuLL"
    const { sink, states } = decodeChunks([g.subarray(0, 63), g.subarray(63)], { expectGreeting: true });
    expect(states).toEqual([S.GREETING_REST, S.FAILED]);
    expectError(sink.errors[0], ErrorCode.BAD_GREETING, 'peer greeting has an invalid mechanism name');
    expect(sink.greetings).toEqual([]);
  });

  it('minor 0 is accepted', () => {
    const { sink } = decodeChunks([encodeGreeting('NULL', false, 0)], { expectGreeting: true });
    expect(sink.greetings).toEqual([{ major: 3, minor: 0, mechanism: 'NULL', asServer: false }]);
  });
});

describe('zmtp/decoder frame errors', () => {
  it('each reserved flag bit → ERR_ZMTP_RESERVED_FLAGS on the flags byte alone', () => {
    for (let bit = 3; bit < 8; bit++) {
      for (const low of [0, 1, 2, 4, 6]) {
        const flags = (1 << bit) | low;
        const { sink, decoder } = decodeChunks([Uint8Array.of(flags)]);
        expect(sink.events.length).toBe(1);
        expectError(sink.errors[0], ErrorCode.RESERVED_FLAGS, `frame flags 0x${flags.toString(16)} set reserved bits`);
        expect(decoder.state).toBe(S.FAILED);
      }
    }
    const { sink } = decodeChunks([unhex('000141f00141')]);
    expect(sink.frames.length).toBe(1);
    expectError(sink.errors[0], ErrorCode.RESERVED_FLAGS, 'frame flags 0xf0 set reserved bits');
  });

  it('command frame with MORE (0x05, 0x07) → ERR_ZMTP_MALFORMED_COMMAND_UNSPECIFIED', () => {
    for (const flags of [0x05, 0x07]) {
      const { sink } = decodeChunks([Uint8Array.of(flags)]);
      expectError(sink.errors[0], ErrorCode.BAD_COMMAND, 'command frame has the MORE flag');
    }
  });

  it('64-bit size of 2^53 and above → ERR_ZMTP_FRAME_TOO_LARGE from the header alone, nothing buffered', () => {
    for (const size of ['0020000000000000', '0020000000000001', '7fffffffffffffff', 'ffffffffffffffff', '8000000000000000']) {
      for (const flags of [0x02, 0x03, 0x06]) {
        const sink = new RecordingSink();
        const d = new FrameDecoder(sink, { maxFrameSize: Infinity }, false);
        d.push(longHeader(flags, size));
        expect(sink.events.length).toBe(1);
        expectError(sink.errors[0], ErrorCode.FRAME_TOO_LARGE, 'frame declares a size above 2^53-1');
        expect(d.bufferedBytes).toBe(0);
        expect(d.state).toBe(S.FAILED);
        d.push(new Uint8Array(1024)); // body bytes that follow are dropped, not buffered
        expect(d.bufferedBytes).toBe(0);
        expect(sink.events.length).toBe(1);
      }
    }
  });

  it('2^53-1 is a legal size: with no limit the decoder waits for the body without allocating it', () => {
    const sink = new RecordingSink();
    const d = new FrameDecoder(sink, { maxFrameSize: Infinity }, false);
    d.push(longHeader(2, '001fffffffffffff'));
    expect(d.state).toBe(S.BODY);
    expect(sink.events).toEqual([]);
    d.push(new Uint8Array(10));
    expect(d.bufferedBytes).toBe(10);
  });

  it('maxFrameSize is checked on the declared size: the error comes after the 2-byte header, before any body byte', () => {
    const sink = new RecordingSink();
    const d = new FrameDecoder(sink, { maxFrameSize: 10 }, false);
    d.push(unhex('00'));
    expect(sink.events).toEqual([]);
    d.push(unhex('0b'));
    expect(sink.events.length).toBe(1);
    expectError(sink.errors[0], ErrorCode.FRAME_TOO_LARGE, 'frame of 11 bytes exceeds the limit of 10');
    expect(d.bufferedBytes).toBe(0);
    d.push(new Uint8Array(11));
    expect(sink.events.length).toBe(1);
    expect(sink.frames).toEqual([]);
  });

  it('maxFrameSize on the long form: error after the 9-byte header', () => {
    const sink = new RecordingSink();
    const d = new FrameDecoder(sink, { maxFrameSize: 1000 }, false);
    const header = longHeader(2, '00000000000f4240'); // 1,000,000
    d.push(header.subarray(0, 8));
    expect(sink.events).toEqual([]);
    d.push(header.subarray(8));
    expectError(sink.errors[0], ErrorCode.FRAME_TOO_LARGE, 'frame of 1000000 bytes exceeds the limit of 1000');
  });

  it('maxFrameSize applies to command frames too (libzmq: handshake frames count)', () => {
    const { sink } = decodeChunks([unhex('041b')], { maxFrameSize: 10 });
    expectError(sink.errors[0], ErrorCode.FRAME_TOO_LARGE, 'frame of 27 bytes exceeds the limit of 10');
  });

  it('a frame of exactly maxFrameSize passes; the limit is per frame, not per message', () => {
    const { sink } = decodeChunks([unhex('010a' + '41'.repeat(10) + '000a' + '42'.repeat(10))], { maxFrameSize: 10 });
    expect(sink.errors).toEqual([]);
    expect(sink.frames.map((f) => f.body.length)).toEqual([10, 10]);
  });

  it('maxFrameSize 0 allows only empty frames', () => {
    const { sink } = decodeChunks([unhex('0100' + '0000' + '0001')], { maxFrameSize: 0 });
    expect(sink.frames.length).toBe(2);
    expectError(sink.errors[0], ErrorCode.FRAME_TOO_LARGE, 'frame of 1 bytes exceeds the limit of 0');
  });

  it('after an error: exactly one report, state FAILED, later pushes ignored', () => {
    const sink = new RecordingSink();
    const d = new FrameDecoder(sink, { maxFrameSize: 100 }, false);
    d.push(unhex('000141' + '08' + '000142'));
    expect(sink.events.map((e) => e.type)).toEqual(['frame', 'error']);
    d.push(unhex('000143'));
    d.resume();
    expect(sink.events.length).toBe(2);
    expect(d.state).toBe(S.FAILED);
    expect(d.bufferedBytes).toBe(0);
  });
});

describe('zmtp/decoder pause / resume / stop', () => {
  it('pause() inside onFrame stops delivery; resume() delivers the rest in order', () => {
    const sink = new RecordingSink();
    const d = new FrameDecoder(sink, { maxFrameSize: 100 }, false);
    sink.onFrameHook = () => d.pause();
    d.push(unhex('000131' + '000132' + '000133'));
    expect(sink.frames.map((f) => hex(f.body))).toEqual(['31']);
    expect(d.bufferedBytes).toBe(6);
    d.push(unhex('000134')); // arrives while paused: buffered only
    expect(sink.frames.length).toBe(1);
    expect(d.bufferedBytes).toBe(9);
    sink.onFrameHook = undefined;
    d.resume();
    expect(sink.frames.map((f) => hex(f.body))).toEqual(['31', '32', '33', '34']);
    expect(d.bufferedBytes).toBe(0);
  });

  it('pause() before data: nothing is parsed (not even the greeting) until resume()', () => {
    const sink = new RecordingSink();
    const d = new FrameDecoder(sink, { maxFrameSize: 100 }, true);
    d.pause();
    d.push(concatBytes([encodeGreeting('NULL', false), unhex('000141')]));
    expect(sink.events).toEqual([]);
    expect(d.state).toBe(S.SIGNATURE);
    d.resume();
    expect(sink.events.map((e) => e.type)).toEqual(['greeting', 'frame']);
  });

  it('thousands of chunks queued while paused are all delivered in order after resume()', () => {
    const sink = new RecordingSink();
    const d = new FrameDecoder(sink, { maxFrameSize: 100 }, false);
    d.pause();
    const n = 5000;
    for (let i = 0; i < n; i++) {
      // alternate whole frames and frames split over three chunks
      const f = Uint8Array.of(0, 2, i >> 8, i & 0xff);
      if (i % 2) d.push(f);
      else {
        d.push(f.subarray(0, 1));
        d.push(f.subarray(1, 3));
        d.push(f.subarray(3));
      }
    }
    expect(sink.frames.length).toBe(0);
    d.resume();
    expect(sink.frames.length).toBe(n);
    expect(sink.frames.every((f, i) => ((f.body[0]! << 8) | f.body[1]!) === i)).toBe(true);
    expect(d.bufferedBytes).toBe(0);
  });

  it('resume() without pause() is a no-op; errors found after resume are still reported', () => {
    const sink = new RecordingSink();
    const d = new FrameDecoder(sink, { maxFrameSize: 100 }, false);
    d.resume();
    d.pause();
    d.push(unhex('000141ff'));
    expect(sink.events).toEqual([]);
    d.resume();
    expect(sink.events.map((e) => e.type)).toEqual(['frame', 'error']);
    expectError(sink.errors[0], ErrorCode.RESERVED_FLAGS, 'frame flags 0xff set reserved bits');
  });

  it('stop() releases buffers and ends all callbacks, without reporting an error', () => {
    const sink = new RecordingSink();
    const d = new FrameDecoder(sink, { maxFrameSize: 100 }, false);
    d.push(unhex('000541'));
    expect(d.bufferedBytes).toBe(1);
    d.stop();
    expect(d.state).toBe(S.FAILED);
    expect(d.bufferedBytes).toBe(0);
    d.push(unhex('4242424242000141'));
    d.resume();
    expect(sink.events).toEqual([]);
  });

  it('stop() inside onFrame: no later frame of the same chunk is delivered', () => {
    const sink = new RecordingSink();
    const d = new FrameDecoder(sink, { maxFrameSize: 100 }, false);
    sink.onFrameHook = () => d.stop();
    d.push(unhex('000131000132ff'));
    expect(sink.events.map((e) => e.type)).toEqual(['frame']);
    expect(d.state).toBe(S.FAILED);
  });
});

describe('zmtp/decoder views vs copies', () => {
  it('a frame inside one chunk is a subarray of that chunk (same ArrayBuffer, no copy)', () => {
    const chunk = unhex('0003414243' + '00020102' + '0000');
    const { sink } = decodeChunks([chunk]);
    const [a, b, c] = sink.frames;
    expect(a!.body.buffer).toBe(chunk.buffer);
    expect(a!.body.byteOffset).toBe(chunk.byteOffset + 2);
    expect(a!.body.byteLength).toBe(3);
    expect(b!.body.buffer).toBe(chunk.buffer);
    expect(b!.body.byteOffset).toBe(chunk.byteOffset + 7);
    expect(c!.body.length).toBe(0);
    chunk[2] = 0x7a; // a view: writes to the chunk show through
    expect(hex(a!.body)).toBe('7a4243');
  });

  it('a frame whose body starts in a later chunk than its header is still a view of that chunk', () => {
    const body = unhex('414243');
    const { sink } = decodeChunks([unhex('0003'), body]);
    expect(sink.frames[0]!.body.buffer).toBe(body.buffer);
  });

  it('a long frame inside one chunk is a view too', () => {
    const chunk = concatBytes([longHeader(2, '0000000000001388'), new Uint8Array(5000).fill(9)]);
    const { sink } = decodeChunks([chunk]);
    expect(sink.frames[0]!.body.buffer).toBe(chunk.buffer);
    expect(sink.frames[0]!.body.byteOffset).toBe(9);
  });

  it('a body spanning chunks is one fresh copy: shares no buffer with the chunks, exactly body-sized', () => {
    const n = 10000; // above Buffer's pool threshold, so the copy owns its ArrayBuffer
    const full = concatBytes([longHeader(2, n.toString(16).padStart(16, '0')), new Uint8Array(n).map((_, i) => i & 0xff)]);
    const chunks = [full.slice(0, 100), full.slice(100, 5000), full.slice(5000)];
    const { sink } = decodeChunks(chunks);
    const body = sink.frames[0]!.body;
    for (const c of chunks) expect(body.buffer).not.toBe(c.buffer);
    expect(body.byteLength).toBe(n);
    expect(body.buffer.byteLength).toBe(n);
    expect(body.every((v, i) => v === (i & 0xff))).toBe(true);
    for (const c of chunks) c.fill(0xee); // the copy is independent of the chunks
    expect(body[0]).toBe(0);
    expect(body[n - 1]).toBe((n - 1) & 0xff);
  });

  it('a short body spanning chunks is a copy with the right bytes', () => {
    const a = unhex('000541');
    const b = unhex('4243');
    const c = unhex('4445000146');
    const { sink } = decodeChunks([a, b, c]);
    expect(hex(sink.frames[0]!.body)).toBe('4142434445');
    expect(sink.frames[0]!.body.buffer).not.toBe(a.buffer);
    expect(sink.frames[1]!.body.buffer).toBe(c.buffer);
  });

  it('bodies are Buffers on Node (zeromq.js hands out Buffer)', () => {
    const { sink } = decodeChunks([unhex('0002'), unhex('41'), unhex('42')]);
    expect(Buffer.isBuffer(sink.frames[0]!.body)).toBe(true);
  });

  it('70000 one-byte chunks decode to the same body (no quadratic chunk-list handling needed to finish)', () => {
    const n = 70000;
    const full = concatBytes([longHeader(2, n.toString(16).padStart(16, '0')), new Uint8Array(n).map((_, i) => (i * 7) & 0xff)]);
    const { sink, decoder } = decodeChunks(byteChunks(full));
    expect(decoder.bufferedBytes).toBe(0);
    expect(sink.frames.length).toBe(1);
    expect(Buffer.compare(Buffer.from(sink.frames[0]!.body), Buffer.from(full.subarray(9)))).toBe(0);
  });
});

describe('FrameDecoder small-chunk coalescing', () => {
  it('keeps the chunk list short when a large frame trickles in byte by byte, and decodes it intact', async () => {
    const { FrameDecoder: D } = await import('../../../src/zmtp/decoder.ts');
    const body = new Uint8Array(50000);
    for (let i = 0; i < body.length; i++) body[i] = (i * 7) & 0xff;
    const wire = new Uint8Array(9 + body.length);
    wire[0] = 0x02;
    new DataView(wire.buffer).setUint32(5, body.length);
    wire.set(body, 9);
    const frames: Uint8Array[] = [];
    const d = new D({ onGreeting() {}, onFrame: (_f, b) => frames.push(b), onDecodeError: (e) => { throw e; } }, { maxFrameSize: 1 << 20 }, false);
    for (let i = 0; i < wire.length; i++) {
      d.push(wire.subarray(i, i + 1));
      // 1-byte chunks are merged into 16 KiB tail buffers: the list stays near bytes / 16 KiB
      expect((d as unknown as { chunks: Uint8Array[] }).chunks.length).toBeLessThan(64);
    }
    expect(frames).toHaveLength(1);
    expect(Buffer.from(frames[0]!).equals(Buffer.from(body))).toBe(true);
  });
});

// tinybench micro-benchmarks, no I/O: the ZMTP frame encoder and decoder on prebuilt frames, and what
// CURVE's crypto costs: the MESSAGE box (purezmq's WebAssembly XSalsa20-Poly1305) per MiB and per 1 KiB
// message, one X25519 for handshakes (purezmq's WebAssembly), each beside tweetnacl for scale.
import { Bench } from 'tinybench';
import nacl from 'tweetnacl';
import { FrameDecoder, FrameWriter } from '../dist/internal.js';
import { sealInPlace, openInPlace, boxBefore } from '../dist/crypto/box.js';

const MiB = 1 << 20;

function framesOf(size, count) {
  const w = new FrameWriter();
  const body = new Uint8Array(size).fill(1);
  for (let i = 0; i < count; i++) w.writeMessage([body]);
  return w.take();
}

/** Returns rows { name, value, unit } for the summary table. */
export async function runMicro(quick) {
  const bench = new Bench({ time: quick ? 100 : 300, warmupTime: quick ? 20 : 50 });
  const per = new Map(); // task name -> { n: units per iteration, unit, label }
  for (const size of [16, 1024, 65536]) {
    const count = size === 65536 ? 16 : 1000;
    const chunks = framesOf(size, count);
    const body = new Uint8Array(size);
    const label = size === 65536 ? '64 KiB' : size === 1024 ? '1 KiB' : '16 B';
    bench.add(`encode ${label}`, () => {
      const w = new FrameWriter();
      for (let i = 0; i < count; i++) w.writeMessage([body]);
      w.take();
    });
    per.set(`encode ${label}`, { n: count, unit: 'frames/s' });
    bench.add(`decode ${label}`, () => {
      let frames = 0;
      const d = new FrameDecoder({ onGreeting() {}, onFrame() { frames++; }, onDecodeError(e) { throw e; } }, { maxFrameSize: 1 << 30 }, false);
      for (const c of chunks) d.push(c);
      if (frames !== count) throw new Error('decode lost frames');
    });
    per.set(`decode ${label}`, { n: count, unit: 'frames/s' });
  }

  const key = nacl.randomBytes(32);
  const nonce = nacl.randomBytes(24);
  const plain = nacl.randomBytes(MiB);
  const sealed = nacl.secretbox(plain, nonce, key);
  bench.add('tweetnacl secretbox 1 MiB', () => nacl.secretbox(plain, nonce, key));
  per.set('tweetnacl secretbox 1 MiB', { n: 1, unit: 'ms/MiB' });
  bench.add('tweetnacl secretbox.open 1 MiB', () => {
    if (!nacl.secretbox.open(sealed, nonce, key)) throw new Error('open failed');
  });
  per.set('tweetnacl secretbox.open 1 MiB', { n: 1, unit: 'ms/MiB' });
  // the in-place path purezmq's CURVE MESSAGE uses (box.after with a precomputed key = secretbox)
  const buf = new Uint8Array(32 + MiB);
  bench.add('CURVE seal+open in place 1 MiB', () => {
    buf.fill(0, 0, 32);
    sealInPlace(buf, nonce, key);
    if (!openInPlace(buf, nonce, key)) throw new Error('open failed');
  });
  per.set('CURVE seal+open in place 1 MiB', { n: 1, unit: 'ms/MiB' });
  // one 1 KiB MESSAGE: the fixed cost per message (HSalsa20, Poly1305 key, calls) shows here
  const small = new Uint8Array(32 + 1024);
  bench.add('CURVE seal+open in place 1 KiB', () => {
    sealInPlace(small, nonce, key);
    if (!openInPlace(small, nonce, key)) throw new Error('open failed');
  });
  per.set('CURVE seal+open in place 1 KiB', { n: 1, unit: 'ops/s' });
  const ll = nacl.lowlevel;
  const smallNacl = new Uint8Array(32 + 1024);
  bench.add('tweetnacl seal+open in place 1 KiB', () => {
    smallNacl.fill(0, 0, 32);
    ll.crypto_secretbox(smallNacl, smallNacl, smallNacl.length, nonce, key);
    if (ll.crypto_secretbox_open(smallNacl, smallNacl, smallNacl.length, nonce, key) !== 0) throw new Error('open failed');
  });
  per.set('tweetnacl seal+open in place 1 KiB', { n: 1, unit: 'ops/s' });
  const a = nacl.box.keyPair();
  const b = nacl.box.keyPair();
  bench.add('tweetnacl X25519 (box.before)', () => nacl.box.before(b.publicKey, a.secretKey));
  per.set('tweetnacl X25519 (box.before)', { n: 1, unit: 'ops/s' });
  bench.add('purezmq X25519 (boxBefore)', () => boxBefore(b.publicKey, a.secretKey));
  per.set('purezmq X25519 (boxBefore)', { n: 1, unit: 'ops/s' });

  await bench.run();
  const rows = [];
  for (const task of bench.tasks) {
    const { n, unit } = per.get(task.name);
    const periodMs = task.result?.period;
    if (!periodMs) {
      rows.push({ name: task.name, error: String(task.result?.error ?? 'no result') });
      continue;
    }
    const value = unit === 'ms/MiB' ? periodMs : (n / periodMs) * 1000;
    rows.push({ name: task.name, value, unit });
  }
  return rows;
}

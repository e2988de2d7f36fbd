import nacl from 'tweetnacl';
import { instantiateWasm } from './wasm.ts';
import { XSALSA20POLY1305_SIMD_WASM, XSALSA20POLY1305_WASM } from './xsalsa20poly1305_wasm.ts';

/**
 * NaCl crypto_secretbox (XSalsa20 + Poly1305; = crypto_box_afternm with a precomputed key) in
 * WebAssembly: the same bytes as tweetnacl's nacl.secretbox / nacl.box.after, several times faster.
 * The module (src/crypto/wasm/, generated .wat compiled to the bytes in xsalsa20poly1305_wasm.ts)
 * comes in a SIMD variant (four Salsa20 blocks at once) and a scalar one; when a runtime accepts
 * neither, tweetnacl does the work.
 *
 * Layout: a box is tag (16) ‖ ciphertext. Messages go through the module's 64 KiB window in chunks,
 * so any length works without growing its memory. A message that fits the window is opened in one
 * pass (MAC check, then decryption inside the module, and only then copied out); a longer one is
 * authenticated in a first pass and decrypted in a second, so a forged box never writes plaintext.
 */

const KEY_OFF = 0;
const NONCE_OFF = 32;
const TAG_OFF = 336; // 16 bytes the module never uses otherwise
/** Key, nonce, Salsa20 state, Poly1305 key and accumulator, scratch blocks, tag: wiped after every call. */
const SECRETS_END = 352;
/** SIMD module: non-zero = Salsa20 four blocks at a time. */
const SIMD_SALSA_FLAG = 352;
/**
 * JavaScriptCore (Bun) runs the 4-way SIMD Salsa20 at half the speed of the scalar code, while its
 * SIMD Poly1305 is faster than the scalar one: there the SIMD module keeps Salsa20 scalar.
 */
const SIMD_SALSA = typeof (globalThis as { Bun?: unknown }).Bun !== 'object';
const DATA = 1024;
const CHUNK = 65536;

interface Exports {
  memory: { buffer: ArrayBuffer };
  setup(): void;
  xor(off: number, len: number): void;
  polykey(): void;
  polyinit(off: number): void;
  poly(off: number, len: number): void;
  polyfinish(off: number, rem: number, out: number): void;
}

/** One implementation of the two operations; `in place` cases are described at seal/open. */
export interface Secretbox {
  readonly name: string;
  /**
   * Seals msg[msgOff, msgOff+len) into out: tag at out[outOff, outOff+16), ciphertext at
   * out[outOff+16, outOff+16+len). In place is allowed when out === msg and outOff + 16 === msgOff.
   */
  seal(msg: Uint8Array, msgOff: number, len: number, out: Uint8Array, outOff: number, nonce: Uint8Array, key: Uint8Array): void;
  /**
   * Opens the box at box[boxOff, boxOff+boxLen) (tag ‖ ciphertext, boxLen ≥ 16) into
   * out[outOff, outOff+boxLen-16). False, with out untouched, when the tag does not verify. In
   * place is allowed when out === box and outOff === boxOff + 16.
   */
  open(box: Uint8Array, boxOff: number, boxLen: number, out: Uint8Array, outOff: number, nonce: Uint8Array, key: Uint8Array): boolean;
}

class WasmSecretbox implements Secretbox {
  readonly name: string;
  private readonly ex: Exports;
  private readonly mem: Uint8Array;

  constructor(name: string, ex: Exports, simdSalsa: boolean) {
    this.name = name;
    this.ex = ex;
    this.mem = new Uint8Array(ex.memory.buffer);
    this.mem[SIMD_SALSA_FLAG] = simdSalsa ? 1 : 0;
  }

  private begin(nonce: Uint8Array, key: Uint8Array): void {
    if (key.length !== 32) throw new RangeError(`secretbox key must be 32 bytes, got ${key.length}`);
    if (nonce.length !== 24) throw new RangeError(`secretbox nonce must be 24 bytes, got ${nonce.length}`);
    this.mem.set(key, KEY_OFF);
    this.mem.set(nonce, NONCE_OFF);
    this.ex.setup();
  }

  seal(msg: Uint8Array, msgOff: number, len: number, out: Uint8Array, outOff: number, nonce: Uint8Array, key: Uint8Array): void {
    const { ex, mem } = this;
    this.begin(nonce, key);
    // the stream runs over 32 zero bytes ‖ msg ("padded" offsets p); its first 32 bytes are the MAC key
    const total = len + 32;
    const ctOff = outOff + 16;
    for (let p = 0; p < total; ) {
      const n = Math.min(CHUNK, total - p);
      const last = p + n === total;
      if (p === 0) {
        mem.fill(0, DATA, DATA + 32);
        mem.set(msg.subarray(msgOff, msgOff + n - 32), DATA + 32);
        ex.xor(DATA, n);
        ex.polyinit(DATA);
        this.mac(DATA + 32, n - 32, last);
        out.set(mem.subarray(DATA + 32, DATA + n), ctOff);
      } else {
        mem.set(msg.subarray(msgOff + p - 32, msgOff + p - 32 + n), DATA);
        ex.xor(DATA, n);
        this.mac(DATA, n, last);
        out.set(mem.subarray(DATA, DATA + n), ctOff + p - 32);
      }
      p += n;
    }
    out.set(mem.subarray(TAG_OFF, TAG_OFF + 16), outOff);
    mem.fill(0, 0, SECRETS_END);
  }

  open(box: Uint8Array, boxOff: number, boxLen: number, out: Uint8Array, outOff: number, nonce: Uint8Array, key: Uint8Array): boolean {
    if (boxLen < 16) return false;
    const ok = this.openChunks(box, boxOff, boxLen, out, outOff, nonce, key);
    this.mem.fill(0, 0, SECRETS_END);
    return ok;
  }

  private openChunks(box: Uint8Array, boxOff: number, boxLen: number, out: Uint8Array, outOff: number, nonce: Uint8Array, key: Uint8Array): boolean {
    const { ex, mem } = this;
    this.begin(nonce, key);
    const len = boxLen - 16;
    const ct = boxOff + 16;
    ex.polykey();
    if (len + 32 <= CHUNK) {
      mem.set(box.subarray(ct, ct + len), DATA + 32);
      this.mac(DATA + 32, len, true);
      if (!this.tagMatches(box, boxOff)) return false;
      ex.xor(DATA, len + 32); // DATA[0, 32) is scratch: keystream block 0 lands there
      out.set(mem.subarray(DATA + 32, DATA + 32 + len), outOff);
      return true;
    }
    // pass 1: authenticate
    for (let p = 0; p < len; p += CHUNK) {
      const n = Math.min(CHUNK, len - p);
      mem.set(box.subarray(ct + p, ct + p + n), DATA);
      this.mac(DATA, n, p + n === len);
    }
    if (!this.tagMatches(box, boxOff)) return false;
    // pass 2: decrypt (counter back to 0; padded offsets as in seal)
    ex.setup();
    const total = len + 32;
    for (let p = 0; p < total; ) {
      const n = Math.min(CHUNK, total - p);
      if (p === 0) {
        mem.set(box.subarray(ct, ct + n - 32), DATA + 32);
        ex.xor(DATA, n);
        out.set(mem.subarray(DATA + 32, DATA + n), outOff);
      } else {
        mem.set(box.subarray(ct + p - 32, ct + p - 32 + n), DATA);
        ex.xor(DATA, n);
        out.set(mem.subarray(DATA, DATA + n), outOff + p - 32);
      }
      p += n;
    }
    return true;
  }

  /** Absorbs mem[off, off+n) into the MAC; `last` also absorbs the partial block and writes the tag. */
  private mac(off: number, n: number, last: boolean): void {
    const full = n & ~15;
    this.ex.poly(off, full);
    if (last) this.ex.polyfinish(off + full, n - full, TAG_OFF);
  }

  private tagMatches(box: Uint8Array, at: number): boolean {
    const mem = this.mem;
    let diff = 0;
    for (let i = 0; i < 16; i++) diff |= mem[TAG_OFF + i]! ^ box[at + i]!;
    return diff === 0;
  }
}

/** tweetnacl, for runtimes without WebAssembly (allocates a copy per call). */
class NaclSecretbox implements Secretbox {
  readonly name = 'tweetnacl';

  seal(msg: Uint8Array, msgOff: number, len: number, out: Uint8Array, outOff: number, nonce: Uint8Array, key: Uint8Array): void {
    out.set(nacl.secretbox(msg.slice(msgOff, msgOff + len), nonce, key), outOff);
  }

  open(box: Uint8Array, boxOff: number, boxLen: number, out: Uint8Array, outOff: number, nonce: Uint8Array, key: Uint8Array): boolean {
    if (boxLen < 16) return false;
    const plain = nacl.secretbox.open(box.subarray(boxOff, boxOff + boxLen), nonce, key);
    if (!plain) return false;
    out.set(plain, outOff);
    return true;
  }
}

/** Instantiates one of the embedded modules; null when this runtime refuses it. */
function instantiate(variant: 'simd' | 'scalar', simdSalsa = variant === 'simd' && SIMD_SALSA): Secretbox | null {
  const ex = instantiateWasm<Exports>(variant === 'simd' ? XSALSA20POLY1305_SIMD_WASM : XSALSA20POLY1305_WASM);
  if (!ex) return null;
  return new WasmSecretbox(variant === 'simd' && !simdSalsa ? 'wasm-simd (scalar Salsa20)' : `wasm-${variant}`, ex, simdSalsa);
}

/**
 * Every implementation this runtime can run, the one in use first (tests compare them all): the SIMD
 * module in both Salsa20 modes, the scalar module, tweetnacl.
 */
export function implementations(): Secretbox[] {
  const all: Secretbox[] = [];
  for (const impl of [instantiate('simd'), instantiate('simd', !SIMD_SALSA), instantiate('scalar')]) {
    if (impl) all.push(impl);
  }
  all.push(new NaclSecretbox());
  return all;
}

/** The implementation in use: the first module this runtime accepts, else tweetnacl. */
export const secretboxImpl: Secretbox = instantiate('simd') ?? instantiate('scalar') ?? new NaclSecretbox();

/** crypto_secretbox_easy: a new array tag ‖ ciphertext. */
export function seal(msg: Uint8Array, nonce: Uint8Array, key: Uint8Array): Uint8Array {
  const out = new Uint8Array(msg.length + 16);
  secretboxImpl.seal(msg, 0, msg.length, out, 0, nonce, key);
  return out;
}

/** crypto_secretbox_open_easy: the plaintext in a new array, or null when the tag does not verify. */
export function open(box: Uint8Array, nonce: Uint8Array, key: Uint8Array): Uint8Array | null {
  if (box.length < 16) return null;
  const out = new Uint8Array(box.length - 16);
  return secretboxImpl.open(box, 0, box.length, out, 0, nonce, key) ? out : null;
}

import nacl from 'tweetnacl';
import { X25519_SIMD_WASM, X25519_WASM } from './x25519_wasm.ts';
import { instantiateWasm } from './wasm.ts';

/**
 * X25519 (crypto_scalarmult) in WebAssembly: the same Montgomery ladder as tweetnacl, the same
 * bytes out, several times faster (src/crypto/wasm/gen-x25519.mjs; 10 limbs of 25.5 bits with
 * 64-bit products instead of tweetnacl's 16 limbs in floating point). Constant time in the scalar
 * as far as WebAssembly allows: no branch and no memory index depends on a secret bit. The SIMD
 * variant pairs the independent multiplications of each ladder step; JavaScriptCore (Bun) runs it
 * slower than the scalar one, so Bun takes the scalar module. tweetnacl remains the fallback where
 * WebAssembly is missing.
 */

interface Exports {
  memory: { buffer: ArrayBuffer };
  scalarmult(): void;
}

export interface ScalarMult {
  readonly name: string;
  /** X25519(n, p): 32-byte scalar (clamped inside), 32-byte u-coordinate → 32-byte result. */
  scalarMult(n: Uint8Array, p: Uint8Array): Uint8Array;
}

/** End of what the module writes (scalar, point, result, clamped scalar, 13 field elements of 80 bytes from 256). */
const WIPE_END = 256 + 13 * 80;
const PREFER_SIMD = typeof (globalThis as { Bun?: unknown }).Bun !== 'object';
const BASE = new Uint8Array(32);
BASE[0] = 9;

class WasmScalarMult implements ScalarMult {
  readonly name: string;
  private readonly ex: Exports;
  private readonly mem: Uint8Array;

  constructor(name: string, ex: Exports) {
    this.name = name;
    this.ex = ex;
    this.mem = new Uint8Array(ex.memory.buffer);
  }

  scalarMult(n: Uint8Array, p: Uint8Array): Uint8Array {
    if (n.length !== 32 || p.length !== 32) throw new RangeError('X25519 takes a 32-byte scalar and a 32-byte point');
    const mem = this.mem;
    mem.set(n, 0);
    mem.set(p, 32);
    this.ex.scalarmult();
    const out = mem.slice(64, 96);
    mem.fill(0, 0, WIPE_END); // the scalar, its clamped copy and the ladder's temporaries
    return out;
  }
}

class NaclScalarMult implements ScalarMult {
  readonly name = 'tweetnacl';
  scalarMult(n: Uint8Array, p: Uint8Array): Uint8Array {
    return nacl.scalarMult(n, p);
  }
}

function instantiate(variant: 'simd' | 'scalar'): ScalarMult | null {
  const ex = instantiateWasm<Exports>(variant === 'simd' ? X25519_SIMD_WASM : X25519_WASM);
  return ex ? new WasmScalarMult(`wasm-${variant}`, ex) : null;
}

/** Every implementation this runtime can run, the one in use first (tests compare them all). */
export function scalarMultImplementations(): ScalarMult[] {
  const order = PREFER_SIMD ? (['simd', 'scalar'] as const) : (['scalar', 'simd'] as const);
  const all: ScalarMult[] = [];
  for (const v of order) {
    const impl = instantiate(v);
    if (impl) all.push(impl);
  }
  all.push(new NaclScalarMult());
  return all;
}

/** The implementation in use. */
export const scalarMultImpl: ScalarMult =
  (PREFER_SIMD ? instantiate('simd') ?? instantiate('scalar') : instantiate('scalar') ?? instantiate('simd')) ?? new NaclScalarMult();

/** X25519(n, p). */
export function scalarMult(n: Uint8Array, p: Uint8Array): Uint8Array {
  return scalarMultImpl.scalarMult(n, p);
}

/** X25519(n, 9): the public key of secret key n. */
export function scalarMultBase(n: Uint8Array): Uint8Array {
  return scalarMultImpl.scalarMult(n, BASE);
}

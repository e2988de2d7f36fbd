/**
 * Loading the embedded WebAssembly modules (base64 in *_wasm.ts, built by src/crypto/wasm/build.mjs).
 * Only what Node, Bun and Deno all provide: the global WebAssembly object and atob.
 */

/** The part of the WebAssembly API used here (the project's TypeScript lib has no DOM types). */
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
}

const wasmApi = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;

function decodeBase64(text: string): Uint8Array {
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** The exports of a new instance of the module, or null when this runtime has no WebAssembly or refuses the module. */
export function instantiateWasm<T>(base64: string): T | null {
  try {
    if (!wasmApi) return null;
    const bytes = decodeBase64(base64);
    if (!wasmApi.validate(bytes)) return null;
    return new wasmApi.Instance(new wasmApi.Module(bytes), {}).exports as T;
  } catch {
    return null;
  }
}

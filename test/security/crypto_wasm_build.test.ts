import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

/**
 * The WebAssembly bytes committed in src/crypto/*_wasm.ts, and the .wat beside the generators, are
 * exactly what `node src/crypto/wasm/build.mjs` produces from the generators (wabt, a devDependency):
 * nobody edited the bytes by hand and nobody forgot to rebuild after changing a generator.
 */

const BUILD = new URL('../../src/crypto/wasm/build.mjs', import.meta.url).href;

interface Built {
  name: string;
  text: string;
  base64: string;
}

describe('embedded WebAssembly', () => {
  it('is what build.mjs builds from the generators', async () => {
    const build = (await import(BUILD)) as { buildAll(): Promise<Built[]>; tsFiles(b: Built[]): Record<string, string> };
    const built = await build.buildAll();
    expect(built.map((m) => m.name)).toEqual(['xsalsa20poly1305.wat', 'xsalsa20poly1305.simd.wat', 'x25519.wat', 'x25519.simd.wat']);
    for (const m of built) {
      const committed = readFileSync(new URL(`../../src/crypto/wasm/${m.name}`, import.meta.url), 'utf8');
      expect(committed === m.text, `${m.name} is stale: run node src/crypto/wasm/build.mjs`).toBe(true);
    }
    for (const [name, text] of Object.entries(build.tsFiles(built))) {
      const committed = readFileSync(new URL(`../../src/crypto/${name}`, import.meta.url), 'utf8');
      expect(committed === text, `src/crypto/${name} is stale: run node src/crypto/wasm/build.mjs`).toBe(true);
    }
  });
});

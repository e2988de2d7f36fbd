/**
 * The store's entry point: the implementation follows the options, the journal's node:fs stays out
 * of the static import graph, and the CRUD repository works over either store.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { RequestRepository, openRequestStore, type RequestStoreOptions } from '../../src/mdp/store/index.ts';
import { RecordType } from '../../src/mdp/store/records.ts';
import type { RequestStore } from '../../src/mdp/store/store.ts';
import { removeTempDirs, tempDir } from './helpers.ts';

afterEach(removeTempDirs);

const base: RequestStoreOptions = { fsync: 'batch', fsyncDelay: 0, segmentBytes: 1 << 20, maxBytes: 1 << 24, repair: false };
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('openRequestStore', () => {
  it('gives a memory store without a data directory', async () => {
    for (const dataDir of [undefined, null, '']) {
      const store = await openRequestStore({ ...base, dataDir });
      expect(store).toMatchObject({ kind: 'memory', durable: false });
      expect(store.stats().maxBytes).toBe(1 << 24);
    }
  });

  it('gives an unopened journal with one', async () => {
    const dir = tempDir();
    const store = await openRequestStore({ ...base, dataDir: dir });
    expect(store).toMatchObject({ kind: 'journal', durable: true });
    await expect(store.append({ type: RecordType.DONE, id: new Uint8Array(16) })).rejects.toMatchObject({ code: 'MDP_STORE' });
    await store.open();
    expect(store.stats()).toMatchObject({ dir, fsync: 'batch', maxBytes: 1 << 24 });
    await store.close();
  });

  it('keeps node:* out of what loading it imports statically (the journal is imported dynamically)', () => {
    const seen = new Set<string>();
    const builtins: string[] = [];
    const walk = (file: string): void => {
      if (seen.has(file)) return;
      seen.add(file);
      const source = readFileSync(file, 'utf8');
      // value imports only: `import type` is erased
      for (const m of source.matchAll(/^import (?!type )[^;]*? from '([^']+)';/gms)) {
        const spec = m[1]!;
        if (spec.startsWith('.')) walk(resolve(dirname(file), spec));
        else if (spec.startsWith('node:')) builtins.push(`${file}: ${spec}`);
      }
    };
    const here = dirname(fileURLToPath(import.meta.url));
    walk(join(here, '../../src/mdp/store/index.ts'));
    expect(seen.has(join(here, '../../src/mdp/store/journal.ts'))).toBe(false);
    expect([...seen].some((f) => f.endsWith('codec.ts'))).toBe(true);
    expect(builtins).toEqual([]);
  });
});

describe('RequestRepository', () => {
  async function exercise(store: RequestStore): Promise<string[]> {
    const repo = new RequestRepository(store);
    const a = await repo.store({ service: utf8('echo'), body: [utf8('a')] });
    const b = await repo.store({ service: utf8('echo'), body: [utf8('b')], createdAt: 5 });
    const c = await repo.store({ service: utf8('echo'), body: [utf8('c')] });
    expect(a).toMatch(/^[0-9a-f]{32}$/);
    expect(new Set([a, b, c]).size).toBe(3);
    expect(repo.retrieve(b.toUpperCase())).toMatchObject({ key: b, createdAt: 5, kind: 'titanic', body: [utf8('b')] });
    expect(repo.retrieve('not a key')).toBeUndefined();
    await store.append({ type: RecordType.REPLY, id: repo.retrieve(c)!.id, body: [utf8('done')] });
    expect(repo.listPending().map((r) => r.key)).toEqual([a, b]);
    expect(await repo.delete(a)).toBe(true);
    expect(await repo.delete(a)).toBe(false);
    expect(repo.retrieve(a)).toBeUndefined();
    expect(repo.listPending().map((r) => r.key)).toEqual([b]);
    return [b, c];
  }

  it('works over the memory store', async () => {
    const store = await openRequestStore(base);
    await store.open();
    await exercise(store);
  });

  it('works over the journal, and what it stored is there after a restart', async () => {
    const dataDir = tempDir();
    const store = await openRequestStore({ ...base, dataDir });
    await store.open();
    const kept = await exercise(store);
    await store.close();
    const again = await openRequestStore({ ...base, dataDir });
    const recovery = await again.open();
    expect(recovery.requests.map((r) => r.key)).toEqual(kept);
    expect(new RequestRepository(again).listPending().map((r) => r.key)).toEqual([kept[0]]);
    await again.close();
  });
});

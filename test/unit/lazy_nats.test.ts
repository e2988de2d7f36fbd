/**
 * A broker without `--store nats://` never loads the NATS client: checked on the sources, by walking
 * the static import graph (what loading a module loads with it; `import type` is erased, `import()`
 * runs only when reached) from every entry point of the package and the CLI.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { dynamicImports, ENTRIES, importGraph, readSource, ROOT, staticImports } from '../_helpers/import_graph.ts';

describe('the NATS client is loaded lazily', () => {
  it('sees through the import forms it must tell apart', () => {
    const text = [
      "import { a } from './a.ts';",
      "import type { B } from '@nats-io/jetstream';",
      "import * as c from 'node:os';",
      "export { d } from './d.ts';",
      "export type { E } from './e.ts';",
      "const f = await import('@nats-io/kv');",
    ].join('\n');
    expect(staticImports(text)).toEqual(['./a.ts', 'node:os', './d.ts']);
    expect(dynamicImports(text)).toEqual(['@nats-io/kv']);
  });

  it('no entry point (library or CLI) loads the JetStream store or any @nats-io package', () => {
    const { files, packages } = importGraph(ENTRIES);
    expect(files.has('src/mdp/broker/broker.ts')).toBe(true); // the walk does reach the broker
    expect(files.has('src/mdp/store/index.ts')).toBe(true);
    expect([...files].filter((f) => f.includes('jetstream'))).toEqual([]);
    expect([...packages].filter((p) => p.startsWith('@nats-io'))).toEqual([]);
  });

  it('the store module imports the NATS packages only with import(), and only store/index.ts imports the store module', () => {
    const store = readSource('src/mdp/store/jetstream.ts');
    expect(staticImports(store).filter((s) => s.startsWith('@nats-io'))).toEqual([]);
    expect(dynamicImports(store)).toEqual(expect.arrayContaining(['@nats-io/transport-node', '@nats-io/jetstream', '@nats-io/kv']));
    const importers: string[] = [];
    const walk = (dir: string): void => {
      for (const e of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
        const rel = path.join(dir, e.name);
        if (e.isDirectory()) walk(rel);
        else if (rel.endsWith('.ts') && /jetstream\.ts'/.test(fs.readFileSync(path.join(ROOT, rel), 'utf8'))) importers.push(rel);
      }
    };
    walk('src');
    expect(importers).toEqual(['src/mdp/store/index.ts']);
    expect(dynamicImports(readSource('src/mdp/store/index.ts'))).toContain('./jetstream.ts');
  });
});

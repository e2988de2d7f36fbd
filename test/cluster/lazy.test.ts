/**
 * A single broker never loads the cluster code: checked on the sources by walking the static import
 * graph (`import type` is erased, `import()` runs only when reached) from every entry point. The
 * broker reaches src/mdp/cluster/ only through `import()` in its startCluster.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.join(import.meta.dirname, '../..');
const ENTRIES = ['src/mod.ts', 'src/mdp/mod.ts', 'src/mdp/node.ts', 'src/cli.ts'];

function staticImports(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/^\s*(import|export)\s+(?!type\s)([^'";]*?\bfrom\s*)?'([^']+)'/gm)) {
    if (m[1] === 'export' && !m[2]) continue;
    out.push(m[3]!);
  }
  return out;
}

function loaded(entries: string[]): Set<string> {
  const files = new Set<string>();
  const visit = (file: string): void => {
    if (files.has(file)) return;
    files.add(file);
    const text = fs.readFileSync(path.join(ROOT, file), 'utf8');
    for (const spec of staticImports(text)) if (spec.startsWith('.')) visit(path.relative(ROOT, path.resolve(path.dirname(path.join(ROOT, file)), spec)));
  };
  for (const e of entries) visit(e);
  return files;
}

describe('the cluster code is loaded lazily', () => {
  it('no entry point (library or CLI) loads src/mdp/cluster/', () => {
    const files = loaded(ENTRIES);
    expect(files.has('src/mdp/broker/broker.ts')).toBe(true); // the walk reaches the broker
    expect([...files].filter((f) => f.startsWith(path.join('src', 'mdp', 'cluster')))).toEqual([]);
  });

  it('the broker imports the federation with import() only', () => {
    const text = fs.readFileSync(path.join(ROOT, 'src/mdp/broker/broker.ts'), 'utf8');
    expect(staticImports(text).filter((s) => s.includes('/cluster/'))).toEqual([]);
    expect([...text.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g)].map((m) => m[1])).toEqual(expect.arrayContaining(['../cluster/federation.ts', '../cluster/options.ts']));
  });
});

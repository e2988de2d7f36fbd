/**
 * The static import graph of the sources: what loading a module loads with it (`import type` is
 * erased, `import()` runs only when reached). Tests use it to show that optional code (the cluster,
 * the NATS client) is loaded only when asked for.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export const ROOT = path.join(import.meta.dirname, '../..');
/** Every entry point of the package and the CLI. */
export const ENTRIES = ['src/mod.ts', 'src/mdp/mod.ts', 'src/mdp/node.ts', 'src/cli.ts'];

export function readSource(file: string): string {
  return fs.readFileSync(path.join(ROOT, file), 'utf8');
}

/** Static imports and re-exports of a module's text that survive type stripping. */
export function staticImports(text: string): string[] {
  const out: string[] = [];
  // `import x from '…'`, `import { a } from '…'`, `import '…'`, `export … from '…'`; not `import type`, not `export type`
  for (const m of text.matchAll(/^\s*(import|export)\s+(?!type\s)([^'";]*?\bfrom\s*)?'([^']+)'/gm)) {
    if (m[1] === 'export' && !m[2]) continue;
    out.push(m[3]!);
  }
  return out;
}

export function dynamicImports(text: string): string[] {
  return [...text.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g)].map((m) => m[1]!);
}

/** Every module loaded with the entries: files of src/ (relative to the root) and the bare package names they import. */
export function importGraph(entries: string[]): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string): void => {
    if (files.has(file)) return;
    files.add(file);
    for (const spec of staticImports(readSource(file))) {
      if (spec.startsWith('.')) visit(path.relative(ROOT, path.resolve(path.dirname(path.join(ROOT, file)), spec)));
      else packages.add(spec);
    }
  };
  for (const e of entries) visit(e);
  return { files, packages };
}

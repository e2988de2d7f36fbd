/**
 * Compiles a module of src/ and everything it imports into a private folder under the repo's
 * ignored tmp/, so that a child process (plain Node, which cannot run TypeScript in Node 20) can
 * load it. Type-stripping per file (ts.transpileModule) is enough: the files are type-checked by
 * `npm run typecheck`, and this takes well under a second instead of a whole tsc build. The folder
 * sits inside the repo so that "type": "module" applies.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** Returns the compiled path of `entry` (relative to the repo, e.g. 'src/mdp/store/journal.ts') and a cleanup. */
export function compileForChild(entry: string): { module: string; cleanup: () => void } {
  const out = join(ROOT, 'tmp', `store-child-${process.pid}-${Date.now().toString(36)}`);
  const seen = new Set<string>();
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    const source = readFileSync(file, 'utf8');
    const js = ts.transpileModule(source, {
      fileName: file,
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, rewriteRelativeImportExtensions: true, verbatimModuleSyntax: true },
    }).outputText;
    const target = join(out, relative(ROOT, file)).replace(/\.ts$/, '.js');
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, js);
    // what the emitted JavaScript still imports (type-only imports are gone from it)
    for (const m of js.matchAll(/(?:from |import\()"(\.\.?\/[^"]+)\.js"/g)) visit(resolve(dirname(file), `${m[1]}.ts`));
  };
  visit(join(ROOT, entry));
  return { module: join(out, entry).replace(/\.ts$/, '.js'), cleanup: () => rmSync(out, { recursive: true, force: true }) };
}

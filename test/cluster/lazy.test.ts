/**
 * A single broker never loads the cluster code: checked on the sources by walking the static import
 * graph from every entry point. The broker reaches src/mdp/cluster/ only through `import()` in its
 * startCluster.
 */
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { dynamicImports, ENTRIES, importGraph, readSource, staticImports } from '../_helpers/import_graph.ts';

describe('the cluster code is loaded lazily', () => {
  it('no entry point (library or CLI) loads src/mdp/cluster/', () => {
    const { files } = importGraph(ENTRIES);
    expect(files.has('src/mdp/broker/broker.ts')).toBe(true); // the walk reaches the broker
    expect([...files].filter((f) => f.startsWith(path.join('src', 'mdp', 'cluster')))).toEqual([]);
  });

  it('the broker imports the federation with import() only', () => {
    const text = readSource('src/mdp/broker/broker.ts');
    expect(staticImports(text).filter((s) => s.includes('/cluster/'))).toEqual([]);
    expect(dynamicImports(text)).toEqual(expect.arrayContaining(['../cluster/federation.ts', '../cluster/options.ts']));
  });
});

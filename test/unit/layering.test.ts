/** Dependencies point one way (util → zmtp → mechanism → engine → socket): checked on the sources. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = path.join(import.meta.dirname, '../../src');

function importsOf(dir: string): { file: string; from: string }[] {
  const out: { file: string; from: string }[] = [];
  for (const name of fs.readdirSync(path.join(SRC, dir))) {
    if (!name.endsWith('.ts')) continue;
    const text = fs.readFileSync(path.join(SRC, dir, name), 'utf8');
    for (const m of text.matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)) out.push({ file: `${dir}/${name}`, from: m[1]! });
  }
  return out;
}

describe('layering', () => {
  it('src/zap imports nothing of the socket layer (it is handed its sockets by a factory)', () => {
    expect(importsOf('zap').filter((i) => i.from.includes('/socket/'))).toEqual([]);
  });

  it('the core below the socket layer imports none of it', () => {
    for (const dir of ['util', 'zmtp', 'mechanism', 'engine']) {
      expect(importsOf(dir).filter((i) => i.from.includes('/socket/'))).toEqual([]);
    }
  });
});

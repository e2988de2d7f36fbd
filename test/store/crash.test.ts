/**
 * Real processes: a child appends to a journal and prints each id once its append has resolved;
 * the parent SIGKILLs it at a random moment, recovers the directory and checks that every printed
 * id is live (several rounds on one directory, fsync batch and never: kill -9 loses nothing either
 * way). The child's LOCK refuses us while it runs and is taken over once it is dead; a second
 * process is refused while we hold the directory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isMdpError } from '../../src/mdp/errors.ts';
import { JournalStore } from '../../src/mdp/store/journal.ts';
import { requestKey } from '../../src/mdp/store/records.ts';
import { compileForChild } from './build.ts';
import { openJournal, removeTempDirs, tempDir } from './helpers.ts';

const CHILD = join(dirname(fileURLToPath(import.meta.url)), 'crash-child.mjs');
let compiled: ReturnType<typeof compileForChild>;

beforeAll(() => {
  compiled = compileForChild('src/mdp/store/journal.ts');
});
afterAll(() => {
  compiled?.cleanup();
  removeTempDirs();
});

interface Child {
  proc: ChildProcess;
  /** Complete lines printed so far. */
  lines: string[];
  /** Resolves once `cond` holds for the lines (checked on every chunk of output). */
  until(cond: (lines: string[]) => boolean): Promise<void>;
  /** Resolves when the process has exited and its output is all read. */
  closed: Promise<void>;
}

function spawnChild(args: string[]): Child {
  const proc = spawn(process.execPath, [CHILD, compiled.module, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let partial = '';
  let stderr = '';
  const watchers: { cond: (l: string[]) => boolean; resolve: () => void }[] = [];
  const check = (): void => {
    for (const w of watchers.filter((x) => x.cond(lines))) {
      watchers.splice(watchers.indexOf(w), 1);
      w.resolve();
    }
  };
  proc.stdout!.on('data', (chunk: Buffer) => {
    const text = partial + chunk.toString();
    const parts = text.split('\n');
    partial = parts.pop()!; // a line cut by the kill is not counted
    lines.push(...parts);
    check();
  });
  proc.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const closed = new Promise<void>((resolve) => proc.on('close', () => resolve()));
  return {
    proc,
    lines,
    closed,
    until: (cond) =>
      new Promise<void>((resolve, reject) => {
        if (cond(lines)) return resolve();
        watchers.push({ cond, resolve });
        void closed.then(() => reject(new Error(`child exited (${proc.exitCode ?? proc.signalCode}) before the expected output: ${stderr}`)));
      }),
  };
}

const idKey = (n: number): string => {
  const id = new Uint8Array(16);
  new DataView(id.buffer).setUint32(12, n);
  return requestKey(id);
};
const ackedIds = (lines: readonly string[]): number[] => lines.filter((l) => /^\d+$/.test(l)).map(Number);

describe('kill -9', () => {
  it.each(['batch', 'never'] as const)('fsync %s: every id acknowledged before SIGKILL is live after recovery', async (fsync) => {
    const dir = tempDir();
    const acked: number[] = [];
    for (let round = 0; round < 3; round++) {
      const child = spawnChild([dir, 'append', fsync, String(round * 1_000_000)]);
      await child.until((l) => l.includes('ready'));
      const threshold = 1 + Math.floor(Math.random() * 400);
      await child.until((l) => ackedIds(l).length >= threshold);

      // the running child holds the directory
      const refused = await new JournalStore({ dir }).open().then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(isMdpError(refused) && refused.code).toBe('MDP_STORE_LOCKED');
      expect((refused as Error).message).toContain(`process ${child.proc.pid} `);

      child.proc.kill('SIGKILL');
      await child.closed;
      acked.push(...ackedIds(child.lines));

      // its LOCK names a dead process now: taken over
      const { store, recovery } = await openJournal({ dir, fsync });
      const missing = acked.filter((n) => store.get(idKey(n)) === undefined);
      expect(missing, `round ${round}, killed after ${threshold} acks, ${acked.length} acked in all`).toEqual([]);
      expect(recovery.quarantined).toEqual([]);
      await store.close();
    }
  });
});

describe('lock across processes', () => {
  it('refuses a second process while this one holds the directory, and lets it in after close', async () => {
    const dir = tempDir();
    const { store } = await openJournal({ dir });
    const refused = spawnChild([dir, 'lock']);
    await refused.closed;
    expect(refused.lines[0]).toBe('MDP_STORE_LOCKED');
    expect(refused.lines[1]).toContain(`process ${process.pid} `);
    expect(refused.lines[1]).toContain(join(dir, 'LOCK'));
    await store.close();
    const admitted = spawnChild([dir, 'lock']);
    await admitted.closed;
    expect(admitted.lines).toEqual(['opened']);
  });
});

/**
 * Model-based test of the journal (fast-check commands): random appends of every record type about
 * a small pool of ids (so records hit live, closed and never-seen requests), concurrent appends,
 * compactions, and close + reopen, against a Map written here from the record semantics in
 * records.ts (not RequestState). After every reopen the replayed live state must equal the model,
 * in creation order. Half the runs use tiny segments, so that rotation and compaction on rotation
 * happen all the time.
 */
import { rmSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { JournalStore } from '../../src/mdp/store/journal.ts';
import { RequestKind, requestKey, type StoreRecord } from '../../src/mdp/store/records.ts';
import type { FsyncPolicy } from '../../src/mdp/store/store.ts';
import { removeTempDirs, tempDir } from './helpers.ts';
import { AppendCommand, CompactCommand, recordArbitrary, view, type Model } from './model.ts';

afterAll(removeTempDirs);

// ---- commands -------------------------------------------------------------------------------------

interface Real {
  store: JournalStore;
  readonly dir: string;
  readonly options: { fsync: FsyncPolicy; segmentBytes: number };
}

class ReopenCommand implements fc.AsyncCommand<Model, Real> {
  check(): boolean {
    return true;
  }
  async run(model: Model, real: Real): Promise<void> {
    await real.store.close();
    real.store = new JournalStore({ dir: real.dir, ...real.options });
    const recovery = await real.store.open();
    expect(recovery.truncated).toBeUndefined();
    expect(view(recovery.requests)).toEqual(view(model.values()));
    expect(view(real.store.values())).toEqual(view(model.values()));
  }
  toString(): string {
    return 'reopen';
  }
}

// ---- arbitraries ----------------------------------------------------------------------------------

const record = recordArbitrary({ pool: 6, idByte: 0x11, kinds: [RequestKind.PLAIN, RequestKind.TITANIC] });

const commands = fc.commands(
  [
    fc.array(record, { minLength: 1, maxLength: 4 }).map((rs) => new AppendCommand(rs)),
    record.map((r) => new AppendCommand([r])),
    fc.constant(new CompactCommand()),
    fc.constant(new ReopenCommand()),
  ],
  { maxCommands: 60, size: 'large' },
);

describe('journal against a model', () => {
  it('replays to the model after every reopen, with and without constant rotation', async () => {
    await fc.assert(
      fc.asyncProperty(commands, fc.constantFrom(160, 1 << 20), fc.constantFrom<FsyncPolicy>('never', 'batch'), async (cmds, segmentBytes, fsync) => {
        const dir = tempDir();
        const real: Real = { dir, options: { fsync, segmentBytes }, store: new JournalStore({ dir, fsync, segmentBytes }) };
        await real.store.open();
        try {
          await fc.asyncModelRun(() => ({ model: new Map(), real }), [...cmds, new ReopenCommand()]);
        } finally {
          await real.store.close();
          rmSync(dir, { recursive: true, force: true });
        }
      }),
      { numRuns: 60 },
    );
  });
});

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
import { RecordType, RequestKind, requestKey, type StoreRecord } from '../../src/mdp/store/records.ts';
import type { FsyncPolicy } from '../../src/mdp/store/store.ts';
import { liveView, removeTempDirs, tempDir } from './helpers.ts';

afterAll(removeTempDirs);

// ---- the model ------------------------------------------------------------------------------------

interface ModelRequest {
  id: Uint8Array;
  key: string;
  kind: string;
  service: Uint8Array;
  body: readonly Uint8Array[];
  client: Uint8Array;
  dialect: string;
  createdAt: number;
  ttlFrom: number;
  attempts: number;
  lastError: string;
  reply: readonly Uint8Array[] | undefined;
  dead: { reason: string; error: string; at: number } | undefined;
}
type Model = Map<string, ModelRequest>;

function applyToModel(model: Model, r: StoreRecord): void {
  const key = requestKey(r.id);
  const req = model.get(key);
  if (r.type === RecordType.REQUEST) {
    if (req) return; // an id is created once
    const { id, kind, service, body, client, dialect, createdAt } = r;
    model.set(key, { id, key, kind, service, body, client, dialect, createdAt, ttlFrom: createdAt, attempts: 0, lastError: '', reply: undefined, dead: undefined });
    return;
  }
  if (!req) return; // about a request that is not live: nothing
  if (r.type === RecordType.DONE) model.delete(key);
  else if (r.type === RecordType.REPLY) req.reply = r.body;
  else if (r.type === RecordType.ATTEMPT) Object.assign(req, { attempts: r.attempts, lastError: r.error });
  else if (r.type === RecordType.DEAD) req.dead = { reason: r.reason, error: r.error, at: r.at };
  else Object.assign(req, { attempts: 0, lastError: '', dead: undefined, ttlFrom: r.at });
}

/** The store's live state without the byte counts (the model does not measure). */
const view = (values: Iterable<object>): unknown[] => liveView([...values].map(({ bytes: _bytes, ...rest }: { bytes?: number }) => rest));

// ---- commands -------------------------------------------------------------------------------------

interface Real {
  store: JournalStore;
  readonly dir: string;
  readonly options: { fsync: FsyncPolicy; segmentBytes: number };
}

class AppendCommand implements fc.AsyncCommand<Model, Real> {
  readonly records: readonly StoreRecord[];
  constructor(records: readonly StoreRecord[]) {
    this.records = records;
  }
  check(): boolean {
    return true;
  }
  async run(model: Model, real: Real): Promise<void> {
    // made together: they share a batch, and must still apply in order
    await Promise.all(this.records.map((r) => real.store.append(r)));
    for (const r of this.records) applyToModel(model, r);
    for (const r of this.records) {
      const key = requestKey(r.id);
      const got = real.store.get(key);
      expect(got === undefined ? undefined : view([got])[0]).toEqual(model.has(key) ? view([model.get(key)!])[0] : undefined);
    }
  }
  toString(): string {
    return `append(${this.records.map((r) => `${r.type}:${r.id[15]}`).join(',')})`;
  }
}

class CompactCommand implements fc.AsyncCommand<Model, Real> {
  check(): boolean {
    return true;
  }
  async run(model: Model, real: Real): Promise<void> {
    await real.store.compact();
    expect(view(real.store.values())).toEqual(view(model.values()));
  }
  toString(): string {
    return 'compact';
  }
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

const POOL = 6;
const id = fc.nat({ max: POOL - 1 }).map((n) => Uint8Array.from({ length: 16 }, (_, i) => (i === 15 ? n : 0x11)));
// few distinct times, so that a REQUEUE sometimes lands on its request's createdAt (a snapshot leaves it out then)
const time = fc.constantFrom(1000, 2000, 3000);
const bytes = fc.uint8Array({ maxLength: 12 });
const frames = fc.array(fc.oneof(bytes, fc.uint8Array({ minLength: 100, maxLength: 300 })), { maxLength: 3 });
const text = fc.string({ maxLength: 6 });

const record: fc.Arbitrary<StoreRecord> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ type: fc.constant(RecordType.REQUEST), id, kind: fc.constantFrom(RequestKind.PLAIN, RequestKind.TITANIC), service: bytes, body: frames, client: bytes, dialect: text, createdAt: time }) },
  { weight: 2, arbitrary: fc.record({ type: fc.constant(RecordType.DONE), id }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant(RecordType.REPLY), id, body: frames }) },
  // attempts from 0: an ATTEMPT with 0 attempts and an error once lost the error in a snapshot
  { weight: 1, arbitrary: fc.record({ type: fc.constant(RecordType.ATTEMPT), id, attempts: fc.integer({ min: 0, max: 5 }), error: text }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant(RecordType.DEAD), id, reason: text, error: text, at: time }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant(RecordType.REQUEUE), id, at: time }) },
);

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

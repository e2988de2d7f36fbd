/**
 * The request-store model shared by the model-based tests of the journal (journal.model.test.ts) and
 * of the JetStream node journal (jetstream.test.ts): a Map written from the record semantics in
 * records.ts (not from RequestState), the records to throw at it, and the compaction command, which
 * is the same for every store.
 */
import fc from 'fast-check';
import { expect } from 'vitest';
import { RecordType, RequestKind, requestKey, type StoreRecord, type StoredRequest } from '../../src/mdp/store/records.ts';
import { liveView } from './helpers.ts';

export interface ModelRequest {
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
export type Model = Map<string, ModelRequest>;

export function applyToModel(model: Model, r: StoreRecord): void {
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

/** A store's live state without the byte counts (the model does not measure). */
export const view = (values: Iterable<object>): unknown[] => liveView([...values].map(({ bytes: _bytes, ...rest }: { bytes?: number }) => rest));

/** What the shared commands need of the system under test. */
export interface ModelReal {
  readonly store: {
    append(r: StoreRecord): Promise<void>;
    get(key: string): StoredRequest | undefined;
    values(): Iterable<object>;
    compact(): Promise<void>;
  };
}

/**
 * Appends records made together (they share a batch, and must still apply in order); then each
 * record's request, and the whole live state, read as the model says.
 */
export class AppendCommand implements fc.AsyncCommand<Model, ModelReal> {
  readonly records: readonly StoreRecord[];
  constructor(records: readonly StoreRecord[]) {
    this.records = records;
  }
  check(): boolean {
    return true;
  }
  async run(model: Model, real: ModelReal): Promise<void> {
    await Promise.all(this.records.map((r) => real.store.append(r)));
    for (const r of this.records) applyToModel(model, r);
    for (const r of this.records) {
      const key = requestKey(r.id);
      const got = real.store.get(key);
      expect(got === undefined ? undefined : view([got])[0]).toEqual(model.has(key) ? view([model.get(key)!])[0] : undefined);
    }
    expect(view(real.store.values())).toEqual(view(model.values()));
  }
  toString(): string {
    return `append(${this.records.map((r) => `${r.type}:${r.id[15]}`).join(',')})`;
  }
}

/** Compaction changes nothing a reader sees. */
export class CompactCommand implements fc.AsyncCommand<Model, ModelReal> {
  check(): boolean {
    return true;
  }
  async run(model: Model, real: ModelReal): Promise<void> {
    await real.store.compact();
    expect(view(real.store.values())).toEqual(view(model.values()));
  }
  toString(): string {
    return 'compact';
  }
}

/**
 * Records of every type about a pool of `pool` ids (so that records hit live, closed and never-seen
 * requests); `idByte` fills the ids' other bytes. Few distinct times, so that a REQUEUE sometimes
 * lands on its request's createdAt (a snapshot leaves it out then); attempts from 0 (an ATTEMPT with
 * 0 attempts and an error once lost the error in a snapshot).
 */
export function recordArbitrary(options: { pool: number; idByte: number; kinds: RequestKind[] }): fc.Arbitrary<StoreRecord> {
  const id = fc.nat({ max: options.pool - 1 }).map((n) => Uint8Array.from({ length: 16 }, (_, i) => (i === 15 ? n : options.idByte)));
  const time = fc.constantFrom(1000, 2000, 3000);
  const bytes = fc.uint8Array({ maxLength: 12 });
  const frames = fc.array(fc.oneof(bytes, fc.uint8Array({ minLength: 100, maxLength: 300 })), { maxLength: 3 });
  const text = fc.string({ maxLength: 6 });
  return fc.oneof(
    { weight: 4, arbitrary: fc.record({ type: fc.constant(RecordType.REQUEST), id, kind: fc.constantFrom(...options.kinds), service: bytes, body: frames, client: bytes, dialect: text, createdAt: time }) },
    { weight: 2, arbitrary: fc.record({ type: fc.constant(RecordType.DONE), id }) },
    { weight: 1, arbitrary: fc.record({ type: fc.constant(RecordType.REPLY), id, body: frames }) },
    { weight: 1, arbitrary: fc.record({ type: fc.constant(RecordType.ATTEMPT), id, attempts: fc.integer({ min: 0, max: 5 }), error: text }) },
    { weight: 1, arbitrary: fc.record({ type: fc.constant(RecordType.DEAD), id, reason: text, error: text, at: time }) },
    { weight: 1, arbitrary: fc.record({ type: fc.constant(RecordType.REQUEUE), id, at: time }) },
  );
}

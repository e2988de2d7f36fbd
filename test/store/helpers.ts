/**
 * Helpers for the store tests: temporary data directories (removed after each file), records
 * about numbered requests, and a look at the files a journal left.
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../../src/mdp/log.ts';
import { crc32c } from '../../src/mdp/store/crc32c.ts';
import { JournalStore, type JournalStoreOptions } from '../../src/mdp/store/journal.ts';
import { RecordType, RequestKind, requestKey, type RequestRecord, type StoreRecord } from '../../src/mdp/store/records.ts';
import type { StoreRecovery } from '../../src/mdp/store/store.ts';

const made: string[] = [];

/** A fresh directory under the OS temp dir; removeTempDirs() deletes every one made so far. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'purezmq-store-test-'));
  made.push(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** The 16-byte id of request number n. */
export function idOf(n: number): Uint8Array {
  const id = new Uint8Array(16);
  new DataView(id.buffer).setUint32(12, n);
  id[0] = 0xab;
  return id;
}

export const keyOf = (n: number): string => requestKey(idOf(n));
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

export function requestRecord(n: number, bodyBytes = 16): RequestRecord {
  return {
    type: RecordType.REQUEST,
    id: idOf(n),
    kind: n % 2 ? RequestKind.TITANIC : RequestKind.PLAIN,
    service: utf8('echo'),
    body: [utf8(`request ${n}`), new Uint8Array(bodyBytes).fill(n & 0xff)],
    client: n % 2 ? new Uint8Array(0) : utf8(`client-${n}`),
    dialect: n % 2 ? '' : 'rfc18',
    createdAt: 1_700_000_000_000 + n,
  };
}

export const done = (n: number): StoreRecord => ({ type: RecordType.DONE, id: idOf(n) });

/** One record of every other type about request n. */
export function followUps(n: number): StoreRecord[] {
  return [
    { type: RecordType.ATTEMPT, id: idOf(n), attempts: 2, error: 'worker lost' },
    { type: RecordType.DEAD, id: idOf(n), reason: 'retries-exhausted', error: 'gave up', at: 1_700_000_001_000 + n },
    { type: RecordType.REQUEUE, id: idOf(n), at: 1_700_000_002_000 + n },
    { type: RecordType.REPLY, id: idOf(n), body: [utf8(`reply ${n}`), new Uint8Array(0)] },
  ];
}

export async function openJournal(options: JournalStoreOptions): Promise<{ store: JournalStore; recovery: Awaited<ReturnType<JournalStore['open']>> }> {
  const store = new JournalStore(options);
  const recovery = await store.open();
  return { store, recovery };
}

/** Opens the directory as a restart would and closes it again; returns what it recovered. */
export async function recoverDir(dir: string, options: Omit<JournalStoreOptions, 'dir'> = {}): Promise<StoreRecovery> {
  const { store, recovery } = await openJournal({ dir, ...options });
  await store.close();
  return recovery;
}

/** Files of a data directory (quarantine/ excluded), with sizes. */
export function filesOf(dir: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const name of readdirSync(dir).sort()) {
    const s = statSync(join(dir, name));
    if (s.isFile()) out[name] = s.size;
  }
  return out;
}

export function diskBytes(dir: string): number {
  return Object.entries(filesOf(dir))
    .filter(([name]) => name !== 'LOCK')
    .reduce((n, [, size]) => n + size, 0);
}

/**
 * A plain-data view of live requests, for comparisons: byte fields become their length and
 * checksum (deep-comparing megabytes element by element takes seconds), Buffer vs Uint8Array
 * stops mattering.
 */
export function liveView(values: Iterable<object>): unknown[] {
  const plain = (v: unknown): unknown =>
    v instanceof Uint8Array
      ? `${v.length} bytes, crc ${crc32c(v)}`
      : Array.isArray(v)
        ? v.map(plain)
        : v && typeof v === 'object'
          ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]))
          : v;
  return [...values].map(plain);
}

/** A logger that keeps what it is given, and can wait for a message. */
export function recordingLogger(): Logger & { lines: { level: string; msg: string; fields?: Record<string, unknown> }[]; next(msg: string): Promise<Record<string, unknown> | undefined> } {
  const lines: { level: string; msg: string; fields?: Record<string, unknown> }[] = [];
  const waiting: { msg: string; resolve: (f: Record<string, unknown> | undefined) => void }[] = [];
  const at = (level: string) => (msg: string, fields?: Record<string, unknown>) => {
    lines.push({ level, msg, fields });
    for (const w of waiting.filter((x) => x.msg === msg)) {
      waiting.splice(waiting.indexOf(w), 1);
      w.resolve(fields);
    }
  };
  return {
    lines,
    error: at('error'),
    warn: at('warn'),
    info: at('info'),
    debug: at('debug'),
    enabled: () => true,
    next: (msg) => new Promise((resolve) => waiting.push({ msg, resolve })),
  };
}

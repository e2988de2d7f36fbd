/**
 * The journal's write side: the directory lock (in this process; across processes in
 * crash.test.ts), the byte budget, failed writes and syncs injected through the fs seam, the three
 * fsync policies, rotation and compaction, close.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isMdpError, type MdpError } from '../../src/mdp/errors.ts';
import { recordSize } from '../../src/mdp/store/codec.ts';
import { JournalStore, nodeJournalFs, type JournalFs } from '../../src/mdp/store/journal.ts';
import { RecordType } from '../../src/mdp/store/records.ts';
import type { FsyncPolicy } from '../../src/mdp/store/store.ts';
import { diskBytes, done, filesOf, idOf, keyOf, liveView, openJournal, recordingLogger, recoverDir, removeTempDirs, requestRecord, tempDir } from './helpers.ts';

afterEach(removeTempDirs);

async function rejection(p: Promise<unknown>): Promise<MdpError> {
  try {
    await p;
  } catch (err) {
    if (isMdpError(err)) return err;
    throw err;
  }
  throw new Error('resolved');
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const segmentFile = (dir: string): string => join(dir, readdirSync(dir).filter((n) => n.startsWith('seg-')).sort().at(-1)!);

describe('lock', () => {
  it('refuses a second store on the same directory while the first is open, and lets it in after close', async () => {
    const dir = tempDir();
    const { store } = await openJournal({ dir });
    const err = await rejection(new JournalStore({ dir }).open());
    expect(err.code).toBe('MDP_STORE_LOCKED');
    expect(err.file).toBe(join(dir, 'LOCK'));
    expect(err.message).toContain(`process ${process.pid}`);
    expect(err.message).toContain(`remove ${join(dir, 'LOCK')}`);
    // the refused store did not remove the holder's lock
    expect(JSON.parse(readFileSync(join(dir, 'LOCK'), 'utf8'))).toMatchObject({ pid: process.pid, host: hostname() });
    await store.close();
    const second = await openJournal({ dir });
    await second.store.close();
  });

  const lockOf = (pid: number, host = hostname()): string => JSON.stringify({ pid, host, startedAt: '2020-01-01T00:00:00.000Z' });

  it('refuses a LOCK naming another live process on this host', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'LOCK'), lockOf(process.ppid));
    const err = await rejection(new JournalStore({ dir }).open());
    expect(err.code).toBe('MDP_STORE_LOCKED');
    expect(err.message).toContain(`process ${process.ppid} on ${hostname()}`);
    expect(existsSync(join(dir, 'LOCK'))).toBe(true);
  });

  it.each([
    ['a dead process', () => lockOf(spawnSync(process.execPath, ['-e', '']).pid!)],
    ['this very process (a previous run with the same pid)', () => lockOf(process.pid)],
    ['another host', () => lockOf(process.ppid, 'elsewhere.example')],
  ])('takes over a LOCK naming %s', async (_name, lock) => {
    const dir = tempDir();
    writeFileSync(join(dir, 'LOCK'), lock());
    const logger = recordingLogger();
    const { store } = await openJournal({ dir, logger });
    expect(JSON.parse(readFileSync(join(dir, 'LOCK'), 'utf8')).pid).toBe(process.pid);
    expect(logger.lines.some((l) => l.msg === 'journal: removing a stale LOCK')).toBe(true);
    expect(readdirSync(dir).filter((n) => n.includes('stale'))).toEqual([]);
    await store.close();
  });

  it('waits for an unreadable LOCK to age before taking it over (its owner may still be writing it)', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'LOCK'), '');
    expect((await rejection(new JournalStore({ dir }).open())).code).toBe('MDP_STORE_LOCKED');
    const old = new Date(Date.now() - 60_000);
    utimesSync(join(dir, 'LOCK'), old, old);
    const { store } = await openJournal({ dir });
    await store.close();
  });
});

describe('budget', () => {
  it('refuses a new request past the budget, never a record about an accepted one; compaction makes room again', async () => {
    const dir = tempDir();
    const size = recordSize(requestRecord(1, 200));
    const maxBytes = 16 + 16 + size * 5 + 10; // two file headers and five requests
    const { store } = await openJournal({ dir, fsync: 'never', maxBytes });
    for (const n of range(1, 5)) await store.append(requestRecord(n, 200));
    const err = await rejection(store.append(requestRecord(6, 200)));
    expect(err.code).toBe('MDP_STORE_FULL');
    expect(err.message).toContain(`of ${maxBytes} bytes in use`);
    expect(store.stats()).toMatchObject({ refusedFull: 1, requests: 5 });
    // the accepted requests' records go on, budget or not
    await store.append({ type: RecordType.REPLY, id: idOf(1), body: [new Uint8Array(4000)] });
    await store.append({ type: RecordType.ATTEMPT, id: idOf(2), attempts: 1, error: 'x' });
    await store.append(requestRecord(3, 200)); // a repeated REQUEST is not a new one
    for (const n of range(1, 5)) await store.append(done(n));
    const before = diskBytes(dir);
    expect(store.stats().bytes).toBe(before);
    await store.compact();
    expect(store.stats()).toMatchObject({ requests: 0, liveBytes: 0, compactions: 1, segments: 1 });
    expect(diskBytes(dir)).toBe(32); // an empty snapshot and an empty segment
    expect(diskBytes(dir)).toBeLessThan(before);
    await store.append(requestRecord(6, 200));
    await store.close();
  });

  it('starts a compaction when it refuses a request and closed requests hold the room', async () => {
    const dir = tempDir();
    const size = recordSize(requestRecord(1, 200));
    const logger = recordingLogger();
    const { store } = await openJournal({ dir, fsync: 'never', maxBytes: 32 + size * 4 + 100, logger });
    for (const n of range(1, 4)) await store.append(requestRecord(n, 200));
    for (const n of range(1, 4)) await store.append(done(n));
    const compacted = logger.next('journal: compacted');
    expect((await rejection(store.append(requestRecord(5, 200)))).code).toBe('MDP_STORE_FULL');
    await compacted;
    await store.append(requestRecord(5, 200));
    expect(store.stats().compactions).toBe(1);
    await store.close();
  });
});

describe('failed writes', () => {
  const fault = (code: string): NodeJS.ErrnoException => Object.assign(new Error(`${code}: injected`), { code });

  /** node:fs with hooks that a test sets to fail the next call. */
  function faultyFs(): {
    fs: JournalFs;
    failNext: Partial<Record<'writev' | 'fdatasync' | 'ftruncate', string>>;
    partial: boolean;
    /** Opening a file whose name matches fails with ENOSPC. */
    failOpen: RegExp | undefined;
  } {
    const plan = { failNext: {} as Partial<Record<'writev' | 'fdatasync' | 'ftruncate', string>>, partial: false, failOpen: undefined as RegExp | undefined };
    const take = (op: 'writev' | 'fdatasync' | 'ftruncate'): string | undefined => {
      const code = plan.failNext[op];
      delete plan.failNext[op];
      return code;
    };
    const fs: JournalFs = {
      ...nodeJournalFs,
      open: async (file, flags) => {
        if (plan.failOpen?.test(file)) throw fault('ENOSPC');
        return nodeJournalFs.open(file, flags);
      },
      writev: async (fd, buffers, position) => {
        const code = take('writev');
        if (!code) return nodeJournalFs.writev(fd, buffers, position);
        // a disk that fills up mid-write leaves part of it in the file
        if (plan.partial) await nodeJournalFs.writev(fd, buffers.slice(0, 1), position);
        throw fault(code);
      },
      fdatasync: async (fd) => {
        const code = take('fdatasync');
        if (code) throw fault(code);
        return nodeJournalFs.fdatasync(fd);
      },
      ftruncate: async (fd, length) => {
        const code = take('ftruncate');
        if (code) throw fault(code);
        return nodeJournalFs.ftruncate(fd, length);
      },
    };
    return Object.assign(plan, { fs });
  }

  it.each(['batch', 'never'] as const)('ENOSPC (fsync %s): the batch is refused, cut back off, and the next append succeeds', async (fsync) => {
    const dir = tempDir();
    const faulty = faultyFs();
    faulty.partial = true;
    const { store } = await openJournal({ dir, fsync, fs: faulty.fs });
    await store.append(requestRecord(1));
    const good = filesOf(dir);
    faulty.failNext.writev = 'ENOSPC';
    const failed = await Promise.allSettled([store.append(requestRecord(2)), store.append(requestRecord(3))]);
    for (const f of failed) {
      expect(f.status).toBe('rejected');
      const err = (f as PromiseRejectedResult).reason as MdpError;
      expect(err.code).toBe('MDP_STORE');
      expect((err.cause as NodeJS.ErrnoException).code).toBe('ENOSPC');
    }
    expect(filesOf(dir)).toEqual(good); // no partial record left
    expect(store.get(keyOf(2))).toBeUndefined();
    await store.append(requestRecord(4));
    expect(store.stats()).toMatchObject({ errors: 1, requests: 2 });
    await store.close();
    const recovery = await recoverDir(dir);
    expect(recovery.truncated).toBeUndefined();
    expect(recovery.requests.map((r) => r.key)).toEqual([keyOf(1), keyOf(4)]);
  });

  it('a failed sync refuses its batch the same way', async () => {
    const dir = tempDir();
    const faulty = faultyFs();
    const { store } = await openJournal({ dir, fsync: 'always', fs: faulty.fs });
    await store.append(requestRecord(1));
    faulty.failNext.fdatasync = 'EIO';
    expect((await rejection(store.append(requestRecord(2)))).code).toBe('MDP_STORE');
    await store.append(requestRecord(3));
    await store.close();
    const recovery = await recoverDir(dir);
    expect(recovery.requests.map((r) => r.key)).toEqual([keyOf(1), keyOf(3)]);
  });

  it('a compaction that cannot write its snapshot fails alone: the segments stay, appends go on', async () => {
    const dir = tempDir();
    const faulty = faultyFs();
    const { store } = await openJournal({ dir, fsync: 'never', fs: faulty.fs });
    for (const n of range(1, 3)) await store.append(requestRecord(n));
    await store.append(done(2));
    faulty.failOpen = /snap-[0-9a-f]+\.log\.tmp$/;
    const err = await rejection(store.compact());
    expect(err.code).toBe('MDP_STORE');
    expect((err.cause as NodeJS.ErrnoException).code).toBe('ENOSPC');
    expect(readdirSync(dir).filter((n) => n.startsWith('snap-'))).toEqual([]);
    faulty.failOpen = undefined;
    await store.append(requestRecord(4));
    expect(store.stats()).toMatchObject({ errors: 1, compactions: 0 });
    await store.compact();
    await store.close();
    const recovery = await recoverDir(dir);
    expect(recovery.requests.map((r) => r.key)).toEqual([1, 3, 4].map(keyOf));
  });

  it('if the failed write cannot be cut back, the store refuses everything until restart, and restart recovers', async () => {
    const dir = tempDir();
    const faulty = faultyFs();
    faulty.partial = true;
    const { store } = await openJournal({ dir, fsync: 'batch', fs: faulty.fs });
    await store.append(requestRecord(1));
    faulty.failNext.writev = 'ENOSPC';
    faulty.failNext.ftruncate = 'EIO';
    const [second, third] = [store.append(requestRecord(2)), store.append(requestRecord(3))];
    expect((await rejection(second)).code).toBe('MDP_STORE');
    expect((await rejection(third)).code).toBe('MDP_STORE');
    const later = await rejection(store.append(requestRecord(4)));
    expect(later.code).toBe('MDP_STORE');
    expect(later.message).toContain('restart the broker');
    expect(store.stats().errors).toBe(2);
    await store.close();
    const recovery = await recoverDir(dir);
    expect(recovery.truncated).toBeDefined(); // the partial record, cut off now
    expect(recovery.requests.map((r) => r.key)).toEqual([keyOf(1)]);
  });
});

describe('fsync policies', () => {
  it.each(['always', 'batch', 'never'] as FsyncPolicy[])('%s: replays what it acknowledged; appends resolve in order', async (fsync) => {
    const dir = tempDir();
    const { store } = await openJournal({ dir, fsync });
    const order: number[] = [];
    const n = 48;
    await Promise.all(range(1, n).map((i) => store.append(requestRecord(i)).then(() => order.push(i))));
    expect(order).toEqual(range(1, n));
    const stats = store.stats();
    expect(stats.appends).toBe(n);
    if (fsync === 'always') expect(stats.syncs).toBe(n);
    if (fsync === 'never') expect(stats.syncs).toBe(0);
    if (fsync === 'batch') {
      // 48 appends made at once: the first goes alone, the rest share the next sync
      expect(stats.syncs).toBeLessThan(n);
      expect(stats.recordsPerSync).toBeGreaterThan(1);
    }
    const live = liveView(store.values());
    await store.close();
    const recovery = await recoverDir(dir);
    expect(liveView(recovery.requests)).toEqual(live);
  });

  it('batch with fsyncDelay gathers records that arrive after the first into its sync', async () => {
    const dir = tempDir();
    const { store } = await openJournal({ dir, fsync: 'batch', fsyncDelay: 300 });
    const first = store.append(requestRecord(1));
    await new Promise((r) => setImmediate(r));
    const second = store.append(requestRecord(2));
    await Promise.all([first, second]);
    expect(store.stats()).toMatchObject({ syncs: 1, recordsPerSync: 2 });
    await store.close();
  });
});

describe('rotation and compaction', () => {
  it('rotates small segments, compacts when garbage outweighs the live bytes, and replays the same', async () => {
    const dir = tempDir();
    const logger = recordingLogger();
    const { store } = await openJournal({ dir, fsync: 'never', segmentBytes: 1024, logger });
    for (const n of range(1, 60)) {
      await store.append(requestRecord(n, 100));
      if (n % 4 !== 0) await store.append(done(n));
    }
    const live = liveView(store.values());
    await store.close();
    const stats = store.stats();
    expect(stats.compactions).toBeGreaterThan(0);
    expect(stats.segments).toBeLessThan(10);
    expect(readdirSync(dir).filter((n) => n.startsWith('snap-'))).toHaveLength(1);
    expect(diskBytes(dir)).toBe(stats.bytes);
    const recovery = await recoverDir(dir);
    expect(liveView(recovery.requests)).toEqual(live);
    expect(recovery.requests).toHaveLength(15);
  });

  it('keeps appending while a compaction writes its snapshot', async () => {
    const dir = tempDir();
    const { store } = await openJournal({ dir, fsync: 'never' });
    // enough live bytes for a snapshot in several pieces
    for (const n of range(1, 40)) await store.append(requestRecord(n, 100_000));
    const compaction = store.compact();
    const during = Promise.all([store.append(done(1)), store.append(requestRecord(41)), store.append(done(2))]);
    await Promise.all([compaction, during]);
    const live = liveView(store.values());
    expect(live).toHaveLength(39);
    await store.close();
    const recovery = await recoverDir(dir);
    expect(liveView(recovery.requests)).toEqual(live);
  });
});

describe('close', () => {
  it('waits for queued appends, is idempotent, and refuses use afterwards', async () => {
    const dir = tempDir();
    const { store } = await openJournal({ dir, fsync: 'batch' });
    const pending = range(1, 10).map((n) => store.append(requestRecord(n)));
    const closing = store.close();
    await Promise.all([...pending, closing, store.close()]);
    expect((await rejection(store.append(requestRecord(11)))).code).toBe('MDP_STORE');
    expect((await rejection(store.compact())).code).toBe('MDP_STORE');
    const recovery = await recoverDir(dir);
    expect(recovery.requests).toHaveLength(10);
  });

  it('refuses appends before open', async () => {
    expect((await rejection(new JournalStore({ dir: tempDir() }).append(requestRecord(1)))).code).toBe('MDP_STORE');
  });
});

/**
 * Journal recovery: a clean round trip of every record type, a torn last record cut off at every
 * byte offset, damage in the middle refused (and quarantined with repair), leftovers of a crash in
 * the middle of a compaction, and files read in pieces (records across piece boundaries).
 */
import { existsSync, readFileSync, readdirSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isMdpError, type MdpError } from '../../src/mdp/errors.ts';
import { FILE_HEADER_BYTES, recordSize } from '../../src/mdp/store/codec.ts';
import { RecordType, type StoreRecord } from '../../src/mdp/store/records.ts';
import { done, filesOf, followUps, idOf, keyOf, liveView, openJournal, recordingLogger, recoverDir, removeTempDirs, requestRecord, tempDir } from './helpers.ts';

afterEach(removeTempDirs);

const NEVER = { fsync: 'never' } as const;

async function writeSession(dir: string, records: readonly StoreRecord[], options = {}): Promise<void> {
  const { store } = await openJournal({ dir, ...NEVER, ...options });
  for (const r of records) await store.append(r);
  await store.close();
}

const segmentsOf = (dir: string): string[] => readdirSync(dir).filter((n) => n.startsWith('seg-')).sort();

async function openError(options: Parameters<typeof openJournal>[0]): Promise<MdpError> {
  try {
    const { store } = await openJournal(options);
    await store.close();
  } catch (err) {
    if (isMdpError(err)) return err;
    throw err;
  }
  throw new Error('open() succeeded');
}

describe('journal recovery', () => {
  it('replays every record type, in creation order, and removes its LOCK on close', async () => {
    const dir = tempDir();
    const { store, recovery } = await openJournal({ dir, ...NEVER });
    expect(recovery).toMatchObject({ requests: [], records: 0, quarantined: [] });
    expect(recovery.truncated).toBeUndefined();
    for (let n = 1; n <= 4; n++) await store.append(requestRecord(n));
    for (const r of followUps(2)) await store.append(r);
    await store.append(done(3));
    const before = liveView(store.values());
    expect(existsSync(join(dir, 'LOCK'))).toBe(true);
    await store.close();
    expect(existsSync(join(dir, 'LOCK'))).toBe(false);

    const again = await openJournal({ dir, ...NEVER });
    expect(again.recovery.records).toBe(4 + 4 + 1);
    expect(liveView(again.recovery.requests)).toEqual(before);
    expect(liveView(again.store.values())).toEqual(before);
    expect(again.recovery.requests.map((r) => r.key)).toEqual([1, 2, 4].map(keyOf));
    expect(again.store.get(keyOf(2))).toMatchObject({ attempts: 0, dead: undefined, ttlFrom: 1_700_000_002_002 });
    // appends after a recovery go to a new segment
    expect(segmentsOf(dir)).toHaveLength(2);
    await again.store.close();
  });

  it('cuts off a torn last record at every byte offset, keeps the rest, and appends after it', async () => {
    const dir = tempDir();
    const records = [requestRecord(1), requestRecord(2), ...followUps(1).slice(0, 1), requestRecord(3, 40)];
    await writeSession(dir, records);
    const seg = segmentsOf(dir)[0]!;
    const whole = readFileSync(join(dir, seg));
    const lastStart = whole.length - recordSize(records.at(-1)!);
    const kept = liveView((await recovered(whole, whole.length)).slice(0, 2));

    async function recovered(bytes: Uint8Array, cut: number) {
      const d = tempDir();
      writeFileSync(join(d, seg), bytes.subarray(0, cut));
      const { store, recovery } = await openJournal({ dir: d, ...NEVER });
      const requests = recovery.requests;
      if (cut > lastStart && cut < whole.length) {
        expect(recovery.truncated).toEqual({ file: join(d, seg), offset: lastStart, bytes: cut - lastStart });
        expect(filesOf(d)[seg]).toBe(lastStart);
      } else expect(recovery.truncated).toBeUndefined();
      await store.append(requestRecord(9));
      await store.close();
      const again = await openJournal({ dir: d, ...NEVER });
      expect(again.recovery.truncated).toBeUndefined();
      expect(again.recovery.requests.map((r) => r.key)).toEqual([...requests.map((r) => r.key), keyOf(9)]);
      await again.store.close();
      return requests;
    }

    for (let cut = lastStart; cut < whole.length; cut++) {
      const requests = await recovered(whole, cut);
      expect(liveView(requests)).toEqual(kept);
    }
  });

  it('logs a warning when it cuts off a torn record', async () => {
    const dir = tempDir();
    await writeSession(dir, [requestRecord(1), requestRecord(2)]);
    const seg = join(dir, segmentsOf(dir)[0]!);
    truncateSync(seg, filesOf(dir)[segmentsOf(dir)[0]!]! - 3);
    const logger = recordingLogger();
    const { store, recovery } = await openJournal({ dir, ...NEVER, logger });
    expect(recovery.requests.map((r) => r.key)).toEqual([keyOf(1)]);
    expect(logger.lines.find((l) => l.level === 'warn')).toMatchObject({ msg: 'journal: cut off a record torn by a crash', fields: recovery.truncated });
    await store.close();
  });

  it('takes a zero-filled tail (power loss) as torn', async () => {
    const dir = tempDir();
    await writeSession(dir, [requestRecord(1), requestRecord(2)]);
    const seg = join(dir, segmentsOf(dir)[0]!);
    const size = readFileSync(seg).length;
    writeFileSync(seg, new Uint8Array(4096), { flag: 'a' });
    const { store, recovery } = await openJournal({ dir, ...NEVER });
    expect(recovery.requests).toHaveLength(2);
    expect(recovery.truncated).toMatchObject({ offset: size, bytes: 4096 });
    await store.close();
  });

  describe('damage in the middle', () => {
    /** Two sessions (two segments); returns the first segment's name and where its second record starts. */
    async function damaged(): Promise<{ dir: string; seg: string; offset: number }> {
      const dir = tempDir();
      await writeSession(dir, [requestRecord(1), requestRecord(2), requestRecord(3)]);
      await writeSession(dir, [requestRecord(4)]);
      const seg = segmentsOf(dir)[0]!;
      const offset = FILE_HEADER_BYTES + recordSize(requestRecord(1));
      const bytes = readFileSync(join(dir, seg));
      bytes[offset + 30] ^= 0x10;
      writeFileSync(join(dir, seg), bytes);
      return { dir, seg, offset };
    }

    it('refuses to open, naming the file and the offset and how to repair', async () => {
      const { dir, seg, offset } = await damaged();
      const err = await openError({ dir, ...NEVER });
      expect(err.code).toBe('MDP_STORE_CORRUPT');
      expect(err.file).toBe(join(dir, seg));
      expect(err.offset).toBe(offset);
      expect(err.message).toContain(`${join(dir, seg)} is damaged at byte ${offset}: record checksum mismatch`);
      expect(err.message).toContain('--repair');
      // the failed open released the directory
      expect(existsSync(join(dir, 'LOCK'))).toBe(false);
    });

    it('with repair, quarantines the segment, keeps what came before and after, and writes it down', async () => {
      const { dir, seg, offset } = await damaged();
      const logger = recordingLogger();
      const { store, recovery } = await openJournal({ dir, ...NEVER, repair: true, logger });
      const movedTo = join(dir, 'quarantine', seg);
      expect(recovery.quarantined).toEqual([{ file: join(dir, seg), movedTo, offset, reason: 'record checksum mismatch' }]);
      expect(existsSync(movedTo)).toBe(true);
      expect(recovery.requests.map((r) => r.key)).toEqual([keyOf(1), keyOf(4)]);
      expect(logger.lines.some((l) => l.level === 'warn' && l.fields?.['movedTo'] === movedTo)).toBe(true);
      await store.append(requestRecord(5));
      await store.close();
      // a plain open now is clean: the salvage is in a snapshot
      const again = await openJournal({ dir, ...NEVER });
      expect(again.recovery.quarantined).toEqual([]);
      expect(again.recovery.requests.map((r) => r.key)).toEqual([1, 4, 5].map(keyOf));
      await again.store.close();
    });

    it('treats a damaged snapshot the same way', async () => {
      const dir = tempDir();
      const { store } = await openJournal({ dir, ...NEVER });
      for (let n = 1; n <= 3; n++) await store.append(requestRecord(n));
      await store.compact();
      await store.append(requestRecord(4));
      await store.close();
      const snap = readdirSync(dir).find((n) => n.startsWith('snap-'))!;
      const bytes = readFileSync(join(dir, snap));
      bytes[bytes.length - 10] ^= 1;
      writeFileSync(join(dir, snap), bytes);
      // a snapshot is synced before it is renamed into place: even its last record cannot be torn
      const err = await openError({ dir, ...NEVER });
      expect(err).toMatchObject({ code: 'MDP_STORE_CORRUPT', file: join(dir, snap) });
      const { store: repaired, recovery } = await openJournal({ dir, ...NEVER, repair: true });
      expect(recovery.quarantined.map((q) => q.file)).toEqual([join(dir, snap)]);
      expect(recovery.requests.map((r) => r.key)).toEqual([1, 2, 4].map(keyOf));
      await repaired.close();
    });

    it('calls a torn record in a segment that is not the last damage', async () => {
      const dir = tempDir();
      await writeSession(dir, [requestRecord(1), requestRecord(2)]);
      await writeSession(dir, [requestRecord(3)]);
      const first = join(dir, segmentsOf(dir)[0]!);
      truncateSync(first, readFileSync(first).length - 1);
      const err = await openError({ dir, ...NEVER });
      expect(err).toMatchObject({ code: 'MDP_STORE_CORRUPT', file: first, offset: FILE_HEADER_BYTES + recordSize(requestRecord(1)) });
      expect(err.message).toContain('a record cut short in a segment that is not the last');
    });

    it('calls a damaged file header damage, and a newer format version MDP_STORE', async () => {
      const dir = tempDir();
      await writeSession(dir, [requestRecord(1)]);
      const seg = join(dir, segmentsOf(dir)[0]!);
      const bytes = readFileSync(seg);
      bytes[2] ^= 1;
      writeFileSync(seg, bytes);
      expect(await openError({ dir, ...NEVER })).toMatchObject({ code: 'MDP_STORE_CORRUPT', file: seg, offset: 0 });
      bytes[2] ^= 1;
      bytes.writeUInt32LE(2, 8);
      const { crc32c } = await import('../../src/mdp/store/crc32c.ts');
      bytes.writeUInt32LE(crc32c(bytes.subarray(0, 12)), 12);
      writeFileSync(seg, bytes);
      const err = await openError({ dir, ...NEVER, repair: true });
      expect(err).toMatchObject({ code: 'MDP_STORE', file: seg });
      expect(err.message).toContain('format version 2 is not supported');
      expect(existsSync(seg)).toBe(true); // not repaired away
    });
  });

  it('finishes what a crash in the middle of a compaction left: covered segments and temp files', async () => {
    const dir = tempDir();
    const { store } = await openJournal({ dir, ...NEVER });
    for (let n = 1; n <= 3; n++) await store.append(requestRecord(n));
    await store.append(done(2));
    const covered = segmentsOf(dir)[0]!;
    const saved = readFileSync(join(dir, covered));
    await store.compact();
    await store.append(requestRecord(4));
    await store.close();
    expect(segmentsOf(dir)).not.toContain(covered);
    // as if the crash came after the snapshot's rename, before the deletions; and during a rotation
    writeFileSync(join(dir, covered), saved);
    writeFileSync(join(dir, 'seg-00000000000000ff.log.tmp'), 'half');
    writeFileSync(join(dir, 'snap-00000000000000ff.log.tmp'), 'half');
    const recovery = await recoverDir(dir, NEVER);
    expect(recovery.requests.map((r) => r.key)).toEqual([1, 3, 4].map(keyOf));
    expect(readdirSync(dir).filter((n) => n === covered || n.endsWith('.tmp'))).toEqual([]);
  });

  it('reads files larger than its read buffer: records across piece boundaries, one record larger than a piece', async () => {
    const dir = tempDir();
    const records: StoreRecord[] = [];
    for (let n = 1; n <= 150; n++) records.push(requestRecord(n, 64 * 1024 + n));
    records.push(requestRecord(151, 10 * 1024 * 1024));
    records.push({ type: RecordType.REPLY, id: idOf(3), body: [new Uint8Array(9 * 1024 * 1024).fill(7)] });
    await writeSession(dir, records);
    // and a torn tail past the first pieces
    const seg = join(dir, segmentsOf(dir)[0]!);
    writeFileSync(seg, new Uint8Array([1, 2, 3]), { flag: 'a' });
    const { store, recovery } = await openJournal({ dir, ...NEVER });
    expect(recovery.requests).toHaveLength(151);
    expect(recovery.truncated?.bytes).toBe(3);
    expect(store.get(keyOf(151))!.body[1]!.length).toBe(10 * 1024 * 1024);
    expect(store.get(keyOf(3))!.reply![0]!.every((b) => b === 7)).toBe(true);
    expect(store.get(keyOf(150))!.body[1]!.length).toBe(64 * 1024 + 150);
    await store.close();
  });
});

/**
 * The durable request store (`--data-dir DIR`): an append-only journal of checksummed records in
 * segment files, group commit, snapshots that drop what closed requests left behind, and recovery
 * that tells a crash's torn tail (cut off) from damage (refused, or moved aside with repair).
 * Node-specific (node:fs); src/mdp/store/index.ts loads it only when a data directory is given.
 *
 * Layout of `dir`:
 *   LOCK                   {pid, host, startedAt} of the broker that holds the directory
 *   seg-<16 hex>.log       segments, numbered in write order; the highest is appended to
 *   snap-<16 hex>.log      a snapshot numbered N: the live requests as of the start of segment N+1,
 *                          so it replaces every segment ≤ N (and every older snapshot)
 *   *.tmp                  a segment or snapshot being created (renamed into place once synced)
 *   quarantine/            damaged files moved aside by a repair
 *
 * The live state takes a record in when the record is durable (just before its append resolves),
 * not when it is queued: what get/values show is then always what a restart would replay, a write
 * that fails leaves nothing behind, and a snapshot never holds a record that did not reach disk.
 */
import * as nodeFs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MdpErrorCode, isMdpError, mdpError, type MdpError } from '../errors.ts';
import { silentLogger, type Logger } from '../log.ts';
import { isNewRequest, storeClosedError, storeFullError } from './common.ts';
import {
  DecodeEnd,
  FILE_HEADER_BYTES,
  FileKind,
  MAX_RECORD_BYTES,
  RECORD_HEADER_BYTES,
  checkFileHeader,
  decodeRecords,
  encodeFileHeader,
  encodeRecord,
  recordSize,
  type OnRecord,
} from './codec.ts';
import { DEFAULT_MAX_BYTES } from './memory.ts';
import { RequestState, snapshotRecords, type StoreRecord, type StoredRequest } from './records.ts';
import { FsyncPolicy, type RequestStore, type StoreRecovery, type StoreStats } from './store.ts';

/**
 * The file operations the journal's writes go through: node:fs by default, replaceable so that a
 * test can make a write or a sync fail (ENOSPC, EIO) where the real disk would not. Reads during
 * recovery use node:fs directly; they have no failure mode worth injecting that a file can't show.
 */
export interface JournalFs {
  open(file: string, flags: string): Promise<number>;
  /** Writes at `position`; may write less than asked (the journal writes the rest). */
  writev(fd: number, buffers: readonly Uint8Array[], position: number): Promise<number>;
  fsync(fd: number): Promise<void>;
  fdatasync(fd: number): Promise<void>;
  ftruncate(fd: number, length: number): Promise<void>;
  close(fd: number): Promise<void>;
}

const done =
  <T>(resolve: (v: T) => void, reject: (e: unknown) => void) =>
  (err: NodeJS.ErrnoException | null, value?: T): void =>
    err ? reject(err) : resolve(value as T);

export const nodeJournalFs: JournalFs = {
  open: (file, flags) => new Promise((res, rej) => nodeFs.open(file, flags, 0o644, done(res, rej))),
  writev: (fd, buffers, position) => new Promise((res, rej) => nodeFs.writev(fd, buffers as Uint8Array[], position, done(res, rej))),
  fsync: (fd) => new Promise((res, rej) => nodeFs.fsync(fd, done(res, rej))),
  fdatasync: (fd) => new Promise((res, rej) => nodeFs.fdatasync(fd, done(res, rej))),
  ftruncate: (fd, length) => new Promise((res, rej) => nodeFs.ftruncate(fd, length, done(res, rej))),
  close: (fd) => new Promise((res, rej) => nodeFs.close(fd, done(res, rej))),
};

export interface JournalStoreOptions {
  dir: string;
  /** Default batch. */
  fsync?: FsyncPolicy;
  /** batch only: ms to wait after a batch's first record for more to share its sync. Default 0: records that arrive during a sync share the next one. */
  fsyncDelay?: number;
  /** A segment is closed and a new one started once it passes this size. Default 64 MiB. */
  segmentBytes?: number;
  /**
   * Budget on bytes on disk (segments + snapshot + queued). Default 1 GiB. A compaction adds up to
   * the live bytes on top while it writes its snapshot (see compact()).
   */
  maxBytes?: number;
  /** Move damaged files to quarantine/ and keep what comes before the damage, instead of refusing to start. */
  repair?: boolean;
  logger?: Logger;
  fs?: JournalFs;
}

export const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;
/** writev takes at most IOV_MAX (1024 on Linux) buffers per call. */
const MAX_IOV = 1024;
/** A batch stops growing here, so that a burst neither overshoots a segment by much nor waits behind one huge write. */
const MAX_BATCH_BYTES = 8 * 1024 * 1024;
/** A snapshot is written in pieces of about this size; each write gives the event loop back to the broker. */
const SNAPSHOT_CHUNK_BYTES = 1024 * 1024;
/** Recovery reads files in pieces of this size (a snapshot can be as large as the budget). */
const READ_BYTES = 8 * 1024 * 1024;
/** A LOCK that cannot be parsed is taken to be still being written by its owner if it is younger than this. */
const LOCK_WRITE_GRACE_MS = 10_000;

const SEGMENT = /^seg-([0-9a-f]{16})\.log$/;
const SNAPSHOT = /^snap-([0-9a-f]{16})\.log$/;
const hex16 = (n: number): string => n.toString(16).padStart(16, '0');
const segmentName = (seq: number): string => `seg-${hex16(seq)}.log`;
const snapshotName = (seq: number): string => `snap-${hex16(seq)}.log`;

/** Directories this process holds: a LOCK naming our own pid is stale unless it is one of these. */
const heldDirs = new Set<string>();

interface Pending {
  readonly record: StoreRecord;
  readonly chunks: Uint8Array[];
  readonly size: number;
  /** performance.now() when queued (for fsyncDelay). */
  readonly at: number;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

interface FileEntry {
  readonly seq: number;
  /** Size of the file, header included. */
  bytes: number;
}

interface Active {
  readonly seq: number;
  readonly fd: number;
  readonly file: string;
}

/** How reading one file ended. */
type Scan =
  | { readonly end: typeof DecodeEnd.CLEAN; readonly size: number; readonly records: number }
  | { readonly end: typeof DecodeEnd.TORN; readonly size: number; readonly records: number; readonly offset: number }
  | { readonly end: typeof DecodeEnd.CORRUPT; readonly size: number; readonly records: number; readonly offset: number; readonly reason: string };

const errnoOf = (err: unknown): string | undefined => (err as NodeJS.ErrnoException | null)?.code;
const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

export class JournalStore implements RequestStore {
  readonly kind = 'journal';
  readonly durable = true;
  private readonly dir: string;
  private readonly lockFile: string;
  private readonly policy: FsyncPolicy;
  private readonly fsyncDelay: number;
  private readonly segmentBytes: number;
  private readonly maxBytes: number;
  private readonly repair: boolean;
  private readonly log: Logger;
  private readonly fs: JournalFs;
  private readonly state = new RequestState(recordSize);

  private opened = false;
  private closed = false;
  private closing: Promise<void> | undefined;
  private lockText: string | undefined;
  /** Set when a failed write could not be undone: every later append is refused until restart. */
  private failure: MdpError | undefined;

  private active: Active | undefined;
  /** End of the last good record in the active segment: where the next write goes. */
  private offset = 0;
  /** Segments on disk in order, the active one last. */
  private segments: FileEntry[] = [];
  private snapshot: FileEntry | undefined;

  private queue: Pending[] = [];
  private queuedBytes = 0;
  private writing = false;
  private rotateWanted = false;
  private rotateWaiters: { resolve: (seq: number) => void; reject: (err: unknown) => void }[] = [];
  private idleWaiters: (() => void)[] = [];
  /** Ends the fsyncDelay wait early once a batch is full. */
  private wakeGather: (() => void) | undefined;
  private compacting: Promise<void> | undefined;

  private counters = { appends: 0, refusedFull: 0, errors: 0, compactions: 0, syncs: 0, syncedRecords: 0, lastSyncMs: 0 };

  constructor(options: JournalStoreOptions) {
    this.dir = path.resolve(options.dir);
    this.lockFile = path.join(this.dir, 'LOCK');
    this.policy = options.fsync ?? FsyncPolicy.BATCH;
    this.fsyncDelay = options.fsyncDelay ?? 0;
    this.segmentBytes = options.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
    this.maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
    this.repair = options.repair ?? false;
    this.log = options.logger ?? silentLogger;
    this.fs = options.fs ?? nodeJournalFs;
  }

  // ---- recovery -----------------------------------------------------------------------------------

  async open(): Promise<StoreRecovery> {
    if (this.opened || this.closed) throw mdpError(MdpErrorCode.STORE, 'the journal was opened already');
    this.opened = true;
    const started = performance.now();
    const created = !nodeFs.existsSync(this.dir);
    try {
      nodeFs.mkdirSync(this.dir, { recursive: true });
      if (created) await this.syncDir(path.dirname(this.dir));
    } catch (err) {
      throw this.ioError(`cannot create the data directory ${this.dir}`, err, this.dir);
    }
    this.acquireLock();
    try {
      return await this.recover(started);
    } catch (err) {
      await this.release();
      throw isMdpError(err) ? err : this.ioError(`recovery of ${this.dir} failed`, err, this.dir);
    }
  }

  private async recover(started: number): Promise<StoreRecovery> {
    const recovery: StoreRecovery = { requests: [], records: 0, files: 0, bytes: 0, durationMs: 0, quarantined: [] };
    const names = nodeFs.readdirSync(this.dir);
    const seqs = (re: RegExp): number[] =>
      names
        .map((n) => re.exec(n)?.[1])
        .filter((h): h is string => h !== undefined)
        .map((h) => parseInt(h, 16))
        .sort((a, b) => a - b);
    const snapshots = seqs(SNAPSHOT);
    const allSegments = seqs(SEGMENT);
    const apply: OnRecord = (record, _offset, size) => this.state.apply(record, size);

    const snapSeq = snapshots.at(-1);
    let base = -1; // segments up to here are covered by the snapshot
    if (snapSeq !== undefined) {
      base = snapSeq;
      const name = snapshotName(snapSeq);
      const scan = this.scanFile(name, FileKind.SNAPSHOT, apply);
      this.count(recovery, scan);
      // a snapshot is synced before it is renamed into place: anything short of clean is damage
      if (scan.end !== DecodeEnd.CLEAN) {
        const reason = scan.end === DecodeEnd.TORN ? 'snapshot cut short' : scan.reason;
        await this.damaged(recovery, name, scan.offset, reason);
      } else this.snapshot = { seq: snapSeq, bytes: scan.size };
    }
    const segments = allSegments.filter((s) => s > base);
    for (let i = 0; i < segments.length; i++) {
      const seq = segments[i]!;
      const name = segmentName(seq);
      const scan = this.scanFile(name, FileKind.SEGMENT, apply);
      this.count(recovery, scan);
      if (scan.end === DecodeEnd.CLEAN) {
        this.segments.push({ seq, bytes: scan.size });
      } else if (scan.end === DecodeEnd.TORN && i === segments.length - 1) {
        await this.truncateTorn(name, scan.offset);
        recovery.truncated = { file: path.join(this.dir, name), offset: scan.offset, bytes: scan.size - scan.offset };
        this.log.warn('journal: cut off a record torn by a crash', recovery.truncated);
        this.segments.push({ seq, bytes: scan.offset });
      } else {
        // a segment is synced before the next one is started, so only the last can end torn
        const reason = scan.end === DecodeEnd.TORN ? 'a record cut short in a segment that is not the last' : scan.reason;
        await this.damaged(recovery, name, scan.offset, reason);
      }
    }

    // files being created when the last run stopped, and what a crash between a snapshot's rename
    // and the deletions it allows left behind
    await this.remove([
      ...names.filter((n) => n.endsWith('.tmp')),
      ...snapshots.filter((s) => s !== snapSeq).map(snapshotName),
      ...allSegments.filter((s) => s <= base).map(segmentName),
    ]);

    const last = Math.max(base, allSegments.at(-1) ?? -1, 0);
    await this.startSegment(last + 1);
    // what a repair salvaged is only in memory: write it down before anything else happens
    if (recovery.quarantined.length > 0) await this.writeSnapshot(last);

    recovery.requests = [...this.state.values()];
    recovery.durationMs = performance.now() - started;
    this.log.info('journal: recovered', {
      dir: this.dir,
      requests: recovery.requests.length,
      records: recovery.records,
      files: recovery.files,
      bytes: recovery.bytes,
      ms: Math.round(recovery.durationMs),
    });
    return recovery;
  }

  private count(recovery: StoreRecovery, scan: Scan): void {
    recovery.files++;
    recovery.records += scan.records;
    recovery.bytes += scan.size;
  }

  /**
   * Reads a file's header and records in pieces (a snapshot may be as large as the budget), handing
   * each record to `onRecord`. A record cut by a piece boundary is carried over to the next piece,
   * so the verdict at the end is the one decodeRecords gives for the whole file.
   */
  private scanFile(name: string, kind: FileKind, onRecord: OnRecord): Scan {
    const file = path.join(this.dir, name);
    const fd = nodeFs.openSync(file, 'r');
    try {
      let size = nodeFs.fstatSync(fd).size;
      let buf = Buffer.allocUnsafe(Math.max(FILE_HEADER_BYTES, Math.min(size, READ_BYTES)));
      const first = Math.min(size, buf.length);
      let len = readFully(fd, buf, 0, first, 0);
      if (len < first) size = len; // the file is shorter than fstat said: it ends here
      try {
        const found = checkFileHeader(buf.subarray(0, len));
        if (found !== kind) return { end: DecodeEnd.CORRUPT, size, records: 0, offset: 0, reason: `a ${found} file where a ${kind} was expected` };
      } catch (err) {
        if (isMdpError(err) && err.code === MdpErrorCode.STORE_CORRUPT) return { end: DecodeEnd.CORRUPT, size, records: 0, offset: 0, reason: err.message };
        throw isMdpError(err) ? mdpError(err.code, `${file}: ${err.message}`, { file, offset: 0 }) : err;
      }
      let base = 0; // file offset of buf[0]
      let start = FILE_HEADER_BYTES;
      let records = 0;
      const report: OnRecord = (record, offset, bytes) => onRecord(record, base + offset, bytes);
      for (;;) {
        const r = decodeRecords(buf.subarray(0, len), start, report);
        records += r.records;
        const atEnd = base + len === size;
        if (r.end === DecodeEnd.CORRUPT) return { end: r.end, size, records, offset: base + r.offset, reason: r.reason };
        if (atEnd) return r.end === DecodeEnd.CLEAN ? { end: r.end, size, records } : { end: r.end, size, records, offset: base + r.offset };
        // carry what is left (a record the piece cut, or nothing) to the front and read on; a record
        // larger than a piece gets a buffer it fits in
        const keep = len - r.offset;
        let want = READ_BYTES;
        if (keep >= RECORD_HEADER_BYTES) {
          const n = buf.readUInt32LE(r.offset);
          if (n <= MAX_RECORD_BYTES) want = Math.max(want, RECORD_HEADER_BYTES + n - keep);
        }
        const more = Math.min(want, size - (base + len));
        if (keep + more > buf.length) {
          const bigger = Buffer.allocUnsafe(keep + more);
          buf.copy(bigger, 0, r.offset, len);
          buf = bigger;
        } else buf.copyWithin(0, r.offset, len);
        const got = readFully(fd, buf, keep, more, base + len);
        if (got < more) size = base + len + got; // the file is shorter than fstat said: it ends here
        base += r.offset;
        len = keep + got;
        start = 0;
      }
    } finally {
      nodeFs.closeSync(fd);
    }
  }

  private async truncateTorn(name: string, offset: number): Promise<void> {
    const fd = await this.fs.open(path.join(this.dir, name), 'r+');
    try {
      await this.fs.ftruncate(fd, offset);
      await this.fs.fsync(fd);
    } finally {
      await this.fs.close(fd);
    }
  }

  /** Damage found by recovery: refuse to start, or (repair) move the file aside and carry on. */
  private async damaged(recovery: StoreRecovery, name: string, offset: number, reason: string): Promise<void> {
    const file = path.join(this.dir, name);
    if (!this.repair) {
      throw mdpError(
        MdpErrorCode.STORE_CORRUPT,
        `${file} is damaged at byte ${offset}: ${reason}. Recovery stops here rather than guess. ` +
          `Starting with --repair moves the damaged file to ${path.join(this.dir, 'quarantine')}/ and keeps the records before the damage.`,
        { file, offset },
      );
    }
    const qdir = path.join(this.dir, 'quarantine');
    nodeFs.mkdirSync(qdir, { recursive: true });
    let movedTo = path.join(qdir, name);
    for (let n = 1; nodeFs.existsSync(movedTo); n++) movedTo = path.join(qdir, `${name}.${n}`);
    nodeFs.renameSync(file, movedTo);
    await this.syncDir(qdir);
    await this.syncDir(this.dir);
    recovery.quarantined.push({ file, movedTo, offset, reason });
    this.log.warn('journal: moved a damaged file aside; the records before the damage are kept', { file, movedTo, offset, reason });
  }

  // ---- lock ---------------------------------------------------------------------------------------

  /**
   * Takes the directory's LOCK. It is created exclusively (O_EXCL); one that names a live process
   * on this host (other than us) refuses the start; any other is stale and taken over.
   */
  private acquireLock(): void {
    if (heldDirs.has(this.dir)) throw this.lockedError(`process ${process.pid} (another store in this same process)`);
    const text = JSON.stringify({ pid: process.pid, host: os.hostname(), startedAt: new Date().toISOString() }) + '\n';
    for (let attempt = 0; attempt < 5; attempt++) {
      let fd: number;
      try {
        fd = nodeFs.openSync(this.lockFile, 'wx', 0o644);
      } catch (err) {
        if (errnoOf(err) !== 'EEXIST') throw this.ioError(`cannot create ${this.lockFile}`, err, this.lockFile);
        this.judgeLock();
        continue;
      }
      try {
        nodeFs.writeSync(fd, text);
        nodeFs.fsyncSync(fd);
      } catch (err) {
        // an empty LOCK would hold the directory for the grace period: leave none
        nodeFs.rmSync(this.lockFile, { force: true });
        throw this.ioError(`cannot write ${this.lockFile}`, err, this.lockFile);
      } finally {
        nodeFs.closeSync(fd);
      }
      this.lockText = text;
      heldDirs.add(this.dir);
      return;
    }
    throw mdpError(MdpErrorCode.STORE_LOCKED, `${this.lockFile} keeps being recreated by another process; is another broker starting on ${this.dir}?`, {
      file: this.lockFile,
    });
  }

  /** An existing LOCK: refuse if its owner lives, else move it out of the way. */
  private judgeLock(): void {
    let text: string;
    let mtimeMs: number;
    try {
      text = nodeFs.readFileSync(this.lockFile, 'utf8');
      mtimeMs = nodeFs.statSync(this.lockFile).mtimeMs;
    } catch (err) {
      if (errnoOf(err) === 'ENOENT') return; // its owner just removed it: try again
      throw this.ioError(`cannot read ${this.lockFile}`, err, this.lockFile);
    }
    let owner: { pid?: unknown; host?: unknown; startedAt?: unknown } | undefined;
    try {
      owner = JSON.parse(text) as typeof owner;
    } catch {
      owner = undefined;
    }
    const host = os.hostname();
    if (!owner || typeof owner.pid !== 'number') {
      // the owner writes it right after creating it: an unreadable LOCK is only stale once old
      if (Date.now() - mtimeMs < LOCK_WRITE_GRACE_MS) throw this.lockedError('a process that is still writing its lock');
    } else if (owner.host === host && owner.pid !== process.pid && isAlive(owner.pid)) {
      throw this.lockedError(`process ${owner.pid} on ${host} (since ${String(owner.startedAt ?? '?')})`);
    } else if (owner.host !== host) {
      // no way to ask another host; a container also gets a new hostname on every start
      this.log.warn('journal: taking over a LOCK written on another host', { file: this.lockFile, host: owner.host, pid: owner.pid });
    }
    this.log.warn('journal: removing a stale LOCK', { file: this.lockFile, owner: text.trim() });
    this.takeOverStale(text);
  }

  /**
   * Removes the stale LOCK whose contents are `stale`. A plain unlink could remove the fresh LOCK
   * of a broker that took it over between our read and our unlink (then both would run); moving it
   * aside first and checking what was moved makes the removal conditional: a fresh LOCK moved by
   * mistake is put back (link() fails rather than replace one created meanwhile).
   */
  private takeOverStale(stale: string): void {
    const aside = `${this.lockFile}.${process.pid}.stale`;
    try {
      nodeFs.renameSync(this.lockFile, aside);
    } catch (err) {
      if (errnoOf(err) === 'ENOENT') return;
      throw this.ioError(`cannot move the stale ${this.lockFile} aside`, err, this.lockFile);
    }
    if (nodeFs.readFileSync(aside, 'utf8') !== stale) {
      try {
        nodeFs.linkSync(aside, this.lockFile);
      } catch {
        // another LOCK exists again: its owner holds the directory
      }
    }
    nodeFs.rmSync(aside, { force: true });
  }

  private lockedError(who: string): MdpError {
    return mdpError(
      MdpErrorCode.STORE_LOCKED,
      `${this.dir} is in use by ${who}: its lock is ${this.lockFile}. ` +
        `If no broker is running there, the lock is stale: remove ${this.lockFile} and start again.`,
      { file: this.lockFile },
    );
  }

  private async release(): Promise<void> {
    if (this.active) {
      const fd = this.active.fd;
      this.active = undefined;
      await this.fs.close(fd).catch(() => {});
    }
    const ours = this.lockText;
    if (ours === undefined) return;
    this.lockText = undefined;
    heldDirs.delete(this.dir);
    // only our own: a LOCK another process wrongly took over (from another host, say) stays theirs
    let text: string | undefined;
    try {
      text = nodeFs.readFileSync(this.lockFile, 'utf8');
    } catch {
      text = undefined;
    }
    if (text === ours) nodeFs.rmSync(this.lockFile, { force: true });
  }

  // ---- appends ------------------------------------------------------------------------------------

  append(record: StoreRecord): Promise<void> {
    if (this.closed) return Promise.reject(storeClosedError());
    if (!this.active) return Promise.reject(mdpError(MdpErrorCode.STORE, 'the journal is not open'));
    if (this.failure) return Promise.reject(this.failure);
    let chunks: Uint8Array[];
    try {
      chunks = encodeRecord(record);
    } catch (err) {
      return Promise.reject(err);
    }
    const size = recordSize(record);
    if (isNewRequest(this.state, record)) {
      const used = this.bytesOnDisk() + this.queuedBytes;
      if (used + size > this.maxBytes) {
        this.counters.refusedFull++;
        // closed requests may be holding the room: make it back if there is enough to gain
        if (this.garbage() >= Math.max(size, this.maxBytes / 64)) this.compactInBackground();
        return Promise.reject(storeFullError(used, size, this.maxBytes));
      }
    }
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ record, chunks, size, at: performance.now(), resolve, reject });
      this.queuedBytes += size;
      if (this.wakeGather && this.queuedBytes >= MAX_BATCH_BYTES) this.wakeGather();
      this.kick();
    });
  }

  private kick(): void {
    if (this.writing) return;
    this.writing = true;
    void this.drain();
  }

  /** The one writer: batches, syncs and rotations run here one after another, never side by side. */
  private async drain(): Promise<void> {
    try {
      while (!this.failure && (this.queue.length > 0 || this.rotateWanted)) {
        if (this.queue.length > 0) {
          if (this.policy === FsyncPolicy.BATCH && this.fsyncDelay > 0) await this.gather();
          await this.commit(this.takeBatch());
        }
        if (!this.failure && (this.offset >= this.segmentBytes || this.rotateWanted)) await this.rotate();
      }
    } finally {
      this.writing = false;
      if (this.failure) this.rejectQueued(this.failure);
      for (const wake of this.idleWaiters.splice(0)) wake();
    }
  }

  /** fsyncDelay: let more records join the batch, counted from when its first one was queued. */
  private async gather(): Promise<void> {
    const wait = this.queue[0]!.at + this.fsyncDelay - performance.now();
    if (wait <= 0 || this.queuedBytes >= MAX_BATCH_BYTES) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => resolve(), wait);
      this.wakeGather = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.wakeGather = undefined;
  }

  private takeBatch(): Pending[] {
    if (this.policy === FsyncPolicy.ALWAYS) return this.queue.splice(0, 1);
    let n = 0;
    let bytes = 0;
    while (n < this.queue.length && (n === 0 || bytes + this.queue[n]!.size <= MAX_BATCH_BYTES)) bytes += this.queue[n++]!.size;
    return this.queue.splice(0, n);
  }

  /** Writes a batch at the end of the active segment and syncs it per the policy; then, and only then, applies and resolves. */
  private async commit(batch: Pending[]): Promise<void> {
    const active = this.active!;
    const start = this.offset;
    const chunks: Uint8Array[] = [];
    let bytes = 0;
    for (const p of batch) {
      for (const c of p.chunks) chunks.push(c);
      bytes += p.size;
    }
    this.queuedBytes -= bytes;
    const t0 = performance.now();
    try {
      await writeAll(this.fs, active.fd, chunks, start);
      if (this.policy !== FsyncPolicy.NEVER) {
        await this.fs.fdatasync(active.fd);
        this.counters.syncs++;
        this.counters.syncedRecords += batch.length;
        this.counters.lastSyncMs = performance.now() - t0;
      }
    } catch (err) {
      this.counters.errors++;
      const error = this.ioError(`writing to ${active.file} failed`, err, active.file);
      this.log.error('journal: a write failed; its appends are refused', { file: active.file, records: batch.length, error: messageOf(err) });
      // cut back before refusing, so that whoever sees the refusal sees the segment as it was
      await this.undoWrite(active, start);
      for (const p of batch) p.reject(error);
      return;
    }
    this.offset = start + bytes;
    this.segments.at(-1)!.bytes = this.offset;
    this.counters.appends += batch.length;
    for (const p of batch) {
      this.state.apply(p.record, p.size);
      p.resolve();
    }
  }

  /**
   * Cuts a failed write back off, so that no partial record stays in the middle of the segment for
   * recovery to call damage. If even that fails the segment's end is unknown: nothing more may be
   * appended after it until a restart (whose recovery sorts it out).
   */
  private async undoWrite(active: Active, offset: number): Promise<void> {
    try {
      await this.fs.ftruncate(active.fd, offset);
    } catch (err) {
      this.counters.errors++;
      this.failure = this.ioError(`the journal stopped: ${active.file} could not be cut back after a failed write; restart the broker`, err, active.file);
      this.log.error('journal: failed, appends are refused until restart', { file: active.file, error: messageOf(err) });
    }
  }

  private rejectQueued(err: unknown): void {
    const queued = this.queue.splice(0);
    this.queuedBytes = 0;
    for (const p of queued) p.reject(err);
    for (const w of this.rotateWaiters.splice(0)) w.reject(err);
    this.rotateWanted = false;
  }

  // ---- segments, snapshots, compaction ------------------------------------------------------------

  /** Creates segment `seq` (header synced, then renamed into place) and makes it the active one. */
  private async startSegment(seq: number): Promise<void> {
    const file = path.join(this.dir, segmentName(seq));
    const tmp = `${file}.tmp`;
    const fd = await this.fs.open(tmp, 'w');
    try {
      await writeAll(this.fs, fd, [encodeFileHeader(FileKind.SEGMENT)], 0);
      await this.fs.fdatasync(fd);
      await nodeFs.promises.rename(tmp, file);
      await this.syncDir(this.dir);
    } catch (err) {
      await this.fs.close(fd).catch(() => {});
      await nodeFs.promises.rm(tmp, { force: true }).catch(() => {});
      throw err;
    }
    this.active = { seq, fd, file };
    this.offset = FILE_HEADER_BYTES;
    this.segments.push({ seq, bytes: FILE_HEADER_BYTES });
  }

  /** Closes the active segment and starts the next; runs inside drain(), between batches. */
  private async rotate(): Promise<void> {
    const old = this.active!;
    const waiters = this.rotateWaiters.splice(0);
    this.rotateWanted = false;
    try {
      await this.startSegment(old.seq + 1);
    } catch (err) {
      // keep appending to the old segment; the next batch tries again
      this.counters.errors++;
      this.log.error('journal: cannot start a new segment', { dir: this.dir, error: messageOf(err) });
      for (const w of waiters) w.reject(this.ioError(`cannot start a new segment in ${this.dir}`, err, this.dir));
      return;
    }
    await this.fs.close(old.fd).catch((err: unknown) => this.log.warn('journal: closing a segment failed', { file: old.file, error: messageOf(err) }));
    for (const w of waiters) w.resolve(old.seq);
    if (waiters.length === 0 && this.garbage() > this.state.liveBytes) this.compactInBackground(old.seq);
  }

  /** Asks the writer to start a new segment after what is queued; resolves with the number of the one closed. */
  private rotateNow(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.rotateWaiters.push({ resolve, reject });
      this.rotateWanted = true;
      this.kick();
    });
  }

  /**
   * A compaction writes the live requests to a snapshot, which replaces every segment up to the
   * one closed last, then deletes those. While it writes, the disk holds up to the live bytes more
   * than the budget counts (the old segments are deleted only once the snapshot is in place): size
   * the disk for max_store_bytes plus the live bytes.
   */
  async compact(): Promise<void> {
    if (this.closed || !this.active) throw storeClosedError();
    // one compaction at a time: wait for the running one (the check and the start below are in one turn)
    while (this.compacting) await this.compacting.catch(() => {});
    const run = this.rotateNow().then((seq) => this.writeSnapshot(seq));
    this.compacting = run;
    try {
      await run;
    } finally {
      if (this.compacting === run) this.compacting = undefined;
    }
  }

  /** A compaction the store decides on (rotation, budget); skipped while one runs. */
  private compactInBackground(upTo?: number): void {
    if (this.compacting || this.closed) return;
    const run = (upTo === undefined ? this.rotateNow() : Promise.resolve(upTo)).then((seq) => this.writeSnapshot(seq));
    this.compacting = run;
    run
      .catch(() => {}) // counted and logged by writeSnapshot / rotate
      .finally(() => {
        if (this.compacting === run) this.compacting = undefined;
      });
  }

  /**
   * Writes snapshot `seq` (the live state, standing for every segment ≤ seq), then deletes what it
   * replaces. The keys are the ones live when it starts (the state already holds every record of
   * the segments it replaces); a request closed meanwhile is skipped, and one that changed is
   * written as it is when reached, which records.ts shows replays the same.
   */
  private async writeSnapshot(seq: number): Promise<void> {
    const file = path.join(this.dir, snapshotName(seq));
    const tmp = `${file}.tmp`;
    const keys = [...this.state.keys()];
    let fd: number | undefined;
    let size = FILE_HEADER_BYTES;
    try {
      fd = await this.fs.open(tmp, 'w');
      let chunks: Uint8Array[] = [encodeFileHeader(FileKind.SNAPSHOT)];
      let pending = FILE_HEADER_BYTES;
      let written = 0;
      for (const key of keys) {
        const req = this.state.get(key);
        if (!req) continue;
        for (const record of snapshotRecords(req)) {
          for (const c of encodeRecord(record)) chunks.push(c);
          pending += recordSize(record);
        }
        if (pending >= SNAPSHOT_CHUNK_BYTES) {
          await writeAll(this.fs, fd, chunks, written);
          written += pending;
          chunks = [];
          pending = 0;
        }
      }
      await writeAll(this.fs, fd, chunks, written);
      size = written + pending;
      await this.fs.fsync(fd);
      await this.fs.close(fd);
      fd = undefined;
      await nodeFs.promises.rename(tmp, file);
      await this.syncDir(this.dir);
    } catch (err) {
      this.counters.errors++;
      if (fd !== undefined) await this.fs.close(fd).catch(() => {});
      await nodeFs.promises.rm(tmp, { force: true }).catch(() => {});
      this.log.error('journal: compaction failed; the segments stay', { file, error: messageOf(err) });
      throw this.ioError(`writing the snapshot ${file} failed`, err, file);
    }
    const replaced = this.snapshot;
    this.snapshot = { seq, bytes: size };
    this.counters.compactions++;
    const covered = this.segments.filter((s) => s.seq <= seq);
    this.segments = this.segments.filter((s) => s.seq > seq);
    const names = covered.map((s) => segmentName(s.seq));
    if (replaced && replaced.seq !== seq) names.push(snapshotName(replaced.seq));
    await this.remove(names);
    this.log.info('journal: compacted', { snapshot: file, bytes: size, requests: this.state.size, removed: names.length });
  }

  /** Deletes files of the directory (missing ones are fine), then syncs the directory. */
  private async remove(names: readonly string[]): Promise<void> {
    if (names.length === 0) return;
    for (const name of names) {
      try {
        await nodeFs.promises.rm(path.join(this.dir, name), { force: true });
      } catch (err) {
        // left for the next recovery, which deletes what a snapshot covers
        this.log.warn('journal: cannot delete a replaced file', { file: name, error: messageOf(err) });
      }
    }
    await this.syncDir(this.dir);
  }

  /** fsync of a directory makes the creations, renames and deletions in it durable. */
  private async syncDir(dir: string): Promise<void> {
    let fd: number;
    try {
      fd = await this.fs.open(dir, 'r');
    } catch (err) {
      // some platforms (Windows) cannot open a directory; their metadata is durable as written
      if (process.platform === 'win32') return;
      throw err;
    }
    try {
      await this.fs.fsync(fd);
    } catch (err) {
      if (!['EINVAL', 'EISDIR', 'EPERM', 'EBADF'].includes(errnoOf(err) ?? '')) throw err;
    } finally {
      await this.fs.close(fd);
    }
  }

  // ---- reads, stats, close ------------------------------------------------------------------------

  private bytesOnDisk(): number {
    let n = this.snapshot?.bytes ?? 0;
    for (const s of this.segments) n += s.bytes;
    return n;
  }

  /** Record bytes on disk that a compaction would not keep. */
  private garbage(): number {
    const headers = FILE_HEADER_BYTES * (this.segments.length + (this.snapshot ? 1 : 0));
    return this.bytesOnDisk() - headers - this.state.liveBytes;
  }

  get(key: string): StoredRequest | undefined {
    return this.state.get(key);
  }

  values(): IterableIterator<StoredRequest> {
    return this.state.values();
  }

  stats(): StoreStats {
    const c = this.counters;
    return {
      kind: this.kind,
      durable: this.durable,
      requests: this.state.size,
      liveBytes: this.state.liveBytes,
      bytes: this.bytesOnDisk(),
      maxBytes: this.maxBytes,
      appends: c.appends,
      refusedFull: c.refusedFull,
      errors: c.errors,
      compactions: c.compactions,
      fsync: this.policy,
      syncs: c.syncs,
      recordsPerSync: c.syncs > 0 ? c.syncedRecords / c.syncs : 0,
      lastSyncMs: c.lastSyncMs,
      segments: this.segments.length,
      dir: this.dir,
    };
  }

  /** Waits for what is queued to be written, syncs, closes the files and removes the lock. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.closed = true;
    if (this.writing) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    await this.compacting?.catch(() => {});
    if (this.active && !this.failure) {
      // one sync at a clean stop, whatever the policy: a restart after it loses nothing
      await this.fs.fdatasync(this.active.fd).catch((err: unknown) => this.log.warn('journal: sync at close failed', { error: messageOf(err) }));
    }
    await this.release();
  }

  private ioError(message: string, cause: unknown, file: string): MdpError {
    return mdpError(MdpErrorCode.STORE, `${message}: ${messageOf(cause)}`, { cause, file });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errnoOf(err) === 'EPERM';
  }
}

/** Reads `length` bytes at `position` (readSync may return less); returns how many it got. */
function readFully(fd: number, buf: Buffer, offset: number, length: number, position: number): number {
  let got = 0;
  while (got < length) {
    const n = nodeFs.readSync(fd, buf, offset + got, length - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return got;
}

/**
 * Writes every chunk at `position` onwards: at most MAX_IOV buffers per writev, and what a short
 * write left is written again from where it stopped.
 */
async function writeAll(fs: JournalFs, fd: number, chunks: readonly Uint8Array[], position: number): Promise<void> {
  let i = 0;
  let head: Uint8Array | undefined; // the rest of a chunk a short write cut
  while (i < chunks.length || head) {
    const iov: Uint8Array[] = [];
    let want = 0;
    if (head) {
      iov.push(head);
      want += head.length;
    }
    for (let j = i; j < chunks.length && iov.length < MAX_IOV; j++) {
      iov.push(chunks[j]!);
      want += chunks[j]!.length;
    }
    const taken = iov.length - (head ? 1 : 0);
    const n = await fs.writev(fd, iov, position);
    if (n <= 0 && want > 0) throw mdpError(MdpErrorCode.STORE, 'a write made no progress');
    position += n;
    i += taken;
    head = undefined;
    if (n < want) {
      // find where the write stopped and go on from there
      let left = n;
      let k = 0;
      while (left >= iov[k]!.length) left -= iov[k++]!.length;
      head = iov[k]!.subarray(left);
      i -= iov.length - k - 1;
    }
  }
}

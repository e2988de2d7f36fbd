/**
 * The request store: where the broker keeps what it has accepted, behind one interface. The broker
 * depends on this file only; it never imports an implementation's internals, and nothing under
 * src/mdp/store/ imports the broker.
 *
 * - memory.ts: the default without a data directory; nothing survives the process.
 * - journal.ts: `--data-dir DIR`; append-only checksummed segments with group commit, survives kill -9
 *   (and power loss with fsync always/batch).
 * - A replicated store for clusters implements the same interface (records map onto its log).
 *
 * The contract:
 * - `open()` replays what was kept and returns the live requests, in creation order.
 * - `append(record)` resolves once the record is as durable as the store promises; only then may the
 *   broker acknowledge what it stands for (a Titanic 200, a dispatch). A new REQUEST is refused with
 *   MDP_STORE_FULL when the byte budget has no room; records about requests already accepted are
 *   never refused for the budget. I/O failures reject with MDP_STORE.
 * - Appends resolve in the order they were made.
 * - `compact()` drops what closed requests left behind; the live state does not change.
 * - `get`/`values` read the live state (the fold of every record appended, src/mdp/store/records.ts).
 */
import type { StoreRecord, StoredRequest } from './records.ts';

/** When the journal calls fsync. */
export const FsyncPolicy = {
  /** Every record is written and synced on its own before the next one. */
  ALWAYS: 'always',
  /** Records that arrive while a sync runs share the next one (group commit); an ack waits for its sync. */
  BATCH: 'batch',
  /** Written to the OS only: survives the process being killed, not the machine losing power. */
  NEVER: 'never',
} as const;
export type FsyncPolicy = (typeof FsyncPolicy)[keyof typeof FsyncPolicy];

export interface StoreStats {
  /** 'memory', 'journal', … */
  kind: string;
  /** Whether what it acknowledges survives a restart of the process. */
  durable: boolean;
  /** Live requests held. */
  requests: number;
  /** Bytes the live requests take (what a compaction would keep). */
  liveBytes: number;
  /** Bytes the store takes now (on disk for the journal; live bytes for memory). */
  bytes: number;
  /** The budget (max_store_bytes). */
  maxBytes: number;
  appends: number;
  /** New requests refused because the budget had no room. */
  refusedFull: number;
  /** Failed writes, syncs or compactions. */
  errors: number;
  compactions: number;
  /** Journal only. */
  fsync?: FsyncPolicy;
  syncs?: number;
  /** Records per sync, on average. */
  recordsPerSync?: number;
  /** Duration of the last write+sync, ms. */
  lastSyncMs?: number;
  segments?: number;
  dir?: string;
}

export interface StoreRecovery {
  /** Live requests, in creation order. */
  requests: StoredRequest[];
  /** Records read (snapshot and segments). */
  records: number;
  /** Files read. */
  files: number;
  /** Bytes read. */
  bytes: number;
  durationMs: number;
  /** A torn last record (a write cut short by a crash) that was cut off. */
  truncated?: { file: string; offset: number; bytes: number };
  /** Damaged segments moved aside by a repair, with where the damage started. */
  quarantined: { file: string; movedTo: string; offset: number; reason: string }[];
}

export interface RequestStore {
  readonly kind: string;
  readonly durable: boolean;
  /** Replays what the store kept. Called once, before anything else. */
  open(): Promise<StoreRecovery>;
  /** Appends one record; see the contract above. */
  append(record: StoreRecord): Promise<void>;
  /** Rewrites what is live and drops the rest (a no-op where nothing is kept on disk). */
  compact(): Promise<void>;
  /** Flushes what is pending and releases files and locks. Appends after close reject with MDP_STORE. */
  close(): Promise<void>;
  /** A live request by its key (the 32 lower-case hex digits of its id). */
  get(key: string): StoredRequest | undefined;
  /** Live requests, in creation order. */
  values(): IterableIterator<StoredRequest>;
  stats(): StoreStats;
}

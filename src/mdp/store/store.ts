/**
 * The request store: where the broker keeps what it has accepted, behind one interface. The broker
 * depends on this file only; it never imports an implementation's internals, and nothing under
 * src/mdp/store/ imports the broker.
 *
 * - memory.ts: the default without a data directory; nothing survives the process.
 * - journal.ts: `--data-dir DIR`; append-only checksummed segments with group commit, survives kill -9
 *   (and power loss with fsync always/batch).
 * - jetstream.ts: `--store nats://…`; NATS JetStream, replicated by NATS and shared by every broker
 *   that names it (see SharedQueue below): Titanic requests survive the machine of the broker that
 *   took them. Imported only when asked for, with the NATS client packages.
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

/**
 * What a store shared by several brokers adds (jetstream.ts). Titanic requests do not belong to the
 * broker that accepted them: once stored they wait in a queue every broker reads from, and whoever
 * has an idle worker for the service takes the next one. Their status and replies are kept where
 * any broker can read them. Memory and journal stores have no `shared`: nothing changes for them.
 *
 * The broker, with a shared store:
 * - does not queue a Titanic request it accepted: the store's queue hands it to a broker (maybe this
 *   one) through `take`, and only when that broker has room (`capacity`);
 * - forgets a Titanic request locally once its reply or its dead letter is stored;
 * - answers titanic.reply from `lookup` when the request is not one it holds.
 */
export interface SharedQueue {
  /** Called once, after open(). */
  attach(host: SharedQueueHost): void;
  /** `service` may have room for more (a worker became idle): take pending requests while it has. */
  wake(service: Uint8Array): void;
  /**
   * A Titanic request as the shared store knows it (its body may be left out), whichever broker
   * accepted it; undefined when it is unknown or closed. Rejects with MDP_STORE, in bounded time,
   * when the store cannot answer.
   */
  lookup(key: string): Promise<StoredRequest | undefined>;
}

export interface SharedQueueHost {
  /** How many more requests for `service` this broker could dispatch at once. */
  capacity(service: Uint8Array): number;
  /**
   * A request taken from the shared queue, now this broker's to run: its records (ATTEMPT, REPLY,
   * DEAD) are appended as for any other. `attempts` counts the dispatches that failed, and the
   * brokers that took it and were lost before it finished.
   */
  take(request: StoredRequest): void;
}

export interface RequestStore {
  readonly kind: string;
  readonly durable: boolean;
  /** Set by stores that several brokers share (see SharedQueue). */
  readonly shared?: SharedQueue;
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

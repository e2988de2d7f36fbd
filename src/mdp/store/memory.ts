/**
 * The request store without a data directory: the live state in memory, nothing on disk. It keeps
 * the same contract as the journal (budget, errors, order) so that the broker behaves the same
 * with either, except that nothing survives the process.
 */
import { isNewRequest, storeClosedError, storeFullError } from './common.ts';
import { recordSize } from './codec.ts';
import { RequestState, type StoreRecord, type StoredRequest } from './records.ts';
import type { RequestStore, StoreRecovery, StoreStats } from './store.ts';

export interface MemoryStoreOptions {
  /** Budget on live bytes (measured as the journal would store them). Default 1 GiB. */
  maxBytes?: number;
}

export const DEFAULT_MAX_BYTES = 1024 * 1024 * 1024;

export class MemoryStore implements RequestStore {
  readonly kind = 'memory';
  readonly durable = false;
  // measured with the journal's sizes, so that one max_store_bytes means the same with either store
  private readonly state = new RequestState(recordSize);
  private readonly maxBytes: number;
  private closed = false;
  private appends = 0;
  private refusedFull = 0;

  constructor(options: MemoryStoreOptions = {}) {
    this.maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  }

  async open(): Promise<StoreRecovery> {
    return { requests: [], records: 0, files: 0, bytes: 0, durationMs: 0, quarantined: [] };
  }

  append(record: StoreRecord): Promise<void> {
    if (this.closed) return Promise.reject(storeClosedError());
    const size = recordSize(record);
    if (isNewRequest(this.state, record) && this.state.liveBytes + size > this.maxBytes) {
      this.refusedFull++;
      return Promise.reject(storeFullError(this.state.liveBytes, size, this.maxBytes));
    }
    this.state.apply(record, size);
    this.appends++;
    return Promise.resolve();
  }

  async compact(): Promise<void> {}

  async close(): Promise<void> {
    this.closed = true;
  }

  get(key: string): StoredRequest | undefined {
    return this.state.get(key);
  }

  values(): IterableIterator<StoredRequest> {
    return this.state.values();
  }

  stats(): StoreStats {
    return {
      kind: this.kind,
      durable: this.durable,
      requests: this.state.size,
      liveBytes: this.state.liveBytes,
      bytes: this.state.liveBytes,
      maxBytes: this.maxBytes,
      appends: this.appends,
      refusedFull: this.refusedFull,
      errors: 0,
      compactions: 0,
    };
  }
}

/**
 * Entry point of the request store for the broker: picks the implementation from the options, and
 * a small CRUD view (store / retrieve / delete / list pending) built only on the RequestStore
 * interface, for code that thinks of requests as rows rather than as records.
 *
 * The journal is imported dynamically, only when a data directory is given: loading the Majordomo
 * module must not load node:fs (the library runs on runtimes without it, and without a data
 * directory nothing here touches a disk). The JetStream store likewise, only with `store`: the NATS
 * client packages are never loaded by a broker that does not use them.
 */
import { MdpErrorCode, mdpError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { MemoryStore } from './memory.ts';
import { RecordType, RequestKind, parseRequestKey, requestKey, REQUEST_ID_BYTES, type StoredRequest } from './records.ts';
import type { FsyncPolicy, RequestStore } from './store.ts';

export interface RequestStoreOptions {
  /** Where the journal lives; without one the store is in memory and nothing survives the process. */
  dataDir?: string | null;
  /** `nats://host:port[,…]`: the JetStream store shared by several brokers (not with dataDir). */
  store?: string | null;
  storeReplicas?: number;
  storeStream?: string;
  storeBucket?: string;
  storeAckWait?: number;
  /** Names this broker's journal of plain requests in a shared store. */
  nodeId?: string | null;
  fsync: FsyncPolicy;
  fsyncDelay: number;
  segmentBytes: number;
  maxBytes: number;
  repair: boolean;
  logger?: Logger;
}

/** The store the options ask for, constructed but not opened: the caller calls open(). */
export async function openRequestStore(options: RequestStoreOptions): Promise<RequestStore> {
  if (options.store) {
    if (options.dataDir) throw mdpError(MdpErrorCode.CONFIG, 'store and data_dir exclude each other: --store nats://… keeps requests in NATS JetStream, --data-dir in a local journal');
    // the NATS client is loaded only here: a broker without --store never loads it
    const { JetStreamStore } = await import('./jetstream.ts');
    return new JetStreamStore({
      url: options.store,
      replicas: options.storeReplicas,
      stream: options.storeStream,
      bucket: options.storeBucket,
      ackWait: options.storeAckWait,
      nodeId: options.nodeId ?? undefined,
      maxBytes: options.maxBytes,
      logger: options.logger,
    });
  }
  if (!options.dataDir) return new MemoryStore({ maxBytes: options.maxBytes });
  const { JournalStore } = await import('./journal.ts');
  return new JournalStore({
    dir: options.dataDir,
    fsync: options.fsync,
    fsyncDelay: options.fsyncDelay,
    segmentBytes: options.segmentBytes,
    maxBytes: options.maxBytes,
    repair: options.repair,
    logger: options.logger,
  });
}

/** The fields of a request to store; the repository fills in the rest. */
export interface NewRequest {
  readonly service: Uint8Array;
  readonly body: readonly Uint8Array[];
  readonly kind?: RequestKind;
  readonly client?: Uint8Array;
  readonly dialect?: string;
  /** Default: 16 random bytes. */
  readonly id?: Uint8Array;
  /** Default: Date.now(). */
  readonly createdAt?: number;
}

/**
 * Requests as rows over a RequestStore: each operation is one record (store = REQUEST, delete =
 * DONE) and reads are the store's live state, so it adds no state of its own and works the same
 * over every implementation.
 */
export class RequestRepository {
  private readonly backing: RequestStore;

  constructor(store: RequestStore) {
    this.backing = store;
  }

  /** Stores a new request; resolves with its key once the store holds it durably. */
  async store(request: NewRequest): Promise<string> {
    const id = request.id ?? globalThis.crypto.getRandomValues(new Uint8Array(REQUEST_ID_BYTES));
    await this.backing.append({
      type: RecordType.REQUEST,
      id,
      kind: request.kind ?? RequestKind.TITANIC,
      service: request.service,
      body: request.body,
      client: request.client ?? new Uint8Array(0),
      dialect: request.dialect ?? '',
      createdAt: request.createdAt ?? Date.now(),
    });
    return requestKey(id);
  }

  /** The live request with this key (32 hex digits, either case). */
  retrieve(key: string): StoredRequest | undefined {
    const k = parseRequestKey(key);
    return k === undefined ? undefined : this.backing.get(k);
  }

  /** Forgets the request; false if there was none. */
  async delete(key: string): Promise<boolean> {
    const req = this.retrieve(key);
    if (!req) return false;
    await this.backing.append({ type: RecordType.DONE, id: req.id });
    return true;
  }

  /** Live requests still waiting for a reply (neither answered nor dead), in creation order. */
  listPending(): StoredRequest[] {
    const out: StoredRequest[] = [];
    for (const req of this.backing.values()) if (!req.reply && !req.dead) out.push(req);
    return out;
  }
}

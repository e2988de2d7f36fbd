/**
 * MemoryStore: the contract without a disk (applies at once, budget on live bytes measured as the
 * journal stores them, close refuses later appends).
 */
import { describe, expect, it } from 'vitest';
import { recordSize } from '../../src/mdp/store/codec.ts';
import { MemoryStore } from '../../src/mdp/store/memory.ts';
import { RecordType } from '../../src/mdp/store/records.ts';
import { done, followUps, idOf, keyOf, requestRecord } from './helpers.ts';

describe('MemoryStore', () => {
  it('applies records at once and replays nothing', async () => {
    const store = new MemoryStore();
    expect(await store.open()).toEqual({ requests: [], records: 0, files: 0, bytes: 0, durationMs: 0, quarantined: [] });
    expect(store).toMatchObject({ kind: 'memory', durable: false });
    await store.append(requestRecord(1));
    await store.append(requestRecord(2));
    for (const r of followUps(1)) await store.append(r);
    await store.append(done(2));
    expect([...store.values()].map((r) => r.key)).toEqual([keyOf(1)]);
    expect(store.get(keyOf(1))).toMatchObject({ attempts: 0, reply: [expect.anything(), expect.anything()] });
    const live = store.get(keyOf(1))!.bytes;
    expect(live).toBeGreaterThan(recordSize(requestRecord(1)));
    expect(store.stats()).toMatchObject({ kind: 'memory', durable: false, requests: 1, liveBytes: live, bytes: live, appends: 7, refusedFull: 0 });
  });

  it('refuses a new request past the budget, never a record about an accepted one', async () => {
    const store = new MemoryStore({ maxBytes: recordSize(requestRecord(1)) + recordSize(requestRecord(2)) });
    await store.append(requestRecord(1));
    await store.append(requestRecord(2));
    await expect(store.append(requestRecord(3))).rejects.toMatchObject({ code: 'MDP_STORE_FULL' });
    await store.append({ type: RecordType.REPLY, id: idOf(1), body: [new Uint8Array(1000)] });
    await store.append(requestRecord(2)); // a repeat, not a new request
    expect(store.stats()).toMatchObject({ refusedFull: 1, requests: 2 });
    await store.append(done(1));
    await store.append(done(2));
    await store.append(requestRecord(3));
    await store.compact();
    expect(store.stats().requests).toBe(1);
  });

  it('refuses appends after close (MDP_STORE)', async () => {
    const store = new MemoryStore();
    await store.close();
    await store.close();
    await expect(store.append(requestRecord(1))).rejects.toMatchObject({ code: 'MDP_STORE' });
  });
});

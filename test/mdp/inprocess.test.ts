import { describe, expect, it } from 'vitest';
import { Broker, Client, Worker } from '../../src/mdp/mod.ts';

describe('smoke', () => {
  it('echo', async () => {
    const broker = new Broker({ heartbeatInterval: 100 });
    const ep = await broker.bind('tcp://127.0.0.1:*');
    const worker = new Worker(ep, 'echo', async (req, ctx) => { await ctx.partial(['p']); return req; }, { heartbeatInterval: 100 });
    const client = new Client(ep, { timeout: 1000 });
    const client1 = new Client(ep, { timeout: 1000, version: '0.1' });
    try {
      const r = await client.request('echo', ['a', 'b']);
      expect(r.map(String)).toEqual(['p', 'a', 'b']);
      const r1 = await client1.request('echo', ['c']);
      expect(r1.map(String)).toEqual(['p', 'c']);
      const chunks = [];
      for await (const c of client.stream('echo', 'x')) chunks.push([c.final, c.body.map(String)]);
      expect(chunks).toEqual([[false, ['p']], [true, ['x']]]);
      expect((await client.request('mmi.service', 'echo')).map(String)).toEqual(['200']);
      const m = broker.metrics();
      expect(m.services.echo).toMatchObject({ workers: 1, requests: 3, replies: 3, partials: 3 });
      expect(m.services.echo!.latencyMs.count).toBe(3);
      expect(m.counters.mmiRequests).toBe(1);
    } finally {
      client.close(); client1.close();
      await worker.close();
      await broker.close();
    }
  });
});

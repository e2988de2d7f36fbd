import { describe, expect, it } from 'vitest';
import * as lib from 'zeromq';
import { Broker, Client, Worker } from '../../src/mdp/mod.ts';
import { waitFor } from './helpers.ts';
import { PeerWorker } from './dialects.peers.ts';

describe('Broker, Client and Worker in one process', () => {
  it('echo with PARTIALs over 0.2 and 0.1, MMI and metrics', async () => {
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

describe('broker limits (in process, libzmq peers)', () => {
  it('drops requests beyond maxQueuedRequests and counts them', async () => {
    const broker = new Broker({ heartbeatInterval: 100, maxQueuedRequests: 2 });
    const ep = await broker.bind('tcp://127.0.0.1:*');
    const sock = new lib.Dealer({ linger: 0 });
    sock.connect(ep);
    try {
      for (let i = 0; i < 5; i++) await sock.send(['MDPC02', Buffer.of(1), 'full', String(i)]);
      await waitFor(() => broker.metrics().counters.requests === 5, 'requests');
      const m = broker.metrics().services.full!;
      expect(m.queueDepth).toBe(2);
      expect(m.drops.overflow).toBe(3);
    } finally {
      sock.close();
      await broker.close(0);
    }
  });

  it('dead-letters a request after maxRetries workers died with it', async () => {
    const broker = new Broker({ heartbeatInterval: 50, maxRetries: 1, retryBackoff: 10 });
    const ep = await broker.bind('tcp://127.0.0.1:*');
    const killers: PeerWorker[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        const w: PeerWorker = new PeerWorker('rfc18', ep, 'poison', () => {
          w.kill();
          return 'ignore';
        }, { heartbeatMs: 50 });
        killers.push(w);
      }
      await waitFor(() => broker.metrics().services.poison?.workers === 3, 'workers');
      const client = new lib.Dealer({ linger: 0 });
      client.connect(ep);
      await client.send(['MDPC02', Buffer.of(1), 'poison', 'pill']);
      await waitFor(() => broker.metrics().services.poison!.drops.abandoned === 1, 'the request to be abandoned');
      expect(broker.metrics().requests.deadLetters).toBe(1);
      const m = broker.metrics().services.poison!;
      expect(m.requeued).toBe(1);
      expect(killers.filter((k) => k.requests.length === 1)).toHaveLength(2);
      expect(m.workers).toBe(1);
      client.close();
    } finally {
      for (const k of killers) k.kill();
      await broker.close(0);
    }
  });

  it("Worker with onDisconnect 'close' stops when the broker says DISCONNECT; by default it re-registers", async () => {
    const broker = new Broker({ heartbeatInterval: 50, shutdownGrace: 0 });
    const ep = await broker.bind('tcp://127.0.0.1:*');
    const quitter = new Worker(ep, 'q', (r) => r, { heartbeatInterval: 50, onDisconnect: 'close' });
    const stayer = new Worker(ep, 'q', (r) => r, { heartbeatInterval: 50, reconnectInterval: 50 });
    const reasons: string[] = [];
    stayer.on((e) => {
      if (e.type === 'disconnect') reasons.push(e.reason);
    });
    try {
      await waitFor(() => broker.metrics().services.q?.workers === 2, 'workers');
      await broker.close(0); // DISCONNECT to every worker
      await waitFor(() => quitter.closed, 'the quitter to close');
      await waitFor(() => reasons.includes('broker-disconnect'), 'the stayer to see DISCONNECT');
      expect(stayer.closed).toBe(false);
    } finally {
      await quitter.close();
      await stayer.close(0);
    }
  });

  it('keeps LRU rotation when workers in the middle of the idle list leave; peers with their own routing ids', async () => {
    const broker = new Broker({ heartbeatInterval: 100 });
    const ep = await broker.bind('tcp://127.0.0.1:*');
    const ws: PeerWorker[] = [];
    const named = new lib.Dealer({ linger: 0, routingId: 'client-A' });
    const plain = new lib.Dealer({ linger: 0 });
    try {
      for (let i = 0; i < 4; i++) {
        ws.push(new PeerWorker('rfc18', ep, 'mid', (body) => [`w${i}`, ...body]));
        await waitFor(() => broker.metrics().services.mid?.workers === i + 1, `worker ${i}`);
      }
      // DISCONNECT from the middle of the idle list (w0 w1 w2 w3), then again (w0 w2 w3)
      await ws[1]!.send('DISCONNECT');
      await waitFor(() => broker.metrics().services.mid!.workers === 3, 'w1 to leave');
      await ws[2]!.send('DISCONNECT');
      await waitFor(() => broker.metrics().services.mid!.workers === 2, 'w2 to leave');
      expect(broker.metrics().services.mid).toMatchObject({ idleWorkers: 2, busyWorkers: 0 });
      named.connect(ep);
      plain.connect(ep);
      const servedBy: string[] = [];
      for (let i = 0; i < 4; i++) {
        const sock = i % 2 === 0 ? named : plain;
        await sock.send(['MDPC02', Buffer.of(1), 'mid', String(i)]);
        const reply = await sock.receive();
        expect(reply.slice(3).map(String)).toEqual([expect.stringMatching(/^w[03]$/), String(i)]);
        servedBy.push(String(reply[3]));
      }
      expect(servedBy).toEqual(['w0', 'w3', 'w0', 'w3']);
      expect(ws[1]!.requests.length + ws[2]!.requests.length).toBe(0);
      const m = broker.metrics();
      expect(m.services.mid).toMatchObject({ workers: 2, idleWorkers: 2, busyWorkers: 0, requests: 4, replies: 4 });
      expect(m.dialects.rfc18.clients).toBe(2);
    } finally {
      named.close();
      plain.close();
      for (const w of ws) w.kill();
      await broker.close(0);
    }
  });

  it('refuses mmi.* service names in the Worker constructor', () => {
    expect(() => new Worker('tcp://127.0.0.1:1', 'mmi.x', () => null)).toThrow(expect.objectContaining({ code: 'MDP_CONFIG' }));
  });
});

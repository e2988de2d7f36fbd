/**
 * purezmq's Client and Worker speaking the majortomo and plantd dialects to frame-exact copies of
 * those projects' brokers (test/mdp/dialects.peers.ts, PeerBroker): the way to use purezmq's classes
 * against a majortomo or plantd broker that is still in service.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Client, Worker } from '../../src/mdp/mod.ts';
import { waitFor } from './helpers.ts';
import { B, byte, E, PeerBroker, str } from './dialects.peers.ts';

const HB = 100;
const open: { close(): unknown }[] = [];
function track<T extends { close(): unknown }>(x: T): T {
  open.push(x);
  return x;
}

afterEach(async () => {
  for (const x of open.splice(0).reverse()) await x.close();
});

const head = (dialect: 'majortomo' | 'plantd', cmd: string): Buffer[] =>
  dialect === 'majortomo'
    ? [E, B(cmd.startsWith('C:') ? 'MDPC02' : 'MDPW02'), byte({ READY: 1, REQUEST: 2, PARTIAL: 3, FINAL: 4, HEARTBEAT: 5, DISCONNECT: 6 }[cmd.slice(2)]!)]
    : [E, B(cmd.startsWith('C:') ? 'MDPC02' : 'MDPW02'), B(cmd.slice(2))];

for (const dialect of ['majortomo', 'plantd'] as const) {
  describe(`purezmq Client and Worker against a ${dialect} broker`, () => {
    it('registers, heartbeats, serves a streamed request, and the frames are the ones that broker expects', async () => {
      const broker = track(new PeerBroker(dialect));
      const ep = await broker.start(HB);
      const worker = track(
        new Worker(
          ep,
          'echo',
          async (req, ctx) => {
            await ctx.partial(['first', ...req]);
            return ['last', E];
          },
          { dialect, heartbeatInterval: HB, heartbeatLiveness: 5, reconnectInterval: 50 },
        ),
      );
      await waitFor(() => broker.workerCount('echo') === 1, 'worker READY');
      const client = track(new Client(ep, { dialect, timeout: 3000, retries: 0 }));
      const parts: { final: boolean; body: string[] }[] = [];
      for await (const chunk of client.stream('echo', ['a', ''])) parts.push({ final: chunk.final, body: chunk.body.map(str) });
      expect(parts).toEqual([
        { final: false, body: ['first', 'a', ''] },
        { final: true, body: ['last', ''] },
      ]);
      // heartbeats both ways, nothing the broker copy or our worker had to drop
      await waitFor(() => broker.received.filter((m) => m.slice(1, 4).every((x, i) => x.equals(head(dialect, 'W:HEARTBEAT')[i]!))).length >= 2, 'worker heartbeats');
      expect(broker.dropped).toEqual([]);
      expect(worker.stats.malformed).toBe(0);
      expect(client.stats.malformed).toBe(0);

      const sent = broker.received.map((m) => m.slice(1)); // identity dropped
      expect(sent).toContainEqual([...head(dialect, 'W:READY'), B('echo')]);
      expect(sent).toContainEqual([...head(dialect, 'C:REQUEST'), B('echo'), B('a'), E]);
      const reply = sent.filter((m) => m[2]!.equals(head(dialect, 'W:FINAL')[2]!) || m[2]!.equals(head(dialect, 'W:PARTIAL')[2]!));
      // PARTIAL and FINAL carry the client address and the empty delimiter (plantd's broker strips it)
      expect(reply.map((m) => [m.slice(0, 3), m.slice(4)])).toEqual([
        [head(dialect, 'W:PARTIAL'), [E, B('first'), B('a'), E]],
        [head(dialect, 'W:FINAL'), [E, B('last'), E]],
      ]);
    });

    it("re-registers on a new socket after the broker's DISCONNECT, and says DISCONNECT when closed", async () => {
      const broker = track(new PeerBroker(dialect));
      const ep = await broker.start(HB);
      const worker = track(new Worker(ep, 'again', (req) => req, { dialect, heartbeatInterval: HB, reconnectInterval: 50 }));
      await waitFor(() => broker.workerCount('again') === 1, 'worker READY');
      const readies = (): Buffer[][] => broker.received.filter((m) => m.slice(1, 4).every((x, i) => x.equals(head(dialect, 'W:READY')[i]!)));
      const firstId = readies()[0]![0]!;
      await broker.disconnectAll();
      await waitFor(() => broker.workerCount('again') === 1 && readies().length === 2, 'second READY');
      expect(readies()[1]![0]!.equals(firstId)).toBe(false); // a new socket, so a new identity
      expect(worker.stats.reconnects).toBeGreaterThanOrEqual(1);
      const client = track(new Client(ep, { dialect, timeout: 3000, retries: 0 }));
      expect((await client.request('again', 'still')).map(str)).toEqual(['still']);

      await worker.close(0);
      await waitFor(() => broker.workerCount('again') === 0, 'DISCONNECT from our worker');
      expect(broker.received.at(-1)!.slice(1)).toEqual(head(dialect, 'W:DISCONNECT'));
      expect(broker.dropped).toEqual([]);
    });
  });
}

it('purezmq Client in the plantd dialect reads MMI answers from a plantd broker', async () => {
  const broker = track(new PeerBroker('plantd'));
  const ep = await broker.start(HB);
  track(new Worker(ep, 'known', (req) => req, { dialect: 'plantd', heartbeatInterval: HB }));
  await waitFor(() => broker.workerCount('known') === 1, 'worker');
  const client = track(new Client(ep, { dialect: 'plantd', timeout: 2000, retries: 0 }));
  expect((await client.request('mmi.service', 'known')).map(str)).toEqual(['200']);
  expect((await client.request('mmi.service', 'unknown')).map(str)).toEqual(['404']);
});

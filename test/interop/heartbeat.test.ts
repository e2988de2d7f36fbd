/**
 * ZMTP 3.1 heartbeats (zmtp.md §10) against libzmq, and dead-peer detection against a raw
 * node:net peer that completes the NULL handshake and then never answers.
 *
 * The keep-alive checks watch a quiet window of several heartbeat timeouts: with no
 * application traffic, only PING/PONG can keep the connection up, so a missing PONG (or a PING
 * the peer expects and never gets) shows up as a 'disconnect' within the window.
 */
import * as net from 'node:net';
import { describe, expect, it } from 'vitest';
import { bindAddress, recordEvents, sleep, Sockets, strs, within, type Sock } from '../_helpers/interop.ts';

const T = 5000;
const IVL = 100;
const TIMEOUT = 300;
/** Quiet window: four heartbeat timeouts. */
const WINDOW = 4 * TIMEOUT;
const WATCHED = ['connect', 'accept', 'handshake', 'disconnect', 'connect:retry'];

/** ROUTER (bound or connecting) and DEALER with a fixed routing id; returns both once they talk. */
async function connectedPair(
  sockets: Sockets,
  routerImpl: 'pz' | 'lib',
  routerOpts: Record<string, unknown>,
  dealerOpts: Record<string, unknown>,
  routerBinds: boolean,
): Promise<{ router: Sock; dealer: Sock }> {
  const router = sockets.make('ROUTER', routerImpl, routerOpts);
  const dealer = sockets.make('DEALER', routerImpl === 'pz' ? 'lib' : 'pz', { routingId: 'hb-dealer', ...dealerOpts });
  const [server, client] = routerBinds ? [router, dealer] : [dealer, router];
  await server.bind(bindAddress('tcp'));
  client.connect(server.lastEndpoint!);
  await dealer.send('hello');
  expect(strs(await within(router.receive(), T, 'first message'))).toEqual(['hb-dealer', 'hello']);
  return { router, dealer };
}

/** After the quiet window: both directions still deliver. */
async function stillTalking(router: Sock, dealer: Sock): Promise<void> {
  await router.send(['hb-dealer', 'still there?']);
  expect(strs(await within(dealer.receive(), T, 'message after the quiet window'))).toEqual(['still there?']);
  await dealer.send('yes');
  expect(strs(await within(router.receive(), T, 'reply after the quiet window'))).toEqual(['hb-dealer', 'yes']);
}

const LIB_HEARTBEATS = { heartbeatInterval: IVL, heartbeatTimeout: TIMEOUT, heartbeatTimeToLive: 2 * TIMEOUT };
const PZ_HEARTBEATS = { heartbeatInterval: IVL, heartbeatTimeout: TIMEOUT, heartbeatTimeToLive: 2 * TIMEOUT };

describe.concurrent('heartbeats with libzmq', () => {
  for (const pzBinds of [true, false]) {
    const how = pzBinds ? 'purezmq binds' : 'libzmq binds';

    it(`libzmq PINGs purezmq and our PONGs keep the connection (${how})`, async () => {
      const sockets = new Sockets();
      try {
        // libzmq drops the link TIMEOUT ms after a PING unless a frame arrives; it also sends
        // TTL = 2*TIMEOUT, so purezmq would drop it if libzmq's PINGs stopped
        const { router, dealer } = await connectedPair(sockets, 'pz', {}, LIB_HEARTBEATS, pzBinds);
        const libEvents = recordEvents(dealer, WATCHED);
        const pzEvents = recordEvents(router, WATCHED);
        await sleep(WINDOW);
        expect(libEvents).toEqual([]);
        expect(pzEvents).toEqual([]);
        await stillTalking(router, dealer);
      } finally {
        sockets.closeAll();
      }
    });

    it(`purezmq PINGs libzmq and libzmq's PONGs keep the connection (${how})`, async () => {
      const sockets = new Sockets();
      try {
        // purezmq drops the link TIMEOUT ms after an unanswered PING; its TTL of 2*TIMEOUT makes
        // libzmq drop the link if our PINGs stopped coming
        const { router, dealer } = await connectedPair(sockets, 'lib', {}, PZ_HEARTBEATS, !pzBinds);
        const libEvents = recordEvents(router, WATCHED);
        const pzEvents = recordEvents(dealer, WATCHED);
        await sleep(WINDOW);
        expect(pzEvents).toEqual([]);
        expect(libEvents).toEqual([]);
        await stillTalking(router, dealer);
      } finally {
        sockets.closeAll();
      }
    });
  }

  it('purezmq drops a peer that stops answering PINGs and reconnects', async () => {
    const greeting = Buffer.alloc(64);
    greeting[0] = 0xff;
    greeting[9] = 0x7f;
    greeting[10] = 3;
    greeting[11] = 1;
    greeting.write('NULL', 12, 'latin1');
    const props = Buffer.concat([Buffer.from([11]), Buffer.from('Socket-Type'), Buffer.from([0, 0, 0, 6]), Buffer.from('ROUTER')]);
    const readyBody = Buffer.concat([Buffer.from([5]), Buffer.from('READY'), props]);
    const ready = Buffer.concat([Buffer.from([0x04, readyBody.length]), readyBody]);

    // a peer that completes the NULL handshake, then reads everything and answers nothing
    const received: Buffer[] = [];
    const closed: boolean[] = [];
    const peers: net.Socket[] = [];
    const server = net.createServer((sock) => {
      peers.push(sock);
      const i = received.push(Buffer.alloc(0)) - 1;
      closed.push(false);
      sock.on('data', (d) => (received[i] = Buffer.concat([received[i]!, d])));
      sock.on('error', () => {});
      sock.on('close', () => (closed[i] = true));
      sock.write(Buffer.concat([greeting, ready]));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    const sockets = new Sockets();
    try {
      const dealer = sockets.pz('DEALER', { heartbeatInterval: IVL, heartbeatTimeout: TIMEOUT, reconnectInterval: 50 });
      const events = recordEvents(dealer, WATCHED);
      dealer.connect(`tcp://127.0.0.1:${port}`);
      await within(
        (async () => {
          while (events.filter((e) => e === 'handshake').length < 2) await sleep(10);
        })(),
        T,
        'disconnect, then a second handshake',
      );
      // first connection: handshake, dropped for silence, retried, connected and handshaken again
      expect(events.slice(0, 5)).toEqual(['connect', 'handshake', 'disconnect', 'connect:retry', 'connect']);
      expect(events[5]).toBe('handshake');
      expect(received.length).toBeGreaterThanOrEqual(2);
      expect(closed[0]).toBe(true); // purezmq closed the dead connection itself
      // what it sent before giving up: greeting, READY, then PING with TTL 0 and no context
      const first = received[0]!;
      expect(first.subarray(0, 12)).toEqual(Buffer.from([0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0x7f, 3, 1]));
      const ping = Buffer.from([0x04, 0x07, 0x04, ...Buffer.from('PING'), 0x00, 0x00]);
      expect(first.indexOf(ping, 64)).toBeGreaterThan(64);
    } finally {
      sockets.closeAll();
      for (const p of peers) p.destroy();
      server.close();
    }
  });
});

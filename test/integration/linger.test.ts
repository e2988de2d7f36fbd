/** Linger: what happens to messages already sent when the socket closes. */
import { afterEach, describe, expect, it } from 'vitest';
import * as zmq from '../../src/mod.ts';
import { bindAddress, delay, SocketTracker, str, waitForEvent, within, type Transport } from './helpers.ts';

const t = new SocketTracker();
afterEach(() => t.closeAll());

describe('linger', () => {
  for (const proto of ['tcp', 'ipc', 'inproc'] as Transport[]) {
    it(`default linger (-1): await send(); close() still delivers to a connected ROUTER (${proto})`, async () => {
      const router = t.add(new zmq.Router());
      await router.bind(bindAddress(proto));
      const dealer = new zmq.Dealer({ routingId: 'lingerer' });
      const up = waitForEvent(dealer, 'handshake');
      dealer.connect(router.lastEndpoint!);
      await up;
      const N = 20;
      const big = Buffer.alloc(256 * 1024, 7); // 5 MiB in all: cannot all be written synchronously
      for (let i = 0; i < N; i++) await dealer.send([`m${i}`, big]);
      await dealer.send('last');
      dealer.close();
      expect(dealer.closed).toBe(true);
      for (let i = 0; i < N; i++) {
        const [id, m, body] = await within(router.receive(), 5000, `message ${i}`);
        expect(Buffer.from(id!).toString()).toBe('lingerer');
        expect(Buffer.from(m!).toString()).toBe(`m${i}`);
        expect(body!.length).toBe(big.length);
      }
      expect(str(await within(router.receive(), 5000))).toEqual(['lingerer', 'last']);
    });
  }

  it('default linger: connect(); send(); close() right away still delivers once the handshake completes (tcp)', async () => {
    const router = t.add(new zmq.Router());
    await router.bind('tcp://127.0.0.1:*');
    const dealer = new zmq.Dealer({ routingId: 'hasty' });
    dealer.connect(router.lastEndpoint!);
    await dealer.send('sent-before-handshake');
    dealer.close();
    expect(str(await within(router.receive(), 5000))).toEqual(['hasty', 'sent-before-handshake']);
  });

  it('linger 0: close() drops what is queued and the connection ends at once', async () => {
    const router = t.add(new zmq.Router({ receiveHighWaterMark: 1 }));
    await router.bind('tcp://127.0.0.1:*');
    const dealer = new zmq.Dealer({ linger: 0, sendHighWaterMark: 0 });
    const up = waitForEvent(router, 'handshake');
    dealer.connect(router.lastEndpoint!);
    await up;
    const big = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < 32; i++) await dealer.send(big);
    const gone = waitForEvent(router, 'disconnect', 5000);
    dealer.close();
    await gone;
    // whatever made it across is intact; the rest was dropped (not all 32 MiB can have arrived)
    router.receiveTimeout = 200;
    let received = 0;
    for (;;) {
      const m = await router.receive().catch(() => undefined);
      if (!m) break;
      expect(m[1]!.length).toBe(big.length);
      received++;
    }
    expect(received).toBeLessThan(32);
  });

  it('linger > 0: queued messages a slow peer did not take within the linger period are dropped', async () => {
    const router = t.add(new zmq.Router({ receiveHighWaterMark: 1 }));
    await router.bind('tcp://127.0.0.1:*');
    const dealer = new zmq.Dealer({ linger: 100, sendHighWaterMark: 0 });
    const up = waitForEvent(dealer, 'handshake');
    dealer.connect(router.lastEndpoint!);
    await up;
    const big = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < 32; i++) await dealer.send(big);
    const gone = waitForEvent(router, 'disconnect', 10000);
    dealer.close();
    await delay(400); // the ROUTER reads nothing until the linger period is long over
    let received = 0;
    router.receiveTimeout = 500;
    while (received < 32) {
      const m = await router.receive().catch(() => undefined);
      if (!m) break;
      expect(m[1]!.length).toBe(big.length);
      received++;
    }
    // the connection ended after the linger period, with the rest of the queue dropped
    expect((await gone).error).toBeUndefined();
    expect(received).toBeLessThan(32);
  });

  it('default linger: a handshake that never completes does not keep the connection forever', async () => {
    const net = await import('node:net');
    const server = net.createServer(() => {}); // accepts, never speaks ZMTP
    await new Promise<void>((r) => server.listen({ host: '127.0.0.1', port: 0 }, () => r()));
    const closed = new Promise<void>((resolve) => server.on('connection', (s) => s.resume().on('close', () => resolve())));
    try {
      const port = (server.address() as import('node:net').AddressInfo).port;
      const dealer = new zmq.Dealer({ handshakeInterval: 200 });
      dealer.connect(`tcp://127.0.0.1:${port}`);
      await dealer.send('never-delivered');
      dealer.close();
      await within(closed, 5000, 'the lingering connection to end at the handshake timeout');
    } finally {
      server.close();
    }
  });

  it('linger > 0 bounds a lingering handshake too', async () => {
    const net = await import('node:net');
    const server = net.createServer(() => {});
    await new Promise<void>((r) => server.listen({ host: '127.0.0.1', port: 0 }, () => r()));
    const closed = new Promise<void>((resolve) => server.on('connection', (s) => s.resume().on('close', () => resolve())));
    try {
      const port = (server.address() as import('node:net').AddressInfo).port;
      const dealer = new zmq.Dealer({ linger: 100 }); // handshakeInterval stays at 30 s
      dealer.connect(`tcp://127.0.0.1:${port}`);
      await dealer.send('never-delivered');
      dealer.close();
      await within(closed, 5000, 'the lingering connection to end after the linger period');
    } finally {
      server.close();
    }
  });

  it('unbind() with default linger lets messages already sent by the binder reach the peer', async () => {
    const router = t.add(new zmq.Router());
    await router.bind('tcp://127.0.0.1:*');
    const ep = router.lastEndpoint!;
    const dealer = t.add(new zmq.Dealer({ routingId: 'd', reconnectInterval: -1 }));
    const up = waitForEvent(router, 'handshake');
    dealer.connect(ep);
    await up;
    await router.send(['d', 'parting-words']);
    await router.unbind(ep);
    expect(str(await within(dealer.receive(), 5000))).toEqual(['parting-words']);
  });
});

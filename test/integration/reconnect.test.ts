/** Connect before bind, queueing while disconnected, reconnect after a restart, backoff, no-reconnect. */
import { afterEach, describe, expect, it } from 'vitest';
import * as zmq from '../../src/mod.ts';
import {
  bindRetry, delay, recordEvents, SocketTracker, str, unusedEndpoint, waitForEvent, within, type Transport,
} from './helpers.ts';

const t = new SocketTracker();
afterEach(() => t.closeAll());

describe('connect before bind', () => {
  for (const proto of ['tcp', 'ipc', 'inproc'] as Transport[]) {
    it(`a message sent before the peer binds is delivered once it does (${proto})`, async () => {
      const ep = await unusedEndpoint(proto);
      const dealer = t.add(new zmq.Dealer({ routingId: 'early', reconnectInterval: 20 }));
      dealer.connect(ep);
      // queued on the connect-side pipe (within the HWM): resolves at once
      await within(dealer.send('sent-before-bind'), 1000, 'send while disconnected');
      await within(dealer.send(['second', 'multipart']), 1000, 'send while disconnected');
      const router = t.add(new zmq.Router());
      await bindRetry(router, ep);
      expect(str(await within(router.receive(), 5000))).toEqual(['early', 'sent-before-bind']);
      expect(str(await within(router.receive(), 5000))).toEqual(['early', 'second', 'multipart']);
      await router.send(['early', 'reply']);
      expect(str(await within(dealer.receive(), 5000))).toEqual(['reply']);
    });
  }

  it('immediate: true queues nothing until connected (send waits)', async () => {
    const ep = await unusedEndpoint('inproc');
    const dealer = t.add(new zmq.Dealer({ immediate: true, sendTimeout: 30 }));
    dealer.connect(ep);
    expect((await (dealer.send('x').catch((e: zmq.ZmqError) => e)) as zmq.ZmqError).code).toBe('EAGAIN');
    const router = t.add(new zmq.Router());
    const up = waitForEvent(dealer, 'handshake');
    await router.bind(ep);
    await up;
    dealer.sendTimeout = -1;
    await dealer.send('now');
    expect(str(await within(router.receive(), 2000))[1]).toBe('now');
  });
});

describe('reconnect after the binder restarts', () => {
  for (const proto of ['tcp', 'ipc', 'inproc'] as Transport[]) {
    it(`DEALER reconnects and messages flow again (${proto})`, async () => {
      const ep = await unusedEndpoint(proto);
      let router = t.add(new zmq.Router());
      await router.bind(ep);
      const dealer = t.add(new zmq.Dealer({ routingId: 'd', reconnectInterval: 20 }));
      let up = waitForEvent(dealer, 'handshake');
      dealer.connect(ep);
      await up;
      await dealer.send('before');
      expect(str(await within(router.receive(), 5000))).toEqual(['d', 'before']);

      const down = waitForEvent(dealer, 'disconnect');
      router.close();
      await down;
      // while the binder is away, sends queue up on the DEALER's pipe
      await within(dealer.send('during'), 1000, 'send while disconnected');
      up = waitForEvent(dealer, 'handshake', 10000);
      router = t.add(new zmq.Router());
      await bindRetry(router, ep);
      await up;
      await dealer.send('after');
      expect(str(await within(router.receive(), 5000))).toEqual(['d', 'during']);
      expect(str(await within(router.receive(), 5000))).toEqual(['d', 'after']);
      await router.send(['d', 'back']);
      expect(str(await within(dealer.receive(), 5000))).toEqual(['back']);
    });
  }

  it('SUB re-sends its subscriptions after the PUB restarts (tcp)', async () => {
    const ep = await unusedEndpoint('tcp');
    let pub = t.add(new zmq.Publisher());
    await pub.bind(ep);
    const sub = t.add(new zmq.Subscriber({ reconnectInterval: 20 }));
    sub.subscribe('keep');
    let up = waitForEvent(sub, 'handshake');
    sub.connect(ep);
    await up;
    await publishUntilReceived(pub, sub, 'keep-1');
    const down = waitForEvent(sub, 'disconnect');
    pub.close();
    await down;
    up = waitForEvent(sub, 'handshake', 10000);
    pub = t.add(new zmq.Publisher());
    await bindRetry(pub, ep);
    await up;
    // the new PUB knows the subscription without the application repeating it
    await publishUntilReceived(pub, sub, 'keep-2');
  });
});

/** Publishes `topic` (and a non-matching decoy) until the SUB receives it; subscriptions travel asynchronously. */
async function publishUntilReceived(pub: zmq.Publisher, sub: zmq.Subscriber, topic: string): Promise<void> {
  const got = sub.receive();
  let done = false;
  void got.then(() => (done = true), () => (done = true));
  const end = Date.now() + 5000;
  while (!done && Date.now() < end) {
    await pub.send('decoy');
    await pub.send([topic, 'x']);
    await delay(5);
  }
  expect(str(await within(got, 1000))).toEqual([topic, 'x']);
}

describe('backoff', () => {
  it('connect:retry intervals double from reconnectInterval up to reconnectMaxInterval', async () => {
    const ep = await unusedEndpoint('tcp');
    const dealer = t.add(new zmq.Dealer({ reconnectInterval: 50, reconnectMaxInterval: 400 }));
    const retries: number[] = [];
    const sixth = new Promise<void>((resolve) => {
      dealer.events.on('connect:retry', (e) => {
        expect(e.address).toBe(ep);
        expect(e.error?.code).toBe('ECONNREFUSED');
        retries.push(e.interval);
        if (retries.length === 6) resolve();
      });
    });
    dealer.connect(ep);
    await within(sixth, 10000, 'six connect:retry events');
    expect(retries).toEqual([50, 100, 200, 400, 400, 400]);
  });

  it('reconnectMaxInterval 0 keeps the interval fixed', async () => {
    const ep = await unusedEndpoint('tcp');
    const dealer = t.add(new zmq.Dealer({ reconnectInterval: 30 }));
    const retries: number[] = [];
    const third = new Promise<void>((resolve) => {
      dealer.events.on('connect:retry', (e) => {
        retries.push(e.interval);
        if (retries.length === 3) resolve();
      });
    });
    dealer.connect(ep);
    await within(third, 5000);
    expect(retries).toEqual([30, 30, 30]);
  });

  it('the backoff starts over after a successful handshake', async () => {
    const ep = await unusedEndpoint('tcp');
    const dealer = t.add(new zmq.Dealer({ reconnectInterval: 20, reconnectMaxInterval: 1000 }));
    const retries: number[] = [];
    dealer.events.on('connect:retry', (e) => retries.push(e.interval));
    const third = waitForEvent(dealer, 'connect:retry', 5000, () => retries.length === 3);
    dealer.connect(ep);
    await third;
    expect(retries).toEqual([20, 40, 80]);
    const router = t.add(new zmq.Router());
    const up = waitForEvent(dealer, 'handshake', 5000);
    await bindRetry(router, ep);
    await up;
    retries.length = 0;
    const next = waitForEvent(dealer, 'connect:retry', 5000);
    router.close();
    await next;
    expect(retries[0]).toBe(20);
  });

  it('reconnectInterval -1: no reconnect after the connection drops, nor after a refused connect', async () => {
    const ep = await unusedEndpoint('tcp');
    const router = t.add(new zmq.Router());
    await router.bind(ep);
    const dealer = t.add(new zmq.Dealer({ reconnectInterval: -1 }));
    const events = recordEvents(dealer, ['connect:delay', 'connect:retry', 'connect', 'handshake']);
    const up = waitForEvent(dealer, 'handshake');
    dealer.connect(ep);
    await up;
    const down = waitForEvent(dealer, 'disconnect');
    router.close();
    await down;
    const router2 = t.add(new zmq.Router());
    await bindRetry(router2, ep);
    await delay(300); // long enough for several attempts at the default pace; none may happen
    expect(events.map((e) => e.type)).toEqual(['connect:delay', 'connect', 'handshake']);

    const refused = t.add(new zmq.Dealer({ reconnectInterval: -1 }));
    const ev2 = recordEvents(refused, ['connect:delay', 'connect:retry', 'connect']);
    refused.connect(await unusedEndpoint('tcp'));
    await delay(300);
    expect(ev2.map((e) => e.type)).toEqual(['connect:delay']);
  });

  it('a fatal handshake error (incompatible peer) stops reconnecting, like libzmq', async () => {
    const ep = await unusedEndpoint('tcp');
    const pull = t.add(new zmq.Pull());
    await pull.bind(ep);
    const dealer = t.add(new zmq.Dealer({ reconnectInterval: 20 }));
    const delays = recordEvents(dealer, ['connect:delay']);
    const err = waitForEvent(dealer, 'handshake:error:protocol');
    dealer.connect(ep);
    expect((await err).error.code).toBe('ERR_ZMTP_INCOMPATIBLE_SOCKET_TYPE');
    await delay(200);
    expect(delays.length).toBe(1);
  });
});

describe('disconnect()', () => {
  it('stops reconnecting and drops the connect-side queue', async () => {
    const ep = await unusedEndpoint('tcp');
    const dealer = t.add(new zmq.Dealer({ routingId: 'dd', reconnectInterval: 20 }));
    dealer.connect(ep);
    await dealer.send('queued-then-dropped');
    dealer.disconnect(ep);
    const router = t.add(new zmq.Router({ receiveTimeout: 300 }));
    await bindRetry(router, ep);
    expect(((await router.receive().catch((e: zmq.ZmqError) => e)) as zmq.ZmqError).code).toBe('EAGAIN');
  });
});

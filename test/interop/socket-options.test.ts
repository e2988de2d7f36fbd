/**
 * zeromq.js socket options with behaviour on the wire, against libzmq: probeRouter, conflate,
 * XPUB welcomeMessage.
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as zmq from '../../src/mod.ts';
import { bindAddress, collect, sleep, Sockets, strs, waitUntil, within, type Impl } from '../_helpers/interop.ts';

const T = 5000;
const sockets = new Sockets();
afterEach(() => sockets.closeAll());
const name = (impl: Impl) => (impl === 'lib' ? 'libzmq' : 'purezmq');

describe('probeRouter: an empty message to each ROUTER peer as it connects', () => {
  for (const [role, impl, routerImpl] of [
    ['DEALER', 'pz', 'lib'],
    ['REQ', 'pz', 'lib'],
    ['ROUTER', 'pz', 'lib'],
    ['DEALER', 'lib', 'pz'],
  ] as const) {
    it(`${name(impl)} ${role} → ${name(routerImpl)} ROUTER`, async () => {
      const router = sockets.make('ROUTER', routerImpl);
      await router.bind(bindAddress('tcp'));
      const probing = sockets.make(role, impl, { probeRouter: true, routingId: 'prober' });
      probing.connect(router.lastEndpoint!);
      expect(strs(await within(router.receive(), T, 'the probe'))).toEqual(['prober', '']);
    });
  }
});

describe('conflate: only the newest message waits in a queue', () => {
  it('PUSH → conflating PULL (inproc): ten sends, one message received, nine counted as dropped', async () => {
    const pull = new zmq.Pull({ conflate: true });
    const push = new zmq.Push();
    try {
      await pull.bind('inproc://conflate');
      push.connect('inproc://conflate');
      for (let i = 1; i <= 10; i++) await push.send(String(i));
      await waitUntil(() => pull.droppedMessages === 9, T, 'nine replaced messages');
      expect(strs(await pull.receive())).toEqual(['10']);
      expect(pull.readable).toBe(false);
    } finally {
      push.close();
      pull.close();
    }
  });

  it('libzmq PUB → conflating purezmq SUB: the last value of the feed, whole', async () => {
    const pub = sockets.lib('PUB');
    await pub.bind(bindAddress('tcp'));
    const sub = new zmq.Subscriber({ conflate: true });
    try {
      sub.connect(pub.lastEndpoint!);
      sub.subscribe('price');
      // wait for the subscription to take effect: a probe arrives
      for (let i = 0; !sub.readable; i++) {
        if (i > 1000) throw new Error('subscription never took effect');
        await pub.send(['price', 'probe']);
        await sleep(5);
      }
      const before = sub.droppedMessages;
      for (let i = 1; i <= 100; i++) await pub.send(['price', String(i)]);
      // the probe waiting in the queue plus 99 values are replaced by the 100th
      await waitUntil(() => sub.droppedMessages - before === 100, T, 'every older message replaced');
      expect(strs(await sub.receive())).toEqual(['price', '100']);
    } finally {
      sub.close();
    }
  });

  it('a conflating purezmq DEALER never waits at the HWM: the newest message replaces the queued one', async () => {
    const dealer = new zmq.Dealer({ conflate: true, sendHighWaterMark: 1 });
    try {
      dealer.connect('tcp://127.0.0.1:1'); // nobody there: messages stay queued
      for (let i = 0; i < 5; i++) await within(dealer.send(String(i)), T, 'a send that does not wait');
      expect(dealer.droppedMessages).toBe(4);
    } finally {
      dealer.close();
    }
  });
});

describe('XPUB welcomeMessage: sent to each subscriber as it connects', () => {
  // (zeromq.js's own XPublisher with welcomeMessage delivered nothing to any SUB here, so libzmq
  // is only checked as the subscriber)
  for (const [xpubImpl, subImpl] of [['pz', 'lib'], ['pz', 'pz']] as const) {
    it(`${name(xpubImpl)} XPUB → ${name(subImpl)} SUB subscribed to it`, async () => {
      const xpub = sockets.make('XPUB', xpubImpl, { welcomeMessage: 'WELCOME' });
      await xpub.bind(bindAddress('tcp'));
      const sub = sockets.make('SUB', subImpl);
      sub.subscribe('WELCOME');
      sub.connect(xpub.lastEndpoint!);
      const log = collect(sub);
      await waitUntil(() => log.length > 0, T, 'the welcome message');
      expect(log[0]).toEqual(['WELCOME']);
    });
  }

  it('manual mode is refused (no call applies subscriptions by hand, in zeromq.js either)', () => {
    expect(() => new zmq.XPublisher({ manual: true })).toThrow(expect.objectContaining({ code: 'ENOTSUP' }));
    new zmq.XPublisher({ manual: false }).close();
  });
});

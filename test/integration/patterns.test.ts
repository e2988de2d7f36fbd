/**
 * Per-pattern behaviour between purezmq sockets: every legal socket pair on every transport,
 * PAIR exclusivity, pub-sub filtering and subscription bookkeeping, XPUB/XSUB, REQ correlation.
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as zmq from '../../src/mod.ts';
import {
  bindAddress, bindRetry, rejection, SocketTracker, str, unusedEndpoint, waitForEvent, within, type Transport,
} from './helpers.ts';

const t = new SocketTracker();
afterEach(() => t.closeAll());

const TRANSPORTS: Transport[] = ['tcp', 'ipc', 'inproc'];

async function connect(binder: zmq.Socket, connecter: zmq.Socket, proto: Transport): Promise<void> {
  t.add(binder);
  t.add(connecter);
  await binder.bind(bindAddress(proto));
  const up = waitForEvent(connecter, 'handshake');
  connecter.connect(binder.lastEndpoint!);
  await up;
}

const recv = (s: zmq.Socket) => within(s.receive(), 5000, `${s.type}.receive`).then(str);

let syncCounter = 0;

/**
 * Publishes `topics` (one single-frame message each) and returns the ones the subscriber got.
 * First it subscribes to a fresh sync topic and publishes it until it arrives: subscription
 * changes travel in order on each connection, so the publisher has then applied all earlier ones.
 */
async function deliveredTopics(pub: zmq.Socket, sub: zmq.Socket, topics: string[]): Promise<string[]> {
  const tag = `sync:${++syncCounter}`;
  if (sub instanceof zmq.Subscriber) sub.subscribe(tag);
  else await sub.send(Buffer.from(`\x01${tag}`));
  const end = Date.now() + 5000;
  sub.receiveTimeout = 10;
  try {
    probing: for (;;) {
      await pub.send([tag, 'probe']);
      for (;;) {
        const m = await sub.receive().catch(() => undefined);
        if (!m) break;
        if (str(m)[0] === tag) break probing;
      }
      if (Date.now() > end) throw new Error(`${tag} never arrived`);
    }
  } finally {
    sub.receiveTimeout = -1;
  }
  for (const topic of topics) await pub.send(topic);
  await pub.send([tag, 'end']);
  const got: string[] = [];
  for (;;) {
    const m = await recv(sub);
    if (m[0] === tag && m[1] === 'end') return got;
    if (!m[0]!.startsWith('sync')) got.push(m[0]!);
  }
}

describe('every socket pair on every transport', () => {
  type Case = { name: string; make: () => [zmq.Socket, zmq.Socket]; exchange: (b: zmq.Socket, c: zmq.Socket) => Promise<void> };
  const cases: Case[] = [
    {
      name: 'REP ← REQ',
      make: () => [new zmq.Reply(), new zmq.Request()],
      async exchange(b, c) {
        for (let i = 0; i < 3; i++) {
          await c.send(['q', `${i}`]);
          expect(await recv(b)).toEqual(['q', `${i}`]);
          await b.send(`a${i}`);
          expect(await recv(c)).toEqual([`a${i}`]);
        }
      },
    },
    {
      name: 'ROUTER ← REQ',
      make: () => [new zmq.Router(), new zmq.Request({ routingId: 'req' })],
      async exchange(b, c) {
        await c.send('q');
        expect(await recv(b)).toEqual(['req', '', 'q']);
        await b.send(['req', '', 'a']);
        expect(await recv(c)).toEqual(['a']);
      },
    },
    {
      name: 'REP ← DEALER',
      make: () => [new zmq.Reply(), new zmq.Dealer()],
      async exchange(b, c) {
        await c.send(['', 'q']);
        expect(await recv(b)).toEqual(['q']);
        await b.send('a');
        expect(await recv(c)).toEqual(['', 'a']);
      },
    },
    {
      name: 'ROUTER ← DEALER',
      make: () => [new zmq.Router(), new zmq.Dealer({ routingId: 'dlr' })],
      async exchange(b, c) {
        await c.send(['x', 'y']);
        expect(await recv(b)).toEqual(['dlr', 'x', 'y']);
        await b.send(['dlr', 'z']);
        expect(await recv(c)).toEqual(['z']);
      },
    },
    {
      name: 'DEALER ← DEALER',
      make: () => [new zmq.Dealer(), new zmq.Dealer()],
      async exchange(b, c) {
        await c.send('ping');
        expect(await recv(b)).toEqual(['ping']);
        await b.send('pong');
        expect(await recv(c)).toEqual(['pong']);
      },
    },
    {
      name: 'ROUTER ← ROUTER',
      make: () => [new zmq.Router({ routingId: 'srv' }), new zmq.Router({ routingId: 'cli' })],
      async exchange(b, c) {
        await c.send(['srv', 'hello']); // the connecter learned the binder's identity from its READY
        expect(await recv(b)).toEqual(['cli', 'hello']);
        await b.send(['cli', 'hi']);
        expect(await recv(c)).toEqual(['srv', 'hi']);
      },
    },
    {
      name: 'PULL ← PUSH',
      make: () => [new zmq.Pull(), new zmq.Push()],
      async exchange(b, c) {
        for (let i = 0; i < 5; i++) await c.send(`w${i}`);
        for (let i = 0; i < 5; i++) expect(await recv(b)).toEqual([`w${i}`]);
      },
    },
    {
      name: 'PUSH ← PULL (PUSH binds)',
      make: () => [new zmq.Push(), new zmq.Pull()],
      async exchange(b, c) {
        await b.send('w');
        expect(await recv(c)).toEqual(['w']);
      },
    },
    {
      name: 'PAIR ← PAIR',
      make: () => [new zmq.Pair(), new zmq.Pair()],
      async exchange(b, c) {
        await c.send('one');
        expect(await recv(b)).toEqual(['one']);
        await b.send('two');
        expect(await recv(c)).toEqual(['two']);
      },
    },
    {
      name: 'PUB ← SUB',
      make: () => [new zmq.Publisher(), new zmq.Subscriber()],
      async exchange(b, c) {
        (c as zmq.Subscriber).subscribe('news');
        expect(await deliveredTopics(b, c, ['news-1', 'sport-1', 'news-2'])).toEqual(['news-1', 'news-2']);
      },
    },
    {
      name: 'PUB ← XSUB',
      make: () => [new zmq.Publisher(), new zmq.XSubscriber()],
      async exchange(b, c) {
        await c.send(Buffer.from('\x01news'));
        expect(await deliveredTopics(b, c, ['news-1', 'sport-1'])).toEqual(['news-1']);
      },
    },
    {
      name: 'XPUB ← SUB',
      make: () => [new zmq.XPublisher(), new zmq.Subscriber()],
      async exchange(b, c) {
        (c as zmq.Subscriber).subscribe('news');
        expect(await recv(b)).toEqual(['\x01news']);
        expect(await deliveredTopics(b, c, ['news-1', 'sport-1'])).toEqual(['news-1']);
      },
    },
    {
      name: 'XPUB ← XSUB',
      make: () => [new zmq.XPublisher(), new zmq.XSubscriber()],
      async exchange(b, c) {
        await c.send(Buffer.from('\x01'));
        expect(await recv(b)).toEqual(['\x01']);
        await c.send(['upstream', 'message']); // not a subscription: reaches the XPUB application
        expect(await recv(b)).toEqual(['upstream', 'message']);
        await b.send(['down', 'stream']);
        expect(await recv(c)).toEqual(['down', 'stream']);
      },
    },
  ];
  for (const proto of TRANSPORTS) {
    for (const c of cases) {
      it(`${c.name} (${proto})`, async () => {
        const [binder, connecter] = c.make();
        await connect(binder, connecter, proto);
        await c.exchange(binder, connecter);
      });
    }
  }

  it('incompatible pairs are refused on every transport, on both sides', async () => {
    for (const proto of TRANSPORTS) {
      const pull = t.add(new zmq.Pull());
      const dealer = t.add(new zmq.Dealer());
      await pull.bind(bindAddress(proto));
      const local = waitForEvent(dealer, 'handshake:error:protocol');
      const remote = waitForEvent(pull, 'handshake:error:protocol');
      dealer.connect(pull.lastEndpoint!);
      expect((await local).error.code, proto).toBe('ERR_ZMTP_INCOMPATIBLE_SOCKET_TYPE');
      expect((await remote).error.code, proto).toBe('ERR_ZMTP_INCOMPATIBLE_SOCKET_TYPE');
    }
  });
});

describe('PAIR', () => {
  for (const proto of TRANSPORTS) {
    it(`ignores a second peer, as libzmq does; the first keeps working (${proto})`, async () => {
      const binder = new zmq.Pair();
      const first = new zmq.Pair();
      await connect(binder, first, proto);
      const second = t.add(new zmq.Pair({ reconnectInterval: 50 }));
      const up = waitForEvent(second, 'handshake');
      second.connect(binder.lastEndpoint!);
      await up;
      await second.send('from-second');
      await first.send('from-first');
      expect(await recv(binder)).toEqual(['from-first']);
      await binder.send('to-first');
      expect(await recv(first)).toEqual(['to-first']);
      // nothing from the second peer ever arrives; it is counted as dropped
      binder.receiveTimeout = 200;
      expect((await rejection(binder.receive())).code).toBe('EAGAIN');
      if (proto !== 'inproc') expect(binder.droppedMessages).toBe(1);
    });
  }

  it('accepts a new peer once the first one is gone', async () => {
    const binder = new zmq.Pair();
    const first = new zmq.Pair();
    await connect(binder, first, 'tcp');
    const gone = waitForEvent(binder, 'disconnect');
    first.close();
    await gone;
    const next = t.add(new zmq.Pair());
    const up = waitForEvent(binder, 'handshake');
    next.connect(binder.lastEndpoint!);
    await up;
    await next.send('replacement');
    expect(await recv(binder)).toEqual(['replacement']);
  });
});

describe('publish-subscribe', () => {
  for (const proto of TRANSPORTS) {
    it(`SUB filters by binary prefix of the first frame only (${proto})`, async () => {
      const pub = new zmq.Publisher();
      const sub = new zmq.Subscriber();
      await connect(pub, sub, proto);
      sub.subscribe('ab', Buffer.from([0x00, 0xff]));
      expect(await deliveredTopics(pub, sub, ['a', 'ab'])).toEqual(['ab']);
      await pub.send(['a', 'ab-in-second-frame']);
      await pub.send(['abc', 'x']);
      await pub.send([Buffer.from([0x00, 0xff, 0x01]), 'bin']);
      await pub.send([Buffer.from([0x00, 0xfe]), 'bin-no']);
      await pub.send('ab');
      await pub.send(['ab-end']);
      const got: string[][] = [];
      for (;;) {
        const m = await within(sub.receive(), 5000);
        if (str(m)[0] === 'ab-end') break;
        got.push(m.map((f) => Buffer.from(f).toString('hex')));
      }
      const hex = (s: string) => Buffer.from(s).toString('hex');
      expect(got).toEqual([[hex('abc'), hex('x')], ['00ff01', hex('bin')], [hex('ab')]]);
    });
  }

  it('unsubscribe stops delivery at the publisher (XSUB sees no filtering of its own)', async () => {
    const pub = new zmq.Publisher();
    const xsub = new zmq.XSubscriber();
    await connect(pub, xsub, 'tcp');
    await xsub.send(Buffer.from('\x01a'));
    expect(await deliveredTopics(pub, xsub, ['a1', 'b1'])).toEqual(['a1']);
    await xsub.send(Buffer.from('\x00a'));
    expect(await deliveredTopics(pub, xsub, ['a2', 'b2'])).toEqual([]);
  });

  it('subscriptions are counted: two subscribes need two unsubscribes', async () => {
    const pub = new zmq.Publisher();
    const sub = new zmq.Subscriber();
    await connect(pub, sub, 'tcp');
    sub.subscribe('a');
    sub.subscribe('a');
    expect(await deliveredTopics(pub, sub, ['a1'])).toEqual(['a1']);
    sub.unsubscribe('a');
    expect(await deliveredTopics(pub, sub, ['a2'])).toEqual(['a2']);
    sub.unsubscribe('a');
    expect(await deliveredTopics(pub, sub, ['a3'])).toEqual([]);
    // unsubscribing what is not subscribed is harmless
    sub.unsubscribe('never');
    expect(await deliveredTopics(pub, sub, ['a4', 'never'])).toEqual([]);
  });

  it('the empty subscription matches everything, and subscribe() with no argument means it', async () => {
    const pub = new zmq.Publisher();
    const sub = new zmq.Subscriber();
    await connect(pub, sub, 'inproc');
    sub.subscribe();
    expect(await deliveredTopics(pub, sub, ['x', 'y', ''])).toEqual(['x', 'y', '']);
  });

  it('counted subscriptions survive a reconnect: one unsubscribe of two still delivers', async () => {
    const ep = await unusedEndpoint('tcp');
    let pub = t.add(new zmq.Publisher());
    await pub.bind(ep);
    const sub = t.add(new zmq.Subscriber({ reconnectInterval: 20 }));
    sub.subscribe('a');
    sub.subscribe('a');
    let up = waitForEvent(sub, 'handshake');
    sub.connect(ep);
    await up;
    expect(await deliveredTopics(pub, sub, ['a1'])).toEqual(['a1']);
    const down = waitForEvent(sub, 'disconnect');
    pub.close();
    await down;
    up = waitForEvent(sub, 'handshake', 10000);
    pub = t.add(new zmq.Publisher());
    await bindRetry(pub, ep);
    await up;
    expect(await deliveredTopics(pub, sub, ['a2', 'b2'])).toEqual(['a2']);
    sub.unsubscribe('a'); // one of two: still subscribed, also at the new publisher
    expect(await deliveredTopics(pub, sub, ['a3'])).toEqual(['a3']);
    sub.unsubscribe('a');
    expect(await deliveredTopics(pub, sub, ['a4'])).toEqual([]);
  });

  it('a SUB connected to two PUBs gets both streams; each PUB filters independently', async () => {
    const pub1 = t.add(new zmq.Publisher());
    const pub2 = t.add(new zmq.Publisher());
    await pub1.bind('inproc://pat-pub1-' + Math.random());
    await pub2.bind('tcp://127.0.0.1:*');
    const sub = t.add(new zmq.Subscriber());
    sub.subscribe('k');
    sub.connect(pub1.lastEndpoint!);
    sub.connect(pub2.lastEndpoint!);
    expect(await deliveredTopics(pub1, sub, ['k1', 'x1'])).toEqual(['k1']);
    expect(await deliveredTopics(pub2, sub, ['k2', 'x2'])).toEqual(['k2']);
  });
});

describe('XPUB / XSUB', () => {
  /** The next message the XPUB application reads, shown as '+topic' / '-topic' for subscription events. */
  async function nextEvent(xpub: zmq.XPublisher): Promise<string> {
    const [m] = await within(xpub.receive(), 5000, 'XPUB event');
    const b = Buffer.from(m!);
    return (b[0] === 1 ? '+' : b[0] === 0 ? '-' : '?') + b.subarray(1).toString();
  }

  async function twoSubscribers(verbosity: zmq.XPublisherOptions['verbosity']) {
    const xpub = t.add(new zmq.XPublisher({ verbosity }));
    await xpub.bind('tcp://127.0.0.1:*');
    const subs: zmq.Subscriber[] = [];
    for (let i = 0; i < 2; i++) {
      const sub = t.add(new zmq.Subscriber());
      const up = waitForEvent(sub, 'handshake');
      sub.connect(xpub.lastEndpoint!);
      await up;
      subs.push(sub);
    }
    return [xpub, subs[0]!, subs[1]!] as const;
  }

  it('default: only a topic\'s first subscriber and the loss of its last one reach the application', async () => {
    const [xpub, s1, s2] = await twoSubscribers(null);
    s1.subscribe('a');
    expect(await nextEvent(xpub)).toBe('+a');
    s2.subscribe('a'); // already wanted: not told
    s2.subscribe('m2');
    expect(await nextEvent(xpub)).toBe('+m2');
    s1.unsubscribe('a'); // s2 still wants it: not told
    s1.subscribe('m1');
    expect(await nextEvent(xpub)).toBe('+m1');
    s2.unsubscribe('a');
    expect(await nextEvent(xpub)).toBe('-a');
  });

  it("verbosity 'allSubs': every subscribe reaches the application, cancels only the last", async () => {
    const [xpub, s1, s2] = await twoSubscribers('allSubs');
    s1.subscribe('a');
    expect(await nextEvent(xpub)).toBe('+a');
    s2.subscribe('a');
    expect(await nextEvent(xpub)).toBe('+a');
    s1.unsubscribe('a');
    s1.subscribe('m1');
    expect(await nextEvent(xpub)).toBe('+m1');
    s2.unsubscribe('a');
    expect(await nextEvent(xpub)).toBe('-a');
  });

  it("verbosity 'allSubsUnsubs': every subscribe and every cancel reach the application", async () => {
    const [xpub, s1, s2] = await twoSubscribers('allSubsUnsubs');
    s1.subscribe('a');
    expect(await nextEvent(xpub)).toBe('+a');
    s2.subscribe('a');
    expect(await nextEvent(xpub)).toBe('+a');
    s1.unsubscribe('a');
    expect(await nextEvent(xpub)).toBe('-a');
    s2.unsubscribe('a');
    expect(await nextEvent(xpub)).toBe('-a');
  });

  it('a departing subscriber\'s topics nobody else wants are cancelled', async () => {
    const [xpub, s1, s2] = await twoSubscribers(null);
    s1.subscribe('shared');
    expect(await nextEvent(xpub)).toBe('+shared');
    s2.subscribe('shared');
    s2.subscribe('only2');
    expect(await nextEvent(xpub)).toBe('+only2');
    const gone = waitForEvent(xpub, 'disconnect');
    s2.close();
    await gone;
    expect(await nextEvent(xpub)).toBe('-only2');
    s1.subscribe('after');
    expect(await nextEvent(xpub)).toBe('+after'); // 'shared' was not cancelled: s1 still has it
  });

  it('XSUB → XPUB proxy forwards subscriptions upstream and messages downstream', async () => {
    // upstream PUB ← XSUB | proxy | XPUB ← SUB
    const pub = t.add(new zmq.Publisher());
    await pub.bind('inproc://proxy-up-' + Math.random());
    const xsub = t.add(new zmq.XSubscriber());
    xsub.connect(pub.lastEndpoint!);
    const xpub = t.add(new zmq.XPublisher());
    await xpub.bind('tcp://127.0.0.1:*');
    const sub = t.add(new zmq.Subscriber());
    sub.connect(xpub.lastEndpoint!);
    let running = true;
    const up = (async () => {
      while (running) {
        const m = await xpub.receive().catch(() => undefined);
        if (!m) return;
        await xsub.send(m);
      }
    })();
    const down = (async () => {
      while (running) {
        const m = await xsub.receive().catch(() => undefined);
        if (!m) return;
        await xpub.send(m);
      }
    })();
    try {
      sub.subscribe('q');
      expect(await deliveredTopics(pub, sub, ['q1', 'z1'])).toEqual(['q1']);
      sub.unsubscribe('q');
      expect(await deliveredTopics(pub, sub, ['q2'])).toEqual([]);
    } finally {
      running = false;
      xpub.close();
      xsub.close();
      await Promise.all([up, down]);
    }
  });
});

describe('REQ correlate', () => {
  it('prefixes a request id; replies with a stale id are discarded', async () => {
    const router = new zmq.Router();
    const req = new zmq.Request({ correlate: true, routingId: 'rq' });
    await connect(router, req, 'tcp');
    await req.send('first');
    const [id, rid, empty, body] = await within(router.receive(), 5000);
    expect(Buffer.from(id!).toString()).toBe('rq');
    expect(rid!.length).toBe(4);
    expect(empty!.length).toBe(0);
    expect(Buffer.from(body!).toString()).toBe('first');
    const stale = Buffer.from(rid!);
    stale.writeUInt32BE((stale.readUInt32BE(0) + 1000) >>> 0);
    await router.send([id!, stale, '', 'stale-reply']);
    await router.send([id!, '', 'uncorrelated-reply']);
    await router.send([id!, rid!, '', 'right-reply']);
    expect(await recv(req)).toEqual(['right-reply']);
    // the next request carries a new id
    await req.send('second');
    const [, rid2] = await within(router.receive(), 5000);
    expect(Buffer.from(rid2!).equals(Buffer.from(rid!))).toBe(false);
  });

  it('REQ only accepts the reply from the peer it asked (round robin over two REPs)', async () => {
    const rep1 = t.add(new zmq.Reply());
    const rep2 = t.add(new zmq.Reply());
    await rep1.bind(bindAddress('inproc'));
    await rep2.bind(bindAddress('inproc'));
    const req = t.add(new zmq.Request());
    req.connect(rep1.lastEndpoint!);
    req.connect(rep2.lastEndpoint!);
    const answered: string[] = [];
    const pending = new Map<zmq.Reply, Promise<readonly [zmq.Reply, zmq.Message]>>();
    const arm = (rep: zmq.Reply) => {
      const p = rep.receive().then((m) => [rep, m] as const);
      p.catch(() => undefined); // the receive still pending at the end is rejected by close()
      pending.set(rep, p);
    };
    arm(rep1);
    arm(rep2);
    for (let i = 0; i < 4; i++) {
      await req.send(`q${i}`);
      // whichever REP got it answers
      const [rep, m] = await within(Promise.race(pending.values()), 5000);
      expect(str(m)).toEqual([`q${i}`]);
      await rep.send(`a${i}`);
      arm(rep);
      expect(await recv(req)).toEqual([`a${i}`]);
      answered.push(rep === rep1 ? 'rep1' : 'rep2');
    }
    expect(answered).toContain('rep1');
    expect(answered).toContain('rep2');
  });
});

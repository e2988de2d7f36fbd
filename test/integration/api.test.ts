/** API semantics that mirror zeromq.js v6: error codes for misuse, timeouts, close, endpoints. */
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import * as zmq from '../../src/mod.ts';
import {
  bindAddress, isPending, rejection, SocketTracker, str, thrown, unusedEndpoint, waitForEvent, within,
} from './helpers.ts';

const t = new SocketTracker();
afterEach(() => t.closeAll());

async function connectedPair<A extends zmq.Socket, B extends zmq.Socket>(binder: A, connecter: B, proto: 'tcp' | 'ipc' | 'inproc' = 'tcp') {
  t.add(binder);
  t.add(connecter);
  await binder.bind(bindAddress(proto));
  const up = waitForEvent(connecter, 'handshake');
  connecter.connect(binder.lastEndpoint!);
  await up;
  return [binder, connecter] as const;
}

describe('closed sockets', () => {
  it('send/receive/bind/connect after close → EBADF', async () => {
    const d = new zmq.Dealer();
    d.close();
    expect(d.closed).toBe(true);
    const e1 = await rejection(d.send('x'));
    expect(e1).toBeInstanceOf(zmq.ZmqError);
    expect(e1.code).toBe('EBADF');
    expect(e1.errno).toBe(9);
    expect((await rejection(d.receive())).code).toBe('EBADF');
    expect((await rejection(d.bind('tcp://127.0.0.1:*'))).code).toBe('EBADF');
    expect(thrown(() => d.connect('tcp://127.0.0.1:5555')).code).toBe('EBADF');
    d.close(); // idempotent
  });

  it('a pending receive() rejects with EAGAIN on close(); `for await` ends cleanly', async () => {
    const d = t.add(new zmq.Dealer());
    const pending = d.receive();
    const loop = (async () => {
      const got: string[] = [];
      for await (const msg of d) got.push(...str(msg));
      return got;
    })();
    await new Promise((r) => setImmediate(r));
    d.close();
    const err = await rejection(pending);
    expect(err.code).toBe('EAGAIN');
    expect(await within(loop, 2000, 'for await')).toEqual([]);
  });

  it('`for await` yields messages in order and ends on close', async () => {
    const [pull, push] = await connectedPair(new zmq.Pull(), new zmq.Push(), 'inproc');
    const got: string[] = [];
    const loop = (async () => {
      for await (const [m] of pull) {
        got.push(Buffer.from(m!).toString());
        if (got.length === 3) pull.close();
      }
    })();
    for (const m of ['a', 'b', 'c']) await push.send(m);
    await within(loop, 2000, 'for await');
    expect(got).toEqual(['a', 'b', 'c']);
  });

  it('a pending send() rejects with EAGAIN on close()', async () => {
    const d = t.add(new zmq.Dealer());
    const pending = d.send('x'); // no peer: waits
    d.close();
    expect((await rejection(pending)).code).toBe('EAGAIN');
  });
});

describe('timeouts', () => {
  it('receiveTimeout → EAGAIN', async () => {
    const d = t.add(new zmq.Dealer({ receiveTimeout: 30 }));
    const err = await rejection(d.receive());
    expect(err.code).toBe('EAGAIN');
    expect(err.errno).toBe(11);
  });

  it('receiveTimeout 0 with nothing queued → EAGAIN at once', async () => {
    const d = t.add(new zmq.Dealer({ receiveTimeout: 0 }));
    expect((await rejection(d.receive())).code).toBe('EAGAIN');
  });

  it('sendTimeout 0 with no peer → EAGAIN', async () => {
    const d = t.add(new zmq.Dealer({ sendTimeout: 0 }));
    expect((await rejection(d.send('x'))).code).toBe('EAGAIN');
    const p = t.add(new zmq.Push({ sendTimeout: 0 }));
    expect((await rejection(p.send('x'))).code).toBe('EAGAIN');
  });

  it('sendTimeout > 0 with no peer → EAGAIN after the timeout', async () => {
    const d = t.add(new zmq.Dealer({ sendTimeout: 30 }));
    expect((await rejection(d.send('x'))).code).toBe('EAGAIN');
  });

  it('timeouts can be changed on a live socket', async () => {
    const d = t.add(new zmq.Dealer());
    d.receiveTimeout = 20;
    expect((await rejection(d.receive())).code).toBe('EAGAIN');
  });
});

describe('state machines', () => {
  it('REQ: a receive() before send() and a second send() wait for their turn, as with zeromq.js', async () => {
    const [rep, req] = await connectedPair(new zmq.Reply(), new zmq.Request());
    const early = req.receive();
    expect(await isPending(early)).toBe(true);
    await req.send('q1');
    const second = req.send('q2');
    expect(await isPending(second)).toBe(true);
    expect(str(await rep.receive())).toEqual(['q1']);
    await rep.send('a1');
    // the reply reaches the receive() called before the request; then the waiting send goes out
    expect(str(await within(early, 5000))).toEqual(['a1']);
    await within(second, 5000);
    expect(str(await rep.receive())).toEqual(['q2']);
    await rep.send('a2');
    expect(str(await req.receive())).toEqual(['a2']);
  });

  it('REQ/REP: out of turn and past the timeout → EFSM (as zeromq.js), and the socket stays usable', async () => {
    const [rep, req] = await connectedPair(new zmq.Reply(), new zmq.Request());
    req.receiveTimeout = 30;
    expect((await rejection(req.receive())).code).toBe('EFSM');
    rep.sendTimeout = 30;
    expect((await rejection(rep.send('too soon'))).code).toBe('EFSM');
    await req.send('q');
    expect(str(await rep.receive())).toEqual(['q']);
    await rep.send('a');
    req.receiveTimeout = -1;
    expect(str(await req.receive())).toEqual(['a']);
  });

  it('REQ relaxed + correlate: a second request is allowed; only its reply is delivered', async () => {
    const [rep, req] = await connectedPair(new zmq.Reply(), new zmq.Request({ relaxed: true, correlate: true }));
    await req.send('first');
    await req.send('second');
    expect(str(await rep.receive())).toEqual(['first']);
    await rep.send('reply-to-first');
    expect(str(await rep.receive())).toEqual(['second']);
    await rep.send('reply-to-second');
    expect(str(await within(req.receive(), 5000))).toEqual(['reply-to-second']);
  });

  it('REP: a send() before any request answers the next one; a second receive() waits for the reply to go', async () => {
    const [rep, req] = await connectedPair(new zmq.Reply(), new zmq.Request());
    const early = rep.send('prepared answer');
    expect(await isPending(early)).toBe(true);
    await req.send('q1');
    expect(str(await rep.receive())).toEqual(['q1']);
    await within(early, 5000);
    expect(str(await req.receive())).toEqual(['prepared answer']);
    await req.send('q2');
    expect(str(await rep.receive())).toEqual(['q2']);
    const next = rep.receive();
    expect(await isPending(next)).toBe(true);
    await rep.send('a2');
    expect(str(await req.receive())).toEqual(['a2']);
    await req.send('q3');
    expect(str(await within(next, 5000))).toEqual(['q3']);
  });

  it('PUSH receive / PULL send / PUB receive / SUB send → ENOTSUP', async () => {
    const push = t.add(new zmq.Push());
    const pull = t.add(new zmq.Pull());
    const pub = t.add(new zmq.Publisher());
    const sub = t.add(new zmq.Subscriber());
    for (const p of [push.receive(), pull.send('x'), pub.receive(), sub.send('x')]) {
      const e = await rejection(p);
      expect(e.code).toBe('ENOTSUP');
      expect(e.errno).toBe(95);
    }
  });

  it('empty multipart message → EINVAL', async () => {
    const d = t.add(new zmq.Dealer());
    expect((await rejection(d.send([]))).code).toBe('EINVAL');
  });
});

describe('ROUTER routing', () => {
  it('mandatory: unknown peer → EHOSTUNREACH', async () => {
    const r = t.add(new zmq.Router({ mandatory: true }));
    const e = await rejection(r.send(['nobody', 'x']));
    expect(e.code).toBe('EHOSTUNREACH');
    expect(e.errno).toBe(113);
    expect(r.droppedMessages).toBe(0);
  });

  it('non-mandatory: unknown peer → silently dropped and counted; known peer still reached', async () => {
    const [router, dealer] = await connectedPair(new zmq.Router(), new zmq.Dealer({ routingId: 'known' }));
    await router.send(['nobody', 'x']);
    await router.send(['nobody-else', 'y']);
    expect(router.droppedMessages).toBe(2);
    await router.send(['known', 'z']);
    expect(str(await dealer.receive())).toEqual(['z']);
    expect(router.droppedMessages).toBe(2);
  });

  it('a ROUTER message without a body frame → EINVAL', async () => {
    const r = t.add(new zmq.Router());
    expect((await rejection(r.send('only-an-id'))).code).toBe('EINVAL');
  });
});

describe('endpoints and options', () => {
  it('malformed endpoints → EINVAL; unknown transports → EPROTONOSUPPORT', async () => {
    const d = t.add(new zmq.Dealer());
    for (const bad of ['nonsense', 'tcp://127.0.0.1', 'tcp://127.0.0.1:99999', 'tcp://127.0.0.1:abc', 'tcp://:5555', 'inproc://', 'ipc://']) {
      expect((await rejection(d.bind(bad))).code, bad).toBe('EINVAL');
      expect(thrown(() => d.connect(bad)).code, bad).toBe('EINVAL');
    }
    // wildcards only make sense for bind
    expect(thrown(() => d.connect('tcp://127.0.0.1:*')).code).toBe('EINVAL');
    expect(thrown(() => d.connect('tcp://*:5555')).code).toBe('EINVAL');
    for (const bad of ['udp://127.0.0.1:5555', 'pgm://eth0;239.192.1.1:5555', 'ws://127.0.0.1:80']) {
      expect((await rejection(d.bind(bad))).code, bad).toBe('EPROTONOSUPPORT');
      const e = thrown(() => d.connect(bad));
      expect(e.code, bad).toBe('EPROTONOSUPPORT');
      expect(e.address).toBe(bad);
    }
  });

  it('bind to a TCP port in use → EADDRINUSE (and a bind:error event)', async () => {
    const a = t.add(new zmq.Router());
    const b = t.add(new zmq.Router());
    await a.bind('tcp://127.0.0.1:*');
    const ev = waitForEvent(b, 'bind:error');
    const e = await rejection(b.bind(a.lastEndpoint!));
    expect(e.code).toBe('EADDRINUSE');
    expect(e.errno).toBe(98);
    expect((await ev).error.code).toBe('EADDRINUSE');
  });

  it('bind to a TCP port held by a foreign process socket → EADDRINUSE', async () => {
    const server = net.createServer();
    await new Promise<void>((r) => server.listen({ host: '127.0.0.1', port: 0 }, () => r()));
    try {
      const port = (server.address() as net.AddressInfo).port;
      const r = t.add(new zmq.Router());
      expect((await rejection(r.bind(`tcp://127.0.0.1:${port}`))).code).toBe('EADDRINUSE');
    } finally {
      server.close();
    }
  });

  it('bind to an inproc name in use → EADDRINUSE', async () => {
    const a = t.add(new zmq.Router());
    const b = t.add(new zmq.Router());
    const name = bindAddress('inproc');
    await a.bind(name);
    expect((await rejection(b.bind(name))).code).toBe('EADDRINUSE');
  });

  it('unknown options and values of the wrong type → TypeError (as zeromq.js); out-of-range values → EINVAL', () => {
    const e = thrown(() => new zmq.Dealer({ noSuchOption: 1 } as unknown as Partial<zmq.SocketOptions>));
    expect(e).toBeInstanceOf(TypeError);
    expect(e.message).toMatch(/noSuchOption/);
    expect(thrown(() => new zmq.Dealer({ sendHighWaterMark: -5 })).code).toBe('EINVAL');
    expect(thrown(() => new zmq.Dealer({ linger: 1.5 })).code).toBe('EINVAL');
    expect(thrown(() => new zmq.Router({ mandatory: 'yes' } as unknown as Partial<zmq.RouterOptions>))).toBeInstanceOf(TypeError);
    // an option of another socket type is unknown here
    expect(thrown(() => new zmq.Dealer({ mandatory: true } as unknown as Partial<zmq.SocketOptions>))).toBeInstanceOf(TypeError);
  });

  it('lastEndpoint reports the real port for tcp://127.0.0.1:* and tcp://*:*', async () => {
    const a = t.add(new zmq.Router());
    expect(a.lastEndpoint).toBeNull();
    await a.bind('tcp://127.0.0.1:*');
    expect(a.lastEndpoint).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
    expect(Number(a.lastEndpoint!.split(':')[2])).toBeGreaterThan(0);
    const b = t.add(new zmq.Router());
    await b.bind('tcp://*:*');
    expect(b.lastEndpoint).toMatch(/^tcp:\/\/0\.0\.0\.0:\d+$/);
    const port = Number(b.lastEndpoint!.split(':')[2]);
    expect(port).toBeGreaterThan(0);
    // it is really listening there
    const d = t.add(new zmq.Dealer());
    const up = waitForEvent(b, 'handshake');
    d.connect(`tcp://127.0.0.1:${port}`);
    await up;
  });

  it('ipc://* binds a fresh path that peers can connect to', async () => {
    const [rep, req] = await connectedPair(new zmq.Reply(), new zmq.Request(), 'ipc');
    expect(rep.lastEndpoint).toMatch(/^ipc:\/\/\/.+/);
    await req.send('hi');
    expect(str(await rep.receive())).toEqual(['hi']);
  });

  it('IPv6: tcp://[::1]:* with ipv6: true', async () => {
    const router = t.add(new zmq.Router({ ipv6: true }));
    await router.bind('tcp://[::1]:*');
    expect(router.lastEndpoint).toMatch(/^tcp:\/\/\[::1\]:\d+$/);
    const dealer = t.add(new zmq.Dealer({ ipv6: true, routingId: 'v6' }));
    dealer.connect(router.lastEndpoint!);
    await dealer.send('over-v6');
    expect(str(await within(router.receive(), 5000))).toEqual(['v6', 'over-v6']);
  });

  it('host names: tcp://localhost:* binds and tcp://localhost:port connects', async () => {
    const router = t.add(new zmq.Router());
    await router.bind('tcp://localhost:*');
    expect(router.lastEndpoint).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
    const port = router.lastEndpoint!.split(':')[2];
    const dealer = t.add(new zmq.Dealer({ routingId: 'lh' }));
    dealer.connect(`tcp://localhost:${port}`);
    await dealer.send('by-name');
    expect(str(await within(router.receive(), 5000))).toEqual(['lh', 'by-name']);
  });

  it('unbind releases the port; unbind/disconnect of unknown endpoints → ENOENT', async () => {
    const a = t.add(new zmq.Router());
    await a.bind('tcp://127.0.0.1:*');
    const ep = a.lastEndpoint!;
    await a.unbind(ep);
    const b = t.add(new zmq.Router());
    await b.bind(ep); // free again
    expect(b.lastEndpoint).toBe(ep);
    expect((await rejection(a.unbind(ep))).code).toBe('ENOENT');
    expect(thrown(() => a.disconnect(ep)).code).toBe('ENOENT');
  });

  it('connecting to a port nobody listens on is not an error: the socket retries', async () => {
    const ep = await unusedEndpoint('tcp');
    const d = t.add(new zmq.Dealer({ reconnectInterval: 20 }));
    const retry = waitForEvent(d, 'connect:retry');
    d.connect(ep);
    const e = await retry;
    expect(e.address).toBe(ep);
    expect(e.error?.code).toBe('ECONNREFUSED');
  });
});

/** Monitor events on `socket.events`: async iteration, receive(), and on(type, fn). */
import { afterEach, describe, expect, it } from 'vitest';
import * as zmq from '../../src/mod.ts';
import { bindRetry, rejection, SocketTracker, unusedEndpoint, waitForEvent, within, type Transport } from './helpers.ts';

const t = new SocketTracker();
afterEach(() => t.closeAll());

type Brief = { type: string; address?: string; code?: string };
function brief(e: zmq.Event): Brief {
  const out: Brief = { type: e.type };
  if ('address' in e) out.address = e.address;
  if ('error' in e && e.error) out.code = e.error.code;
  return out;
}

/** All events until 'end', read with `for await`. */
async function iterateAll(socket: zmq.Socket): Promise<Brief[]> {
  const out: Brief[] = [];
  for await (const e of socket.events) out.push(brief(e));
  return out;
}

/** All events until 'end', read with receive(). */
async function receiveAll(socket: zmq.Socket): Promise<Brief[]> {
  const out: Brief[] = [];
  for (;;) {
    const e = await socket.events.receive();
    out.push(brief(e));
    if (e.type === 'end') return out;
  }
}

/** What a bound socket reports when one peer comes and goes, then it closes. */
function boundLifeCycle(ep: string): Brief[] {
  return [
    { type: 'bind', address: ep },
    { type: 'accept', address: ep },
    { type: 'handshake', address: ep },
    { type: 'disconnect', address: ep },
    { type: 'close', address: ep },
    { type: 'end' },
  ];
}

describe('life-cycle events', () => {
  for (const proto of ['tcp', 'ipc'] as Transport[]) {
    it(`binder and connecter report the whole life cycle in order (${proto})`, async () => {
      const router = t.add(new zmq.Router());
      const dealer = t.add(new zmq.Dealer());
      const routerEvents = iterateAll(router);
      const dealerEvents = receiveAll(dealer);
      await router.bind(proto === 'tcp' ? 'tcp://127.0.0.1:*' : 'ipc://*');
      const ep = router.lastEndpoint!;
      const up = waitForEvent(router, 'handshake');
      dealer.connect(ep);
      await up;
      await dealer.send('x');
      await router.receive();
      const gone = waitForEvent(router, 'disconnect');
      dealer.close();
      await gone;
      router.close();

      const r = await within(routerEvents, 5000, 'router events');
      expect(r).toEqual(boundLifeCycle(ep));

      const d = await within(dealerEvents, 5000, 'dealer events');
      expect(d[0]).toEqual({ type: 'connect:delay', address: ep });
      expect(d[1]).toEqual({ type: 'connect', address: ep });
      expect(d[2]).toEqual({ type: 'handshake', address: ep });
      expect(d.at(-1)).toEqual({ type: 'end' });
      expect(d.filter((e) => e.type === 'handshake').length).toBe(1);
    });
  }

  it('on() listeners see the life cycle synchronously; receive() then throws (zeromq.js emitter mode)', async () => {
    const router = t.add(new zmq.Router());
    const viaOn: Brief[] = [];
    for (const type of ['bind', 'accept', 'handshake', 'disconnect', 'close', 'end'] as const) {
      router.events.on(type, (e) => viaOn.push(brief(e)));
    }
    expect(() => router.events.receive()).toThrow(/event emitter mode/);
    await router.bind('tcp://127.0.0.1:*');
    const ep = router.lastEndpoint!;
    const dealer = t.add(new zmq.Dealer());
    const up = waitForEvent(router, 'handshake');
    dealer.connect(ep);
    await up;
    const gone = waitForEvent(router, 'disconnect');
    dealer.close();
    await gone;
    router.close();
    expect(viaOn).toEqual(boundLifeCycle(ep));
  });

  it('inproc: no bind, accept or close (libzmq reports none); handshake on the binder, connect / handshake on the connecter', async () => {
    const router = t.add(new zmq.Router());
    const dealer = t.add(new zmq.Dealer());
    const routerEvents = iterateAll(router);
    const dealerEvents = iterateAll(dealer);
    const ep = await unusedEndpoint('inproc');
    await router.bind(ep);
    dealer.connect(ep);
    await dealer.send('x');
    await router.receive();
    dealer.close();
    router.close();
    const r = await within(routerEvents, 5000);
    expect(r[0]).toEqual({ type: 'handshake', address: ep });
    expect(r).toContainEqual({ type: 'disconnect', address: ep });
    expect(r.map((e) => e.type)).not.toContain('bind');
    expect(r.map((e) => e.type)).not.toContain('accept');
    expect(r.map((e) => e.type)).not.toContain('close');
    expect(r.at(-1)).toEqual({ type: 'end' });
    const d = await within(dealerEvents, 5000);
    expect(d.slice(0, 2)).toEqual([
      { type: 'connect', address: ep },
      { type: 'handshake', address: ep },
    ]);
    expect(d.at(-1)).toEqual({ type: 'end' });
  });

  it('connect:delay / connect:retry while nobody listens, then connect / handshake', async () => {
    const ep = await unusedEndpoint('tcp');
    const dealer = t.add(new zmq.Dealer({ reconnectInterval: 20 }));
    const seen: Brief[] = [];
    const types = ['connect:delay', 'connect:retry', 'connect', 'handshake'] as const;
    for (const type of types) dealer.events.on(type, (e) => seen.push(brief(e)));
    const retried = waitForEvent(dealer, 'connect:retry');
    dealer.connect(ep);
    const retry = await retried;
    expect(retry.interval).toBe(20);
    expect(retry.error).toBeInstanceOf(zmq.ZmqError);
    const router = t.add(new zmq.Router());
    const up = waitForEvent(dealer, 'handshake', 5000);
    await bindRetry(router, ep);
    await up;
    expect(seen[0]).toEqual({ type: 'connect:delay', address: ep });
    expect(seen[1]).toEqual({ type: 'connect:retry', address: ep, code: 'ECONNREFUSED' });
    expect(seen.slice(-2)).toEqual([
      { type: 'connect', address: ep },
      { type: 'handshake', address: ep },
    ]);
    // every attempt is announced by a connect:delay and every failure by a connect:retry
    const delays = seen.filter((e) => e.type === 'connect:delay').length;
    const retries = seen.filter((e) => e.type === 'connect:retry').length;
    expect(delays).toBe(retries + 1);
  });

  it('bind:error carries the error, and the address as libzmq reports it (no tcp://)', async () => {
    const a = t.add(new zmq.Router());
    await a.bind('tcp://127.0.0.1:*');
    const b = t.add(new zmq.Router());
    const ev = waitForEvent(b, 'bind:error');
    await b.bind(a.lastEndpoint!).catch(() => undefined);
    const e = await ev;
    expect(e.address).toBe(a.lastEndpoint!.slice('tcp://'.length));
    expect(e.error.code).toBe('EADDRINUSE');
    expect(e.error.address).toBe(a.lastEndpoint);
  });

  it('unbind() emits close for that endpoint only', async () => {
    const router = t.add(new zmq.Router());
    await router.bind('tcp://127.0.0.1:*');
    const first = router.lastEndpoint!;
    await router.bind('tcp://127.0.0.1:*');
    const second = router.lastEndpoint!;
    const closed = waitForEvent(router, 'close');
    await router.unbind(first);
    expect((await closed).address).toBe(first);
    // the second endpoint still works
    const dealer = t.add(new zmq.Dealer());
    const up = waitForEvent(router, 'handshake');
    dealer.connect(second);
    expect((await up).address).toBe(second);
  });

  it('after end: the iterator is finished and receive() rejects', async () => {
    const d = new zmq.Dealer();
    d.close();
    const all: string[] = [];
    for await (const e of d.events) all.push(e.type);
    expect(all).toEqual(['end']);
    expect(d.events.closed).toBe(true);
    const e = await rejection(d.events.receive());
    expect(e).toBeInstanceOf(zmq.ZmqError);
  });

  it('a pending events.receive() resolves with end on close', async () => {
    const d = new zmq.Dealer();
    const p = d.events.receive();
    d.close();
    expect((await within(p, 1000)).type).toBe('end');
  });
});

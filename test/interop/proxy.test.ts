/**
 * purezmq's Proxy (zeromq.js's, zmq_proxy_steerable) between libzmq peers: a ROUTER–DEALER queue,
 * an XSUB–XPUB forwarder and a PULL–PUSH streamer, plus pause/resume/terminate and its errors.
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as zmq from '../../src/mod.ts';
import { bindAddress, collect, sleep, Sockets, strs, waitUntil, within } from '../_helpers/interop.ts';

const T = 5000;
const sockets = new Sockets();
afterEach(() => sockets.closeAll());

/** A proxy between two purezmq sockets, both bound; returns it with its endpoints. */
async function startProxy<F extends zmq.Socket, B extends zmq.Socket>(front: F, back: B) {
  await front.bind(bindAddress('tcp'));
  await back.bind(bindAddress('tcp'));
  const proxy = new zmq.Proxy(front, back);
  const running = proxy.run();
  return { proxy, running, front: front.lastEndpoint!, back: back.lastEndpoint! };
}

async function code(p: Promise<unknown> | (() => unknown)): Promise<string | undefined> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
}

describe('Proxy between libzmq peers', () => {
  it('ROUTER–DEALER queue: libzmq REQ clients and REP workers, every reply to its own client', async () => {
    const { proxy, running, front, back } = await startProxy(new zmq.Router(), new zmq.Dealer());
    const workers = [0, 1].map((w) => {
      const rep = sockets.lib('REP');
      rep.connect(back);
      void (async () => {
        for (;;) {
          let msg: Uint8Array[];
          try {
            msg = await rep.receive();
          } catch {
            return;
          }
          await rep.send([...strs(msg), `worker ${w}`]);
        }
      })();
      return rep;
    });
    const clients = [0, 1, 2].map(() => {
      const req = sockets.lib('REQ');
      req.connect(front);
      return req;
    });
    const replies = await within(
      Promise.all(
        clients.map(async (req, c) => {
          const got: string[] = [];
          for (let i = 0; i < 5; i++) {
            await req.send(`client ${c} request ${i}`);
            const [body, by] = strs(await req.receive());
            got.push(`${body} ${by!.startsWith('worker') ? 'ok' : by}`);
          }
          return got;
        }),
      ),
      T,
      'every client to get its replies',
    );
    replies.forEach((got, c) => expect(got).toEqual([0, 1, 2, 3, 4].map((i) => `client ${c} request ${i} ok`)));
    expect(workers).toHaveLength(2);
    proxy.terminate();
    await within(running, T, 'run() to resolve');
  });

  it('XSUB–XPUB forwarder: subscriptions go upstream to a libzmq PUB, messages come down to libzmq SUBs', async () => {
    const { proxy, running, front, back } = await startProxy(new zmq.XSubscriber(), new zmq.XPublisher());
    const pub = sockets.lib('PUB');
    pub.connect(front);
    const sub = sockets.lib('SUB');
    sub.connect(back);
    sub.subscribe('news');
    const got = collect(sub);
    // the subscription travels SUB → XPUB → proxy → XSUB → PUB; publish until it is in place
    for (let i = 0; got.length === 0; i++) {
      if (i > 1000) throw new Error('no message came through the forwarder');
      await pub.send(['news', 'probe']);
      await pub.send(['sport', 'filtered out']);
      await sleep(5);
    }
    expect(got.every((m) => m[0] === 'news')).toBe(true);
    proxy.terminate();
    await within(running, T, 'run() to resolve');
  });

  it('PULL–PUSH streamer; pause holds messages until resume; terminate closes both sockets', async () => {
    const front = new zmq.Pull();
    const back = new zmq.Push();
    await front.bind(bindAddress('tcp'));
    // the back end delivers over inproc, where a forwarded message is queued at the PULL at once
    const name = `inproc://proxy-streamer-${process.pid}`;
    await back.bind(name);
    const proxy = new zmq.Proxy(front, back);
    const running = proxy.run();
    const push = sockets.lib('PUSH');
    push.connect(front.lastEndpoint!);
    const pull = sockets.pz('PULL');
    pull.connect(name);
    await push.send('one');
    expect(strs(await within(pull.receive(), T, 'one'))).toEqual(['one']);
    proxy.pause();
    await push.send('two');
    await push.send('three');
    // 'three' waiting in the front end means 'two' reached the proxy before it, and was held
    await waitUntil(() => front.readable, T, 'the messages to reach the proxy');
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    expect((pull as unknown as zmq.Pull).readable).toBe(false);
    proxy.resume();
    expect(strs(await within(pull.receive(), T, 'two after resume'))).toEqual(['two']);
    expect(strs(await within(pull.receive(), T, 'three after resume'))).toEqual(['three']);
    proxy.terminate();
    await within(running, T, 'run() to resolve');
    expect(front.closed && back.closed).toBe(true);
  });
});

describe('Proxy errors, as zeromq.js', () => {
  it('run() on an unbound socket → EINVAL; pause/resume/terminate before run or after terminate → EBADF; a second run → EBUSY', async () => {
    const unbound = new zmq.Proxy(new zmq.Router(), new zmq.Dealer());
    expect(await code(unbound.run())).toBe('EINVAL');
    expect(await code(() => unbound.pause())).toBe('EBADF');
    expect(await code(() => unbound.terminate())).toBe('EBADF');
    unbound.frontEnd.close();
    unbound.backEnd.close();

    const { proxy, running } = await startProxy(new zmq.Router(), new zmq.Dealer());
    expect(await code(proxy.run())).toBe('EBUSY');
    proxy.terminate();
    await running;
    expect(await code(() => proxy.resume())).toBe('EBADF');
    expect(await code(() => proxy.terminate())).toBe('EBADF');
    expect(await code(proxy.run())).toBe('EBADF');
  });

  it('closing one of its sockets from outside ends the proxy: run() resolves and the other is closed', async () => {
    const front = new zmq.Router();
    const back = new zmq.Dealer();
    const { running } = await startProxy(front, back);
    front.close();
    await within(running, T, 'run() to resolve');
    expect(back.closed).toBe(true);
  });

  it('a send that fails stops the proxy: run() rejects with it and both sockets are closed', async () => {
    // back end: a mandatory ROUTER, front end: a DEALER whose messages name an unknown peer
    const { running, front } = await startProxy(new zmq.Router({ mandatory: true }), new zmq.Router({ mandatory: true }));
    const client = sockets.lib('DEALER');
    client.connect(front);
    // the front ROUTER prefixes the client's id; the back ROUTER has no peer by that name
    await client.send('to nobody');
    expect(await code(within(running, T, 'run() to reject'))).toBe('EHOSTUNREACH');
  });
});

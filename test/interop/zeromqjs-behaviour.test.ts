/**
 * libzmq behaviour that zeromq.js users rely on (issue 14, items 1–4 and 7), each case run side by
 * side against purezmq and the `zeromq` devDependency, which must agree.
 */
import * as net from 'node:net';
import { describe, expect, it } from 'vitest';
import * as lib from 'zeromq';
import * as pz from '../../src/mod.ts';
import { LIBS, socketTracker, type Lib } from '../_helpers/zeromqjs.ts';
import { within } from '../_helpers/interop.ts';
import { bindZapEndpoint } from '../security/helpers.ts';

const track = socketTracker();

let seq = 0;
const inproc = (what: string) => `inproc://behaviour-${what}-${++seq}`;

/** A TCP endpoint nobody listens on (bound and released at once). */
async function freeTcp(): Promise<string> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return `tcp://127.0.0.1:${port}`;
}

async function failure(call: () => Promise<unknown>): Promise<string | undefined> {
  try {
    await call();
    return undefined;
  } catch (err) {
    return (err as { code?: string }).code;
  }
}

describe.each(LIBS)('%s', (_name, zmq) => {
  it('item 1: a bound inproc SUB subscribed before the PUB connects gets what the PUB sends', async () => {
    const ep = inproc('sub');
    const sub = track(new zmq.Subscriber());
    await sub.bind(ep);
    sub.subscribe('a');
    const pub = track(new zmq.Publisher());
    pub.connect(ep);
    const got = sub.receive();
    // the subscription reaches the PUB as part of connecting over inproc: the first message counts
    await pub.send(['b', 'filtered out']);
    await pub.send(['a', 'delivered']);
    expect((await within(got, 3000, 'message')).map(String)).toEqual(['a', 'delivered']);
  });

  it('item 3: Router.connect(addr, { routingId }) makes the peer addressable at once; messages queue until it is up', async () => {
    const ep = await freeTcp();
    const router = track(new zmq.Router({ mandatory: true, linger: 0 }));
    router.connect(ep, { routingId: 'peer' });
    await router.send(['peer', 'queued']);
    const peer = track(new zmq.Router());
    await peer.bind(ep);
    const [, body] = await within(peer.receive(), 3000, 'queued message');
    expect(String(body)).toBe('queued');
  });

  it('item 3: a Stream client named by connect() can send at once; the bytes go out when connected', async () => {
    const server = net.createServer();
    const received = new Promise<string>((resolve) => server.on('connection', (c) => c.once('data', (d) => resolve(String(d)))));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const stream = track(new zmq.Stream());
      stream.connect(`tcp://127.0.0.1:${(server.address() as net.AddressInfo).port}`, { routingId: 'client-1' });
      await stream.send(['client-1', 'GET / HTTP/1.0\r\n\r\n']);
      expect(await within(received, 3000, 'bytes')).toBe('GET / HTTP/1.0\r\n\r\n');
    } finally {
      server.close();
    }
  });

  it('item 4: a high-water mark changed after connect applies to the existing pipe', async () => {
    const push = track(new zmq.Push({ linger: 0 }));
    push.connect(await freeTcp());
    push.sendHighWaterMark = 2;
    push.sendTimeout = 0;
    await push.send('1');
    await push.send('2');
    expect(await failure(() => push.send('3'))).toBe('EAGAIN');
  });

  it('item 7: a REQ is not writable while it awaits the reply; a second send fails with EFSM after sendTimeout', async () => {
    const ep = inproc('req');
    const rep = track(new zmq.Reply());
    await rep.bind(ep);
    const req = track(new zmq.Request({ sendTimeout: 2 }));
    req.connect(ep);
    await req.send('foo');
    expect(req.writable).toBe(false);
    expect(await failure(() => req.send('bar'))).toBe('EFSM');
    const [msg] = await rep.receive();
    await rep.send(msg!);
    expect(String((await req.receive())[0])).toBe('foo');
    expect(req.writable).toBe(true);
  });

  it('item 7: a REQ iterated before it has sent anything, then closed, fails with EFSM', async () => {
    const req = new zmq.Request();
    setTimeout(() => req.close(), 5);
    const iterate = async () => {
      for await (const _ of req) {
        // nothing can arrive
      }
    };
    expect(await failure(iterate)).toBe('EFSM');
  });

  it('PAIR: what a peer sent before it went away is still delivered, read after it left', async () => {
    const a = track(new zmq.Pair({ linger: 0 }));
    const ep = await freeTcp();
    await a.bind(ep);
    // linger -1: closing b delivers what it queued, then ends the connection
    const b = new zmq.Pair({ linger: -1 });
    const gone = new Promise((resolve) => a.events.on('disconnect', resolve));
    b.connect(ep);
    await b.send(['foo', 'bar']);
    b.close();
    await within(gone, 3000, 'disconnect');
    expect((await within(a.receive(), 3000, 'message')).map(String)).toEqual(['foo', 'bar']);
  });

  it('item 7: a receive() before any send() fails with EFSM after receiveTimeout', async () => {
    const req = track(new zmq.Request({ receiveTimeout: 2 }));
    expect(await failure(() => req.receive())).toBe('EFSM');
  });
});

describe('item 2: a malformed ZAP reply fails the handshake with handshake:error:protocol', () => {
  // each library's ZAP handler lives in its own inproc namespace, so one handler per library
  const replies: [string, (req: Uint8Array[]) => (string | Uint8Array | null)[], string][] = [
    ['wrong frame count', ([id, delim]) => [id!, delim!, null, null], 'ERR_ZAP_MALFORMED_REPLY'],
    ['wrong request id', ([id, delim, version]) => [id!, delim!, version!, 'nope', '200', 'OK', '', ''], 'ERR_ZAP_BAD_REQUEST_ID'],
  ];
  for (const [what, reply, code] of replies) {
    it.each(LIBS)(`${what}: %s`, async (_name, zmq) => {
      const handler = track(new zmq.Router());
      await bindZapEndpoint(handler as never);
      void (async () => {
        for await (const req of handler) await handler.send(reply(req) as never).catch(() => undefined);
      })();
      const server = track(new zmq.Dealer({ plainServer: true, zapDomain: 'test' }));
      const client = track(new zmq.Dealer({ plainUsername: 'user', plainPassword: 'pw' }));
      const event = new Promise<{ error: { code?: string } }>((resolve) => server.events.on('handshake:error:protocol', resolve));
      const ep = await freeTcp();
      await server.bind(ep);
      client.connect(ep);
      expect((await within(event, 3000, 'event')).error.code).toBe(code);
      handler.close();
    });
  }
});

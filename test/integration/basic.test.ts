import { describe, expect, it } from 'vitest';
import * as zmq from '../../src/mod.ts';

describe('basic purezmq <-> purezmq', () => {
  for (const proto of ['tcp', 'ipc', 'inproc'] as const) {
    it(`dealer/router over ${proto}`, async () => {
      const router = new zmq.Router();
      const dealer = new zmq.Dealer({ routingId: 'd1' });
      const addr = proto === 'tcp' ? 'tcp://127.0.0.1:*' : proto === 'ipc' ? 'ipc://*' : `inproc://basic-${Math.random()}`;
      await router.bind(addr);
      dealer.connect(router.lastEndpoint!);
      await dealer.send(['hello', 'world']);
      const [id, a, b] = await router.receive();
      expect(id!.toString()).toBe('d1');
      expect(a!.toString()).toBe('hello');
      expect(b!.toString()).toBe('world');
      await router.send([id!, 'back']);
      const [r] = await dealer.receive();
      expect(r!.toString()).toBe('back');
      dealer.close();
      router.close();
    });
  }

  it('pub/sub over tcp', async () => {
    const pub = new zmq.Publisher();
    const sub = new zmq.Subscriber();
    await pub.bind('tcp://127.0.0.1:*');
    sub.connect(pub.lastEndpoint!);
    sub.subscribe('a');
    const got = sub.receive();
    // subscriptions propagate asynchronously: publish until one arrives
    let done = false;
    void got.then(() => (done = true));
    while (!done) {
      await pub.send(['b-nope']);
      await pub.send(['a-yes', 'x']);
      await new Promise((r) => setTimeout(r, 5));
    }
    const msg = await got;
    expect(msg[0]!.toString()).toBe('a-yes');
    pub.close();
    sub.close();
  });

  it('req/rep over tcp', async () => {
    const rep = new zmq.Reply();
    const req = new zmq.Request();
    await rep.bind('tcp://127.0.0.1:*');
    req.connect(rep.lastEndpoint!);
    await req.send('ping');
    const [m] = await rep.receive();
    expect(m!.toString()).toBe('ping');
    await rep.send('pong');
    const [r] = await req.receive();
    expect(r!.toString()).toBe('pong');
    req.close();
    rep.close();
  });
});

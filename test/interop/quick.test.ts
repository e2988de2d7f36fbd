import { describe, expect, it } from 'vitest';
import * as zmq from '../../src/mod.ts';
import * as lib from 'zeromq';

describe('quick interop', () => {
  it('purezmq dealer -> libzmq router', async () => {
    const router = new lib.Router();
    await router.bind('tcp://127.0.0.1:*');
    const dealer = new zmq.Dealer({ routingId: 'pz' });
    dealer.connect(router.lastEndpoint!);
    await dealer.send(['a', 'b']);
    const [id, a, b] = await router.receive();
    expect([id!.toString(), a!.toString(), b!.toString()]).toEqual(['pz', 'a', 'b']);
    await router.send([id!, 'r']);
    expect((await dealer.receive())[0]!.toString()).toBe('r');
    dealer.close();
    router.close();
  });
  it('libzmq dealer -> purezmq router', async () => {
    const router = new zmq.Router();
    await router.bind('tcp://127.0.0.1:*');
    const dealer = new lib.Dealer({ routingId: 'lz' });
    dealer.connect(router.lastEndpoint!);
    await dealer.send(['a', 'b']);
    const [id, a, b] = await router.receive();
    expect([id!.toString(), a!.toString(), b!.toString()]).toEqual(['lz', 'a', 'b']);
    await router.send([id!, 'r']);
    expect((await dealer.receive())[0]!.toString()).toBe('r');
    dealer.close();
    router.close();
  });
});

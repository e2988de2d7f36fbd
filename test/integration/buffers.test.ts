import { describe, expect, it } from 'vitest';
import * as zmq from '../../src/mod.ts';

// zeromq.js hands out Buffers; code that calls .toString() or .equals() on frames must keep working.
describe('received frames are Buffers, as with zeromq.js', () => {
  for (const transport of ['tcp://127.0.0.1:*', `inproc://buffers-${process.pid}`]) {
    it(`generated routing ids and bodies sent as Uint8Array/ArrayBuffer (${transport.slice(0, 6)})`, async () => {
      const router = new zmq.Router();
      const dealer = new zmq.Dealer();
      try {
        await router.bind(transport);
        dealer.connect(router.lastEndpoint!);
        await dealer.send([new Uint8Array([104, 105]), new Uint16Array([0x4141]), new Uint8Array([33]).buffer]);
        const [id, a, b, c] = await router.receive();
        for (const frame of [id, a, b, c]) expect(Buffer.isBuffer(frame)).toBe(true);
        expect(id!.length).toBe(5);
        expect(id![0]).toBe(0);
        expect([a!.toString(), b!.toString(), c!.toString()]).toEqual(['hi', 'AA', '!']);
        await router.send([id!, new Uint8Array([111, 107])]);
        const [reply] = await dealer.receive();
        expect(Buffer.isBuffer(reply)).toBe(true);
        expect(reply!.toString()).toBe('ok');
      } finally {
        dealer.close();
        router.close();
      }
    });
  }
});

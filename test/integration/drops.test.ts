import * as net from 'node:net';
import { describe, expect, it } from 'vitest';
import * as zmq from '../../src/mod.ts';

async function unusedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

describe('messages ZeroMQ drops are counted, never lost silently', () => {
  it('disconnect() drops what was queued for a peer that never came, and counts it', async () => {
    const dealer = new zmq.Dealer();
    try {
      const address = `tcp://127.0.0.1:${await unusedPort()}`;
      dealer.connect(address);
      for (let i = 0; i < 3; i++) await dealer.send(`m${i}`); // queued while disconnected
      expect(dealer.droppedMessages).toBe(0);
      dealer.disconnect(address);
      // with the default linger the connection attempt under way may still deliver; once it fails,
      // the three messages are dropped and counted
      for (let i = 0; i < 200 && dealer.droppedMessages < 3; i++) await new Promise((r) => setTimeout(r, 10));
      expect(dealer.droppedMessages).toBe(3);
    } finally {
      dealer.close();
    }
  });

  it('close() with linger 0 counts what it could not deliver', async () => {
    const dealer = new zmq.Dealer({ linger: 0 });
    dealer.connect(`tcp://127.0.0.1:${await unusedPort()}`);
    await dealer.send('a');
    await dealer.send('b');
    dealer.close();
    expect(dealer.droppedMessages).toBe(2);
  });
});

import * as net from 'node:net';
import { describe, expect, it } from 'vitest';
import * as zmq from '../../src/mod.ts';
import { encodeGreeting, encodeReady, FrameDecoder, FrameWriter, fromString, toHex } from '../../src/internal.ts';

interface RawFrame {
  flags: number;
  hex: string;
}

/**
 * A hand-driven ZMTP 3.0 peer (greeting minor 0, NULL): it sends its greeting and READY, then
 * records every frame it receives after the purezmq side's READY.
 */
async function raw30(port: number, socketType: string) {
  const frames: RawFrame[] = [];
  const conn = net.connect({ host: '127.0.0.1', port });
  let ready = false;
  const decoder = new FrameDecoder(
    {
      onGreeting(g) {
        expect(g.minor).toBe(1); // we speak 3.1, and talk down to a 3.0 peer
      },
      onFrame(flags, body) {
        if (!ready) {
          ready = true; // the peer's READY
          return;
        }
        frames.push({ flags, hex: toHex(body) });
      },
      onDecodeError(e) {
        throw e;
      },
    },
    { maxFrameSize: 1 << 20 },
  );
  conn.on('data', (c) => decoder.push(c));
  await new Promise<void>((r) => conn.once('connect', () => r()));
  const w = new FrameWriter();
  w.writeRaw(encodeGreeting('NULL', false, 0));
  w.writeCommand(encodeReady([['Socket-Type', fromString(socketType)]]));
  for (const c of w.take()) conn.write(c);
  const send = (parts: Uint8Array[]) => {
    const out = new FrameWriter();
    out.writeMessage(parts);
    for (const c of out.take()) conn.write(c);
  };
  const waitFor = async (n: number) => {
    for (let i = 0; i < 300 && frames.length < n; i++) await new Promise((r) => setTimeout(r, 10));
    return frames.slice(0, n);
  };
  return { frames, send, waitFor, close: () => conn.destroy() };
}

describe('ZMTP 3.0 peers (greeting minor 0)', () => {
  it('a purezmq SUB subscribes with 0x01/0x00-prefixed messages, the bytes libzmq sends to 3.0 peers', async () => {
    // purezmq SUB binds; the raw 3.0 peer connects as a PUB
    const sub = new zmq.Subscriber();
    try {
      await sub.bind('tcp://127.0.0.1:*');
      const subPort = Number(sub.lastEndpoint!.split(':').pop());
      sub.subscribe('AB');
      const peer = await raw30(subPort, 'PUB');
      const [first] = await peer.waitFor(1);
      // spec-vectors/zmtp/subscribe.json sub30-subscribe-ab: 00 03 01 41 42 (a message, not a command)
      expect(first).toEqual({ flags: 0, hex: '014142' });
      sub.unsubscribe('AB');
      const [, second] = await peer.waitFor(2);
      expect(second).toEqual({ flags: 0, hex: '004142' });
      // and the SUB receives what the 3.0 PUB publishes
      sub.subscribe('x');
      await peer.waitFor(3);
      peer.send([fromString('xyz'), fromString('body')]);
      const [topic, body] = await sub.receive();
      expect([topic!.toString(), body!.toString()]).toEqual(['xyz', 'body']);
      peer.close();
    } finally {
      sub.close();
    }
  });

  it('a purezmq PUB takes 0x01/0x00 subscription messages from a 3.0 SUB and filters by them', async () => {
    const pub = new zmq.Publisher();
    try {
      await pub.bind('tcp://127.0.0.1:*');
      const port = Number(pub.lastEndpoint!.split(':').pop());
      const handshake = new Promise((r) => pub.events.on('handshake', r));
      const peer = await raw30(port, 'SUB');
      await handshake;
      peer.send([Uint8Array.from([1, 0x41])]); // subscribe "A"
      // publish until the subscription has taken effect, then check filtering
      for (let i = 0; i < 300 && peer.frames.length === 0; i++) {
        await pub.send(['B-no']);
        await pub.send(['A-yes']);
        await new Promise((r) => setTimeout(r, 5));
      }
      expect(peer.frames.length).toBeGreaterThan(0);
      for (const f of peer.frames) expect(Buffer.from(f.hex, 'hex').toString()).toBe('A-yes');
      peer.close();
    } finally {
      pub.close();
    }
  });
});

import * as net from 'node:net';
import { describe, expect, it } from 'vitest';
import * as zmq from '../../src/mod.ts';
import { encodeGreeting, encodeReady, FrameDecoder, fromString } from '../../src/internal.ts';

/** A raw NULL client: sends greeting + READY(socketType), collects what the server sends back. */
async function rawHandshake(endpoint: string, socketType: string): Promise<{ commands: string[]; closed: boolean }> {
  const port = Number(endpoint.slice(endpoint.lastIndexOf(':') + 1));
  const commands: string[] = [];
  return new Promise((resolve, reject) => {
    const conn = net.connect({ host: '127.0.0.1', port });
    const decoder = new FrameDecoder(
      {
        onGreeting() {},
        onFrame(_flags, body) {
          commands.push(Buffer.from(body.subarray(1, 1 + body[0]!)).toString('latin1') + ':' + Buffer.from(body.subarray(1 + body[0]!)).toString('latin1'));
        },
        onDecodeError: reject,
      },
      { maxFrameSize: 1 << 16 },
    );
    conn.on('data', (c) => decoder.push(c));
    conn.on('close', () => resolve({ commands, closed: true }));
    conn.on('error', () => {});
    conn.on('connect', () => {
      conn.write(encodeGreeting('NULL', false));
      const ready = encodeReady([['Socket-Type', fromString(socketType)]]);
      conn.write(Buffer.from([0x04, ready.length]));
      conn.write(ready);
    });
    setTimeout(() => {
      conn.destroy();
      resolve({ commands, closed: false });
    }, 3000).unref();
  });
}

describe('NULL handshake, server role (RFC 37)', () => {
  it('answers a compatible client READY with READY', async () => {
    const router = new zmq.Router();
    try {
      await router.bind('tcp://127.0.0.1:*');
      const handshake = new Promise((r) => router.events.on('handshake', r));
      const result = rawHandshake(router.lastEndpoint!, 'DEALER');
      await handshake;
      router.close();
      const { commands } = await result;
      expect(commands[0]).toMatch(/^READY:/);
      expect(commands[0]).toContain('ROUTER');
    } finally {
      router.close();
    }
  });

  it('answers an incompatible client with ERROR "incompatible socket type" and closes', async () => {
    const router = new zmq.Router();
    try {
      await router.bind('tcp://127.0.0.1:*');
      const failed = new Promise<zmq.Event>((r) => router.events.on('handshake:error:protocol', r));
      const { commands, closed } = await rawHandshake(router.lastEndpoint!, 'PUB');
      expect(commands).toEqual(['ERROR:\x18incompatible socket type']);
      expect(closed).toBe(true);
      const event = (await failed) as { error: zmq.ZmqError };
      expect(event.error.code).toBe('ERR_ZMTP_INCOMPATIBLE_SOCKET_TYPE');
    } finally {
      router.close();
    }
  });
});

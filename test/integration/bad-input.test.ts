/**
 * Hostile or broken peers (raw node:net clients writing hand-made ZMTP bytes) against a bound
 * purezmq ROUTER. Each must end only its own connection, with a typed error on `socket.events`,
 * while a well-behaved purezmq DEALER on the same ROUTER keeps exchanging messages.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as zmq from '../../src/mod.ts';
import { frame, greeting, RawPeer, ready, str, until, waitForEvent, within, type EventType } from './helpers.ts';

const { ErrorCode } = zmq;

interface Fixture {
  router: zmq.Router;
  dealer: zmq.Dealer;
  endpoint: string;
  pingPong(): Promise<void>;
  close(): void;
}

async function fixture(proto: 'tcp' | 'ipc', options: Partial<zmq.RouterOptions>): Promise<Fixture> {
  const router = new zmq.Router(options);
  await router.bind(proto === 'tcp' ? 'tcp://127.0.0.1:*' : 'ipc://*');
  const endpoint = router.lastEndpoint!;
  const dealer = new zmq.Dealer({ routingId: 'good' });
  const up = waitForEvent(dealer, 'handshake');
  dealer.connect(endpoint);
  await up;
  let n = 0;
  return {
    router,
    dealer,
    endpoint,
    async pingPong() {
      const i = ++n;
      await dealer.send(`ping-${i}`);
      const [id, body] = await within(router.receive(), 5000, 'router.receive');
      expect(Buffer.from(id!).toString()).toBe('good');
      expect(Buffer.from(body!).toString()).toBe(`ping-${i}`);
      await router.send([id!, `pong-${i}`]);
      expect(str(await within(dealer.receive(), 5000, 'dealer.receive'))).toEqual([`pong-${i}`]);
    },
    close() {
      dealer.close();
      router.close();
    },
  };
}

/** Raw bytes that fail the connection during the handshake, and the error code each must produce. */
const HANDSHAKE_CASES: Array<{ name: string; code: string; event?: EventType; bytes: () => Buffer[] }> = [
  { name: 'garbage bytes (an HTTP request)', code: ErrorCode.BAD_GREETING, bytes: () => [Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')] },
  { name: 'wrong signature (bit 0 of byte 9 clear)', code: ErrorCode.BAD_GREETING, bytes: () => [greeting({ signatureEnd: 0x7e })] },
  { name: 'ZMTP 2.0 major version', code: ErrorCode.UNSUPPORTED_VERSION, bytes: () => [greeting({ major: 1, minor: 0 })] },
  { name: 'ZMTP 1.0 major version', code: ErrorCode.UNSUPPORTED_VERSION, bytes: () => [greeting({ major: 0, minor: 0 })] },
  { name: 'wrong mechanism (PLAIN)', code: ErrorCode.MECHANISM_MISMATCH, bytes: () => [greeting({ mechanism: 'PLAIN' })] },
  {
    name: 'incompatible Socket-Type (PUB to ROUTER)',
    code: ErrorCode.INCOMPATIBLE_SOCKET_TYPE,
    bytes: () => [greeting(), ready({ 'Socket-Type': 'PUB' })],
  },
  {
    name: 'huge 64-bit command length during the handshake',
    code: ErrorCode.FRAME_TOO_LARGE,
    bytes: () => [greeting(), Buffer.from([0x06, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])],
  },
  { name: 'reserved flag bits', code: ErrorCode.RESERVED_FLAGS, bytes: () => [greeting(), Buffer.from([0x84, 0x01, 0x00])] },
  { name: 'message frame before READY', code: ErrorCode.UNEXPECTED_MESSAGE, bytes: () => [greeting(), frame(0x00, Buffer.from('hi'))] },
  {
    name: 'unknown command instead of READY',
    code: ErrorCode.UNEXPECTED_COMMAND,
    bytes: () => [greeting(), frame(0x04, Buffer.from('\x05HELLOxyz', 'latin1'))],
  },
  {
    name: 'command frame with MORE set',
    code: ErrorCode.BAD_COMMAND,
    bytes: () => [greeting(), Buffer.from([0x05, 0x06, 0x05, 0x52, 0x45, 0x41, 0x44, 0x59])],
  },
  {
    name: 'truncated greeting, then close',
    code: ErrorCode.HANDSHAKE_CLOSED,
    event: 'handshake:error:other',
    bytes: () => [greeting().subarray(0, 20)],
  },
];

/** Bytes sent after a valid DEALER handshake: the connection is dropped with 'disconnect' carrying the error. */
const TRAFFIC_CASES: Array<{ name: string; code: string; bytes: () => Buffer[] }> = [
  {
    name: 'frame declaring a 2^63 byte body (closed at once, nothing allocated)',
    code: ErrorCode.FRAME_TOO_LARGE,
    bytes: () => [Buffer.from([0x02, 0x80, 0, 0, 0, 0, 0, 0, 0])],
  },
  {
    name: 'frame declaring 2^40 bytes (under 2^53, over the hard cap)',
    code: ErrorCode.FRAME_TOO_LARGE,
    bytes: () => [Buffer.from([0x02, 0, 0, 0x01, 0, 0, 0, 0, 0])],
  },
  {
    name: 'frame over maxMessageSize (only the header sent)',
    code: ErrorCode.FRAME_TOO_LARGE,
    bytes: () => [frame(0x00, Buffer.alloc(10), 4097)],
  },
  { name: 'reserved flag bits after the handshake', code: ErrorCode.RESERVED_FLAGS, bytes: () => [Buffer.from([0x10, 0x01, 0x41])] },
  {
    name: 'too many frames in one message (maxMessageFrames 8)',
    code: ErrorCode.TOO_MANY_FRAMES,
    bytes: () => Array.from({ length: 9 }, (_, i) => frame(0x01, Buffer.from(`f${i}`))),
  },
  {
    // each frame is within maxMessageSize; together they pass maxMessageBytes, and the peer is cut off
    // at the frame that crosses it, before the message is complete
    name: 'message over maxMessageBytes, frames marked "more" (maxMessageBytes 10000)',
    code: ErrorCode.MESSAGE_TOO_LARGE,
    bytes: () => Array.from({ length: 3 }, () => frame(0x01, Buffer.alloc(4000, 1))),
  },
  {
    name: 'malformed command after the handshake (name length past the body)',
    code: ErrorCode.BAD_COMMAND,
    bytes: () => [Buffer.from([0x04, 0x02, 0x09, 0x50])],
  },
];

for (const proto of ['tcp', 'ipc'] as const) {
  describe(`bad input on ${proto}: ROUTER survives, the error is typed`, () => {
    let f: Fixture;
    beforeAll(async () => {
      f = await fixture(proto, { handshakeInterval: 1000, maxMessageSize: 4096, maxMessageFrames: 8, maxMessageBytes: 10_000 });
    });
    afterAll(() => f?.close());

    for (const c of HANDSHAKE_CASES) {
      it(`handshake: ${c.name} → ${c.event ?? 'handshake:error:protocol'} ${c.code}`, async () => {
        await f.pingPong();
        const type = c.event ?? 'handshake:error:protocol';
        const ev = waitForEvent(f.router, type as 'handshake:error:protocol', 5000, (e) => e.error.code === c.code);
        const raw = await RawPeer.connect(f.endpoint);
        raw.write(...c.bytes());
        if (c.code === ErrorCode.HANDSHAKE_CLOSED) raw.end();
        const e = await ev;
        expect(e.error).toBeInstanceOf(zmq.ProtocolError);
        expect(zmq.isZmqError(e.error)).toBe(true);
        expect(e.error.code).toBe(c.code);
        expect(e.address).toBe(f.endpoint);
        expect(e.error.address).toBe(f.endpoint);
        await within(raw.closed, 5000, 'the raw connection closing');
        await f.pingPong();
      });
    }

    it('handshake: truncated greeting then silence → handshake:error:other ERR_ZMTP_HANDSHAKE_TIMEOUT', async () => {
      await f.pingPong();
      const ev = waitForEvent(f.router, 'handshake:error:other', 5000, (e) => e.error.code === ErrorCode.HANDSHAKE_TIMEOUT);
      const raw = await RawPeer.connect(f.endpoint);
      raw.write(greeting().subarray(0, 30));
      await f.pingPong(); // the stalled peer does not hold anything up
      const e = await ev;
      expect(e.error.code).toBe('ERR_ZMTP_HANDSHAKE_TIMEOUT');
      expect(e.address).toBe(f.endpoint);
      await within(raw.closed, 5000, 'the raw connection closing');
      await f.pingPong();
    });

    it('handshake: the ROUTER sent its own greeting and READY to a well-formed raw peer', async () => {
      const raw = await RawPeer.connect(f.endpoint);
      const hs = waitForEvent(f.router, 'handshake');
      raw.handshake('DEALER', { Identity: 'raw' });
      await hs;
      await until(() => raw.received.subarray(64).includes(Buffer.from('ROUTER')), 5000, 'the READY from the ROUTER');
      // our greeting: signature, version 3.1, NULL, then a READY command naming ROUTER
      const g = raw.received;
      expect(g[0]).toBe(0xff);
      expect(g[9]! & 1).toBe(1);
      expect(g[10]).toBe(3);
      expect(g.subarray(12, 16).toString()).toBe('NULL');
      expect(g.subarray(64).includes(Buffer.from('ROUTER'))).toBe(true);
      // a message from it is routed with its identity
      raw.write(frame(0x00, Buffer.from('from-raw')));
      const [id, body] = await within(f.router.receive(), 5000);
      expect(str([id!, body!])).toEqual(['raw', 'from-raw']);
      const gone = waitForEvent(f.router, 'disconnect');
      raw.destroy();
      const d = await gone;
      expect(d.error).toBeUndefined(); // a plain close is not an error
      await f.pingPong();
    });

    for (const c of TRAFFIC_CASES) {
      it(`after handshake: ${c.name} → disconnect with ${c.code}`, async () => {
        await f.pingPong();
        const raw = await RawPeer.connect(f.endpoint);
        const hs = waitForEvent(f.router, 'handshake');
        raw.handshake('DEALER');
        await hs;
        const ev = waitForEvent(f.router, 'disconnect', 5000, (e) => e.error?.code === c.code);
        raw.write(...c.bytes());
        const e = await ev;
        expect(e.error).toBeInstanceOf(zmq.ProtocolError);
        expect(e.error!.code).toBe(c.code);
        expect(e.address).toBe(f.endpoint);
        await within(raw.closed, 5000, 'the raw connection closing');
        // nothing partial from the bad peer reached the application: next message is the DEALER's
        await f.pingPong();
      });
    }
  });
}

describe('bad input with default limits', () => {
  it('a 2^62-byte frame from a handshaken peer is refused at once (hard cap, no allocation)', async () => {
    const f = await fixture('tcp', {});
    try {
      const raw = await RawPeer.connect(f.endpoint);
      const hs = waitForEvent(f.router, 'handshake');
      raw.handshake('DEALER');
      await hs;
      const before = process.memoryUsage().arrayBuffers;
      const ev = waitForEvent(f.router, 'disconnect', 5000, (e) => e.error !== undefined);
      raw.write(Buffer.from([0x02, 0x40, 0, 0, 0, 0, 0, 0, 0]), Buffer.alloc(1000, 1));
      const e = await ev;
      expect(e.error!.code).toBe(ErrorCode.FRAME_TOO_LARGE);
      expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 * 1024 * 1024);
      await within(raw.closed, 5000);
      await f.pingPong();
    } finally {
      f.close();
    }
  });

  it('before the handshake completes a frame over 64 KiB is refused on its header, whatever maxMessageSize', async () => {
    const f = await fixture('tcp', { maxMessageSize: 400 * 1024 * 1024 });
    try {
      const raw = await RawPeer.connect(f.endpoint);
      const ev = waitForEvent(f.router, 'handshake:error:protocol', 5000, (e) => e.error.code === ErrorCode.FRAME_TOO_LARGE);
      // a greeting, then a command frame declaring 65537 bytes: nothing of its body is buffered
      raw.write(greeting(), Buffer.from([0x06, 0, 0, 0, 0, 0, 1, 0, 1]), Buffer.alloc(1000, 1));
      expect((await ev).error.message).toMatch(/65537/);
      await within(raw.closed, 5000);
      await f.pingPong();
    } finally {
      f.close();
    }
  });

  it('handshake timeout also applies to a connecting socket whose peer never answers', async () => {
    // a raw server that accepts and stays silent
    const net = await import('node:net');
    const server = net.createServer(() => {});
    await new Promise<void>((r) => server.listen({ host: '127.0.0.1', port: 0 }, () => r()));
    const port = (server.address() as import('node:net').AddressInfo).port;
    const dealer = new zmq.Dealer({ handshakeInterval: 200, reconnectInterval: 50 });
    try {
      const ev = waitForEvent(dealer, 'handshake:error:other');
      const retry = waitForEvent(dealer, 'connect:retry');
      dealer.connect(`tcp://127.0.0.1:${port}`);
      const e = await ev;
      expect(e.error.code).toBe(ErrorCode.HANDSHAKE_TIMEOUT);
      expect(e.address).toBe(`tcp://127.0.0.1:${port}`);
      // a timeout is not fatal: the connecter tries again
      expect((await retry).interval).toBe(50);
    } finally {
      dealer.close();
      server.close();
    }
  });
});

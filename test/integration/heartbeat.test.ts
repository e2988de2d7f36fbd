/** ZMTP 3.1 heartbeats (spec §10) between purezmq and raw peers, and ROUTER identity conflicts. */
import { afterEach, describe, expect, it } from 'vitest';
import * as zmq from '../../src/mod.ts';
import { delay, frame, RawPeer, SocketTracker, str, until, waitForEvent, within } from './helpers.ts';

const t = new SocketTracker();
afterEach(() => t.closeAll());

/** Command frames (name, data) found in a raw byte stream after the 64-byte greeting. */
function commands(bytes: Buffer): Array<{ name: string; data: Buffer }> {
  const out: Array<{ name: string; data: Buffer }> = [];
  let i = 64;
  while (i + 2 <= bytes.length) {
    const flags = bytes[i]!;
    const long = (flags & 0x02) !== 0;
    const size = long ? Number(bytes.readBigUInt64BE(i + 1)) : bytes[i + 1]!;
    const start = i + (long ? 9 : 2);
    if (start + size > bytes.length) break;
    const body = bytes.subarray(start, start + size);
    if (flags & 0x04) out.push({ name: body.subarray(1, 1 + body[0]!).toString('latin1'), data: body.subarray(1 + body[0]!) });
    i = start + size;
  }
  return out;
}

describe('heartbeats', () => {
  it('a peer that never answers PINGs is dropped: disconnect with ERR_ZMTP_HEARTBEAT_TIMEOUT', async () => {
    const router = t.add(new zmq.Router({ heartbeatInterval: 40, heartbeatTimeout: 120, heartbeatTimeToLive: 500 }));
    await router.bind('tcp://127.0.0.1:*');
    const raw = await RawPeer.connect(router.lastEndpoint!);
    try {
      const hs = waitForEvent(router, 'handshake');
      raw.handshake('DEALER');
      await hs;
      const gone = waitForEvent(router, 'disconnect', 5000);
      const e = await gone;
      expect(e.error?.code).toBe('ERR_ZMTP_HEARTBEAT_TIMEOUT');
      expect(e.address).toBe(router.lastEndpoint);
      // it did send PINGs first, with TTL in deciseconds and no context (as libzmq)
      const pings = commands(raw.received).filter((c) => c.name === 'PING');
      expect(pings.length).toBeGreaterThan(0);
      expect(pings[0]!.data.readUInt16BE(0)).toBe(5);
      expect(pings[0]!.data.length).toBe(2);
      await within(raw.closed, 5000);
    } finally {
      raw.destroy();
    }
  });

  it('answers PING with PONG echoing at most 16 bytes of context; drops the peer after its TTL of silence', async () => {
    const router = t.add(new zmq.Router());
    await router.bind('tcp://127.0.0.1:*');
    const raw = await RawPeer.connect(router.lastEndpoint!);
    try {
      const hs = waitForEvent(router, 'handshake');
      raw.handshake('DEALER');
      await hs;
      const context = Buffer.from('0123456789abcdefXYZ'); // 19 bytes
      const gone = waitForEvent(router, 'disconnect', 5000);
      raw.write(frame(0x04, Buffer.concat([Buffer.from('\x04PING', 'latin1'), Buffer.from([0x00, 0x02]), context])));
      await until(() => commands(raw.received).some((c) => c.name === 'PONG'), 5000, 'PONG');
      const pong = commands(raw.received).find((c) => c.name === 'PONG')!;
      expect(pong.data.toString()).toBe('0123456789abcdef');
      // TTL 2 = 200 ms: the raw peer stays silent, so the ROUTER gives up on it
      const e = await gone;
      expect(e.error?.code).toBe('ERR_ZMTP_HEARTBEAT_TIMEOUT');
    } finally {
      raw.destroy();
    }
  });

  it('purezmq peers with heartbeats stay connected while idle and keep working', async () => {
    const router = t.add(new zmq.Router({ heartbeatInterval: 20, heartbeatTimeToLive: 200 }));
    await router.bind('tcp://127.0.0.1:*');
    const dealer = t.add(new zmq.Dealer({ heartbeatInterval: 20, heartbeatTimeToLive: 200, routingId: 'hb' }));
    const up = waitForEvent(dealer, 'handshake');
    dealer.connect(router.lastEndpoint!);
    await up;
    const drops: zmq.Event[] = [];
    router.events.on('disconnect', (e) => drops.push(e));
    dealer.events.on('disconnect', (e) => drops.push(e));
    await delay(400); // many heartbeat periods and two TTLs without application traffic
    expect(drops).toEqual([]);
    await dealer.send('still-here');
    expect(str(await within(router.receive(), 5000))).toEqual(['hb', 'still-here']);
  });

  it('a heartbeat timeout is not fatal: the connecter reconnects', async () => {
    const net = await import('node:net');
    let accepted = 0;
    // a server that completes the ZMTP handshake as a ROUTER, then ignores everything
    const server = net.createServer((s) => {
      accepted++;
      s.on('data', () => {});
      s.on('error', () => {});
      const g = Buffer.alloc(64);
      g[0] = 0xff;
      g[9] = 0x7f;
      g[10] = 3;
      g[11] = 1;
      g.write('NULL', 12, 'latin1');
      s.write(g);
      s.write(Buffer.from([0x04, 0x1c, 0x05, ...Buffer.from('READY'), 0x0b, ...Buffer.from('Socket-Type'), 0, 0, 0, 6, ...Buffer.from('ROUTER')]));
    });
    await new Promise<void>((r) => server.listen({ host: '127.0.0.1', port: 0 }, () => r()));
    try {
      const port = (server.address() as import('node:net').AddressInfo).port;
      const dealer = t.add(new zmq.Dealer({ heartbeatInterval: 30, heartbeatTimeout: 90, reconnectInterval: 20 }));
      const dropped = waitForEvent(dealer, 'disconnect', 5000);
      dealer.connect(`tcp://127.0.0.1:${port}`);
      expect((await dropped).error?.code).toBe('ERR_ZMTP_HEARTBEAT_TIMEOUT');
      const again = waitForEvent(dealer, 'handshake', 5000);
      await again;
      expect(accepted).toBeGreaterThanOrEqual(2);
    } finally {
      server.close();
    }
  });
});

/** Binds `router` and connects two DEALERs with the routing id 'same', one after the other. */
async function twoPeersNamedSame(router: zmq.Router): Promise<[zmq.Dealer, zmq.Dealer]> {
  await router.bind('tcp://127.0.0.1:*');
  const dealers: zmq.Dealer[] = [];
  for (let i = 0; i < 2; i++) {
    const d = t.add(new zmq.Dealer({ routingId: 'same' }));
    // the second one's own handshake: a ROUTER that ignores a duplicate still completes it
    const up = waitForEvent(d, 'handshake');
    d.connect(router.lastEndpoint!);
    await up;
    dealers.push(d);
  }
  return [dealers[0]!, dealers[1]!];
}

describe('ROUTER identities', () => {
  it('a second peer with an identity in use stays connected but is ignored (libzmq); the first keeps the id', async () => {
    const router = t.add(new zmq.Router());
    const [d1, d2] = await twoPeersNamedSame(router);
    await d2.send('from-duplicate');
    await d1.send('from-first');
    expect(str(await within(router.receive(), 5000))).toEqual(['same', 'from-first']);
    await router.send(['same', 'to-first']);
    expect(str(await within(d1.receive(), 5000))).toEqual(['to-first']);
    router.receiveTimeout = 200;
    expect(((await router.receive().catch((e: zmq.ZmqError) => e)) as zmq.ZmqError).code).toBe('EAGAIN');
  });

  it('handover: the newcomer takes the identity over', async () => {
    const router = t.add(new zmq.Router({ handover: true }));
    const [d1, d2] = await twoPeersNamedSame(router);
    await router.send(['same', 'to-newcomer']);
    expect(str(await within(d2.receive(), 5000))).toEqual(['to-newcomer']);
    await d2.send('from-newcomer');
    expect(str(await within(router.receive(), 5000))).toEqual(['same', 'from-newcomer']);
  });

  it('connect(address, { routingId }) names the peer on a ROUTER that connects', async () => {
    const dealer = t.add(new zmq.Dealer());
    await dealer.bind('inproc://router-connect-rid-' + Math.random());
    const router = t.add(new zmq.Router({ mandatory: true }));
    router.connect(dealer.lastEndpoint!, { routingId: 'peer-a' });
    await router.send(['peer-a', 'addressed']);
    expect(str(await within(dealer.receive(), 5000))).toEqual(['addressed']);
  });
});

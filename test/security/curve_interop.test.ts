import { afterEach, describe, expect, it } from 'vitest';
import * as lib from 'zeromq';
import * as zmq from '../../src/mod.ts';
import { CLIENT, SERVER, nextEvent, serveZap, waitFor, within } from './helpers.ts';

const open: { close(): void }[] = [];
function track<T extends { close(): void }>(s: T): T {
  open.push(s);
  return s;
}
afterEach(() => {
  for (const s of open.splice(0).reverse()) s.close();
});

const clientKeys = { curveServerKey: SERVER.publicKey, curvePublicKey: CLIENT.publicKey, curveSecretKey: CLIENT.secretKey };

function pattern(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

describe('CURVE purezmq <-> purezmq', () => {
  it('completes the handshake and carries messages both ways; lastPeer names the keys', async () => {
    const server = track(new zmq.Router({ curveServer: true, curveSecretKey: SERVER.secretKey }));
    await server.bind('tcp://127.0.0.1:*');
    const client = track(new zmq.Dealer({ ...clientKeys, routingId: 'c1' }));
    client.connect(server.lastEndpoint!);
    await client.send(['hello', 'world']);
    const [id, a, b] = await server.receive();
    expect([id!.toString(), a!.toString(), b!.toString()]).toEqual(['c1', 'hello', 'world']);
    expect(server.lastPeer?.publicKey).toBe(CLIENT.publicKey);
    await server.send([id!, 'back']);
    expect((await client.receive())[0]!.toString()).toBe('back');
    expect(client.lastPeer?.publicKey).toBe(SERVER.publicKey);
  });

  it('keys can be given as 32-byte buffers, and a client without its own key pair gets a throwaway one', async () => {
    const server = track(new zmq.Pull({ curveServer: true, curveSecretKey: zmq.z85.decode(SERVER.secretKey) }));
    await server.bind('tcp://127.0.0.1:*');
    const client = track(new zmq.Push({ curveServerKey: zmq.z85.decode(SERVER.publicKey) }));
    client.connect(server.lastEndpoint!);
    await client.send('anon');
    expect((await server.receive())[0]!.toString()).toBe('anon');
    expect(server.lastPeer?.publicKey).toHaveLength(40);
    expect(server.lastPeer?.publicKey).not.toBe(CLIENT.publicKey);
  });

  it('PUB/SUB subscriptions and heartbeats travel inside MESSAGE', async () => {
    const pub = track(new zmq.Publisher({ curveServer: true, curveSecretKey: SERVER.secretKey, heartbeatInterval: 50 }));
    await pub.bind('tcp://127.0.0.1:*');
    const sub = track(new zmq.Subscriber({ ...clientKeys, heartbeatInterval: 50, heartbeatTimeout: 2000 }));
    sub.subscribe('a');
    sub.connect(pub.lastEndpoint!);
    await nextEvent(sub, 'handshake');
    const got = within(sub.receive(), 10_000, 'sub receive');
    // keep publishing until the subscription has arrived (it travels as an encrypted command)
    const timer = setInterval(() => {
      void pub.send(['b', 'no']);
      void pub.send(['a', 'yes']);
    }, 20);
    try {
      const [t, v] = await got;
      expect([t!.toString(), v!.toString()]).toEqual(['a', 'yes']);
    } finally {
      clearInterval(timer);
    }
    // several heartbeat rounds later the link is still up (PING/PONG decrypt fine)
    await new Promise((r) => setTimeout(r, 300));
    const again = within(sub.receive(), 10_000, 'sub receive 2');
    await pub.send(['a', 'still']);
    expect((await again)[1]!.toString()).toBe('still');
  });
});

describe('CURVE interop with libzmq', () => {
  it('libzmq client -> purezmq server', async () => {
    const server = track(new zmq.Router({ curveServer: true, curveSecretKey: SERVER.secretKey }));
    await server.bind('tcp://127.0.0.1:*');
    const client = track(new lib.Dealer({ ...clientKeys, routingId: 'lz' }));
    client.connect(server.lastEndpoint!);
    await client.send(['ping', 'x']);
    const [id, a, b] = await within(server.receive(), 10_000, 'server receive');
    expect([id!.toString(), a!.toString(), b!.toString()]).toEqual(['lz', 'ping', 'x']);
    expect(server.lastPeer?.publicKey).toBe(CLIENT.publicKey);
    await server.send([id!, 'pong']);
    expect((await within(client.receive(), 10_000, 'client receive'))[0]!.toString()).toBe('pong');
  });

  it('purezmq client -> libzmq server', async () => {
    const server = track(new lib.Router({ curveServer: true, curveSecretKey: SERVER.secretKey }));
    await server.bind('tcp://127.0.0.1:*');
    const client = track(new zmq.Dealer({ ...clientKeys, routingId: 'pz' }));
    client.connect(server.lastEndpoint!);
    await client.send(['ping', 'y']);
    const [id, a, b] = await within(server.receive(), 10_000, 'server receive');
    expect([id!.toString(), a!.toString(), b!.toString()]).toEqual(['pz', 'ping', 'y']);
    await server.send([id!, 'pong']);
    expect((await within(client.receive(), 10_000, 'client receive'))[0]!.toString()).toBe('pong');
  });

  it('MiB messages and multipart both ways with a libzmq client (purezmq server)', async () => {
    const server = track(new zmq.Router({ curveServer: true, curveSecretKey: SERVER.secretKey }));
    await server.bind('tcp://127.0.0.1:*');
    const client = track(new lib.Dealer({ ...clientKeys, routingId: 'big' }));
    client.connect(server.lastEndpoint!);
    const big = pattern(2 * 1024 * 1024 + 7, 1);
    await client.send([big, 'tail']);
    const [id, body, tail] = await within(server.receive(), 20_000, 'big receive');
    expect(body!.length).toBe(big.length);
    expect(Buffer.compare(Buffer.from(body!), big)).toBe(0);
    expect(tail!.toString()).toBe('tail');
    const back = pattern(1024 * 1024, 2);
    await server.send([id!, back]);
    const [r] = await within(client.receive(), 20_000, 'big reply');
    expect(Buffer.compare(r!, back)).toBe(0);
  });

  it('MiB messages both ways with a libzmq server (purezmq client)', async () => {
    const server = track(new lib.Router({ curveServer: true, curveSecretKey: SERVER.secretKey }));
    await server.bind('tcp://127.0.0.1:*');
    const client = track(new zmq.Dealer({ ...clientKeys, routingId: 'big2' }));
    client.connect(server.lastEndpoint!);
    const big = pattern(3 * 1024 * 1024, 3);
    await client.send(big);
    const [id, body] = await within(server.receive(), 20_000, 'big receive');
    expect(Buffer.compare(body!, big)).toBe(0);
    const back = pattern(1024 * 1024 + 1, 4);
    await server.send([id!, back]);
    const [r] = await within(client.receive(), 20_000, 'big reply');
    expect(Buffer.compare(Buffer.from(r!), back)).toBe(0);
  });

  it('thousands of messages in order on one link, both directions (libzmq PUSH/PULL)', async () => {
    const N = 5000;
    // purezmq server PULL <- libzmq client PUSH
    const pull = track(new zmq.Pull({ curveServer: true, curveSecretKey: SERVER.secretKey }));
    await pull.bind('tcp://127.0.0.1:*');
    const push = track(new lib.Push({ ...clientKeys, sendHighWaterMark: 0 }));
    push.connect(pull.lastEndpoint!);
    const sending = (async () => {
      for (let i = 0; i < N; i++) await push.send(`m${i}`);
    })();
    for (let i = 0; i < N; i++) {
      const [m] = await within(pull.receive(), 10_000, `message ${i}`);
      expect(m!.toString()).toBe(`m${i}`);
    }
    await sending;

    // libzmq server PULL <- purezmq client PUSH
    const lpull = track(new lib.Pull({ curveServer: true, curveSecretKey: SERVER.secretKey }));
    await lpull.bind('tcp://127.0.0.1:*');
    const zpush = track(new zmq.Push({ ...clientKeys }));
    zpush.connect(lpull.lastEndpoint!);
    const sending2 = (async () => {
      for (let i = 0; i < N; i++) await zpush.send(`n${i}`);
    })();
    for (let i = 0; i < N; i++) {
      const [m] = await within(lpull.receive(), 10_000, `message ${i}`);
      expect(m!.toString()).toBe(`n${i}`);
    }
    await sending2;
  });

  it('libzmq SUB with CURVE subscribes to a purezmq PUB; heartbeats (PING/PONG inside MESSAGE) keep it up', async () => {
    const pub = track(new zmq.Publisher({ curveServer: true, curveSecretKey: SERVER.secretKey, heartbeatInterval: 50, heartbeatTimeout: 1000 }));
    await pub.bind('tcp://127.0.0.1:*');
    const sub = track(new lib.Subscriber({ ...clientKeys, heartbeatInterval: 50, heartbeatTimeout: 1000 }));
    sub.subscribe('t');
    sub.connect(pub.lastEndpoint!);
    const got = within(sub.receive(), 10_000, 'sub receive');
    const timer = setInterval(() => void pub.send(['t', 'v']), 20);
    try {
      const [t, v] = await got;
      expect([t!.toString(), v!.toString()]).toEqual(['t', 'v']);
    } finally {
      clearInterval(timer);
    }
    let disconnected = false;
    pub.events.on('disconnect', () => (disconnected = true));
    await new Promise((r) => setTimeout(r, 400)); // ~8 heartbeat rounds each way
    expect(disconnected).toBe(false);
  });

  it('libzmq client with the wrong server key: purezmq server closes silently, reports the failure', async () => {
    const server = track(new zmq.Router({ curveServer: true, curveSecretKey: SERVER.secretKey }));
    await server.bind('tcp://127.0.0.1:*');
    const err = nextEvent(server, 'handshake:error:protocol');
    const wrong = lib.curveKeyPair();
    const client = track(new lib.Dealer({ ...clientKeys, curveServerKey: wrong.publicKey }));
    client.connect(server.lastEndpoint!);
    await client.send('never');
    const e = await err;
    expect(e.error.code).toBe('ERR_ZMTP_CRYPTOGRAPHIC');
    expect(e.error.message).toMatch(/HELLO does not decrypt/);
  });

  it('purezmq client with the wrong server key (libzmq server): clear error naming the key, and backoff', async () => {
    const server = track(new lib.Router({ curveServer: true, curveSecretKey: SERVER.secretKey }));
    await server.bind('tcp://127.0.0.1:*');
    const wrong = zmq.curveKeyPair();
    const client = track(new zmq.Dealer({ ...clientKeys, curveServerKey: wrong.publicKey, reconnectInterval: 20 }));
    const errors: zmq.ZmqError[] = [];
    const intervals: number[] = [];
    client.events.on('handshake:error:protocol', (e) => errors.push(e.error));
    client.events.on('connect:retry', (e) => intervals.push(e.interval));
    client.connect(server.lastEndpoint!);
    await waitFor(() => intervals.length >= 4, 10_000, 'four retries');
    expect(errors[0]!.code).toBe('ERR_ZMTP_KEY_EXCHANGE');
    expect(errors[0]!.message).toMatch(/curveServerKey/);
    // doubling, not a fixed 20 ms loop
    expect(intervals.slice(0, 4)).toEqual([20, 40, 80, 160]);
  });

  it('NULL client to a CURVE server is refused (mechanism mismatch) on both sides', async () => {
    const server = track(new zmq.Router({ curveServer: true, curveSecretKey: SERVER.secretKey }));
    await server.bind('tcp://127.0.0.1:*');
    const codes: string[] = [];
    server.events.on('handshake:error:protocol', (e) => codes.push(e.error.code));
    server.events.on('handshake:error:other', (e) => codes.push(e.error.code));
    const client = track(new lib.Dealer());
    client.connect(server.lastEndpoint!);
    await client.send('plain');
    await waitFor(() => codes.length > 0, 10_000, 'server handshake error');
    // libzmq drops the connection the moment it reads our CURVE greeting; whether its own greeting
    // reaches us first depends on timing (a reset can discard it)
    expect(['ERR_ZMTP_MECHANISM_MISMATCH', 'ERR_ZMTP_HANDSHAKE_CLOSED']).toContain(codes[0]);
    expect(server.readable).toBe(false);

    const zclient = track(new zmq.Dealer({ reconnectInterval: -1 }));
    const cerr = nextEvent(zclient, 'handshake:error:protocol');
    zclient.connect(server.lastEndpoint!);
    expect((await cerr).error.code).toBe('ERR_ZMTP_MECHANISM_MISMATCH');
  });
});

describe('ZAP with CURVE', () => {
  const other = zmq.curveKeyPair();

  /** Admits CLIENT's key only. */
  function admitClient(req: Uint8Array[]): [string, string] {
    const key = zmq.z85.encode(req[6]!);
    return key === CLIENT.publicKey ? ['200', 'alice'] : ['400', ''];
  }

  it('a ZAP handler on purezmq sockets admits one key and refuses another (purezmq and libzmq clients)', async () => {
    const seen = await serveZap(track(new zmq.Reply()), admitClient);
    const server = track(new zmq.Router({ curveServer: true, curveSecretKey: SERVER.secretKey }));
    await server.bind('tcp://127.0.0.1:*');

    const good = track(new lib.Dealer({ ...clientKeys, routingId: 'good' }));
    good.connect(server.lastEndpoint!);
    await good.send('in');
    const [id, m] = await within(server.receive(), 10_000, 'admitted');
    expect([id!.toString(), m!.toString()]).toEqual(['good', 'in']);
    expect(server.lastPeer?.userId).toBe('alice');
    expect(server.lastPeer?.metadata.get('User-Id')?.toString()).toBe('alice');

    const refused = nextEvent(server, 'handshake:error:auth');
    const bad = track(new zmq.Dealer({ ...clientKeys, curvePublicKey: other.publicKey, curveSecretKey: other.secretKey }));
    const badErr = nextEvent(bad, 'handshake:error:auth');
    bad.connect(server.lastEndpoint!);
    expect((await refused).error.status).toBe(400);
    const be = await badErr;
    expect(be.error.status).toBe(400);
    expect(seen.map((s) => s.frames[5])).toEqual(['CURVE', 'CURVE']);
    expect(seen[0]!.credentials[0]!.length).toBe(32);
  });

  it('the Authenticator admits one key and refuses another (libzmq client refused)', async () => {
    const auth = new zmq.Authenticator({ curveKeys: [CLIENT.publicKey] });
    await auth.start();
    try {
      const server = track(new zmq.Router({ curveServer: true, curveSecretKey: SERVER.secretKey }));
      await server.bind('tcp://127.0.0.1:*');
      const good = track(new zmq.Dealer({ ...clientKeys, routingId: 'ok' }));
      good.connect(server.lastEndpoint!);
      await good.send('in');
      const [id] = await within(server.receive(), 10_000, 'admitted');
      expect(id!.toString()).toBe('ok');
      expect(server.lastPeer?.userId).toBe(CLIENT.publicKey);

      const refused = nextEvent(server, 'handshake:error:auth');
      const bad = track(new lib.Dealer({ ...clientKeys, curvePublicKey: other.publicKey, curveSecretKey: other.secretKey }));
      bad.connect(server.lastEndpoint!);
      expect((await refused).error.status).toBe(400);
    } finally {
      await auth.stop();
    }
  });

  it('a libzmq ZAP handler (libzmq CURVE server) admits one purezmq client and refuses another', async () => {
    const zap = track(new lib.Reply());
    const seen = await serveZap(zap, admitClient);
    const server = track(new lib.Router({ curveServer: true, curveSecretKey: SERVER.secretKey }));
    await server.bind('tcp://127.0.0.1:*');
    const good = track(new zmq.Dealer({ ...clientKeys, routingId: 'zz' }));
    good.connect(server.lastEndpoint!);
    await good.send('hi');
    const [id] = await within(server.receive(), 10_000, 'admitted');
    expect(id!.toString()).toBe('zz');
    const bad = track(new zmq.Dealer({ ...clientKeys, curvePublicKey: other.publicKey, curveSecretKey: other.secretKey }));
    const be = nextEvent(bad, 'handshake:error:auth');
    bad.connect(server.lastEndpoint!);
    expect((await be).error.status).toBe(400);
    expect(seen).toHaveLength(2);
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import * as lib from 'zeromq';
import * as zmq from '../../src/mod.ts';
import { encodeMetadata } from '../../src/zmtp/metadata.ts';
import { fromString } from '../../src/util/bytes.ts';
import { nextEvent, serveZap, within } from './helpers.ts';

const open: { close(): void }[] = [];
function track<T extends { close(): void }>(s: T): T {
  open.push(s);
  return s;
}
afterEach(() => {
  for (const s of open.splice(0).reverse()) s.close();
});

/** admin/secret is the only valid account. */
function checkPassword(req: Uint8Array[]): [string, string, Uint8Array?] {
  const [user, pass] = req.slice(6).map((f) => new TextDecoder().decode(f));
  if (user === 'admin' && pass === 'secret') return ['200', 'admin-id', encodeMetadata([['X-Role', fromString('ops')]])];
  return ['400', ''];
}

describe('PLAIN purezmq <-> purezmq with a purezmq ZAP handler', () => {
  it('admits the right password; the server sees User-Id and ZAP metadata through lastPeer', async () => {
    const seen = await serveZap(track(new zmq.Reply()), checkPassword);
    const server = track(new zmq.Router({ plainServer: true, zapDomain: 'global', routingId: 'srv' }));
    await server.bind('tcp://127.0.0.1:*');
    const client = track(new zmq.Dealer({ plainUsername: 'admin', plainPassword: 'secret', routingId: 'cli' }));
    client.connect(server.lastEndpoint!);
    await client.send('hi');
    const [id, body] = await within(server.receive(), 10_000, 'receive');
    expect([id!.toString(), body!.toString()]).toEqual(['cli', 'hi']);
    const peer = server.lastPeer!;
    expect(peer.userId).toBe('admin-id');
    expect(peer.metadata.toObject()).toMatchObject({ 'Socket-Type': 'DEALER', 'X-Role': 'ops', 'User-Id': 'admin-id' });
    // request as libzmq sends it: version, id, domain, address, identity (= server's routing id), mechanism
    expect(seen[0]!.frames.slice(2)).toEqual(['global', '127.0.0.1', 'srv', 'PLAIN']);
    expect(seen[0]!.frames[0]).toBe('1.0');
    expect(seen[0]!.credentials.map((c) => Buffer.from(c).toString())).toEqual(['admin', 'secret']);
  });

  it('refuses a wrong password: client gets handshake:error:auth (status 400) and does not reconnect', async () => {
    await serveZap(track(new zmq.Reply()), checkPassword);
    const server = track(new zmq.Router({ plainServer: true }));
    await server.bind('tcp://127.0.0.1:*');
    const serverAuth = nextEvent(server, 'handshake:error:auth');
    const client = track(new zmq.Dealer({ plainUsername: 'admin', plainPassword: 'wrong' }));
    const auth = nextEvent(client, 'handshake:error:auth');
    client.connect(server.lastEndpoint!);
    const e = await auth;
    expect(e.error.code).toBe('ERR_ZMTP_AUTH_FAILED');
    expect(e.error.status).toBe(400);
    expect((await serverAuth).error.status).toBe(400);
  });

  it('a PLAIN server with no ZAP handler fails every handshake (as libzmq)', async () => {
    const server = track(new zmq.Router({ plainServer: true }));
    await server.bind('tcp://127.0.0.1:*');
    const serverErr = nextEvent(server, 'handshake:error:auth');
    const client = track(new zmq.Dealer({ plainUsername: 'a', plainPassword: 'b', reconnectInterval: -1 }));
    const clientErr = nextEvent(client, 'handshake:error:other');
    client.connect(server.lastEndpoint!);
    expect((await serverErr).error.message).toMatch(/no ZAP handler/);
    expect((await clientErr).error.code).toBe('ERR_ZMTP_HANDSHAKE_CLOSED');
  });

  it('ZAP 300 is reported at once (status 300, as libzmq), and leaves the client waiting until the handshake deadline', async () => {
    await serveZap(track(new zmq.Reply()), () => ['300', '']);
    const server = track(new zmq.Router({ plainServer: true, handshakeInterval: 300 }));
    await server.bind('tcp://127.0.0.1:*');
    const auth = nextEvent(server, 'handshake:error:auth');
    const timeout = nextEvent(server, 'handshake:error:other');
    const client = track(new zmq.Dealer({ plainUsername: 'a', plainPassword: 'b', reconnectInterval: -1 }));
    client.connect(server.lastEndpoint!);
    const notice = (await auth).error;
    expect(notice.code).toBe('ERR_ZMTP_AUTH_FAILED');
    expect(notice.status).toBe(300);
    expect((await timeout).error.code).toBe('ERR_ZMTP_HANDSHAKE_TIMEOUT');
  });
});

describe('PLAIN interop with libzmq', () => {
  it('libzmq client -> purezmq server (purezmq ZAP handler)', async () => {
    const seen = await serveZap(track(new zmq.Reply()), checkPassword);
    const server = track(new zmq.Router({ plainServer: true }));
    await server.bind('tcp://127.0.0.1:*');
    const client = track(new lib.Dealer({ plainUsername: 'admin', plainPassword: 'secret', routingId: 'lz' }));
    client.connect(server.lastEndpoint!);
    await client.send(['a', 'b']);
    const [id, a, b] = await within(server.receive(), 10_000, 'receive');
    expect([id!.toString(), a!.toString(), b!.toString()]).toEqual(['lz', 'a', 'b']);
    expect(server.lastPeer?.userId).toBe('admin-id');
    await server.send([id!, 'reply']);
    expect((await within(client.receive(), 10_000, 'client receive'))[0]!.toString()).toBe('reply');
    expect(seen).toHaveLength(1);
  });

  it('libzmq client with a wrong password is refused with ERROR 400', async () => {
    await serveZap(track(new zmq.Reply()), checkPassword);
    const server = track(new zmq.Router({ plainServer: true }));
    await server.bind('tcp://127.0.0.1:*');
    const refused = nextEvent(server, 'handshake:error:auth');
    const client = track(new lib.Dealer({ plainUsername: 'admin', plainPassword: 'nope' }));
    const clientErr = new Promise<{ type: string }>((resolve) => {
      void (async () => {
        for await (const e of client.events) if (e.type.startsWith('handshake:error')) return resolve(e);
      })();
    });
    client.connect(server.lastEndpoint!);
    expect((await refused).error.status).toBe(400);
    // libzmq's PLAIN client does not recognise a correct ERROR (its own constant is broken): either event is fine
    expect((await within(clientErr, 10_000, 'libzmq client event')).type).toMatch(/handshake:error:(auth|protocol)/);
  });

  it('purezmq client -> libzmq server (libzmq ZAP handler)', async () => {
    const zap = track(new lib.Reply());
    const seen = await serveZap(zap, checkPassword);
    const server = track(new lib.Router({ plainServer: true }));
    await server.bind('tcp://127.0.0.1:*');
    const client = track(new zmq.Dealer({ plainUsername: 'admin', plainPassword: 'secret', routingId: 'pz' }));
    client.connect(server.lastEndpoint!);
    await client.send('x');
    const [id, x] = await within(server.receive(), 10_000, 'receive');
    expect([id!.toString(), x!.toString()]).toEqual(['pz', 'x']);
    await server.send([id!, 'y']);
    expect((await within(client.receive(), 10_000, 'client receive'))[0]!.toString()).toBe('y');
    expect(seen[0]!.frames[5]).toBe('PLAIN');
  });

  it("purezmq client understands libzmq's malformed ERROR (5E RROR) as an auth failure", async () => {
    const zap = track(new lib.Reply());
    await serveZap(zap, checkPassword);
    const server = track(new lib.Router({ plainServer: true }));
    await server.bind('tcp://127.0.0.1:*');
    const client = track(new zmq.Dealer({ plainUsername: 'admin', plainPassword: 'bad' }));
    const auth = nextEvent(client, 'handshake:error:auth');
    client.connect(server.lastEndpoint!);
    const e = await auth;
    expect(e.error.code).toBe('ERR_ZMTP_AUTH_FAILED');
    expect(e.error.status).toBe(400);
  });
});

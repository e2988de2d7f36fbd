import { afterEach, describe, expect, it } from 'vitest';
import * as lib from 'zeromq';
import * as zmq from '../../src/mod.ts';
import { CLIENT, SERVER, nextEvent, within } from './helpers.ts';

const open: { close(): void }[] = [];
function track<T extends { close(): void }>(s: T): T {
  open.push(s);
  return s;
}
afterEach(() => {
  for (const s of open.splice(0)) s.close();
});

describe('CURVE purezmq <-> purezmq', () => {
  it('completes the handshake and carries messages both ways', async () => {
    const server = track(new zmq.Router({ curveServer: true, curveSecretKey: SERVER.secretKey }));
    await server.bind('tcp://127.0.0.1:*');
    const client = track(new zmq.Dealer({ curveServerKey: SERVER.publicKey, curvePublicKey: CLIENT.publicKey, curveSecretKey: CLIENT.secretKey, routingId: 'c1' }));
    client.connect(server.lastEndpoint!);
    await client.send(['hello', 'world']);
    const [id, a, b] = await server.receive();
    expect([id!.toString(), a!.toString(), b!.toString()]).toEqual(['c1', 'hello', 'world']);
    expect(server.lastPeer?.publicKey).toBe(CLIENT.publicKey);
    await server.send([id!, 'back']);
    expect((await client.receive())[0]!.toString()).toBe('back');
    expect(client.lastPeer?.publicKey).toBe(SERVER.publicKey);
  });
});

describe('CURVE interop with libzmq', () => {
  it('libzmq client -> purezmq server', async () => {
    const server = track(new zmq.Router({ curveServer: true, curveSecretKey: SERVER.secretKey }));
    await server.bind('tcp://127.0.0.1:*');
    const client = track(new lib.Dealer({ curveServerKey: SERVER.publicKey, curvePublicKey: CLIENT.publicKey, curveSecretKey: CLIENT.secretKey, routingId: 'lz' }));
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
    const client = track(new zmq.Dealer({ curveServerKey: SERVER.publicKey, curvePublicKey: CLIENT.publicKey, curveSecretKey: CLIENT.secretKey, routingId: 'pz' }));
    client.connect(server.lastEndpoint!);
    await client.send(['ping', 'y']);
    const [id, a, b] = await within(server.receive(), 10_000, 'server receive');
    expect([id!.toString(), a!.toString(), b!.toString()]).toEqual(['pz', 'ping', 'y']);
    await server.send([id!, 'pong']);
    expect((await within(client.receive(), 10_000, 'client receive'))[0]!.toString()).toBe('pong');
  });
});

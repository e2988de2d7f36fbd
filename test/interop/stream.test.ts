/**
 * STREAM sockets with plain node:net peers, checked differentially: each scenario runs with
 * zeromq.js's Stream (libzmq, the reference) and with purezmq's, with the same expectations.
 */
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import * as lib from 'zeromq';
import * as zmq from '../../src/mod.ts';
import { within } from '../_helpers/interop.ts';

const T = 5000;
type AnyStream = zmq.Stream | lib.Stream;
const IMPLS = [
  ['libzmq (reference)', (o: Record<string, unknown> = {}) => new lib.Stream(o) as AnyStream],
  ['purezmq', (o: Record<string, unknown> = {}) => new zmq.Stream(o) as AnyStream],
] as const;

const open: { close(): void; closed?: boolean }[] = [];
const clients: net.Socket[] = [];
afterEach(() => {
  for (const s of open.splice(0)) if (!s.closed) s.close();
  for (const c of clients.splice(0)) c.destroy();
});

const text = (frames: Uint8Array[]) => frames.map((f) => Buffer.from(f).toString());

async function client(endpoint: string): Promise<net.Socket & { received: () => string; ended: Promise<void> }> {
  const port = Number(endpoint.split(':').pop());
  const c = net.connect(port, '127.0.0.1') as net.Socket & { received: () => string; ended: Promise<void> };
  clients.push(c);
  let got = '';
  c.on('data', (d) => (got += d));
  c.received = () => got;
  c.ended = new Promise((r) => c.on('end', () => r()));
  await new Promise((r) => c.on('connect', r));
  return c;
}

async function until(cond: () => boolean, what: string): Promise<void> {
  const end = Date.now() + T;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

describe.each(IMPLS)('Stream (%s)', (_name, make) => {
  it('bound: a notification per connection, data as [id, chunk], replies by id, a notification when the peer leaves', async () => {
    const s = make();
    open.push(s);
    await s.bind('tcp://127.0.0.1:*');
    const c = await client(s.lastEndpoint!);
    const [id, hello] = await within(s.receive(), T, 'connect notification');
    expect(hello!.length).toBe(0);
    expect(id!.length).toBe(5);
    expect(id![0]).toBe(0);
    c.write('ping');
    const [id2, data] = await within(s.receive(), T, 'data');
    expect(Buffer.compare(Buffer.from(id2!), Buffer.from(id!))).toBe(0);
    expect(Buffer.from(data!).toString()).toBe('ping');
    await s.send([id!, 'pong']);
    await until(() => c.received() === 'pong', 'the reply at the client');
    c.end();
    const [id3, bye] = await within(s.receive(), T, 'disconnect notification');
    expect(Buffer.compare(Buffer.from(id3!), Buffer.from(id!))).toBe(0);
    expect(bye!.length).toBe(0);
    // to a departed peer: libzmq says EAGAIN, purezmq EHOSTUNREACH (it knows the peer is gone)
    const late = await s.send([id!, 'late']).then(() => 'sent', (e: { code: string }) => e.code);
    expect(['EAGAIN', 'EHOSTUNREACH']).toContain(late);
  });

  it('connected: with a routingId, the notification and the data carry it', async () => {
    const server = net.createServer((sock) => {
      sock.write('greetings');
      sock.on('data', (d) => sock.write(`echo:${d}`));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const s = make();
      open.push(s);
      s.connect(`tcp://127.0.0.1:${(server.address() as net.AddressInfo).port}`, { routingId: 'conn-1' });
      expect(text(await within(s.receive(), T, 'connect notification'))).toEqual(['conn-1', '']);
      expect(text(await within(s.receive(), T, 'greeting'))).toEqual(['conn-1', 'greetings']);
      await s.send(['conn-1', 'x']);
      expect(text(await within(s.receive(), T, 'echo'))).toEqual(['conn-1', 'echo:x']);
    } finally {
      server.close();
    }
  });

  it('notify false: no notifications, only data', async () => {
    const s = make({ notify: false });
    open.push(s);
    await s.bind('tcp://127.0.0.1:*');
    const c = await client(s.lastEndpoint!);
    c.write('only data');
    const [, data] = await within(s.receive(), T, 'data');
    expect(Buffer.from(data!).toString()).toBe('only data');
  });
});

describe('purezmq Stream beyond the reference', () => {
  it('[id, ""] ends that connection after what was sent before it, without a notification for it', async () => {
    const s = new zmq.Stream();
    open.push(s);
    await s.bind('tcp://127.0.0.1:*');
    const c = await client(s.lastEndpoint!);
    const [id] = await within(s.receive(), T, 'connect notification');
    await s.send([id!, 'last words']);
    await s.send([id!, '']);
    await within(c.ended, T, 'the connection to end');
    expect(c.received()).toBe('last words');
    // the next message is the next connection's notification, not one for the connection we ended
    const c2 = await client(s.lastEndpoint!);
    const [id2, note] = await within(s.receive(), T, 'second notification');
    expect(note!.length).toBe(0);
    expect(Buffer.compare(Buffer.from(id2!), Buffer.from(id!))).not.toBe(0);
    c2.destroy();
  });

  it('1 MiB each way arrives whole and in order, whatever the chunking', async () => {
    const s = new zmq.Stream({ notify: false, receiveHighWaterMark: 4 });
    open.push(s);
    await s.bind('tcp://127.0.0.1:*');
    const c = await client(s.lastEndpoint!);
    const big = Buffer.alloc(1 << 20);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
    c.write(big);
    const parts: Buffer[] = [];
    let id: Uint8Array | undefined;
    let total = 0;
    while (total < big.length) {
      const [from, data] = await within(s.receive(), T, 'data');
      id = from;
      parts.push(Buffer.from(data!));
      total += data!.length;
    }
    expect(Buffer.compare(Buffer.concat(parts), big)).toBe(0);
    const back: Buffer[] = [];
    c.removeAllListeners('data');
    c.on('data', (d: Buffer) => back.push(d));
    await s.send([id!, big]);
    await until(() => back.reduce((n, b) => n + b.length, 0) === big.length, 'the echo');
    expect(Buffer.compare(Buffer.concat(back), big)).toBe(0);
  });

  it('close() with the default linger delivers what was sent, even past a full transport, then ends', async () => {
    const s = new zmq.Stream();
    await s.bind('tcp://127.0.0.1:*');
    const c = await client(s.lastEndpoint!);
    const [id] = await within(s.receive(), T, 'connect notification');
    c.pause(); // a slow reader: the transport fills up
    const big = Buffer.alloc(8 << 20, 7);
    await s.send([id!, big]);
    await new Promise((r) => setImmediate(r)); // the big write has gone out and filled the transport
    await s.send([id!, 'tail']); // so this one waits in the queue
    s.close();
    c.removeAllListeners('data');
    let got = 0;
    let last = '';
    c.on('data', (d: Buffer) => {
      got += d.length;
      last = (last + d.toString('latin1')).slice(-4);
    });
    c.resume();
    await within(c.ended, T, 'the connection to end after the data');
    expect(got).toBe(big.length + 4);
    expect(last).toBe('tail');
  });

  it('over IPC too: a Unix-socket client is a peer like a TCP one', async () => {
    const path = `${(await import('node:os')).tmpdir()}/purezmq-stream-${process.pid}.sock`;
    const s = new zmq.Stream();
    open.push(s);
    await s.bind(`ipc://${path}`);
    const c = net.connect(path);
    clients.push(c);
    await new Promise((r) => c.on('connect', r));
    const [id, hello] = await within(s.receive(), T, 'connect notification');
    expect(hello!.length).toBe(0);
    c.write('over ipc');
    expect(Buffer.from((await within(s.receive(), T, 'data'))[1]!).toString()).toBe('over ipc');
    let got = '';
    c.on('data', (d) => (got += d));
    await s.send([id!, 'reply']);
    await until(() => got === 'reply', 'the reply');
  });

  it('refuses what libzmq would misread: a message that is not [id, data] → EINVAL; inproc → ENOTSUP', async () => {
    const s = new zmq.Stream();
    open.push(s);
    await expect(s.send(['id', 'a', 'b'])).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(s.send(['id'])).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(s.bind('inproc://stream')).rejects.toMatchObject({ code: 'ENOTSUP' });
    expect(() => s.connect('inproc://stream')).toThrow(expect.objectContaining({ code: 'ENOTSUP' }));
  });
});

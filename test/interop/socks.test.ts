/**
 * socksProxy (ZMQ_SOCKS_PROXY): TCP connects go through a SOCKS5 proxy, side by side with
 * zeromq.js. The proxy is a minimal RFC 1928 relay written here, which records what it was asked.
 */
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { within } from '../_helpers/interop.ts';
import { LIBS, socketTracker } from '../_helpers/zeromqjs.ts';

const track = socketTracker();

interface Proxy {
  port: number;
  /** `host:port` of each CONNECT request, in order. */
  requests: string[];
  close(): void;
}

/** A SOCKS5 proxy without authentication: greeting, CONNECT, then a plain relay. */
async function socksProxy(): Promise<Proxy> {
  const requests: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    sockets.add(client);
    let buf = Buffer.alloc(0);
    let stage = 0;
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (stage === 0) {
        if (buf.length < 2 || buf.length < 2 + buf[1]!) return;
        buf = buf.subarray(2 + buf[1]!);
        client.write(Buffer.from([0x05, 0x00]));
        stage = 1;
      }
      if (buf.length < 5) return;
      const atyp = buf[3]!;
      const len = atyp === 1 ? 4 : atyp === 4 ? 16 : 1 + buf[4]!;
      if (buf.length < 4 + len + 2) return;
      const host = atyp === 1 ? [...buf.subarray(4, 8)].join('.') : atyp === 3 ? buf.subarray(5, 5 + buf[4]!).toString() : 'v6';
      const port = buf.readUInt16BE(4 + len);
      requests.push(`${host}:${port}`);
      client.off('data', onData);
      const rest = buf.subarray(4 + len + 2);
      const target = net.connect({ host, port }, () => {
        client.write(Buffer.from([0x05, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0]));
        if (rest.length) target.write(rest);
        client.pipe(target);
        target.pipe(client);
      });
      sockets.add(target);
      target.on('error', () => client.destroy());
      client.on('error', () => target.destroy());
    };
    client.on('data', onData);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    requests,
    close() {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

let proxy: Proxy | undefined;
afterEach(() => proxy?.close());

describe.each(LIBS)('socksProxy: %s', (_name, zmq) => {
  it('a DEALER reaches a ROUTER through the proxy, both ways', async () => {
    proxy = await socksProxy();
    const router = track(new zmq.Router());
    await router.bind('tcp://127.0.0.1:*');
    const dealer = track(new zmq.Dealer({ socksProxy: `127.0.0.1:${proxy.port}` }));
    expect(dealer.socksProxy).toBe(`127.0.0.1:${proxy.port}`);
    dealer.connect(router.lastEndpoint!);
    await dealer.send('through the proxy');
    const [id, body] = await within(router.receive(), 5000, 'request');
    expect(String(body)).toBe('through the proxy');
    await router.send([id!, 'and back']);
    expect(String((await within(dealer.receive(), 5000, 'reply'))[0])).toBe('and back');
    expect(proxy.requests).toEqual([router.lastEndpoint!.slice('tcp://'.length)]);
  });

  it('the option reads back what was set, and null unsets it', () => {
    const dealer = track(new zmq.Dealer());
    expect(dealer.socksProxy).toBe(null);
    (dealer as unknown as { socksProxy: unknown }).socksProxy = Buffer.from('proxy:1080');
    expect(String(dealer.socksProxy)).toBe('proxy:1080');
    dealer.socksProxy = null;
    expect(dealer.socksProxy ?? null).toBe(null);
  });
});

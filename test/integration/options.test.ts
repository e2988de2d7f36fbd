import { describe, expect, it } from 'vitest';
import * as zmq from '../../src/mod.ts';
import { netTransport } from '../../src/internal.ts';
import type { ConnectOptions, ListenOptions, StreamTransport } from '../../src/transport/transport.ts';

/** Records what the socket asks of its transport, and then does it for real. */
function recordingTransport(): { transport: StreamTransport; listens: ListenOptions[]; connects: ConnectOptions[] } {
  const listens: ListenOptions[] = [];
  const connects: ConnectOptions[] = [];
  return {
    listens,
    connects,
    transport: {
      listen: (ep, o, cb) => (listens.push(o), netTransport.listen(ep, o, cb)),
      connect: (ep, o) => (connects.push(o), netTransport.connect(ep, o)),
    },
  };
}

describe('zeromq.js options beyond the core set', () => {
  it('backlog reaches listen(); tcpKeepalive/tcpKeepaliveIdle reach both ends of TCP connections', async () => {
    const rec = recordingTransport();
    const router = new zmq.Router({ backlog: 7, tcpKeepalive: 1, tcpKeepaliveIdle: 30 });
    const dealer = new zmq.Dealer({ tcpKeepalive: 0 });
    router.transport = rec.transport;
    dealer.transport = rec.transport;
    try {
      await router.bind('tcp://127.0.0.1:*');
      dealer.connect(router.lastEndpoint!);
      await dealer.send('x');
      expect((await router.receive())[1]!.toString()).toBe('x');
      expect(rec.listens[0]).toMatchObject({ backlog: 7, keepAlive: { enable: true, idleMs: 30000 } });
      expect(rec.connects[0]).toMatchObject({ keepAlive: { enable: false, idleMs: 0 } });
    } finally {
      dealer.close();
      router.close();
    }
  });

  it('leaves keepalive to the OS by default', () => {
    const s = new zmq.Dealer();
    try {
      expect(s.tcpKeepalive).toBe(-1);
      expect(s.backlog).toBe(100);
    } finally {
      s.close();
    }
  });

  it('accepts options for transports purezmq does not have, which change nothing here', () => {
    const s = new zmq.Dealer({ affinity: 3, rate: 200, recoveryInterval: 5000, loopbackFastPath: true } as never);
    s.close();
  });

  it('refuses, rather than ignores, options whose behaviour it cannot provide', () => {
    for (const [key, value] of [
      ['tcpKeepaliveCount', 5],
      ['typeOfService', 8],
      ['gssapiServer', true],
    ] as const) {
      let err: zmq.ZmqError | undefined;
      try {
        new zmq.Dealer({ [key]: value } as never).close();
      } catch (e) {
        err = e as zmq.ZmqError;
      }
      expect(err?.code, key).toBe('ENOTSUP');
      expect(err?.message).toContain(key);
    }
    // their defaults are fine
    new zmq.Dealer({ tcpKeepaliveCount: -1, typeOfService: 0 } as never).close();
  });

  it('reads back every option zeromq.js can read, with its defaults; securityMechanism and threadSafe too', async () => {
    const lib = await import('zeromq');
    for (const [ours, theirs] of [
      [new zmq.Dealer(), new lib.Dealer()],
      [new zmq.Subscriber(), new lib.Subscriber()],
      [new zmq.Router({ plainServer: true }), new lib.Router({ plainServer: true })],
      [new zmq.Dealer({ curveServer: true, curveSecretKey: zmq.curveKeyPair().secretKey }), new lib.Dealer({ curveServer: true, curveSecretKey: lib.curveKeyPair().secretKey })],
    ] as const) {
      try {
        for (const key of ['affinity', 'rate', 'recoveryInterval', 'multicastHops', 'multicastMaxTransportDataUnit', 'loopbackFastPath', 'sendBufferSize',
          'receiveBufferSize', 'tcpKeepaliveCount', 'tcpKeepaliveInterval', 'tcpMaxRetransmitTimeout', 'typeOfService', 'socksProxy', 'interface',
          'securityMechanism', 'threadSafe', 'linger', 'sendHighWaterMark', 'ipv6', 'immediate', 'heartbeatInterval'] as const) {
          if (!(key in theirs)) continue; // a send-only option on a receive-only type, say
          expect((ours as unknown as Record<string, unknown>)[key], key).toEqual((theirs as unknown as Record<string, unknown>)[key]);
        }
      } finally {
        ours.close();
        theirs.close();
      }
    }
    const s = new zmq.Dealer({ rate: 40, multicastHops: 4 } as never);
    expect([s.rate, s.multicastHops]).toEqual([40, 4]);
    s.close();
    // OS socket buffer sizes cannot be set through node:net: refused unless left to the OS
    expect(() => new zmq.Dealer({ sendBufferSize: 65536 } as never)).toThrow(expect.objectContaining({ code: 'ENOTSUP' }));
  });

  it('still refuses option names nobody knows', () => {
    expect(() => new zmq.Dealer({ sendHighWaterMarkk: 1 } as never)).toThrow(/Cannot add property sendHighWaterMarkk/);
  });
});

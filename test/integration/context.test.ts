/**
 * zeromq.js's Context, `context`, `capability` and `version`, so that code using them runs as is.
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as lib from 'zeromq';
import * as zmq from '../../src/mod.ts';
import { SocketTracker, thrown } from './helpers.ts';

const t = new SocketTracker();
afterEach(() => t.closeAll());

describe('Context', () => {
  it('sockets without a context use zmq.context, whose settings read as zeromq.js reports libzmq defaults', () => {
    const d = t.add(new zmq.Dealer());
    expect(d.context).toBe(zmq.context);
    for (const key of ['blocky', 'ioThreads', 'maxMessageSize', 'maxSockets', 'ipv6'] as const) {
      expect(zmq.context[key]).toBe(lib.context[key]);
    }
  });

  it('maxSockets: one socket more throws EMFILE, as libzmq; closing one frees its slot', () => {
    const ctx = new zmq.Context({ maxSockets: 2 });
    const a = t.add(new zmq.Dealer({ context: ctx }));
    t.add(new zmq.Router({ context: ctx }));
    const err = thrown(() => new zmq.Pull({ context: ctx }));
    expect(err.code).toBe('EMFILE');
    expect(err.errno).toBe(24);
    a.close();
    expect(t.add(new zmq.Pull({ context: ctx })).context).toBe(ctx);
  });

  it("ipv6 is the context's default for its sockets; a socket option still wins, whatever the key order", () => {
    const ctx = new zmq.Context({ ipv6: true });
    expect(t.add(new zmq.Dealer({ context: ctx })).ipv6).toBe(true);
    expect(t.add(new zmq.Dealer({ ipv6: false, context: ctx })).ipv6).toBe(false);
    expect(t.add(new zmq.Dealer({ context: ctx, ipv6: false })).ipv6).toBe(false);
  });

  it('a constructor that throws on a bad option holds no slot on the context', () => {
    const ctx = new zmq.Context({ maxSockets: 1 });
    expect(thrown(() => new zmq.Dealer({ context: ctx, linger: 'long' } as never))).toBeInstanceOf(TypeError);
    expect(t.add(new zmq.Dealer({ context: ctx })).context).toBe(ctx);
  });

  it('bad options as zeromq.js: unknown or wrong type → TypeError, negative → EINVAL, a context that is not a Context → EINVAL', () => {
    expect(thrown(() => new zmq.Context({ nope: 1 } as never))).toBeInstanceOf(TypeError);
    expect(thrown(() => new zmq.Context({ maxSockets: '3' } as never))).toBeInstanceOf(TypeError);
    expect(thrown(() => new zmq.Context({ ioThreads: -1 })).code).toBe('EINVAL');
    expect(thrown(() => new zmq.Dealer({ context: {} as never })).code).toBe('EINVAL');
  });
});

describe('capability and version', () => {
  it('capability says what purezmq has: ipc and curve, no multicast, TIPC, GSSAPI or draft sockets', () => {
    expect(zmq.capability).toEqual({ ipc: true, pgm: false, tipc: false, norm: false, curve: true, gssapi: false, draft: false });
    expect(Object.keys(zmq.capability).sort()).toEqual(Object.keys(lib.capability).sort());
  });

  it('version is the libzmq release whose behaviour purezmq follows (zeromq.js reports its libzmq)', () => {
    expect(zmq.version).toBe(lib.version);
  });
});

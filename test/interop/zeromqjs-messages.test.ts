/**
 * `purezmq/zeromq`, the drop-in entry (issue 14): the same names as the `zeromq` package, and
 * errors whose `message` is zeromq.js's text, checked side by side against the `zeromq`
 * devDependency through the same code. Importing the entry switches the texts process-wide, which
 * is why this file has it to itself; the last cases switch back and check purezmq's own texts.
 */
import * as net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import * as lib from 'zeromq';
import * as dropIn from '../../src/zeromq.ts';
import { ErrorMessages, errorMessages, setErrorMessages, type ZmqError } from '../../src/errors.ts';
import { socketTracker } from '../_helpers/zeromqjs.ts';
import { nextEvent, serveZap } from '../security/helpers.ts';

type Lib = typeof dropIn;
const LIBS: [string, Lib][] = [
  ['purezmq/zeromq', dropIn],
  ['zeromq.js', lib as unknown as Lib],
];

const track = socketTracker();

afterAll(() => setErrorMessages(ErrorMessages.PUREZMQ));

/** A TCP port nobody listens on (bound and released at once). */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** What a failing call throws or rejects with: code and message (undefined if it did not fail). */
async function failure(call: () => unknown): Promise<{ code?: string; message: string } | undefined> {
  try {
    await call();
    return undefined;
  } catch (err) {
    return { code: (err as { code?: string }).code, message: (err as Error).message };
  }
}

/** Runs `scenario` on both libraries and returns both outcomes, purezmq's first. */
async function sideBySide<T>(scenario: (zmq: Lib) => Promise<T>): Promise<[T, T]> {
  const ours = await scenario(dropIn);
  const theirs = await scenario(lib as unknown as Lib);
  return [ours, theirs];
}

describe('purezmq/zeromq', () => {
  it('exports exactly the names the zeromq package exports', () => {
    expect(Object.keys(dropIn).sort()).toEqual(Object.keys(lib).sort());
    expect(errorMessages()).toBe(ErrorMessages.LIBZMQ);
  });

  const cases: [string, (zmq: Lib) => Promise<unknown>][] = [
    ['unbind of an endpoint never bound (ENOENT)', async (zmq) => {
      const s = track(new zmq.Dealer());
      const ep = `tcp://127.0.0.1:${await freePort()}`;
      return failure(() => s.unbind(ep));
    }],
    ['bind to something that is not an endpoint (EINVAL)', async (zmq) => failure(() => track(new zmq.Dealer()).bind('foo-bar'))],
    ['bind with an unknown transport (EPROTONOSUPPORT)', async (zmq) => failure(() => track(new zmq.Dealer()).bind('foo://bar'))],
    ['disconnect from an endpoint never connected (ENOENT)', async (zmq) => {
      const s = track(new zmq.Dealer());
      const ep = `tcp://127.0.0.1:${await freePort()}`;
      return failure(() => s.disconnect(ep));
    }],
    ['receive on a closed socket (EBADF)', async (zmq) => {
      const s = new zmq.Dealer();
      s.close();
      return failure(() => s.receive());
    }],
    ['receive past receiveTimeout (EAGAIN)', async (zmq) => failure(() => track(new zmq.Dealer({ receiveTimeout: 20 })).receive())],
    ['bind to an address in use (EADDRINUSE)', async (zmq) => {
      const a = track(new zmq.Dealer());
      const ep = `tcp://127.0.0.1:${await freePort()}`;
      await a.bind(ep);
      return failure(() => track(new zmq.Dealer()).bind(ep));
    }],
    ['send on a closed socket (EBADF)', async (zmq) => {
      const s = new zmq.Push();
      s.close();
      return failure(() => s.send('x'));
    }],
    ['a proxy whose front end is neither bound nor connected (zeromq.js\'s own text)', async (zmq) => {
      const proxy = new zmq.Proxy(track(new zmq.Router()), track(new zmq.Dealer()));
      return failure(() => proxy.run());
    }],
  ];

  it.each(cases)('%s: the same code and message as zeromq.js', async (_what, scenario) => {
    const [ours, theirs] = await sideBySide(scenario);
    expect(theirs).toBeDefined();
    expect(ours).toEqual(theirs);
  });

  it('a client the ZAP handler refuses: the same handshake:error:auth text as zeromq.js', async () => {
    const [ours, theirs] = await sideBySide(async (zmq) => {
      const handler = track(new zmq.Reply());
      await serveZap(handler, () => ['400', '']);
      const server = track(new zmq.Dealer({ plainServer: true }));
      const port = await freePort();
      await server.bind(`tcp://127.0.0.1:${port}`);
      const refused = nextEvent(server, 'handshake:error:auth');
      const client = track(new zmq.Dealer({ plainUsername: 'u', plainPassword: 'p' }));
      client.connect(`tcp://127.0.0.1:${port}`);
      const { error } = await refused;
      client.close();
      server.close();
      handler.close();
      return { message: error.message, status: (error as { status?: number }).status };
    });
    // zeromq.js's AuthError has no code; purezmq's says ERR_ZMTP_AUTH_FAILED besides
    expect(theirs.message).toBe('Authentication failure');
    expect(ours).toEqual(theirs);
  });
});

describe('error texts', () => {
  it("purezmq's own texts name the cause, and `detail` keeps them under libzmq's", async () => {
    const port = await freePort();
    const unbind = async () => (await failure(() => track(new dropIn.Dealer()).unbind(`tcp://127.0.0.1:${port}`)))!;
    const underLibzmq = await unbind();
    setErrorMessages(ErrorMessages.PUREZMQ);
    try {
      const own = await unbind();
      expect(own.code).toBe(underLibzmq.code);
      expect(own.message).toContain(`tcp://127.0.0.1:${port}`);
      expect(own.message).not.toBe(underLibzmq.message);
      let detail: string | undefined;
      setErrorMessages(ErrorMessages.LIBZMQ);
      try {
        await track(new dropIn.Dealer()).unbind(`tcp://127.0.0.1:${port}`);
      } catch (err) {
        detail = (err as ZmqError).detail;
      }
      expect(detail).toBe(own.message);
    } finally {
      setErrorMessages(ErrorMessages.LIBZMQ);
    }
  });

  it('refuses a style it does not know', () => {
    expect(() => setErrorMessages('posix' as ErrorMessages)).toThrow(TypeError);
    expect(errorMessages()).toBe(ErrorMessages.LIBZMQ);
  });
});

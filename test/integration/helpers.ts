/**
 * Shared helpers for the purezmq-only integration suite. Everything goes through the public API
 * (src/mod.ts); raw peers are plain node:net sockets speaking hand-written ZMTP bytes.
 */
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zmq from '../../src/mod.ts';

export type Transport = 'tcp' | 'ipc' | 'inproc';
export type AnySocket = zmq.Socket;
export type EventType = zmq.EventType;
export type EventOf<T extends EventType> = zmq.EventOfType<T>;

let counter = 0;

/** A fresh bind address for `proto` (wildcards for tcp/ipc; a unique name for inproc). */
export function bindAddress(proto: Transport): string {
  if (proto === 'tcp') return 'tcp://127.0.0.1:*';
  if (proto === 'ipc') return 'ipc://*';
  return `inproc://it-${process.pid}-${++counter}-${Math.random().toString(36).slice(2)}`;
}

/** A unique endpoint nobody is bound to yet; tcp returns a port that was free a moment ago. */
export async function unusedEndpoint(proto: Transport): Promise<string> {
  if (proto === 'inproc') return bindAddress('inproc');
  if (proto === 'ipc') return `ipc://${path.join(os.tmpdir(), `purezmq-it-${process.pid}-${++counter}-${Date.now()}.ipc`)}`;
  const port = await new Promise<number>((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen({ host: '127.0.0.1', port: 0 }, () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
  return `tcp://127.0.0.1:${port}`;
}

/**
 * Resolves with the first event of `type` (matching `pred`) emitted from now on; rejects after
 * `timeoutMs`. The listener is attached synchronously, so call it before triggering the event.
 */
export function waitForEvent<T extends EventType>(
  socket: AnySocket,
  type: T,
  timeoutMs = 5000,
  pred: (e: EventOf<T>) => boolean = () => true,
): Promise<EventOf<T>> {
  return new Promise((resolve, reject) => {
    const fn = (e: EventOf<T>) => {
      if (!pred(e)) return;
      clearTimeout(timer);
      socket.events.off(type, fn);
      resolve(e);
    };
    const timer = setTimeout(() => {
      socket.events.off(type, fn);
      reject(new Error(`timed out after ${timeoutMs} ms waiting for event '${type}'`));
    }, timeoutMs);
    socket.events.on(type, fn);
  });
}

/** Collects every event of the given types into an array (for later assertions). */
export function recordEvents(socket: AnySocket, types: readonly EventType[]): zmq.Event[] {
  const out: zmq.Event[] = [];
  for (const t of types) socket.events.on(t, (e: zmq.Event) => out.push(e));
  return out;
}

/** Rejects if `p` does not settle within `ms` (turns a hang into a readable failure). */
export function within<T>(p: Promise<T>, ms: number, what = 'operation'): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
    }),
  ]);
}

/** Polls `cond` every few ms until it holds; rejects after `timeoutMs`. */
export async function until(cond: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(5);
  }
}

export function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Lets pending I/O callbacks and microtasks run. */
export function tick(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}

/** The error a promise rejects with (fails the test if it resolves). */
export async function rejection(p: Promise<unknown>): Promise<zmq.ZmqError> {
  try {
    await p;
  } catch (err) {
    return err as zmq.ZmqError;
  }
  throw new Error('expected a rejection, but the promise resolved');
}

/** The error a function throws synchronously (fails the test if it does not throw). */
export function thrown(fn: () => unknown): zmq.ZmqError {
  try {
    fn();
  } catch (err) {
    return err as zmq.ZmqError;
  }
  throw new Error('expected a throw');
}

/** Whether `p` is still pending after I/O has had a few turns to settle it. */
export async function isPending(p: Promise<unknown>, turns = 5): Promise<boolean> {
  let settled = false;
  p.then(
    () => (settled = true),
    () => (settled = true),
  );
  for (let i = 0; i < turns; i++) await tick();
  return !settled;
}

export function str(frames: Uint8Array[]): string[] {
  return frames.map((f) => Buffer.from(f).toString());
}

/** Closes every socket given (ignores already closed ones). */
export function closeAll(...sockets: Array<AnySocket | undefined>): void {
  for (const s of sockets) if (s && !s.closed) s.close();
}

/** Tracks sockets created by a test so afterEach can close them even when the test failed. */
export class SocketTracker {
  private readonly sockets: AnySocket[] = [];
  add<S extends AnySocket>(s: S): S {
    this.sockets.push(s);
    return s;
  }
  closeAll(): void {
    for (const s of this.sockets.splice(0)) if (!s.closed) s.close();
  }
}

/** Binds, retrying while the address is still held by a socket that is shutting down. */
export async function bindRetry(socket: AnySocket, address: string, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      await socket.bind(address);
      return;
    } catch (err) {
      if ((err as zmq.ZmqError).code !== 'EADDRINUSE' || Date.now() > end) throw err;
      await delay(20);
    }
  }
}

// ---- hand-written ZMTP for raw peers ------------------------------------------------------

/** 64-byte ZMTP greeting. */
export function greeting(opts: { major?: number; minor?: number; mechanism?: string; signatureEnd?: number } = {}): Buffer {
  const g = Buffer.alloc(64);
  g[0] = 0xff;
  g[9] = opts.signatureEnd ?? 0x7f;
  g[10] = opts.major ?? 3;
  g[11] = opts.minor ?? 1;
  g.write(opts.mechanism ?? 'NULL', 12, 'latin1');
  return g;
}

/** One frame: flags byte, short or long size, body. `declaredSize` overrides the size written. */
export function frame(flags: number, body: Uint8Array, declaredSize?: number): Buffer {
  const size = declaredSize ?? body.length;
  if (size > 255 || flags & 0x02) {
    const h = Buffer.alloc(9);
    h[0] = flags | 0x02;
    h.writeBigUInt64BE(BigInt(size), 1);
    return Buffer.concat([h, body]);
  }
  return Buffer.concat([Buffer.from([flags, size]), body]);
}

/** READY command frame with the given properties. */
export function ready(props: Record<string, string>): Buffer {
  const parts: Buffer[] = [Buffer.from([5]), Buffer.from('READY', 'latin1')];
  for (const [k, v] of Object.entries(props)) {
    const value = Buffer.from(v, 'latin1');
    const len = Buffer.alloc(4);
    len.writeUInt32BE(value.length);
    parts.push(Buffer.from([k.length]), Buffer.from(k, 'latin1'), len, value);
  }
  return frame(0x04, Buffer.concat(parts));
}

/** A raw node:net client for tcp:// or ipc:// endpoints; records what it receives and when it closes. */
export class RawPeer {
  readonly socket: net.Socket;
  readonly closed: Promise<void>;
  received = Buffer.alloc(0);
  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (d: Buffer) => (this.received = Buffer.concat([this.received, d])));
    socket.on('error', () => {});
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
  }

  static connect(endpoint: string): Promise<RawPeer> {
    return new Promise((resolve, reject) => {
      let s: net.Socket;
      if (endpoint.startsWith('tcp://')) {
        const m = /^tcp:\/\/\[?([^\]]*)\]?:(\d+)$/.exec(endpoint)!;
        s = net.connect({ host: m[1]!, port: Number(m[2]) });
      } else {
        s = net.connect({ path: endpoint.slice('ipc://'.length) });
      }
      s.once('error', reject);
      s.once('connect', () => {
        s.off('error', reject);
        resolve(new RawPeer(s));
      });
    });
  }

  write(...chunks: Uint8Array[]): void {
    for (const c of chunks) this.socket.write(c);
  }

  /** Greeting + READY as a well-formed `socketType` peer. */
  handshake(socketType: string, extra: Record<string, string> = {}): void {
    this.write(greeting(), ready({ 'Socket-Type': socketType, ...extra }));
  }

  end(): void {
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }
}

import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as fs from 'node:fs';
import * as dns from 'node:dns';
import { createError, ErrorCode, type ZmqError } from '../errors.ts';
import { formatTcpEndpoint } from './endpoint.ts';
import { parseSocksProxy, socksConnect } from './socks.ts';
import { nextTurn, unrefTimer } from '../util/timers.ts';
import type {
  ConnectOptions, Connection, ConnectionHandler, KeepAlive, ListenOptions, Listener, ParsedEndpoint, StreamTransport,
} from './transport.ts';

/** Bytes a connection may hold in Node's write buffer before the session waits for 'drain'. */
const WRITE_BUFFER_LIMIT = 1024 * 1024;

const NOOP_HANDLER: ConnectionHandler = { onData() {}, onDrain() {}, onClose() {} };

/**
 * Bytes one connection may deliver in one turn of the event loop. libuv reads a readable socket up
 * to 32 times (2 MiB) before it looks at the next one, and an application that keeps up with the
 * messages in microtasks never stops it: one busy peer then holds every other connection's input
 * back for 2 MiB of work. Past this quantum the connection pauses until the next turn, as libzmq's
 * I/O thread reads one batch per socket per poll.
 */
const READ_QUANTUM = 256 * 1024;

/** Turns of the event loop, counted while some connection reads (see currentTurn). */
let turn = 0;
let turnCounted = false;
function nextTurnStarted(): void {
  turnCounted = false;
  turn++;
}
/** A number that changes once the event loop has turned. */
function currentTurn(): number {
  if (!turnCounted) {
    turnCounted = true;
    // unref'd: counting turns must not keep a process alive that nothing else does
    (setImmediate(nextTurnStarted) as { unref?: () => void }).unref?.();
  }
  return turn;
}

/** node:net socket (TCP or Unix domain) behind the Connection seam. Works on Node, Bun and Deno. */
class NetConnection implements Connection {
  readonly remoteAddress: string;
  readonly localEndpoint: string;
  private readonly socket: net.Socket;
  private handler: ConnectionHandler = NOOP_HANDLER;
  private error: Error | undefined;
  private closed = false;
  /** The session asked for no input (its pipe is full). */
  private pausedByHandler = false;
  /** Paused for the rest of this turn: READ_QUANTUM read already. */
  private pausedForTurn = false;
  private readTurn = -1;
  private readThisTurn = 0;

  constructor(socket: net.Socket, localEndpoint: string, remoteAddress: string, keepAlive: KeepAlive | undefined) {
    this.socket = socket;
    this.localEndpoint = localEndpoint;
    this.remoteAddress = remoteAddress;
    socket.setNoDelay?.(true);
    // an open connection alone does not keep the process alive (zeromq.js); pending calls do
    socket.unref?.();
    if (keepAlive) socket.setKeepAlive?.(keepAlive.enable, keepAlive.idleMs);
    socket.on('data', (chunk: Uint8Array) => this.onData(chunk));
    socket.on('drain', () => this.handler.onDrain());
    socket.on('error', (err) => {
      this.error ??= err;
    });
    socket.on('close', () => {
      if (this.closed) return;
      this.closed = true;
      this.handler.onClose(this.error);
    });
  }

  setHandler(handler: ConnectionHandler): void {
    this.handler = handler;
  }

  private onData(chunk: Uint8Array): void {
    const t = currentTurn();
    if (t !== this.readTurn) {
      this.readTurn = t;
      this.readThisTurn = 0;
    }
    this.readThisTurn += chunk.length;
    this.handler.onData(chunk);
    if (this.readThisTurn >= READ_QUANTUM && !this.pausedForTurn && !this.closed) {
      this.pausedForTurn = true;
      this.socket.pause();
      nextTurn(() => {
        this.pausedForTurn = false;
        if (!this.pausedByHandler && !this.closed) this.socket.resume();
      });
    }
  }

  write(chunks: Uint8Array[]): boolean {
    const s = this.socket;
    if (s.destroyed) return false;
    if (chunks.length === 1) s.write(chunks[0]!);
    else {
      s.cork();
      for (const c of chunks) s.write(c);
      s.uncork();
    }
    // Keep up to WRITE_BUFFER_LIMIT queued in Node rather than its 16 KiB default: waiting for a
    // full drain before every write leaves the link idle between batches of large messages.
    return s.writableLength < WRITE_BUFFER_LIMIT;
  }

  pause(): void {
    this.pausedByHandler = true;
    this.socket.pause();
  }

  resume(): void {
    this.pausedByHandler = false;
    if (!this.pausedForTurn) this.socket.resume();
  }

  end(): void {
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }
}

function translateNetError(err: NodeJS.ErrnoException, address: string): ZmqError {
  const map: Record<string, ErrorCode> = {
    EADDRINUSE: ErrorCode.EADDRINUSE,
    EADDRNOTAVAIL: ErrorCode.EADDRNOTAVAIL,
    EACCES: ErrorCode.EADDRNOTAVAIL,
    ENOTFOUND: ErrorCode.EINVAL,
    ECONNREFUSED: ErrorCode.ECONNREFUSED,
    ENOENT: ErrorCode.ENOENT,
  };
  const code = map[err.code ?? ''] ?? ErrorCode.EINVAL;
  const what = code === ErrorCode.EADDRINUSE ? 'Address already in use' : err.message;
  return createError(code, `${what} (${address})`, { cause: err, address });
}

async function resolveHost(host: string, ipv6: boolean): Promise<string> {
  if (host === '*') return ipv6 ? '::' : '0.0.0.0';
  if (net.isIP(host)) return host;
  if (host === 'localhost' && !ipv6) return '127.0.0.1';
  const found = await dns.promises.lookup(host, { family: ipv6 ? 0 : 4 });
  return found.address;
}

let ipcCounter = 0;

function ipcPath(p: string): string {
  // libzmq's abstract namespace form: ipc://@name → leading NUL (Linux only)
  return p.startsWith('@') ? '\0' + p.slice(1) : p;
}

export const netTransport: StreamTransport = {
  async listen(endpoint: ParsedEndpoint, options: ListenOptions, onConnection: (c: Connection) => void): Promise<Listener> {
    const server = net.createServer({ noDelay: true, pauseOnConnect: false });
    let listenArgs: net.ListenOptions;
    let ipcFile: string | undefined;
    if (endpoint.protocol === 'tcp') {
      let host: string;
      try {
        host = await resolveHost(endpoint.host, options.ipv6);
      } catch (err) {
        throw translateNetError(err as NodeJS.ErrnoException, endpoint.address);
      }
      listenArgs = { host, port: endpoint.port === '*' ? 0 : endpoint.port, backlog: options.backlog ?? 100 };
      if (host === '::' && !options.ipv6) listenArgs.ipv6Only = false;
    } else if (endpoint.protocol === 'ipc') {
      let p = endpoint.path;
      if (p === '*') p = path.join(os.tmpdir(), `purezmq-${process.pid}-${++ipcCounter}-${Date.now()}.ipc`);
      ipcFile = p.startsWith('@') ? undefined : p;
      // libzmq unlinks a stale socket file before binding; a live one would refuse connects anyway
      if (ipcFile) {
        try {
          if (fs.statSync(ipcFile).isSocket()) fs.unlinkSync(ipcFile);
        } catch {
          // absent: nothing to clean
        }
      }
      listenArgs = { path: ipcPath(p), backlog: options.backlog ?? 100 };
    } else {
      throw createError(ErrorCode.EPROTONOSUPPORT, 'inproc is not a stream transport');
    }

    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(translateNetError(err as NodeJS.ErrnoException, endpoint.address));
      server.once('error', onError);
      server.listen(listenArgs, () => {
        server.off('error', onError);
        resolve();
      });
    });

    let bound: string;
    if (endpoint.protocol === 'tcp') {
      const a = server.address() as net.AddressInfo;
      bound = formatTcpEndpoint(a.address, a.port);
    } else {
      bound = `ipc://${endpoint.path === '*' ? ipcFile : endpoint.path}`;
    }

    // a bound endpoint alone does not keep the process alive (zeromq.js); pending calls do
    server.unref?.();
    server.on('connection', (socket: net.Socket) => {
      const remote = endpoint.protocol === 'tcp' ? (socket.remoteAddress ?? '').replace(/^::ffff:/, '') : '';
      onConnection(new NetConnection(socket, bound, remote, endpoint.protocol === 'tcp' ? options.keepAlive : undefined));
    });
    server.on('error', () => {
      // accept errors (EMFILE and the like) must not crash the process; the server keeps listening
    });

    return {
      endpoint: bound,
      close: () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          if (ipcFile) {
            try {
              fs.unlinkSync(ipcFile);
            } catch {
              // already gone
            }
          }
        }),
    };
  },

  connect(endpoint: ParsedEndpoint, options: ConnectOptions): Promise<Connection> {
    return new Promise<Connection>((resolve, reject) => {
      let socket: net.Socket;
      let local: string;
      let proxy: { host: string; port: number } | undefined;
      if (endpoint.protocol === 'tcp') {
        if (options.socksProxy) {
          proxy = parseSocksProxy(options.socksProxy);
          if (!proxy) {
            reject(createError(ErrorCode.EINVAL, `Invalid socksProxy '${options.socksProxy}': host:port expected`, { address: endpoint.address }));
            return;
          }
        }
        const host = proxy?.host ?? endpoint.host;
        socket = net.connect({
          host,
          port: proxy?.port ?? (endpoint.port as number),
          family: options.ipv6 || net.isIP(host) ? 0 : 4,
          noDelay: true,
        });
        socket.unref?.();
        local = endpoint.address;
      } else if (endpoint.protocol === 'ipc') {
        socket = net.connect({ path: ipcPath(endpoint.path) });
        socket.unref?.();
        local = endpoint.address;
      } else {
        reject(createError(ErrorCode.EPROTONOSUPPORT, 'inproc is not a stream transport'));
        return;
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      if (options.timeout > 0) {
        timer = unrefTimer(setTimeout(() => {
          socket.destroy();
          reject(createError(ErrorCode.EAGAIN, `connect timed out after ${options.timeout} ms`, { address: endpoint.address }));
        }, options.timeout));
      }
      const onError = (err: Error) => {
        if (timer) clearTimeout(timer);
        socket.destroy();
        reject(translateNetError(err as NodeJS.ErrnoException, endpoint.address));
      };
      socket.once('error', onError);
      const connected = () => {
        if (timer) clearTimeout(timer);
        socket.off('error', onError);
        const tcp = endpoint.protocol === 'tcp';
        resolve(new NetConnection(socket, local, tcp ? (socket.remoteAddress ?? '') : '', tcp ? options.keepAlive : undefined));
        socket.resume();
      };
      socket.once('connect', () => {
        if (!proxy || endpoint.protocol !== 'tcp') connected();
        // the connect timeout covers the proxy's answer too
        else socksConnect(socket, endpoint.host, endpoint.port as number, endpoint.address).then(connected, (err: ZmqError) => {
          if (timer) clearTimeout(timer);
          socket.destroy();
          reject(err);
        });
      });
    });
  },
};

/**
 * Helpers for the libzmq interop suite (test/interop): one loose socket shape covering both
 * purezmq and zeromq.js sockets, endpoints, bounded waits and socket cleanup.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as lib from 'zeromq';
import * as zmq from '../../src/mod.ts';

export type Impl = 'pz' | 'lib';
export type Transport = 'tcp' | 'ipc';
export type Role =
  | 'REQ' | 'REP' | 'DEALER' | 'ROUTER' | 'PUB' | 'XPUB' | 'SUB' | 'XSUB' | 'PUSH' | 'PULL' | 'PAIR';

type Frame = Uint8Array | string;

/** The part of the zeromq.js v6 API both implementations share. */
export interface Sock {
  send(message: Frame | Frame[]): Promise<void>;
  receive(): Promise<Uint8Array[]>;
  bind(address: string): Promise<void>;
  unbind(address: string): Promise<void>;
  connect(address: string): void;
  close(): void;
  readonly closed: boolean;
  readonly lastEndpoint: string | null;
  readonly events: { on(type: string, listener: (event: { type: string; address?: string }) => void): unknown };
  subscribe(...topics: Frame[]): void;
  unsubscribe(...topics: Frame[]): void;
}

type Ctor = new (options?: Record<string, unknown>) => unknown;

const CTORS: Record<Role, Record<Impl, Ctor>> = {
  REQ: { pz: zmq.Request, lib: lib.Request },
  REP: { pz: zmq.Reply, lib: lib.Reply },
  DEALER: { pz: zmq.Dealer, lib: lib.Dealer },
  ROUTER: { pz: zmq.Router, lib: lib.Router },
  PUB: { pz: zmq.Publisher, lib: lib.Publisher },
  XPUB: { pz: zmq.XPublisher, lib: lib.XPublisher },
  SUB: { pz: zmq.Subscriber, lib: lib.Subscriber },
  XSUB: { pz: zmq.XSubscriber, lib: lib.XSubscriber },
  PUSH: { pz: zmq.Push, lib: lib.Push },
  PULL: { pz: zmq.Pull, lib: lib.Pull },
  PAIR: { pz: zmq.Pair, lib: lib.Pair },
} as unknown as Record<Role, Record<Impl, Ctor>>;

/** Every socket made through a Sockets is closed by closeAll() (call it in afterEach/finally). */
export class Sockets {
  private readonly open: Sock[] = [];

  make(role: Role, impl: Impl, options: Record<string, unknown> = {}): Sock {
    // zeromq.js defaults linger to 0 already; purezmq to -1: a test never needs to wait on close
    const s = new CTORS[role][impl]({ linger: 0, ...options }) as Sock;
    this.open.push(s);
    return s;
  }

  pz(role: Role, options: Record<string, unknown> = {}): Sock {
    return this.make(role, 'pz', options);
  }

  lib(role: Role, options: Record<string, unknown> = {}): Sock {
    return this.make(role, 'lib', options);
  }

  closeAll(): void {
    for (const s of this.open.splice(0)) if (!s.closed) s.close();
    removeIpcFiles();
  }
}

let ipcSeq = 0;
/** IPC paths handed out by bindAddress: libzmq does not always unlink them, so the tests do. */
const ipcFiles = new Set<string>();

/** Removes the socket files of the IPC endpoints handed out so far (their sockets are closed). */
export function removeIpcFiles(): void {
  for (const file of ipcFiles) {
    try {
      fs.unlinkSync(file);
    } catch {
      // already removed by whoever bound it
    }
  }
  ipcFiles.clear();
}

/** Address to bind: an ephemeral TCP port, or a fresh IPC path (read the result from lastEndpoint). */
export function bindAddress(transport: Transport): string {
  if (transport === 'tcp') return 'tcp://127.0.0.1:*';
  const file = path.join(os.tmpdir(), `pz-interop-${process.pid}-${Date.now()}-${++ipcSeq}.ipc`);
  ipcFiles.add(file);
  return `ipc://${file}`;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Rejects with `what` in the message when `p` takes longer than `ms`. */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e as Error);
      },
    );
  });
}

/** Polls `cond` every few ms; fails after `ms`. */
export async function waitUntil(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for: ${what}`);
    await sleep(5);
  }
}

/** A receive() that may still be pending when the socket closes: never an unhandled rejection. */
export function pendingReceive(s: Sock): Promise<Uint8Array[]> {
  const p = s.receive();
  p.catch(() => {});
  return p;
}

export const str = (f: Uint8Array | undefined): string => (f === undefined ? '<none>' : Buffer.from(f).toString('latin1'));
export const strs = (msg: Uint8Array[]): string[] => msg.map(str);

/** Records every monitor event type a socket emits, in order. */
export function recordEvents(s: Sock, types: string[]): string[] {
  const seen: string[] = [];
  for (const t of types) s.events.on(t, (e) => seen.push(e.type));
  return seen;
}

/** Error code of a rejected promise (undefined when it resolved). */
export async function rejectionCode(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  }
}

/** Reads every message of `s` into a list, in the background, until the socket closes. */
export function collect(s: Sock): string[][] {
  const out: string[][] = [];
  void (async () => {
    for (;;) {
      try {
        out.push(strs(await s.receive()));
      } catch {
        return;
      }
    }
  })();
  return out;
}

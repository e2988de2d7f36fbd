import { createError, ErrorCode, type ZmqError } from '../errors.ts';
import { unrefTimer, type TimerHandle } from '../util/timers.ts';
import { asciiString } from '../util/bytes.ts';
import { encodeZapRequest, parseZapReply, ZAP_ENDPOINT, type ZapHook, type ZapReply, type ZapRequest } from './protocol.ts';

/**
 * The requesting side of ZAP, as libzmq does it: a handshake that needs a verdict sends a request
 * over inproc to whatever REP/ROUTER socket the application bound at inproc://zeromq.zap.01.
 *
 * One DEALER per process carries every request (libzmq opens one pipe per connection and always
 * uses request id "1"; we number requests instead, so that replies can share one pipe — a handler
 * that echoes the id, as RFC 27 requires, cannot tell the difference).
 *
 * The socket layer sits above this one, so the sockets ZAP runs on are handed in through
 * provideZapSockets() (socket/zap_sockets.ts) rather than imported: dependencies point one way.
 */

/** The part of a DEALER (or ROUTER) socket ZAP uses. */
export interface ZapSocket {
  readonly closed: boolean;
  bind(address: string): Promise<void>;
  connect(address: string): void;
  send(frames: Uint8Array[]): Promise<void>;
  receive(): Promise<Uint8Array[]>;
  close(): void;
}

/** Makes the sockets ZAP runs on; supplied by the socket layer. */
export interface ZapSocketFactory {
  dealer(options: { linger: number; sendHighWaterMark: number; receiveHighWaterMark: number }): ZapSocket;
  router(options: { linger: number }): ZapSocket;
}

let factory: ZapSocketFactory | undefined;

/** Called once by the socket layer as it loads. */
export function provideZapSockets(f: ZapSocketFactory): void {
  factory = f;
}

/** The factory; the socket layer is always loaded before a ZAP request or handler can exist. */
export function zapSockets(): ZapSocketFactory {
  if (!factory) throw createError(ErrorCode.ENOTSUP, 'ZAP needs the socket layer, which has not been loaded');
  return factory;
}

interface DealerLike {
  readonly closed: boolean;
  connect(address: string): void;
  send(frames: Uint8Array[]): Promise<void>;
  receive(): Promise<Uint8Array[]>;
  close(): void;
}

interface Pending {
  resolve(reply: ZapReply | ZmqError): void;
  timer: TimerHandle | undefined;
}

const pending = new Map<string, Pending>();
let nextRequestId = 1;
let dealer: DealerLike | undefined;

function getDealer(): DealerLike {
  if (!dealer) {
    // linger 0: a request for a connection that is gone is worth nothing
    const d: DealerLike = zapSockets().dealer({ linger: 0, sendHighWaterMark: 0, receiveHighWaterMark: 0 });
    d.connect(ZAP_ENDPOINT);
    void readReplies(d);
    dealer = d;
  }
  return dealer;
}

async function readReplies(d: DealerLike): Promise<void> {
  while (!d.closed) {
    let msg: Uint8Array[];
    try {
      msg = await d.receive();
    } catch {
      return;
    }
    // frames: delimiter, version, request id, ... A reply whose id we do not know (or with no id
    // at all) answers the oldest request, as libzmq takes any reply for its one outstanding
    // request: it is malformed, and that handshake fails with the reason instead of hanging.
    let id = msg.length > 2 ? asciiString(msg[2]!) : '';
    if (!pending.has(id)) {
      const oldest = pending.keys().next();
      if (oldest.done) continue;
      id = oldest.value;
    }
    const p = pending.get(id)!;
    pending.delete(id);
    if (p.timer) clearTimeout(p.timer);
    p.resolve(parseZapReply(msg, id));
  }
}

/**
 * Sends one request; resolves with the parsed reply, or an error for a malformed reply or when
 * no reply came within `timeoutMs` (0: wait as long as it takes, like libzmq).
 */
export async function zapRequest(req: ZapRequest, timeoutMs: number): Promise<ZapReply | ZmqError> {
  let d: DealerLike;
  try {
    d = getDealer();
  } catch (err) {
    return err as ZmqError;
  }
  const id = String(nextRequestId++);
  const reply = new Promise<ZapReply | ZmqError>((resolve) => {
    const p: Pending = { resolve, timer: undefined };
    if (timeoutMs > 0) {
      p.timer = unrefTimer(
        setTimeout(() => {
          pending.delete(id);
          resolve(createError(ErrorCode.ZAP_UNSPECIFIED, `no ZAP reply within ${timeoutMs} ms`));
        }, timeoutMs),
      );
    }
    pending.set(id, p);
  });
  try {
    await d.send(encodeZapRequest(req, id));
  } catch (err) {
    const p = pending.get(id);
    pending.delete(id);
    if (p?.timer) clearTimeout(p.timer);
    return createError(ErrorCode.ZAP_UNSPECIFIED, 'could not send the ZAP request', { cause: err });
  }
  return reply;
}

/** The hook server mechanisms use: `available` says whether a handler is bound right now. */
export function zapHook(available: () => boolean, timeoutMs: number): ZapHook {
  return { available, request: (req) => zapRequest(req, timeoutMs) };
}

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
 * The Dealer is imported lazily: socket modules import this file, and a static import of a socket
 * class here would be a module cycle.
 */

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
let dealer: Promise<DealerLike> | undefined;

function getDealer(): Promise<DealerLike> {
  dealer ??= import('../socket/dealer.ts').then(({ Dealer }) => {
    // linger 0: a request for a connection that is gone is worth nothing
    const d: DealerLike = new Dealer({ linger: 0, sendHighWaterMark: 0, receiveHighWaterMark: 0 });
    d.connect(ZAP_ENDPOINT);
    void readReplies(d);
    return d;
  });
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
    // frames: delimiter, version, request id, ...; anything without an id we know is dropped
    const id = msg.length > 2 ? asciiString(msg[2]!) : '';
    const p = pending.get(id);
    if (!p) continue;
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
  const d = await getDealer();
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

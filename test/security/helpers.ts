import type { Event, EventType } from '../../src/mod.ts';

/** Well-known libzmq test keys (shared/specs/security.md §5.4). */
export const SERVER = {
  publicKey: 'rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7',
  secretKey: 'JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6',
};
export const CLIENT = {
  publicKey: 'Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID',
  secretKey: 'D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs',
};

interface EventSource {
  events: { on(type: EventType, fn: (e: Event) => void): unknown; off(type: EventType, fn: (e: Event) => void): unknown };
}

/** Resolves with the first event of `type` (bounded wait). */
export function nextEvent<T extends EventType>(socket: EventSource, type: T, timeoutMs = 10_000): Promise<Extract<Event, { type: T }>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.events.off(type, fn);
      reject(new Error(`no '${type}' event within ${timeoutMs} ms`));
    }, timeoutMs);
    const fn = (e: Event) => {
      clearTimeout(timer);
      socket.events.off(type, fn);
      resolve(e as Extract<Event, { type: T }>);
    };
    socket.events.on(type, fn);
  });
}

/** Polls `cond` until true (bounded). */
export async function waitFor(cond: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A promise that rejects after `ms` (for races that must not hang). */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms))]);
}

/** A ZAP handler (RFC 27) written the way a libzmq user writes one: REP bound at inproc://zeromq.zap.01. */
export interface ZapHandlerSocket {
  bind(address: string): Promise<void>;
  receive(): Promise<Uint8Array[]>;
  send(msg: (Uint8Array | string)[]): Promise<void>;
  close(): void;
}

export interface SeenRequest {
  frames: string[];
  credentials: Uint8Array[];
}

/**
 * Binds inproc://zeromq.zap.01, waiting for the previous test's handler to let go of it: libzmq
 * releases an inproc endpoint in its reaper thread, after close() has returned, so a bind right
 * behind a close can still find it in use (EADDRINUSE).
 */
export async function bindZapEndpoint(rep: ZapHandlerSocket): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await rep.bind('inproc://zeromq.zap.01');
      return;
    } catch (err) {
      if ((err as { code?: string }).code !== 'EADDRINUSE' || attempt >= 200) throw err;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}

/**
 * Serves ZAP on `rep` (purezmq or libzmq Reply): `decide` gets the request frames and returns
 * [status, userId, metadata?]. Returns the requests it saw.
 */
export async function serveZap(
  rep: ZapHandlerSocket,
  decide: (req: Uint8Array[]) => [string, string, Uint8Array?],
): Promise<SeenRequest[]> {
  const seen: SeenRequest[] = [];
  await bindZapEndpoint(rep);
  void (async () => {
    for (;;) {
      let req: Uint8Array[];
      try {
        req = await rep.receive();
      } catch {
        return;
      }
      seen.push({ frames: req.slice(0, 6).map((f) => new TextDecoder().decode(f)), credentials: req.slice(6) });
      const [status, userId, metadata] = decide(req);
      try {
        await rep.send([req[0]!, req[1]!, status, status === '200' ? 'OK' : 'no', userId, metadata ?? new Uint8Array(0)]);
      } catch {
        return;
      }
    }
  })();
  return seen;
}

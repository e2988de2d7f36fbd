/**
 * Majordomo peers on libzmq (the `zeromq` package) for the durability tests, written frame by frame
 * from RFC 18 (MDP/0.2), independent of purezmq's codec:
 * - ReviveWorker: a worker that survives broker restarts as RFC 7/18 say a worker must: on DISCONNECT,
 *   or after `liveness` heartbeats of silence, it closes its socket and registers again on a new one.
 * - NamedClient: a DEALER client with a routing id of its own, so that a restarted durable broker can
 *   send it the replies it kept; it records every reply it gets, so that duplicates show.
 */
import * as lib from 'zeromq';

const W = Buffer.from('MDPW02');
const C = Buffer.from('MDPC02');
const READY = Buffer.of(0x01);
const REQUEST = Buffer.of(0x02);
/** The client sub-protocol's REQUEST (RFC 18 numbers the two sub-protocols' commands separately). */
const CLIENT_REQUEST = Buffer.of(0x01);
const FINAL = Buffer.of(0x04);
const HEARTBEAT = Buffer.of(0x05);
const DISCONNECT = Buffer.of(0x06);
const EMPTY = Buffer.alloc(0);

export type Handler = (body: Buffer[]) => Buffer[] | Promise<Buffer[]>;

export class ReviveWorker {
  /** Request bodies as received (first frame as a string), across every registration. */
  readonly served: string[] = [];
  registrations = 0;
  private sock: lib.Dealer | undefined;
  private lastHeard = Date.now();
  private readonly timer: ReturnType<typeof setInterval>;
  private stopped = false;
  private readonly endpoint: string;
  private readonly service: string;
  private readonly handler: Handler;
  private readonly heartbeatMs: number;
  private readonly liveness: number;

  constructor(endpoint: string, service: string, handler: Handler, options: { heartbeatMs?: number; liveness?: number } = {}) {
    this.endpoint = endpoint;
    this.service = service;
    this.handler = handler;
    this.heartbeatMs = options.heartbeatMs ?? 100;
    this.liveness = options.liveness ?? 10;
    this.register();
    this.timer = setInterval(() => {
      if (Date.now() - this.lastHeard > this.heartbeatMs * this.liveness) {
        this.register();
        return;
      }
      void this.sock?.send([W, HEARTBEAT]).catch(() => undefined);
    }, this.heartbeatMs);
  }

  private register(): void {
    this.sock?.close();
    const sock = new lib.Dealer({ linger: 0 });
    this.sock = sock;
    sock.connect(this.endpoint);
    this.lastHeard = Date.now();
    this.registrations++;
    void sock.send([W, READY, Buffer.from(this.service)]).catch(() => undefined);
    void this.receive(sock);
  }

  private async receive(sock: lib.Dealer): Promise<void> {
    for (;;) {
      let msg: Buffer[];
      try {
        msg = await sock.receive();
      } catch {
        return; // closed
      }
      if (sock !== this.sock || this.stopped) return;
      this.lastHeard = Date.now();
      const cmd = msg[1];
      if (cmd?.equals(DISCONNECT)) {
        this.register();
        return;
      }
      if (!cmd?.equals(REQUEST)) continue;
      const client = msg[2]!;
      const body = msg.slice(4);
      this.served.push(body[0]?.toString() ?? '');
      const reply = await this.handler(body);
      if (sock === this.sock && !this.stopped) await sock.send([W, FINAL, client, EMPTY, ...reply]).catch(() => undefined);
    }
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    this.sock?.close();
  }
}

export class NamedClient {
  /** Replies as [service, first body frame] in arrival order. */
  readonly replies: [string, string][] = [];
  readonly sock: lib.Dealer;
  private readonly waiters = new Map<string, () => void>();
  private readonly loop: Promise<void>;

  constructor(endpoint: string, routingId: string) {
    this.sock = new lib.Dealer({ linger: 0, routingId });
    this.sock.connect(endpoint);
    this.loop = this.receive();
  }

  private async receive(): Promise<void> {
    for (;;) {
      let msg: Buffer[];
      try {
        msg = await this.sock.receive();
      } catch {
        return;
      }
      if (!msg[0]?.equals(C) || msg[1]?.[0] !== 0x03) continue;
      const service = msg[2]!.toString();
      const first = msg[3]?.toString() ?? '';
      this.replies.push([service, first]);
      this.waiters.get(first)?.();
    }
  }

  send(service: string, body: string): Promise<void> {
    return this.sock.send([C, CLIENT_REQUEST, Buffer.from(service), Buffer.from(body)]);
  }

  /** Resolves true when a reply whose first frame is `body` arrives within `ms` (or has arrived). */
  waitFor(body: string, ms: number): Promise<boolean> {
    if (this.replies.some(([, b]) => b === body)) return Promise.resolve(true);
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.waiters.delete(body);
        resolve(false);
      }, ms);
      this.waiters.set(body, () => {
        clearTimeout(t);
        this.waiters.delete(body);
        resolve(true);
      });
    });
  }

  /** How many replies carried `body`. */
  count(body: string): number {
    return this.replies.filter(([, b]) => b === body).length;
  }

  async close(): Promise<void> {
    this.sock.close();
    await this.loop;
  }
}

/** One Titanic call over MDP/0.2 on a fresh libzmq DEALER: the FINAL's body as strings (or undefined on a timeout). */
export async function titanic(endpoint: string, service: 'titanic.request' | 'titanic.reply' | 'titanic.close', body: string[], timeoutMs = 5000): Promise<string[] | undefined> {
  const sock = new lib.Dealer({ linger: 0, receiveTimeout: timeoutMs });
  sock.connect(endpoint);
  try {
    await sock.send([C, CLIENT_REQUEST, Buffer.from(service), ...body.map((b) => Buffer.from(b))]);
    const msg = await sock.receive();
    return msg.slice(3).map((f) => f.toString());
  } catch {
    return undefined;
  } finally {
    sock.close();
  }
}

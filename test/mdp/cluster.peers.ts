/**
 * Majordomo peers on libzmq (the `zeromq` package) for the cluster tests, written frame by frame from
 * RFC 18 (MDP/0.2), independent of purezmq's codec:
 * - StreamWorker: registers a service, heartbeats, and answers each request with `partials` PARTIALs
 *   then a FINAL, after `delayMs`; records what it served.
 * - Client02: a DEALER client that sends many requests at once and collects every message per
 *   request (PARTIALs and FINAL), matched by the first body frame the worker echoes.
 */
import * as lib from 'zeromq';

const W = Buffer.from('MDPW02');
const C = Buffer.from('MDPC02');
const EMPTY = Buffer.alloc(0);

export class StreamWorker {
  readonly served: string[] = [];
  private readonly sock: lib.Dealer;
  private readonly timer: ReturnType<typeof setInterval>;
  private readonly loop: Promise<void>;
  private stopped = false;
  private readonly options: { name: string; partials?: number; delayMs?: number };

  constructor(endpoint: string, service: string, options: { name: string; partials?: number; delayMs?: number }) {
    this.options = options;
    this.sock = new lib.Dealer({ linger: 0 });
    this.sock.connect(endpoint);
    void this.sock.send([W, Buffer.of(0x01), Buffer.from(service)]).catch(() => undefined);
    this.timer = setInterval(() => void this.sock.send([W, Buffer.of(0x05)]).catch(() => undefined), 100);
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
      if (this.stopped) return;
      if (msg[1]?.[0] !== 0x02) continue; // REQUEST only
      const client = msg[2]!;
      const body = msg.slice(4);
      const first = body[0]?.toString() ?? '';
      this.served.push(first);
      // requests are served one at a time, in order, as a Guide worker does
      if (this.options.delayMs) await new Promise((r) => setTimeout(r, this.options.delayMs));
      for (let i = 0; i < (this.options.partials ?? 0); i++) {
        await this.sock.send([W, Buffer.of(0x03), client, EMPTY, Buffer.from(first), Buffer.from(`part-${i}`)]).catch(() => undefined);
      }
      if (!this.stopped) await this.sock.send([W, Buffer.of(0x04), client, EMPTY, Buffer.from(first), Buffer.from(`by ${this.options.name}`)]).catch(() => undefined);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.sock.close();
    await this.loop;
  }
}

export interface Reply {
  command: 'PARTIAL' | 'FINAL';
  service: string;
  body: string[];
}

export class Client02 {
  /** Messages per request key (the first body frame), in arrival order. */
  readonly replies = new Map<string, Reply[]>();
  private readonly sock: lib.Dealer;
  private readonly loop: Promise<void>;

  constructor(endpoint: string) {
    this.sock = new lib.Dealer({ linger: 0 });
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
      if (!msg[0]?.equals(C)) continue;
      const command = msg[1]?.[0] === 0x02 ? 'PARTIAL' : msg[1]?.[0] === 0x03 ? 'FINAL' : undefined;
      if (!command) continue;
      const body = msg.slice(3).map((f) => f.toString());
      const list = this.replies.get(body[0] ?? '') ?? [];
      list.push({ command, service: msg[2]!.toString(), body });
      this.replies.set(body[0] ?? '', list);
    }
  }

  send(service: string, key: string): Promise<void> {
    return this.sock.send([C, Buffer.of(0x01), Buffer.from(service), Buffer.from(key)]);
  }

  finals(key: string): Reply[] {
    return (this.replies.get(key) ?? []).filter((r) => r.command === 'FINAL');
  }

  async close(): Promise<void> {
    this.sock.close();
    await this.loop;
  }
}

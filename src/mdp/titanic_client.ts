/**
 * A Titanic (9/TSP) client: disconnected, persistent requests through a broker that serves the
 * titanic.* services (purezmq's does, built in). Built on Client, so it speaks any client dialect.
 *
 *   const t = new TitanicClient('tcp://127.0.0.1:5555');
 *   const uuid = await t.request('echo', ['hello']);     // stored by the broker once this resolves
 *   const r = await t.reply(uuid);                       // { status: '300' } until a worker answered
 *   await t.close(uuid);                                 // the broker forgets request and reply
 *   const body = await t.call('echo', ['hello']);        // all three, polling until the reply is there
 *
 * request() and close() throw MdpError MDP_TITANIC (with `status`) when the broker answers 400 or
 * 500; reply() returns every status, since 300 is the normal "not yet".
 */
import type { MessageLike } from '../util/bytes.ts';
import { Client, type ClientOptions } from './client.ts';
import { MdpErrorCode, mdpError } from './errors.ts';
import { statusCode, TitanicService, TitanicStatus } from './titanic.ts';

export type TitanicReply =
  | { status: typeof TitanicStatus.OK; body: Uint8Array[] }
  | { status: typeof TitanicStatus.PENDING | typeof TitanicStatus.UNKNOWN | typeof TitanicStatus.ERROR; text: string };

export interface TitanicCallOptions {
  /** ms between titanic.reply polls (default 100, doubling up to 2 s). */
  pollInterval?: number;
  /** ms to wait for the reply in all (default 60 s); then MDP_TIMEOUT (the request stays stored). */
  timeout?: number;
}

const decoder = new TextDecoder();

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export class TitanicClient {
  readonly client: Client;

  /** `endpoint`: the broker, or several in failover order (see Client). */
  constructor(endpoint: string | readonly string[], options: ClientOptions = {}) {
    this.client = new Client(endpoint, { diagnose: false, ...options });
  }

  /** Stores a request for `service`; resolves with its UUID once the broker holds it durably. */
  async request(service: string, body: MessageLike | MessageLike[] = null): Promise<string> {
    const frames = Array.isArray(body) ? body : [body];
    const reply = await this.client.request(TitanicService.REQUEST, [service, ...frames]);
    const status = this.check(reply[0], TitanicService.REQUEST, service);
    if (status !== TitanicStatus.OK || reply[1] === undefined) throw this.refused(reply[0], TitanicService.REQUEST, service);
    return decoder.decode(reply[1]);
  }

  /** Asks for the reply of `uuid`: 200 with its body, 300 while pending, 400 unknown (or dead-lettered), 500. */
  async reply(uuid: string): Promise<TitanicReply> {
    const reply = await this.client.request(TitanicService.REPLY, uuid);
    const status = this.check(reply[0], TitanicService.REPLY);
    if (status === TitanicStatus.OK) return { status, body: reply.slice(1) };
    return { status, text: decoder.decode(reply[0]) };
  }

  /** Forgets `uuid` and its reply (200 also for a UUID the broker does not know). */
  async close(uuid: string): Promise<void> {
    const reply = await this.client.request(TitanicService.CLOSE, uuid);
    if (this.check(reply[0], TitanicService.CLOSE) !== TitanicStatus.OK) throw this.refused(reply[0], TitanicService.CLOSE);
  }

  /** request(), then reply() until it is there, then close(): the reply body. */
  async call(service: string, body: MessageLike | MessageLike[] = null, options: TitanicCallOptions = {}): Promise<Uint8Array[]> {
    const uuid = await this.request(service, body);
    const deadline = Date.now() + (options.timeout ?? 60_000);
    let wait = options.pollInterval ?? 100;
    for (;;) {
      const r = await this.reply(uuid);
      if (r.status === TitanicStatus.OK) {
        await this.close(uuid);
        return r.body;
      }
      if (r.status === TitanicStatus.UNKNOWN) {
        throw mdpError(MdpErrorCode.TITANIC, `titanic.reply ${uuid}: ${r.text}`, { service, status: r.text });
      }
      if (Date.now() + wait > deadline) {
        throw mdpError(MdpErrorCode.TIMEOUT, `no Titanic reply for ${uuid} within ${options.timeout ?? 60_000} ms (it stays stored; ask titanic.reply later)`, { service });
      }
      await sleep(wait);
      wait = Math.min(2000, wait * 2);
    }
  }

  /** Closes the underlying client. */
  dispose(): void {
    this.client.close();
  }

  private check(frame: Uint8Array | undefined, what: string, service?: string): TitanicStatus {
    const code = statusCode(frame);
    if (code === undefined || !Object.values(TitanicStatus).includes(code as TitanicStatus)) {
      throw mdpError(MdpErrorCode.MALFORMED, `${what} answered ${frame ? JSON.stringify(decoder.decode(frame)) : 'nothing'}: not a Titanic status`, { service });
    }
    return code as TitanicStatus;
  }

  private refused(frame: Uint8Array | undefined, what: string, service?: string): Error {
    const text = frame ? decoder.decode(frame) : '';
    return mdpError(MdpErrorCode.TITANIC, `${what} answered ${text}`, { service, status: text });
  }
}

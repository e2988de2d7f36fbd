/**
 * Titanic (9/TSP, shared/specs/mdp.md §12), served by the broker itself: disconnected, persistent
 * request/reply on top of Majordomo. Clients talk to three services, in any client dialect:
 *
 *   titanic.request  [service, body...]  → "200" UUID          (only once the request is stored)
 *   titanic.reply    [uuid]              → "200" reply... | "300" pending | "400" unknown
 *   titanic.close    [uuid]              → "200" (also for a UUID it does not know)
 *   any of them, when the store fails    → "500 …"
 *
 * A status frame is three digits, optionally followed by a space and text that clients must not
 * interpret (RFC 9). purezmq's choices where RFC 9 is silent:
 * - A dead-lettered request answers `titanic.reply` with "400 dead-lettered: <reason>": 400 because
 *   it will not complete by itself and the client must not keep polling (an operator can replay it,
 *   after which it answers 300 again).
 * - A malformed `titanic.request` (no service frame, or a service in the mmi. or titanic. namespace,
 *   which no worker serves) answers "400 …": retrying it cannot help.
 * - A per-request TTL has no place on the wire: every frame after the service name is the request
 *   body. Titanic requests live for the broker's request_ttl.
 * - UUIDs are 32 upper-case hex digits (as the Guide's titanic prints them); any case is accepted.
 *
 * This file holds the wire side only; the broker implements TitanicHost (storing, executing through
 * its own dispatch, answering from its tables).
 */
import { EMPTY, fromString } from '../util/bytes.ts';
import { isMdpError } from './errors.ts';
import { parseRequestKey } from './store/records.ts';

export const TitanicService = {
  REQUEST: 'titanic.request',
  REPLY: 'titanic.reply',
  CLOSE: 'titanic.close',
} as const;
export type TitanicService = (typeof TitanicService)[keyof typeof TitanicService];

export const TitanicStatus = {
  OK: '200',
  PENDING: '300',
  UNKNOWN: '400',
  ERROR: '500',
} as const;
export type TitanicStatus = (typeof TitanicStatus)[keyof typeof TitanicStatus];

/** Where a stored request is, as titanic.reply reports it. */
export type TitanicLookup =
  | { state: 'pending' }
  | { state: 'replied'; reply: readonly Uint8Array[] }
  | { state: 'dead'; reason: string };

/** What the broker offers the Titanic services. */
export interface TitanicHost {
  /**
   * Stores a request for `service` and queues it; resolves with its key (32 lower-case hex digits)
   * once the store holds it durably. Rejects with the store's error (MDP_STORE_FULL, MDP_STORE).
   */
  submit(service: Uint8Array, body: Uint8Array[]): Promise<string>;
  /** Where the request is; a promise when the store must be asked (a store shared by brokers), rejected when it cannot say. */
  lookup(key: string): TitanicLookup | undefined | Promise<TitanicLookup | undefined>;
  /** Forgets a request and its reply (a no-op for an unknown key); resolves once that is stored. */
  close(key: string): Promise<void>;
  /** Whether a name can be a Titanic target (not mmi.*, titanic.*). */
  servable(service: Uint8Array): boolean;
}

export function isTitanicService(name: string): name is TitanicService {
  return name === TitanicService.REQUEST || name === TitanicService.REPLY || name === TitanicService.CLOSE;
}

/** A status frame: the code, and text after a space when there is some. */
export function statusFrame(code: TitanicStatus, text?: string): Uint8Array {
  return fromString(text ? `${code} ${text}` : code);
}

/** The three-digit code of a status frame (what clients may interpret), or undefined. */
export function statusCode(frame: Uint8Array | undefined): string | undefined {
  if (!frame || frame.length < 3) return undefined;
  const code = String.fromCharCode(frame[0]!, frame[1]!, frame[2]!);
  if (!/^\d{3}$/.test(code) || (frame.length > 3 && frame[3] !== 0x20)) return undefined;
  return code;
}

export function uuidOf(key: string): string {
  return key.toUpperCase();
}

function text(frame: Uint8Array | undefined): string {
  return frame === undefined ? '' : new TextDecoder().decode(frame);
}

function storeError(err: unknown): Uint8Array[] {
  const message = isMdpError(err) ? `${err.code}: ${err.message}` : String((err as Error)?.message ?? err);
  return [statusFrame(TitanicStatus.ERROR, message.split('\n')[0])];
}

/** Counts answers by status code (mmi.broker `titanic.status`). */
export type StatusCounter = (code: TitanicStatus) => void;

/**
 * Answers one Titanic request: the reply body (status frame first). Never throws: store failures
 * become 500, bad input 400.
 */
export async function answerTitanic(host: TitanicHost, service: TitanicService, body: Uint8Array[], count: StatusCounter): Promise<Uint8Array[]> {
  const reply = await answer(host, service, body);
  count(statusCode(reply[0]) as TitanicStatus);
  return reply;
}

async function answer(host: TitanicHost, service: TitanicService, body: Uint8Array[]): Promise<Uint8Array[]> {
  switch (service) {
    case TitanicService.REQUEST: {
      const target = body[0];
      if (!target || target.length === 0) return [statusFrame(TitanicStatus.UNKNOWN, 'titanic.request needs a service frame')];
      if (!host.servable(target)) return [statusFrame(TitanicStatus.UNKNOWN, `"${text(target)}" is answered by the broker, not by a worker`)];
      try {
        // an MDP body has at least one frame: none after the service name is one empty frame
        const key = await host.submit(target, body.length > 1 ? body.slice(1) : [EMPTY]);
        return [statusFrame(TitanicStatus.OK), fromString(uuidOf(key))];
      } catch (err) {
        return storeError(err);
      }
    }
    case TitanicService.REPLY: {
      const key = parseRequestKey(text(body[0]));
      let found: TitanicLookup | undefined;
      try {
        found = key === undefined ? undefined : await host.lookup(key);
      } catch (err) {
        return storeError(err);
      }
      if (!found) return [statusFrame(TitanicStatus.UNKNOWN)];
      if (found.state === 'pending') return [statusFrame(TitanicStatus.PENDING)];
      if (found.state === 'dead') return [statusFrame(TitanicStatus.UNKNOWN, `dead-lettered: ${found.reason}`)];
      return [statusFrame(TitanicStatus.OK), ...found.reply];
    }
    case TitanicService.CLOSE: {
      const key = parseRequestKey(text(body[0]));
      if (key === undefined) return [statusFrame(TitanicStatus.OK)];
      try {
        await host.close(key);
        return [statusFrame(TitanicStatus.OK)];
      } catch (err) {
        return storeError(err);
      }
    }
  }
}

/**
 * Majordomo wire constants: 7/MDP (0.1), 18/MDP (0.2) and 8/MMI, byte for byte.
 * See shared/specs/mdp.md §2. The same command byte means different things in 0.1 and 0.2
 * (0x03 = REPLY vs PARTIAL, 0x04 = HEARTBEAT vs FINAL, 0x05 = DISCONNECT vs HEARTBEAT), so
 * every decision dispatches on the header frame first.
 */

/** Protocol versions spoken on the wire. */
export const MdpVersion = { V01: '0.1', V02: '0.2' } as const;
export type MdpVersion = (typeof MdpVersion)[keyof typeof MdpVersion];

/**
 * Majordomo dialects a broker can recognise (issue 6). The RFCs, plus the two "MDP/0.2" wire formats
 * that popular implementations actually put on the wire:
 * - `rfc18`: 18/MDP (MDP/0.2) as written.
 * - `rfc7`: 7/MDP (MDP/0.1) as written.
 * - `majortomo`: shoppimon/majortomo (Python). A leading empty frame on every message in both directions,
 *   one command table for clients and workers (client REQUEST 0x02, replies 0x03/0x04 with no service frame).
 * - `plantd`: geoffjay/plantd `core/mdp` (Go). Text commands ("READY", "REQUEST", …); peers lead with an
 *   empty frame, the broker answers without one.
 * src/mdp/dialects/ has one codec per dialect and the detection rules.
 */
export const Dialect = { RFC18: 'rfc18', RFC7: 'rfc7', MAJORTOMO: 'majortomo', PLANTD: 'plantd' } as const;
export type Dialect = (typeof Dialect)[keyof typeof Dialect];

/** Every dialect, in the order metrics and help list them. */
export const DIALECTS: readonly Dialect[] = [Dialect.RFC18, Dialect.RFC7, Dialect.MAJORTOMO, Dialect.PLANTD];

/** The dialects of the RFCs themselves: what a strict broker accepts. */
export const RFC_DIALECTS: readonly Dialect[] = [Dialect.RFC18, Dialect.RFC7];

/** Header frames (6 ASCII bytes, no terminator). */
export const Header = {
  CLIENT_01: 'MDPC01',
  WORKER_01: 'MDPW01',
  CLIENT_02: 'MDPC02',
  WORKER_02: 'MDPW02',
} as const;
export type Header = (typeof Header)[keyof typeof Header];

/** 18/MDP client sub-protocol command bytes. 7/MDP client messages have no command frame. */
export const ClientCommand02 = {
  REQUEST: 0x01,
  PARTIAL: 0x02,
  FINAL: 0x03,
} as const;

/** 7/MDP worker sub-protocol command bytes. */
export const WorkerCommand01 = {
  READY: 0x01,
  REQUEST: 0x02,
  REPLY: 0x03,
  HEARTBEAT: 0x04,
  DISCONNECT: 0x05,
} as const;

/** 18/MDP worker sub-protocol command bytes. */
export const WorkerCommand02 = {
  READY: 0x01,
  REQUEST: 0x02,
  PARTIAL: 0x03,
  FINAL: 0x04,
  HEARTBEAT: 0x05,
  DISCONNECT: 0x06,
} as const;

/** 8/MMI: every service in this namespace is answered by the broker itself. */
export const MMI_NAMESPACE = 'mmi.';

/** MMI services the broker answers. `mmi.service` is 8/MMI; the others are purezmq extensions. */
export const MmiService = {
  SERVICE: 'mmi.service',
  WORKERS: 'mmi.workers',
  HEARTBEAT: 'mmi.heartbeat',
  BROKER: 'mmi.broker',
  SERVICES: 'mmi.services',
  /** Dead letters: a page of them as JSON (body: [limit], [after-uuid]). */
  DLQ_LIST: 'mmi.dlq.list',
  /** Dead letters run again (body: UUIDs, or "all"). */
  DLQ_REPLAY: 'mmi.dlq.replay',
  /** Dead letters deleted (body: UUIDs, or "all"). */
  DLQ_PURGE: 'mmi.dlq.purge',
} as const;
export type MmiService = (typeof MmiService)[keyof typeof MmiService];

/** MMI status codes (3 ASCII bytes in a body frame). */
export const MmiCode = {
  OK: '200',
  BAD_REQUEST: '400',
  NOT_FOUND: '404',
  /** The request store failed (purezmq extensions that write to it). */
  ERROR: '500',
  NOT_IMPLEMENTED: '501',
} as const;
export type MmiCode = (typeof MmiCode)[keyof typeof MmiCode];

/** Reference constants of the zguide C and Python examples (mdp.md §7.3). */
export const Defaults = {
  HEARTBEAT_INTERVAL: 2500,
  HEARTBEAT_LIVENESS: 3,
  RECONNECT_INTERVAL: 2500,
  CLIENT_TIMEOUT: 2500,
  CLIENT_RETRIES: 2,
} as const;

/** Version reported by mmi.broker; kept in step with package.json. */
export const BROKER_VERSION = '0.1.0';

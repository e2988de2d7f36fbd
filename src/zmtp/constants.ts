/** ZMTP 3.x wire constants (RFC 23 / RFC 37). */

export const FrameFlag = {
  MORE: 0x01,
  LONG: 0x02,
  COMMAND: 0x04,
  RESERVED: 0xf8,
} as const;

export const GREETING_SIZE = 64;
export const SIGNATURE_SIZE = 10;
export const MECHANISM_OFFSET = 12;
export const MECHANISM_SIZE = 20;
export const AS_SERVER_OFFSET = 32;

export const ZMTP_MAJOR = 3;
export const ZMTP_MINOR = 1;

/** Largest body a short frame can carry. */
export const SHORT_FRAME_MAX = 255;

export const Command = {
  READY: 'READY',
  ERROR: 'ERROR',
  PING: 'PING',
  PONG: 'PONG',
  SUBSCRIBE: 'SUBSCRIBE',
  CANCEL: 'CANCEL',
  HELLO: 'HELLO',
  WELCOME: 'WELCOME',
  INITIATE: 'INITIATE',
  MESSAGE: 'MESSAGE',
} as const;
export type Command = (typeof Command)[keyof typeof Command];

export const Mechanism = {
  NULL: 'NULL',
  PLAIN: 'PLAIN',
  CURVE: 'CURVE',
} as const;
export type MechanismName = (typeof Mechanism)[keyof typeof Mechanism];

/** RFC 37: PONG echoes at most 16 bytes of the PING context. */
export const MAX_PING_CONTEXT = 16;
/** libzmq computes ttl*100 in a uint16 (libzmq#4226): never send more than 655 deciseconds. */
export const MAX_PING_TTL_DECISECONDS = 655;

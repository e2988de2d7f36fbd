/** Socket types and the pairs RFC 23/37 allow (libzmq's check_socket_type enforces the same). */

export const SocketType = {
  PAIR: 'PAIR',
  PUB: 'PUB',
  SUB: 'SUB',
  REQ: 'REQ',
  REP: 'REP',
  DEALER: 'DEALER',
  ROUTER: 'ROUTER',
  PULL: 'PULL',
  PUSH: 'PUSH',
  XPUB: 'XPUB',
  XSUB: 'XSUB',
  /** libzmq's ZMQ_STREAM: raw TCP, never speaks ZMTP, so it is compatible with no ZMTP type. */
  STREAM: 'STREAM',
} as const;
export type SocketType = (typeof SocketType)[keyof typeof SocketType];

const COMPATIBLE: Record<SocketType, readonly SocketType[]> = {
  REQ: ['REP', 'ROUTER'],
  REP: ['REQ', 'DEALER'],
  DEALER: ['REP', 'DEALER', 'ROUTER'],
  ROUTER: ['REQ', 'DEALER', 'ROUTER'],
  PUB: ['SUB', 'XSUB'],
  XPUB: ['SUB', 'XSUB'],
  SUB: ['PUB', 'XPUB'],
  XSUB: ['PUB', 'XPUB'],
  PUSH: ['PULL'],
  PULL: ['PUSH'],
  PAIR: ['PAIR'],
  STREAM: [],
};

export function isCompatible(local: SocketType, peer: string): boolean {
  return (COMPATIBLE[local] as readonly string[]).includes(peer);
}

/** libzmq sends Identity in READY only for these types (even when empty). */
export function sendsIdentity(type: SocketType): boolean {
  return type === 'REQ' || type === 'DEALER' || type === 'ROUTER';
}

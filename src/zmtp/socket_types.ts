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

/** libzmq's numbers for the socket types (zmq.h), which zeromq.js uses as `socket.type`. */
export const SOCKET_TYPE_NUMBERS: Readonly<Record<SocketType, number>> = {
  PAIR: 0,
  PUB: 1,
  SUB: 2,
  REQ: 3,
  REP: 4,
  DEALER: 5,
  ROUTER: 6,
  PULL: 7,
  PUSH: 8,
  XPUB: 9,
  XSUB: 10,
  STREAM: 11,
};

const BY_NUMBER: ReadonlyMap<number, SocketType> = new Map(
  Object.entries(SOCKET_TYPE_NUMBERS).map(([name, n]) => [n, name as SocketType]),
);

/** The type for a libzmq number; undefined for numbers that are no (non-draft) socket type. */
export function socketTypeName(n: number): SocketType | undefined {
  return BY_NUMBER.get(n);
}

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

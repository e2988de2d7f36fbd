import type { Metadata } from '../zmtp/metadata.ts';

export type Message = Uint8Array[];

/** The socket's per-peer queues, as an engine sees them. */
export interface PipeEnd {
  /** A whole incoming message. Returns false when the receive queue is full: stop reading. */
  pushIncoming(msg: Message): boolean;
  /** The next outgoing message, if any. */
  pullOutgoing(): Message | undefined;
  /** A SUBSCRIBE (true) or CANCEL (false) command arrived. */
  onSubscription(topic: Uint8Array, subscribe: boolean): void;
}

/** An attached engine (ZMTP session or inproc peer), as the socket sees it. */
export interface Link {
  /** The pipe has outgoing messages. */
  outgoingReady(): void;
  /** The pipe has room for incoming messages again. */
  incomingSpace(): void;
  /** Sends a subscription in the form the peer understands (command for 3.1, message for 3.0). */
  sendSubscription(topic: Uint8Array, subscribe: boolean): void;
  /** Flushes what is already handed over (up to `lingerMs`, -1 = no limit) and closes. */
  close(lingerMs: number): void;
}

/** A connection's engine as the socket holds it: a ZMTP session, or raw bytes for STREAM. */
export interface Engine extends Link {
  /** Still in the greeting/handshake (raw engines never are). */
  readonly handshaking: boolean;
}

/** What the socket learns about a peer once its handshake is done. */
export interface PeerInfo {
  socketType: string;
  identity: Uint8Array;
  metadata: Metadata;
  /** ZAP User-Id, when the mechanism authenticated the peer. */
  userId: string | undefined;
  /** CURVE: the peer's permanent public key, Z85 (on a server: the client key it authenticated with). */
  publicKey?: string;
  remoteAddress: string;
  /** ZMTP minor version of the peer (0 for a 3.0 peer; inproc counts as 1). */
  minor: number;
}

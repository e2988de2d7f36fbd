import type { Link, Message } from '../engine/link.ts';
import type { Pipe } from './pipe.ts';

/**
 * inproc:// — two pipes wired together in memory: no encoding, no copies. Each side's link moves
 * its outgoing messages into the other side's incoming queue until that queue is full; a read on
 * the far side pulls the rest.
 */
export class InprocLink implements Link {
  private readonly local: Pipe;
  private readonly remote: Pipe;
  peerLink!: InprocLink;
  private readonly onClose: (link: InprocLink) => void;
  private remoteFull = false;
  private pumping = false;
  closed = false;
  /**
   * Subscriptions sent before both ends have taken their peer (each socket's xpeer runs in turn,
   * and a PUB starts its peer's subscription set there): held, then delivered by open().
   */
  private held: [Uint8Array, boolean][] | undefined = [];

  constructor(local: Pipe, remote: Pipe, onClose: (link: InprocLink) => void) {
    this.local = local;
    this.remote = remote;
    this.onClose = onClose;
  }

  static pair(a: Pipe, b: Pipe, onCloseA: (l: InprocLink) => void, onCloseB: (l: InprocLink) => void): [InprocLink, InprocLink] {
    const la = new InprocLink(a, b, onCloseA);
    const lb = new InprocLink(b, a, onCloseB);
    la.peerLink = lb;
    lb.peerLink = la;
    return [la, lb];
  }

  outgoingReady(): void {
    // Re-entered when pulling a message wakes a waiting sender whose write lands here again:
    // the running loop picks that message up, so order is kept and the stack stays flat.
    if (this.closed || this.remoteFull || this.pumping) return;
    this.pumping = true;
    try {
      let msg: Message | undefined;
      while ((msg = this.local.pullOutgoing()) !== undefined) {
        if (!this.remote.pushIncoming(msg)) {
          this.remoteFull = true;
          return;
        }
      }
    } finally {
      this.pumping = false;
    }
  }

  incomingSpace(): void {
    const peer = this.peerLink;
    peer.remoteFull = false;
    peer.outgoingReady();
  }

  sendSubscription(topic: Uint8Array, subscribe: boolean): void {
    if (this.closed) return;
    if (this.held) this.held.push([topic, subscribe]);
    else this.remote.onSubscription(topic, subscribe);
  }

  /** Both sockets took their peer: subscriptions flow from now on. */
  open(): void {
    const held = this.held;
    this.held = undefined;
    if (held) for (const [topic, subscribe] of held) this.sendSubscription(topic, subscribe);
  }

  /** Inproc messages already sit in the peer's queue, so there is nothing to linger for. */
  close(): void {
    if (this.closed) return;
    this.outgoingReady();
    this.closed = true;
    this.peerLink.closed = true;
    this.onClose(this);
    this.peerLink.onClose(this.peerLink);
  }
}

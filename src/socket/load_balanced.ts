import type { ZmqError } from '../errors.ts';
import type { Message } from '../engine/link.ts';
import { EMPTY } from '../util/bytes.ts';
import { LoadBalancer } from './lb.ts';
import type { Pipe } from './pipe.ts';
import { SocketBase } from './socket_base.ts';

/** Socket types that send round-robin over their peers (DEALER, PUSH, REQ). */
export abstract class LoadBalancedSocket extends SocketBase {
  protected readonly lb = new LoadBalancer();
  /** ZMQ_PROBE_ROUTER (DEALER, REQ): an empty message to every peer as it connects. */
  probeRouter = false;

  protected override xpeer(pipe: Pipe): ZmqError | undefined {
    if (this.probeRouter) pipe.write([EMPTY]);
    return undefined;
  }

  protected override xattach(pipe: Pipe): void {
    this.lb.add(pipe);
  }

  protected override xdetach(pipe: Pipe): void {
    this.lb.remove(pipe);
  }

  protected override xsend(msg: Message): boolean {
    return this.lb.send(msg) !== undefined;
  }
}

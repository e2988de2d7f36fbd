import type { Message } from '../engine/link.ts';
import { LoadBalancer } from './lb.ts';
import type { Pipe } from './pipe.ts';
import { SocketBase } from './socket_base.ts';

/** Socket types that send round-robin over their peers (DEALER, PUSH, REQ). */
export abstract class LoadBalancedSocket extends SocketBase {
  protected readonly lb = new LoadBalancer();

  protected override xattach(pipe: Pipe): void {
    this.lb.add(pipe);
  }

  protected override xdetach(pipe: Pipe): void {
    this.lb.remove(pipe);
  }

  protected xsend(msg: Message): boolean {
    return this.lb.send(msg) !== undefined;
  }
}

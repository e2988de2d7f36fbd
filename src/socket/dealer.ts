import type { Message } from '../engine/link.ts';
import type { SocketOptions } from './options.ts';
import { LoadBalancer } from './lb.ts';
import type { Pipe } from './pipe.ts';
import { SocketBase } from './socket_base.ts';

/** DEALER: round-robin out, fair-queue in, no envelope. */
export class Dealer extends SocketBase {
  private readonly lb = new LoadBalancer();

  constructor(options: Partial<SocketOptions> = {}) {
    super('DEALER');
    this.configure(options);
  }

  protected override xattach(pipe: Pipe): void {
    this.lb.add(pipe);
  }

  protected override xdetach(pipe: Pipe): void {
    this.lb.remove(pipe);
  }

  protected xsend(msg: Message): boolean {
    return this.lb.send(msg) !== undefined;
  }

  protected xrecv(): Message | undefined {
    return this.fairRecv();
  }
}

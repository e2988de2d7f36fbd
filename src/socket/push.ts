import { createError, ErrorCode } from '../errors.ts';
import type { Message } from '../engine/link.ts';
import type { SocketOptions } from './options.ts';
import { LoadBalancer } from './lb.ts';
import type { Pipe } from './pipe.ts';
import { SocketBase } from './socket_base.ts';

/** PUSH (RFC 30): round-robin to peers with room; blocks, never drops. Send-only. */
export class Push extends SocketBase {
  private readonly lb = new LoadBalancer();

  constructor(options: Partial<SocketOptions> = {}) {
    super('PUSH');
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
    throw createError(ErrorCode.ENOTSUP, 'Socket type PUSH cannot receive');
  }
}

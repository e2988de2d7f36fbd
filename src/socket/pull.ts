import { createError, ErrorCode } from '../errors.ts';
import type { Message } from '../engine/link.ts';
import type { SocketOptions } from './options.ts';
import { SocketBase } from './socket_base.ts';

/** PULL (RFC 30): fair-queued receive. Receive-only. */
export class Pull extends SocketBase {
  constructor(options: Partial<SocketOptions & { conflate: boolean }> = {}) {
    super('PULL');
    this.configure(options, { conflate: 'boolean' });
  }

  protected xsend(): boolean {
    throw createError(ErrorCode.ENOTSUP, 'Socket type PULL cannot send');
  }

  protected xrecv(): Message | undefined {
    return this.fairRecv();
  }
}

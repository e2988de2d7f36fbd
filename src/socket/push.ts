import { createError, ErrorCode } from '../errors.ts';
import type { Message } from '../engine/link.ts';
import { LoadBalancedSocket } from './load_balanced.ts';
import type { SocketOptions } from './options.ts';

/** PUSH (RFC 30): round-robin to peers with room; blocks, never drops. Send-only. */
export class Push extends LoadBalancedSocket {
  constructor(options: Partial<SocketOptions & { conflate: boolean }> = {}) {
    super('PUSH');
    this.configure(options, { conflate: 'boolean' });
  }

  protected xrecv(): Message | undefined {
    throw createError(ErrorCode.ENOTSUP, 'Socket type PUSH cannot receive');
  }
}

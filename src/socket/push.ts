import { SOCKET_TYPE_NUMBERS } from '../zmtp/socket_types.ts';
import { createError, ErrorCode } from '../errors.ts';
import type { Message } from '../engine/link.ts';
import { LoadBalancedSocket } from './load_balanced.ts';
import { CONFIGURED_BY_SUBCLASS } from './socket_base.ts';
import type { SocketOptions } from './options.ts';

/** PUSH (RFC 30): round-robin to peers with room; blocks, never drops. Send-only. */
export class Push extends LoadBalancedSocket {
  constructor(options: Partial<SocketOptions & { conflate: boolean }> = {}) {
    super(SOCKET_TYPE_NUMBERS.PUSH, CONFIGURED_BY_SUBCLASS);
    this.configure(options, { conflate: 'boolean' });
  }

  protected override xrecv(): Message | undefined {
    throw createError(ErrorCode.ENOTSUP, 'Socket type PUSH cannot receive');
  }
}

import { SOCKET_TYPE_NUMBERS } from '../zmtp/socket_types.ts';
import { createError, ErrorCode } from '../errors.ts';
import type { Message } from '../engine/link.ts';
import type { SocketOptions } from './options.ts';
import { CONFIGURED_BY_SUBCLASS, SocketBase } from './socket_base.ts';

/** PULL (RFC 30): fair-queued receive. Receive-only. */
export class Pull extends SocketBase {
  constructor(options: Partial<SocketOptions & { conflate: boolean }> = {}) {
    super(SOCKET_TYPE_NUMBERS.PULL, CONFIGURED_BY_SUBCLASS);
    this.configure(options, { conflate: 'boolean' });
  }

  protected override xsend(): boolean {
    throw createError(ErrorCode.ENOTSUP, 'Socket type PULL cannot send');
  }

  protected override xrecv(): Message | undefined {
    return this.fairRecv();
  }
}

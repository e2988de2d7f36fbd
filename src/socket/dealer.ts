import { SOCKET_TYPE_NUMBERS } from '../zmtp/socket_types.ts';
import type { Message } from '../engine/link.ts';
import { LoadBalancedSocket } from './load_balanced.ts';
import { CONFIGURED_BY_SUBCLASS } from './socket_base.ts';
import type { SocketOptions } from './options.ts';

export interface DealerOptions extends SocketOptions {
  /** ZMQ_PROBE_ROUTER: an empty message to every peer as it connects (for ROUTER peers). */
  probeRouter: boolean;
  /** ZMQ_CONFLATE: keep only the newest message in each queue. */
  conflate: boolean;
}

/** DEALER: round-robin out, fair-queue in, no envelope. */
export class Dealer extends LoadBalancedSocket {
  constructor(options: Partial<DealerOptions> = {}) {
    super(SOCKET_TYPE_NUMBERS.DEALER, CONFIGURED_BY_SUBCLASS);
    this.configure(options, { conflate: 'boolean', probeRouter: 'boolean' });
  }

  protected override xrecv(): Message | undefined {
    return this.fairRecv();
  }
}

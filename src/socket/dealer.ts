import type { Message } from '../engine/link.ts';
import { LoadBalancedSocket } from './load_balanced.ts';
import type { SocketOptions } from './options.ts';

/** DEALER: round-robin out, fair-queue in, no envelope. */
export class Dealer extends LoadBalancedSocket {
  constructor(options: Partial<SocketOptions> = {}) {
    super('DEALER');
    this.configure(options);
  }

  protected xrecv(): Message | undefined {
    return this.fairRecv();
  }
}

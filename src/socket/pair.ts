import { SOCKET_TYPE_NUMBERS } from '../zmtp/socket_types.ts';
import type { Message } from '../engine/link.ts';
import type { SocketOptions } from './options.ts';
import type { Pipe } from './pipe.ts';
import { CONFIGURED_BY_SUBCLASS, SocketBase } from './socket_base.ts';

/**
 * PAIR (RFC 31): exactly one peer. A second connection is kept open but ignored, as libzmq does:
 * refusing it would only make the peer reconnect in a loop. Its messages are dropped and counted.
 */
export class Pair extends SocketBase {
  private pipe: Pipe | undefined;

  constructor(options: Partial<SocketOptions> = {}) {
    super(SOCKET_TYPE_NUMBERS.PAIR, CONFIGURED_BY_SUBCLASS);
    this.configure(options);
  }

  protected override xattach(pipe: Pipe): void {
    this.pipe ??= pipe;
  }

  protected override xpeer(pipe: Pipe): undefined {
    this.pipe ??= pipe;
    return undefined;
  }

  protected override xdetach(pipe: Pipe): void {
    if (this.pipe === pipe) this.pipe = undefined;
  }

  protected override xsend(msg: Message): boolean {
    const pipe = this.pipe;
    if (!pipe || !pipe.writable) return false;
    pipe.write(msg);
    return true;
  }

  protected override xrecv(): Message | undefined {
    for (;;) {
      // the peer's pipe as it was: reading the last message of a departed peer detaches its pipe
      const peer = this.pipe;
      const msg = this.fairRecv();
      if (!msg || this.lastPipe === peer) return msg;
      this.droppedMessages++;
    }
  }
}

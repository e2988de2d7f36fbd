import { createError, ErrorCode } from '../errors.ts';
import { Command } from '../zmtp/constants.ts';
import { commandBody } from '../zmtp/command.ts';
import { encodeMetadataSize, parseMetadata, writeMetadata } from '../zmtp/metadata.ts';
import { INCOMPATIBLE_REASON, refused, type HandshakeContext, type HandshakeStep, type Mechanism } from './mechanism.ts';

export function encodeReady(props: readonly [string, Uint8Array][]): Uint8Array {
  const { body, offset } = commandBody(Command.READY, encodeMetadataSize(props));
  writeMetadata(body, offset, props);
  return body;
}

/**
 * NULL (RFC 23/37). The connecting side (client) sends READY at once, as every implementation
 * does. The accepting side (server) answers the client's READY with READY, or with ERROR when
 * it refuses the peer (RFC 37), so a refused peer learns why. libzmq sends READY at once in both
 * roles; it never waits for us, since its client side always speaks first.
 */
export class NullMechanism implements Mechanism {
  readonly name = 'NULL';
  readonly asServer = false;
  private ctx: HandshakeContext | undefined;

  start(ctx: HandshakeContext): HandshakeStep {
    this.ctx = ctx;
    return ctx.accepted ? {} : { send: [encodeReady(ctx.localMetadata)] };
  }

  onCommand(name: string, data: Uint8Array): HandshakeStep {
    if (name === Command.READY) {
      const peer = parseMetadata(data);
      if (!('entries' in peer)) return { error: peer };
      const ctx = this.ctx!;
      if (!ctx.accepted) return { done: { peer } };
      const refusal = ctx.checkPeer(peer);
      if (refusal) return { error: refusal, errorReason: INCOMPATIBLE_REASON };
      return { send: [encodeReady(ctx.localMetadata)], done: { peer } };
    }
    if (name === Command.ERROR) {
      return { error: refused(data) };
    }
    return { error: createError(ErrorCode.UNEXPECTED_COMMAND, `unexpected ${name} command during NULL handshake`) };
  }
}

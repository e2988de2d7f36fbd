import { createError, ErrorCode } from '../errors.ts';
import { Command } from '../zmtp/constants.ts';
import { commandBody, parseErrorReason } from '../zmtp/command.ts';
import { encodeMetadataSize, parseMetadata, writeMetadata } from '../zmtp/metadata.ts';
import type { HandshakeContext, HandshakeStep, Mechanism } from './mechanism.ts';

export function encodeReady(props: readonly [string, Uint8Array][]): Uint8Array {
  const { body, offset } = commandBody(Command.READY, encodeMetadataSize(props));
  writeMetadata(body, offset, props);
  return body;
}

/**
 * NULL (RFC 23/37): each side sends READY at once, as libzmq does in both roles, and the
 * handshake is done when the peer's READY arrives.
 */
export class NullMechanism implements Mechanism {
  readonly name = 'NULL';
  readonly asServer = false;

  start(ctx: HandshakeContext): HandshakeStep {
    return { send: [encodeReady(ctx.localMetadata)] };
  }

  onCommand(name: string, data: Uint8Array): HandshakeStep {
    if (name === Command.READY) {
      const peer = parseMetadata(data);
      if (!('entries' in peer)) return { error: peer };
      return { done: { peer } };
    }
    if (name === Command.ERROR) {
      return { error: createError(ErrorCode.PEER_ERROR, `peer refused the handshake: ${parseErrorReason(data) || 'no reason'}`) };
    }
    return { error: createError(ErrorCode.UNEXPECTED_COMMAND, `unexpected ${name} command during NULL handshake`) };
  }
}

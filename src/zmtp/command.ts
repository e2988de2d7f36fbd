import { createError, ErrorCode, type ZmqError } from '../errors.ts';
import { alloc, asciiString } from '../util/bytes.ts';

export interface ParsedCommand {
  name: string;
  /** Everything after the name; a view into the frame body. */
  data: Uint8Array;
}

/** command-body = name-size(1) name data (RFC 37: no separator, no padding). */
export function parseCommand(body: Uint8Array): ParsedCommand | ZmqError {
  if (body.length < 1) return createError(ErrorCode.BAD_COMMAND, 'empty command frame');
  const nameLen = body[0]!;
  if (nameLen === 0 || nameLen + 1 > body.length) {
    return createError(ErrorCode.BAD_COMMAND, 'command name length overruns the frame');
  }
  for (let i = 1; i <= nameLen; i++) {
    const c = body[i]!;
    // Printable ASCII only: a command name is a word, never binary.
    if (c < 0x21 || c > 0x7e) return createError(ErrorCode.BAD_COMMAND, 'command name is not ASCII');
  }
  return { name: asciiString(body, 1, 1 + nameLen), data: body.subarray(1 + nameLen) };
}

/** Builds a command body; `extra` is the number of bytes the caller will write after the name. */
export function commandBody(name: string, dataLength: number): { body: Uint8Array; offset: number } {
  const body = alloc(1 + name.length + dataLength);
  body[0] = name.length;
  for (let i = 0; i < name.length; i++) body[1 + i] = name.charCodeAt(i);
  return { body, offset: 1 + name.length };
}

export function encodeCommand(name: string, data?: Uint8Array): Uint8Array {
  const { body, offset } = commandBody(name, data?.length ?? 0);
  if (data) body.set(data, offset);
  return body;
}

export function encodePing(ttlDeciseconds: number, context?: Uint8Array): Uint8Array {
  const { body, offset } = commandBody('PING', 2 + (context?.length ?? 0));
  body[offset] = (ttlDeciseconds >>> 8) & 0xff;
  body[offset + 1] = ttlDeciseconds & 0xff;
  if (context) body.set(context, offset + 2);
  return body;
}

export function encodeError(reason: string): Uint8Array {
  const r = reason.slice(0, 255);
  const { body, offset } = commandBody('ERROR', 1 + r.length);
  body[offset] = r.length;
  for (let i = 0; i < r.length; i++) body[offset + 1 + i] = r.charCodeAt(i) & 0x7f;
  return body;
}

/** ERROR reason; tolerant of a missing or overlong length byte (it is for logging only). */
export function parseErrorReason(data: Uint8Array): string {
  if (data.length === 0) return '';
  const len = Math.min(data[0]!, data.length - 1);
  return asciiString(data, 1, 1 + len);
}

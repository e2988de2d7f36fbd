/**
 * Reference ZMTP reader for tests: a deliberately naive, whole-buffer, offset-walking parser
 * written straight from the spec (zmtp.md §2–4), with no chunk list, no states and no limits
 * other than the one passed in. Fuzz and property tests compare the streaming FrameDecoder
 * against it, so it must NOT share code with src/zmtp/decoder.ts.
 */

export interface RefFrame {
  flags: number;
  body: Uint8Array;
}

export interface RefResult {
  greeting: { major: number; minor: number; mechanism: string; asServer: boolean } | undefined;
  frames: RefFrame[];
  /** error code the stream must end in, if any */
  errorCode: string | undefined;
}

const MECH_CHAR = /^[A-Z0-9\-_.+]$/;

/**
 * Reads `bytes` as a complete (possibly truncated) stream. A truncated trailing greeting or
 * frame is not an error: the stream simply stops there, as it would while waiting for more.
 * An error is reported as soon as the bytes that prove it are present.
 */
export function referenceDecode(bytes: Uint8Array, expectGreeting: boolean, maxFrameSize: number): RefResult {
  const res: RefResult = { greeting: undefined, frames: [], errorCode: undefined };
  let off = 0;
  if (expectGreeting) {
    // signature: FF, 8 bytes padding (ignored), 7F with bit 0 set; checked once all 10 bytes are in
    if (bytes.length < 10) return res;
    if (bytes[0] !== 0xff || (bytes[9]! & 1) !== 1) return { ...res, errorCode: 'ERR_ZMTP_BAD_GREETING' };
    if (bytes.length < 11) return res;
    if (bytes[10]! < 3) return { ...res, errorCode: 'ERR_ZMTP_UNSUPPORTED_VERSION' };
    if (bytes.length < 64) return res;
    const mechBytes = bytes.subarray(12, 32);
    const nul = mechBytes.indexOf(0);
    const nameLen = nul < 0 ? 20 : nul;
    let mechanism = '';
    for (let i = 0; i < nameLen; i++) {
      const ch = String.fromCharCode(mechBytes[i]!);
      if (!MECH_CHAR.test(ch)) return { ...res, errorCode: 'ERR_ZMTP_BAD_GREETING' };
      mechanism += ch;
    }
    for (let i = nameLen; i < 20; i++) if (mechBytes[i] !== 0) return { ...res, errorCode: 'ERR_ZMTP_BAD_GREETING' };
    res.greeting = { major: bytes[10]!, minor: bytes[11]!, mechanism, asServer: bytes[32] === 1 };
    off = 64;
  }
  while (off < bytes.length) {
    const flags = bytes[off]!;
    if (flags & 0xf8) return { ...res, errorCode: 'ERR_ZMTP_RESERVED_FLAGS' };
    if ((flags & 0x04) && (flags & 0x01)) return { ...res, errorCode: 'ERR_ZMTP_MALFORMED_COMMAND_UNSPECIFIED' };
    let size: number;
    let headerLen: number;
    if (flags & 0x02) {
      if (off + 9 > bytes.length) return res;
      let big = 0n;
      for (let i = 1; i <= 8; i++) big = (big << 8n) | BigInt(bytes[off + i]!);
      if (big > BigInt(Number.MAX_SAFE_INTEGER)) return { ...res, errorCode: 'ERR_ZMTP_FRAME_TOO_LARGE' };
      size = Number(big);
      headerLen = 9;
    } else {
      if (off + 2 > bytes.length) return res;
      size = bytes[off + 1]!;
      headerLen = 2;
    }
    if (size > maxFrameSize) return { ...res, errorCode: 'ERR_ZMTP_FRAME_TOO_LARGE' };
    if (off + headerLen + size > bytes.length) return res;
    res.frames.push({ flags, body: bytes.slice(off + headerLen, off + headerLen + size) });
    off += headerLen + size;
  }
  return res;
}

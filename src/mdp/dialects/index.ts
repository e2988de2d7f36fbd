/**
 * Majordomo dialects: one codec per wire format, and the rules that recognise a peer's dialect from a
 * message it sends to the broker.
 *
 * Detection (`detect`) looks at the first three frames of a message as the broker's ROUTER receives it
 * (identity frame removed). The four dialects never overlap there:
 *
 *   frame 0          frame 1          frame 2                        dialect
 *   MDPC02 / MDPW02  (anything)       (anything)                     rfc18      18/MDP: no leading empty frame
 *   ""               MDPC01 / MDPW01  (anything)                     rfc7       7/MDP: the only one saying 01
 *   ""               MDPC02 / MDPW02  a word of 2+ capital letters   plantd     "REQUEST", "READY", …
 *   ""               MDPC02 / MDPW02  anything else (one byte)       majortomo  0x01 … 0x06
 *   anything else                                                    none: malformed (bad header)
 *
 * RFC 7 and majortomo both lead with an empty frame: the header (…01 vs …02) tells them apart.
 * majortomo and plantd share the header: the width of the command frame tells them apart (one byte
 * vs an ASCII word; no majortomo command byte is a capital letter, and a one-byte frame is never a
 * plantd word). The rules hold for every message a peer of that dialect sends, not only the first, so
 * the broker can check that a peer keeps to the dialect it started with.
 *
 * Messages *from* the broker are not detected: a peer decodes them with the codec of the dialect it
 * speaks (plantd's broker -> client replies, for instance, are shaped like 18/MDP's but with words).
 */
import { MDP01, MDP02, type MdpCodec, type ParseResult, Direction } from '../codec.ts';
import { Dialect, DIALECTS, RFC_DIALECTS } from '../constants.ts';
import { MalformedReason, MdpErrorCode, mdpError } from '../errors.ts';
import { MAJORTOMO } from './majortomo.ts';
import { PLANTD } from './plantd.ts';

export { MAJORTOMO, MajortomoCommand } from './majortomo.ts';
export { PLANTD, PlantdCommand, isTextCommand } from './plantd.ts';

/** Every dialect's codec, keyed by dialect. */
export const DIALECT_CODECS: Readonly<Record<Dialect, MdpCodec>> = {
  [Dialect.RFC18]: MDP02,
  [Dialect.RFC7]: MDP01,
  [Dialect.MAJORTOMO]: MAJORTOMO,
  [Dialect.PLANTD]: PLANTD,
};

/** All codecs, in canonical order. Their claims are disjoint (a property test checks it), so detection order does not matter. */
export const ALL_CODECS: readonly MdpCodec[] = DIALECTS.map((d) => DIALECT_CODECS[d]);

export function isDialect(name: unknown): name is Dialect {
  return typeof name === 'string' && (DIALECTS as readonly string[]).includes(name);
}

/** The codec of a dialect; throws MDP_CONFIG for an unknown name. */
export function codecForDialect(dialect: Dialect): MdpCodec {
  const codec = isDialect(dialect) ? DIALECT_CODECS[dialect] : undefined;
  if (!codec) throw mdpError(MdpErrorCode.CONFIG, `unknown Majordomo dialect ${JSON.stringify(dialect)} (known: ${DIALECTS.join(', ')})`);
  return codec;
}

/** Groups accepted wherever a list of dialects is: `all`, and `rfc` (RFC 7 and RFC 18 only: strict). */
export const DialectGroup = { ALL: 'all', RFC: 'rfc' } as const;
export type DialectGroup = (typeof DialectGroup)[keyof typeof DialectGroup];
export const DIALECT_GROUPS: Readonly<Record<string, readonly Dialect[]>> = {
  [DialectGroup.ALL]: DIALECTS,
  [DialectGroup.RFC]: RFC_DIALECTS,
};

/**
 * Expands names and groups into a list of dialects in canonical order, without duplicates.
 * Returns an error message (no throw) for an unknown name or an empty list, for config validation.
 */
export function expandDialects(names: readonly string[]): { dialects: Dialect[] } | { error: string } {
  const set = new Set<Dialect>();
  for (const raw of names) {
    const name = raw.trim().toLowerCase();
    const group = DIALECT_GROUPS[name];
    if (group) for (const d of group) set.add(d);
    else if (isDialect(name)) set.add(name);
    else return { error: `unknown dialect ${JSON.stringify(raw)} (known: ${DIALECTS.join(', ')}, or the groups all, rfc)` };
  }
  if (set.size === 0) return { error: 'needs at least one dialect' };
  return { dialects: DIALECTS.filter((d) => set.has(d)) };
}

/** The dialect a message sent to the broker is in, by the table above; undefined when none. */
export function detect(frames: readonly Uint8Array[]): MdpCodec | undefined {
  for (const codec of ALL_CODECS) if (codec.claims(frames)) return codec;
  return undefined;
}

/**
 * Detects the dialect and decodes a message sent to the broker. Never throws. A message that no
 * dialect claims is MDP_MALFORMED (bad header; missing empty frame for `MDPC01 …`).
 */
export function parseAny(frames: readonly Uint8Array[]): { codec: MdpCodec | undefined; result: ParseResult } {
  const codec = detect(frames);
  if (codec) return { codec, result: codec.decode(frames, Direction.TO_BROKER) };
  if (frames.length === 0) {
    return { codec: undefined, result: { ok: false, error: mdpError(MdpErrorCode.MALFORMED, 'empty message', { reason: MalformedReason.TOO_FEW_FRAMES }) } };
  }
  return { codec: undefined, result: noDialect(frames) };
}

function noDialect(frames: readonly Uint8Array[]): ParseResult {
  const first = frames[0]!;
  const text = first.length <= 8 ? String.fromCharCode(...first) : '';
  if (text === 'MDPC01' || text === 'MDPW01') {
    return { ok: false, error: mdpError(MdpErrorCode.MALFORMED, 'MDP/0.1 messages start with an empty frame', { reason: MalformedReason.MISSING_EMPTY_FRAME }) };
  }
  return {
    ok: false,
    error: mdpError(MdpErrorCode.MALFORMED, 'no Majordomo dialect recognised (MDPC02/MDPW02, or an empty frame then MDPC01/MDPW01/MDPC02/MDPW02)', {
      reason: MalformedReason.BAD_HEADER,
    }),
  };
}

/**
 * The codec a Client or Worker speaks: a dialect name, or `auto` (the default) for the RFC of
 * `version` (rfc7 for '0.1', rfc18 for '0.2'). Throws MDP_CONFIG for anything else.
 */
export function resolveDialect(choice: Dialect | 'auto' | undefined, version: string | undefined): MdpCodec {
  if (choice === undefined || choice === 'auto') {
    if (version === undefined || version === '0.2') return MDP02;
    if (version === '0.1') return MDP01;
    throw mdpError(MdpErrorCode.CONFIG, `version must be '0.1' or '0.2', got ${String(version)}`);
  }
  return codecForDialect(choice);
}

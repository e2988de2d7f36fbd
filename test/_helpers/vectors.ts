/**
 * Loader for spec-vectors/zmtp/*.json (format: spec-vectors/README.md). Validates the shape on
 * load so a malformed vector file fails loudly instead of silently testing nothing.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface GreetingExpect {
  major: number;
  minor: number;
  mechanism: string;
  asServer: boolean;
}

export interface FrameExpect {
  command: boolean;
  more: boolean;
  long: boolean;
  bodyHex: string;
  /** command frames only */
  name?: string;
  /** READY: properties in wire order, values as UTF-8 strings */
  properties?: Record<string, string>;
  /** PING */
  ttl?: number;
  /** PING / PONG context, hex */
  context?: string;
  /** SUBSCRIBE / CANCEL topic, hex */
  topic?: string;
}

interface VectorBase {
  name: string;
  source: string;
  hex: string;
  note?: string;
  /** file the vector came from, e.g. "frames.json" */
  file: string;
}

export interface GreetingVector extends VectorBase {
  kind: 'greeting';
  expect: GreetingExpect;
}

export interface FramesVector extends VectorBase {
  kind: 'frames';
  expect: FrameExpect[];
}

export type ZmtpVector = GreetingVector | FramesVector;

export const ZMTP_VECTOR_DIR = fileURLToPath(new URL('../../spec-vectors/zmtp/', import.meta.url));

function fail(file: string, name: string, why: string): never {
  throw new Error(`spec-vectors/zmtp/${file}: vector ${JSON.stringify(name)}: ${why}`);
}

const HEX = /^(?:[0-9a-f]{2})*$/;

function checkFrame(file: string, name: string, f: FrameExpect, i: number): void {
  if (typeof f.command !== 'boolean' || typeof f.more !== 'boolean' || typeof f.long !== 'boolean') {
    fail(file, name, `frame ${i}: command/more/long must be booleans`);
  }
  if (typeof f.bodyHex !== 'string' || !HEX.test(f.bodyHex)) fail(file, name, `frame ${i}: bad bodyHex`);
  if (f.command && typeof f.name !== 'string') fail(file, name, `frame ${i}: command frame without name`);
}

/** Every vector of every spec-vectors/zmtp/*.json file, in file order. */
export function loadZmtpVectors(): ZmtpVector[] {
  const files = readdirSync(ZMTP_VECTOR_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort();
  const out: ZmtpVector[] = [];
  const names = new Set<string>();
  for (const file of files) {
    const list = JSON.parse(readFileSync(ZMTP_VECTOR_DIR + file, 'utf8')) as unknown;
    if (!Array.isArray(list)) throw new Error(`spec-vectors/zmtp/${file}: not a JSON array`);
    for (const raw of list as Record<string, unknown>[]) {
      const name = raw.name as string;
      if (typeof name !== 'string' || name === '') fail(file, String(name), 'missing name');
      if (names.has(name)) fail(file, name, 'duplicate name');
      names.add(name);
      if (typeof raw.hex !== 'string' || !HEX.test(raw.hex) || raw.hex.length === 0) fail(file, name, 'bad hex');
      if (raw.kind === 'greeting') {
        const e = raw.expect as GreetingExpect;
        if (raw.hex.length !== 128) fail(file, name, 'greeting is not 64 bytes');
        if (typeof e?.major !== 'number' || typeof e.minor !== 'number' || typeof e.mechanism !== 'string' || typeof e.asServer !== 'boolean') {
          fail(file, name, 'bad greeting expect');
        }
      } else if (raw.kind === 'frames') {
        if (!Array.isArray(raw.expect) || raw.expect.length === 0) fail(file, name, 'frames expect must be a non-empty array');
        (raw.expect as FrameExpect[]).forEach((f, i) => checkFrame(file, name, f, i));
      } else {
        fail(file, name, `unknown kind ${JSON.stringify(raw.kind)}`);
      }
      out.push({ ...(raw as unknown as ZmtpVector), file });
    }
  }
  if (out.length === 0) throw new Error(`no vectors found in ${ZMTP_VECTOR_DIR}`);
  return out;
}

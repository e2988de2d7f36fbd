/**
 * CURVE certificates in czmq's `zcert` text format (ZPL), so that the files purezmq writes work with
 * czmq, pyzmq's zmq.auth, zeromq tooling and the Authenticator's `curveDirectory`, and the other way
 * round. A public certificate `NAME`:
 *
 *   #   ZeroMQ CURVE Public Certificate
 *   metadata
 *       name = "alice"
 *       role = "ops,echo-worker"
 *   curve
 *       public-key = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID"
 *
 * and a secret one `NAME_secret`, the same plus `secret-key = "…"`. ZPL: a name at column 0 opens a
 * section, entries under it are indented (czmq writes 4 spaces), values are quoted or bare, `#` starts
 * a comment.
 *
 * Pure text in, text out: reading and writing files (modes, the 0600 secret file) is certfile.ts.
 */
import { curveKeyBytes, curvePublicKey } from '../../crypto/keys.ts';
import { encode as z85encode } from '../../crypto/z85.ts';
import { MdpErrorCode, mdpError, type MdpError } from '../errors.ts';

export interface CurveCertificate {
  /** Z85, 40 characters. */
  readonly publicKey: string;
  /** Z85, 40 characters; only in a secret certificate. */
  readonly secretKey?: string;
  /** The `metadata` section: `name`, `role` (comma-separated roles), and whatever else was written. */
  readonly metadata: Readonly<Record<string, string>>;
}

/** The suffix czmq gives the secret half of a certificate pair. */
export const SECRET_SUFFIX = '_secret';

/** The metadata entry whose comma-separated value lists a peer's roles (`role:NAME` in an access policy). */
export const ROLE_METADATA = 'role';
/** The metadata entry naming a certificate: the ZAP user id of its holder (`user:NAME`). */
export const NAME_METADATA = 'name';

/** ZPL names: letters, digits and `$-_@.&+/` (czmq zconfig). */
const NAME = /^[A-Za-z0-9$\-_@.&+/]+$/;
/** `name = value`, the value quoted ("…" or '…') or bare, then an optional comment. */
const ENTRY = /^([^\s=#]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s#"']*))\s*(?:#.*)?$/;

function certError(file: string, line: number, message: string, cause?: unknown): MdpError {
  return mdpError(MdpErrorCode.CERTIFICATE, `${file}:${line}: ${message}`, { file, line, cause });
}

/** A key from a certificate as Z85, or the reason it is not one. */
function checkKey(value: string, what: string): { key: string } | { error: string; cause: unknown } {
  try {
    return { key: z85encode(curveKeyBytes(value, what)) };
  } catch (err) {
    return { error: `${what} is not a valid CURVE key: ${(err as Error).message.replace(`${what} `, '')}`, cause: err };
  }
}

/**
 * Parses a certificate. `file` names it in errors (`file:line: …`), which refuse a missing or bad
 * public key, a syntax error, and with `secret: true` a missing or bad secret key or one that does not
 * belong to the public key. Unknown sections and entries are kept out of the way, as czmq does.
 */
export function parseCertificate(text: string, file: string, options: { secret?: boolean } = {}): CurveCertificate {
  const lines = text.split('\n');
  const metadata: Record<string, string> = {};
  let section = '';
  /** Indentation of the section's own entries; deeper lines belong to nested sections (ignored). */
  let entryIndent = -1;
  let curveLine = 0;
  let publicKey: { value: string; line: number } | undefined;
  let secretKey: { value: string; line: number } | undefined;
  for (let i = 0; i < lines.length; i++) {
    const n = i + 1;
    const raw = lines[i]!.replace(/\r$/, '');
    const body = raw.trim();
    if (body === '' || body.startsWith('#')) continue;
    const indented = raw.length > 0 && (raw[0] === ' ' || raw[0] === '\t');
    if (!indented) {
      // a section; czmq also allows `name = value` at the top, which no certificate uses
      const m = ENTRY.exec(body);
      section = m ? '' : body.replace(/\s*#.*$/, '');
      if (!m && !NAME.test(section)) throw certError(file, n, `not a ZPL section name: ${JSON.stringify(body)}`);
      if (section === 'curve') curveLine = n;
      entryIndent = -1;
      continue;
    }
    const indent = raw.length - raw.trimStart().length;
    if (entryIndent < 0) entryIndent = indent;
    if (indent > entryIndent) continue;
    const m = ENTRY.exec(body);
    if (!m) {
      // a nested section name (deeper ZPL structure) is allowed and ignored; anything else is not ZPL
      if (NAME.test(body.replace(/\s*#.*$/, ''))) continue;
      throw certError(file, n, `not a ZPL entry (name = "value"): ${JSON.stringify(body)}`);
    }
    const name = m[1]!;
    if (!NAME.test(name)) throw certError(file, n, `not a ZPL name: ${JSON.stringify(name)}`);
    const value = m[2] ?? m[3] ?? m[4] ?? '';
    if (section === 'metadata') metadata[name] = value;
    else if (section === 'curve' && name === 'public-key') publicKey = { value, line: n };
    else if (section === 'curve' && name === 'secret-key') secretKey = { value, line: n };
  }
  const end = Math.max(1, lines.length - (lines[lines.length - 1] === '' ? 1 : 0));
  if (!publicKey) {
    throw certError(file, curveLine || end, curveLine ? 'the curve section has no public-key' : 'no curve section with a public-key');
  }
  const pub = checkKey(publicKey.value, 'public-key');
  if ('error' in pub) throw certError(file, publicKey.line, pub.error, pub.cause);
  if (!options.secret && !secretKey) return { publicKey: pub.key, metadata };
  if (!secretKey) {
    const hint = file.endsWith(SECRET_SUFFIX) ? '' : ` (this looks like a public certificate; its secret half is ${file}${SECRET_SUFFIX})`;
    throw certError(file, curveLine || end, `the curve section has no secret-key${hint}`);
  }
  const sec = checkKey(secretKey.value, 'secret-key');
  if ('error' in sec) throw certError(file, secretKey.line, sec.error, sec.cause);
  if (curvePublicKey(sec.key) !== pub.key) throw certError(file, secretKey.line, 'secret-key does not belong to public-key');
  return { publicKey: pub.key, secretKey: sec.key, metadata };
}

/** The certificate's name (its `name` metadata), if it has one. */
export function certificateName(cert: CurveCertificate): string | undefined {
  const name = cert.metadata[NAME_METADATA];
  return name === undefined || name === '' ? undefined : name;
}

/** The roles in the certificate's `role` metadata (comma-separated; blanks dropped). */
export function certificateRoles(cert: CurveCertificate): string[] {
  const raw = cert.metadata[ROLE_METADATA];
  if (raw === undefined) return [];
  return raw
    .split(',')
    .map((r) => r.trim())
    .filter((r) => r !== '');
}

function quote(name: string, value: string): string {
  if (/[\u0000-\u001f\u007f]/.test(value)) throw mdpError(MdpErrorCode.CONFIG, `metadata ${name}: control characters cannot be written in a certificate`);
  if (!value.includes('"')) return `"${value}"`;
  if (!value.includes("'")) return `'${value}'`;
  throw mdpError(MdpErrorCode.CONFIG, `metadata ${name}: a value cannot hold both kinds of quote`);
}

/** Checks metadata for formatCertificate: ZPL names, printable values. Returns one message per bad entry. */
export function metadataIssues(metadata: Readonly<Record<string, string>>): string[] {
  const issues: string[] = [];
  for (const [k, v] of Object.entries(metadata)) {
    if (!NAME.test(k)) issues.push(`metadata name ${JSON.stringify(k)}: letters, digits and $-_@.&+/ only`);
    else {
      try {
        quote(k, v);
      } catch (err) {
        issues.push((err as Error).message);
      }
    }
  }
  return issues;
}

function stamp(d: Date): string {
  return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, '');
}

/**
 * A certificate as czmq's zcert_save_public / zcert_save_secret write it. `secret: true` writes the
 * secret half (needs `secretKey`).
 */
export function formatCertificate(cert: CurveCertificate, options: { secret: boolean; generated?: Date }): string {
  const issues = metadataIssues(cert.metadata);
  if (issues.length > 0) throw mdpError(MdpErrorCode.CONFIG, issues.join('; '), { issues });
  if (options.secret && cert.secretKey === undefined) throw mdpError(MdpErrorCode.CONFIG, 'a secret certificate needs the secret key');
  const head = [`#   ****  Generated on ${stamp(options.generated ?? new Date())} by purezmq  ****`];
  if (options.secret) {
    head.push('#   ZeroMQ CURVE **Secret** Certificate', '#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.');
  } else {
    head.push(
      '#   ZeroMQ CURVE Public Certificate',
      '#   Exchange securely, or use a secure mechanism to verify the contents',
      '#   of this file after exchange. Store public certificates in your home',
      '#   directory, in the .curve subdirectory.',
    );
  }
  const lines = [...head, '', 'metadata'];
  for (const [k, v] of Object.entries(cert.metadata)) lines.push(`    ${k} = ${quote(k, v)}`);
  lines.push('curve', `    public-key = "${cert.publicKey}"`);
  if (options.secret) lines.push(`    secret-key = "${cert.secretKey!}"`);
  return lines.join('\n') + '\n';
}

/**
 * Certificates on disk (Node only: node:fs). Reading checks the text (certificate.ts) and the mode of
 * a secret file; writing creates the secret half with mode 0600 and never overwrites without `force`;
 * CertificateStore is a directory of client certificates, re-read when it changes, as czmq's
 * certificate store and the Authenticator's `curveDirectory` are.
 */
import { constants as fsConstants, promises as fs, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { curveKeyPair } from '../../crypto/keys.ts';
import { MdpErrorCode, mdpError } from '../errors.ts';
import { certificateName, certificateRoles, formatCertificate, metadataIssues, parseCertificate, SECRET_SUFFIX, type CurveCertificate } from './certificate.ts';

/** What reading a secret certificate found worth a warning (group- or world-readable file). */
export interface CertificateRead {
  cert: CurveCertificate;
  warnings: string[];
}

function modeWarning(file: string, mode: number): string | undefined {
  // POSIX only: Windows reports 0o666 for every file it can write
  if (process.platform === 'win32' || (mode & 0o077) === 0) return undefined;
  return `${file} holds a secret key and can be read by ${mode & 0o007 ? 'other users' : 'its group'} (mode ${(mode & 0o777).toString(8).padStart(4, '0')}); chmod 600 it`;
}

function unreadable(file: string, err: unknown): Error {
  return mdpError(MdpErrorCode.CERTIFICATE, `cannot read certificate ${file}: ${(err as Error).message}`, { file, cause: err });
}

/** Reads a certificate; `secret: true` requires the secret key and warns when others can read the file. */
export function readCertificateFile(file: string, options: { secret?: boolean } = {}): CertificateRead {
  let text: string;
  let mode: number;
  try {
    text = readFileSync(file, 'utf8');
    mode = statSync(file).mode;
  } catch (err) {
    throw unreadable(file, err);
  }
  const cert = parseCertificate(text, file, options);
  const warning = cert.secretKey !== undefined ? modeWarning(file, mode) : undefined;
  return { cert, warnings: warning ? [warning] : [] };
}

/** `purezmq keygen`'s work: a new key pair; metadata `name` is the base name of `base` unless given. */
export function newCertificate(base: string | undefined, metadata: Readonly<Record<string, string>> = {}): CurveCertificate {
  const { publicKey, secretKey } = curveKeyPair();
  const meta = { ...(base === undefined ? {} : { name: path.basename(base) }), ...metadata };
  const issues = metadataIssues(meta);
  if (issues.length > 0) throw mdpError(MdpErrorCode.CONFIG, issues.join('; '), { issues });
  return { publicKey, secretKey, metadata: meta };
}

/**
 * Writes `base` (public, 0644) and `base_secret` (secret, 0600). Without `force` an existing file of
 * either name is an error and nothing is written; with it both are replaced and the secret one is made
 * 0600 even if it was not.
 */
export async function writeCertificatePair(base: string, cert: CurveCertificate, options: { force?: boolean } = {}): Promise<{ publicFile: string; secretFile: string }> {
  const publicFile = base;
  const secretFile = base + SECRET_SUFFIX;
  const pub = formatCertificate(cert, { secret: false });
  const sec = formatCertificate(cert, { secret: true });
  if (!options.force) {
    for (const f of [publicFile, secretFile]) {
      const exists = await fs.access(f, fsConstants.F_OK).then(
        () => true,
        () => false,
      );
      if (exists) throw mdpError(MdpErrorCode.CONFIG, `${f} exists; not overwritten (--force replaces it)`, { file: f });
    }
  }
  // O_EXCL without force: a file created since the check above is not clobbered either
  const flag = options.force ? 'w' : 'wx';
  const write = async (file: string, text: string, mode: number): Promise<void> => {
    try {
      await fs.writeFile(file, text, { mode, flag });
      // writeFile's mode applies only to a file it creates
      if (process.platform !== 'win32') await fs.chmod(file, mode);
    } catch (err) {
      throw mdpError(MdpErrorCode.CONFIG, `cannot write ${file}: ${(err as Error).message}`, { file, cause: err });
    }
  };
  await write(secretFile, sec, 0o600);
  await write(publicFile, pub, 0o644);
  return { publicFile, secretFile };
}

/** One client certificate from a directory, as the broker knows it. */
export interface KnownCertificate {
  file: string;
  cert: CurveCertificate;
  /** `name` metadata (the ZAP user id) or undefined. */
  name: string | undefined;
  roles: readonly string[];
}

/**
 * A directory of client certificates (public or secret, czmq zcert format), keyed by public key.
 * `refreshIfChanged()` re-reads it when a file was added, removed or rewritten, at most every
 * `reloadInterval` ms (0: only on reload()); a failed read keeps what was read last. Bad files are
 * skipped and reported (`problems`), as czmq skips them. `generation` grows with every change, so
 * that decisions cached from the old contents can be dropped.
 */
export class CertificateStore {
  readonly dir: string;
  private byKey = new Map<string, KnownCertificate>();
  private signature = '';
  private checkedAt = -Infinity;
  private refreshing: Promise<boolean> | undefined;
  private readonly reloadInterval: number;
  private readonly onProblem: (message: string) => void;
  generation = 0;

  constructor(dir: string, options: { reloadInterval?: number; onProblem?: (message: string) => void } = {}) {
    this.dir = dir;
    this.reloadInterval = options.reloadInterval ?? 1000;
    this.onProblem = options.onProblem ?? (() => undefined);
  }

  get size(): number {
    return this.byKey.size;
  }

  get(publicKey: string): KnownCertificate | undefined {
    return this.byKey.get(publicKey);
  }

  /** Reads the directory now. Rejects (and keeps the old contents) when the directory cannot be read. */
  async reload(): Promise<void> {
    this.checkedAt = performance.now();
    const { names, signature } = await this.look();
    const next = new Map<string, KnownCertificate>();
    for (const name of names) {
      const file = path.join(this.dir, name);
      let text: string;
      try {
        text = await fs.readFile(file, 'utf8');
      } catch {
        continue; // removed meanwhile
      }
      try {
        const cert = parseCertificate(text, file);
        next.set(cert.publicKey, { file, cert, name: certificateName(cert), roles: certificateRoles(cert) });
      } catch (err) {
        this.onProblem(`certificate skipped: ${(err as Error).message}`);
      }
    }
    this.byKey = next;
    this.signature = signature;
    this.generation++;
  }

  /** Re-reads when the directory changed and the interval has passed; resolves true when it did. */
  refreshIfChanged(force = false): Promise<boolean> {
    // a look under way (the broker's timer) is waited for: its result is as fresh as a new one
    if (this.refreshing) return this.refreshing;
    if (!force && (this.reloadInterval <= 0 || performance.now() - this.checkedAt < this.reloadInterval)) return Promise.resolve(false);
    this.refreshing ??= (async () => {
      try {
        this.checkedAt = performance.now();
        if ((await this.look()).signature === this.signature) return false;
        await this.reload();
        return true;
      } catch (err) {
        this.onProblem(`certificate directory ${this.dir} not re-read: ${(err as Error).message}`);
        return false;
      } finally {
        this.refreshing = undefined;
      }
    })();
    return this.refreshing;
  }

  /** The regular, visible files of the directory and their sizes and times. */
  private async look(): Promise<{ names: string[]; signature: string }> {
    let entries: string[];
    try {
      entries = (await fs.readdir(this.dir)).filter((n) => !n.startsWith('.')).sort();
    } catch (err) {
      throw mdpError(MdpErrorCode.CONFIG, `cannot read the certificate directory ${this.dir}: ${(err as Error).message}`, { file: this.dir, cause: err });
    }
    const names: string[] = [];
    const parts: string[] = [];
    for (const name of entries) {
      try {
        const st = await fs.stat(path.join(this.dir, name));
        if (!st.isFile()) continue;
        names.push(name);
        parts.push(`${name}:${st.size}:${st.mtimeMs}`);
      } catch {
        // gone meanwhile
      }
    }
    return { names, signature: parts.join('\n') };
  }
}

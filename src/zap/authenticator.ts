import { AddressList } from './addresses.ts';
import { curveKeyText } from '../crypto/keys.ts';
import { createError, ErrorCode } from '../errors.ts';
import { zapSockets, type ZapSocket } from './client.ts';
import { fromString, toString } from '../util/bytes.ts';
import { encodeMetadata } from '../zmtp/metadata.ts';
import { encode as z85encode } from '../crypto/z85.ts';
import { ZAP_ENDPOINT, ZAP_VERSION, parseZapRequest, type ZapMechanism } from './protocol.ts';

/** One client asking to connect, as the Authenticator and its callback see it. */
export interface AuthRequest {
  domain: string;
  /** Client IP ('' for ipc). */
  address: string;
  mechanism: ZapMechanism;
  /** ZAP identity frame (libzmq: the server socket's own routing id). */
  identity: Uint8Array;
  /** PLAIN only. */
  username?: string;
  /** PLAIN only. */
  password?: string;
  /** CURVE only: the client's permanent public key, Z85. */
  publicKey?: string;
}

/**
 * A callback's verdict: true/false, or an object. `userId` becomes the connection's User-Id
 * (default: the PLAIN username, or the CURVE key in Z85), `metadata` is attached to the connection
 * (PeerInfo.metadata / socket.lastPeer), `status` '300' asks the client to wait (libzmq: silence).
 */
export type AuthVerdict =
  | boolean
  | { allow: boolean; userId?: string; metadata?: Record<string, string>; status?: '300' | '400' | '500'; reason?: string };

export interface AuthenticatorOptions {
  /** IP allow-list (addresses or CIDR ranges): when non-empty, only these may connect (any mechanism). */
  allow?: Iterable<string>;
  /** IP deny-list (addresses or CIDR ranges such as `10.0.0.0/8`): refused (checked first). */
  deny?: Iterable<string>;
  /** PLAIN users: username → password. */
  users?: Map<string, string> | Record<string, string>;
  /** PLAIN passwords file: `username=password` per line, `#` comments (czmq zauth format). */
  passwordsFile?: string;
  /** CURVE client keys admitted (Z85 text or 32 bytes), or 'any' to admit every key (encryption only). */
  curveKeys?: Iterable<string | Uint8Array> | 'any';
  /** Directory of czmq-style certificate files (`public-key = "..."`); each admits one key. */
  curveDirectory?: string;
  /**
   * At most this often (ms), a PLAIN or CURVE decision first checks whether the passwords file or
   * the certificate directory changed (a file added, removed or rewritten) and re-reads them, as
   * czmq's certificate store does. Default 1000; 0 checks only on reload().
   */
  reloadInterval?: number;
  /**
   * Asked when the built-in lists do not admit a client (or always, when there are none for its
   * mechanism); may be async, e.g. to look keys up in a database. Throwing answers 500.
   */
  authenticate?: (req: AuthRequest) => AuthVerdict | Promise<AuthVerdict>;
  /** Called with every decision (for audit logs). */
  onDecision?: (req: AuthRequest, status: string, reason: string) => void;
  /** Where to serve ZAP; the default is the one libzmq-compatible sockets ask. */
  endpoint?: string;
}

const DEFAULT_RELOAD_INTERVAL_MS = 1000;

interface CertEntry {
  metadata: Record<string, string>;
}

/**
 * A ZAP handler (RFC 27) for purezmq servers: bind it, and every PLAIN/CURVE server socket (and
 * NULL sockets with a zapDomain) in this process asks it who may connect.
 *
 *   const auth = new Authenticator({ curveKeys: [clientPublicKey] });
 *   await auth.start();
 *   ...
 *   auth.stop();
 *
 * Decision order, as in czmq's zauth: denied IP → 400; allow-list set and IP not on it → 400;
 * NULL → 200; PLAIN → users/passwords file; CURVE → keys/certificate directory/'any'; if those do
 * not admit the client, the `authenticate` callback decides; otherwise 400.
 */
export class Authenticator {
  private readonly opts: AuthenticatorOptions;
  private readonly allowed = new AddressList();
  private readonly denied = new AddressList();
  private readonly users = new Map<string, string>();
  private readonly fileUsers = new Map<string, string>();
  private readonly keys = new Map<string, CertEntry>();
  private readonly dirKeys = new Map<string, CertEntry>();
  private anyKey = false;
  /** What the files looked like when last read (see fileSignature); checked every reloadInterval. */
  private signature = '';
  private checkedAt = 0;
  private refreshing: Promise<void> | undefined;
  private router: ZapSocket | undefined;
  private loop: Promise<void> | undefined;

  constructor(options: AuthenticatorOptions = {}) {
    this.opts = options;
    for (const ip of options.allow ?? []) this.allowed.add(ip);
    for (const ip of options.deny ?? []) this.denied.add(ip);
    const users = options.users instanceof Map ? options.users : Object.entries(options.users ?? {});
    for (const [u, p] of users) this.users.set(u, p);
    if (options.curveKeys === 'any') this.anyKey = true;
    else for (const k of options.curveKeys ?? []) this.keys.set(curveKeyText(k, 'curveKeys entry'), { metadata: {} });
  }

  /** Loads the files, binds the ZAP endpoint and starts answering. EADDRINUSE if another handler is bound. */
  async start(): Promise<void> {
    if (this.router) return;
    await this.reload();
    const router = zapSockets().router({ linger: 0 });
    try {
      await router.bind(this.opts.endpoint ?? ZAP_ENDPOINT);
    } catch (err) {
      router.close();
      throw err;
    }
    this.router = router;
    this.loop = this.serve(router);
  }

  /** Stops answering and unbinds; servers then behave as with no handler. */
  async stop(): Promise<void> {
    const router = this.router;
    if (!router) return;
    this.router = undefined;
    router.close();
    await this.loop;
  }

  /** Re-reads the passwords file and the certificate directory. */
  async reload(): Promise<void> {
    this.checkedAt = Date.now();
    const signature = await this.fileSignature();
    // read both before changing either: a failure leaves the rules as they were
    const users = this.opts.passwordsFile !== undefined ? parsePasswords(await readText(this.opts.passwordsFile)) : undefined;
    const certs = this.opts.curveDirectory !== undefined ? await loadCertificateDirectory(this.opts.curveDirectory) : undefined;
    if (users) {
      this.fileUsers.clear();
      for (const [u, p] of users) this.fileUsers.set(u, p);
    }
    if (certs) {
      this.dirKeys.clear();
      for (const [k, meta] of certs) this.dirKeys.set(k, { metadata: meta });
    }
    this.signature = signature;
  }

  /** Sizes and times of the files the rules come from: a change means they must be read again. */
  private async fileSignature(): Promise<string> {
    const { passwordsFile, curveDirectory } = this.opts;
    if (passwordsFile === undefined && curveDirectory === undefined) return '';
    const fs = await import('node:fs/promises');
    const path = await import('node:path');
    const stamp = async (file: string): Promise<string> => {
      try {
        const st = await fs.stat(file);
        return `${file}:${st.size}:${st.mtimeMs}`;
      } catch {
        return `${file}:missing`;
      }
    };
    const parts: string[] = [];
    if (passwordsFile !== undefined) parts.push(await stamp(passwordsFile));
    if (curveDirectory !== undefined) {
      let names: string[] = [];
      try {
        names = (await fs.readdir(curveDirectory)).sort();
      } catch {
        parts.push(`${curveDirectory}:missing`);
      }
      for (const name of names) parts.push(await stamp(path.join(curveDirectory, name)));
    }
    return parts.join('\n');
  }

  /** Re-reads the files when they changed and reloadInterval has passed since the last look. */
  private async refreshIfChanged(): Promise<void> {
    const interval = this.opts.reloadInterval ?? DEFAULT_RELOAD_INTERVAL_MS;
    if (interval <= 0 || Date.now() - this.checkedAt < interval) return;
    // one look at a time, shared by the decisions that wait for it
    this.refreshing ??= (async () => {
      try {
        this.checkedAt = Date.now();
        if ((await this.fileSignature()) !== this.signature) await this.reload();
      } catch {
        // unreadable for now (being rewritten, say): keep the rules read last time
      } finally {
        this.refreshing = undefined;
      }
    })();
    await this.refreshing;
  }

  allow(...addresses: string[]): void {
    for (const a of addresses) this.allowed.add(a);
  }

  deny(...addresses: string[]): void {
    for (const a of addresses) this.denied.add(a);
  }

  addUser(username: string, password: string): void {
    this.users.set(username, password);
  }

  removeUser(username: string): void {
    this.users.delete(username);
  }

  addCurveKey(key: string | Uint8Array, metadata: Record<string, string> = {}): void {
    this.keys.set(curveKeyText(key, 'key'), { metadata });
  }

  removeCurveKey(key: string | Uint8Array): void {
    this.keys.delete(curveKeyText(key, 'key'));
  }

  /** The decision for one request (what start() serves); usable directly in tests. */
  async decide(req: AuthRequest): Promise<{ status: '200' | '300' | '400' | '500'; reason: string; userId: string; metadata: Record<string, string> }> {
    const deny = (reason: string) => ({ status: '400' as const, reason, userId: '', metadata: {} });
    if (this.denied.has(req.address)) return deny('address denied');
    if (this.allowed.size > 0 && !this.allowed.has(req.address)) return deny('address not allowed');
    if (req.mechanism !== 'NULL') await this.refreshIfChanged();
    let builtIn: { userId: string; metadata: Record<string, string> } | undefined;
    let rules = false;
    if (req.mechanism === 'NULL') {
      builtIn = { userId: '', metadata: {} };
      rules = true;
    } else if (req.mechanism === 'PLAIN') {
      rules = this.users.size > 0 || this.opts.passwordsFile !== undefined;
      const expected = this.users.get(req.username!) ?? this.fileUsers.get(req.username!);
      if (expected !== undefined && constantTimeEqual(expected, req.password!)) builtIn = { userId: req.username!, metadata: {} };
    } else {
      rules = this.anyKey || this.keys.size > 0 || this.opts.curveDirectory !== undefined;
      const entry = this.keys.get(req.publicKey!) ?? this.dirKeys.get(req.publicKey!);
      if (entry) builtIn = { userId: req.publicKey!, metadata: entry.metadata };
      else if (this.anyKey) builtIn = { userId: req.publicKey!, metadata: {} };
    }
    if (builtIn) return { status: '200', reason: 'OK', ...builtIn };
    const cb = this.opts.authenticate;
    if (!cb) return deny(rules ? 'credentials not accepted' : `no ${req.mechanism} credentials configured`);
    let verdict: AuthVerdict;
    try {
      verdict = await cb(req);
    } catch (err) {
      return { status: '500', reason: `authenticate callback failed: ${(err as Error)?.message ?? String(err)}`, userId: '', metadata: {} };
    }
    const defaultUser = req.mechanism === 'PLAIN' ? req.username! : req.mechanism === 'CURVE' ? req.publicKey! : '';
    if (verdict === true) return { status: '200', reason: 'OK', userId: defaultUser, metadata: {} };
    if (verdict === false || typeof verdict !== 'object' || verdict === null) return deny('refused by callback');
    if (verdict.allow) {
      return { status: '200', reason: verdict.reason ?? 'OK', userId: verdict.userId ?? defaultUser, metadata: verdict.metadata ?? {} };
    }
    return { status: verdict.status ?? '400', reason: verdict.reason ?? 'refused by callback', userId: '', metadata: {} };
  }

  private async serve(router: ZapSocket): Promise<void> {
    for (;;) {
      let msg: Uint8Array[];
      try {
        msg = await router.receive();
      } catch {
        return; // closed
      }
      void this.answer(router, msg);
    }
  }

  private async answer(router: ZapSocket, msg: Uint8Array[]): Promise<void> {
    // ROUTER view: routing id, empty delimiter, then the request
    if (msg.length < 3 || msg[1]!.length !== 0) return;
    const routingId = msg[0]!;
    const parsed = parseZapRequest(msg.slice(2));
    const requestId = parsed instanceof Error ? (msg[3] ?? fromString('')) : parsed.requestId;
    let status: string;
    let reason: string;
    let userId = '';
    let metadata: Record<string, string> = {};
    let req: AuthRequest | undefined;
    if (parsed instanceof Error || parsed.version !== ZAP_VERSION) {
      status = '500';
      reason = parsed instanceof Error ? parsed.message : `unsupported ZAP version ${parsed.version}`;
    } else {
      req = { domain: parsed.domain, address: parsed.address, mechanism: parsed.mechanism, identity: parsed.identity };
      const creds = parsed.credentials;
      let bad = false;
      if (parsed.mechanism === 'PLAIN') {
        if (creds.length !== 2) bad = true;
        else {
          req.username = toString(creds[0]!);
          req.password = toString(creds[1]!);
        }
      } else if (parsed.mechanism === 'CURVE') {
        if (creds.length !== 1 || creds[0]!.length !== 32) bad = true;
        else req.publicKey = z85encode(creds[0]!);
      }
      if (bad) {
        status = '500';
        reason = `malformed ${parsed.mechanism} credentials`;
      } else {
        ({ status, reason, userId, metadata } = await this.decide(req));
      }
    }
    if (req) this.opts.onDecision?.(req, status, reason);
    const meta = encodeMetadata(Object.entries(metadata).map(([k, v]) => [k, fromString(v)] as [string, Uint8Array]));
    try {
      await router.send([routingId, new Uint8Array(0), fromString(ZAP_VERSION), requestId, fromString(status), fromString(reason), fromString(userId), meta]);
    } catch {
      // the asking socket is gone; nothing to do
    }
  }
}

/** Password comparison that does not stop at the first differing byte. */
function constantTimeEqual(a: string, b: string): boolean {
  const x = fromString(a);
  const y = fromString(b);
  if (x.length !== y.length) return false;
  let diff = 0;
  for (let i = 0; i < x.length; i++) diff |= x[i]! ^ y[i]!;
  return diff === 0;
}

async function readText(path: string): Promise<string> {
  const fs = await import('node:fs/promises');
  return fs.readFile(path, 'utf8');
}

/** `username=password` lines; blank lines and `#` comments skipped (czmq zauth passwords file). */
export function parsePasswords(text: string): [string, string][] {
  const out: [string, string][] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    out.push([line.slice(0, eq), line.slice(eq + 1)]);
  }
  return out;
}

/**
 * Parses a czmq certificate (ZPL): the `curve` section's `public-key = "..."` and the
 * `metadata` section's `name = "value"` entries. Returns undefined when there is no valid key.
 */
export function parseCertificate(text: string): { publicKey: string; metadata: Record<string, string> } | undefined {
  let section = '';
  let publicKey: string | undefined;
  const metadata: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    if (raw.trim() === '' || raw.trimStart().startsWith('#')) continue;
    const indented = /^\s/.test(raw);
    const line = raw.trim();
    if (!indented) {
      section = line;
      continue;
    }
    const m = /^([A-Za-z0-9_.+-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|(\S*))\s*(?:#.*)?$/.exec(line);
    if (!m) continue;
    const value = m[2] ?? m[3] ?? m[4] ?? '';
    if (section === 'curve' && m[1] === 'public-key') publicKey = value;
    else if (section === 'metadata') metadata[m[1]!] = value;
  }
  if (publicKey === undefined) return undefined;
  try {
    return { publicKey: curveKeyText(publicKey, 'public-key'), metadata };
  } catch {
    return undefined;
  }
}

/** Every certificate in `dir` (not recursive): Z85 public key → its metadata. Unreadable files are skipped. */
export async function loadCertificateDirectory(dir: string): Promise<Map<string, Record<string, string>>> {
  const fs = await import('node:fs/promises');
  const path = await import('node:path');
  const out = new Map<string, Record<string, string>>();
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (err) {
    throw createError(ErrorCode.ENOENT, `cannot read certificate directory ${dir}`, { cause: err });
  }
  for (const name of names.sort()) {
    let text: string;
    try {
      const file = path.join(dir, name);
      if (!(await fs.stat(file)).isFile()) continue;
      text = await fs.readFile(file, 'utf8');
    } catch {
      continue;
    }
    const cert = parseCertificate(text);
    if (cert) out.set(cert.publicKey, cert.metadata);
  }
  return out;
}

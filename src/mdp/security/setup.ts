/**
 * The broker's security, put together from its configuration (Node only: it reads files):
 *
 * - `curveCert`: the broker's secret certificate; its ROUTER becomes a CURVE server (every endpoint:
 *   one socket, one mechanism). `curveClients` says who may connect: a certificate directory, or `any`.
 * - `plainPasswords`: a PLAIN server instead (a socket has one mechanism, so not with CURVE).
 * - `allow` / `deny`: address lists for every mechanism (NULL too: the socket then asks ZAP).
 * - An Authenticator (the public ZAP handler) answers the handshakes. CURVE keys are decided by the
 *   `authenticate` callback against the broker's own CertificateStore, so that the ZAP user id is the
 *   certificate's name and its roles are known; `zapEnforceDomain` makes the socket refuse everyone
 *   rather than admit everyone if the handler were gone.
 * - The access policy (`accessPolicy` file, or `access` inline, re-read from `configFile`), compiled
 *   into an AccessControl; the file and the certificate directory are looked at every `reloadInterval`
 *   and re-read when they changed. A bad new policy is logged and refused; the old one stays.
 */
import { promises as fs } from 'node:fs';
import { Authenticator, type AuthRequest, type AuthVerdict, type SocketOptions } from '../../mod.ts';
import type { BrokerConfig } from '../config.ts';
import { MdpErrorCode, mdpError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { AccessControl } from './access.ts';
import { CertificateStore, readCertificateFile } from './certfile.ts';
import type { BrokerSecurity, ReloadOutcome } from './index.ts';
import { compilePolicy, compilePolicyText, type Policy } from './policy.ts';
import { zapDomains } from './domains.ts';

function configError(message: string, issues: string[] = [message]): Error {
  return mdpError(MdpErrorCode.CONFIG, message, { issues });
}

/** Where the policy comes from, and how to read it again. */
interface PolicySource {
  label: string;
  file: string | undefined;
  section: readonly string[];
}

async function stamp(file: string): Promise<string> {
  try {
    const st = await fs.stat(file);
    return `${st.size}:${st.mtimeMs}`;
  } catch {
    return 'missing';
  }
}

async function readPolicy(source: PolicySource): Promise<{ policy: Policy; text: string } | { issues: string[] }> {
  let text: string;
  try {
    text = await fs.readFile(source.file!, 'utf8');
  } catch (err) {
    return { issues: [`cannot read ${source.label}: ${(err as Error).message}`] };
  }
  const r = compilePolicyText(text, source.file!, source.section);
  return 'issues' in r ? r : { policy: r.policy, text };
}

export async function openBrokerSecurity(config: BrokerConfig, options: { logger: Logger; configFile?: string }): Promise<BrokerSecurity> {
  const log = options.logger;
  const c = config;
  if (c.curveCert !== null && c.plainPasswords !== null) {
    throw configError('broker.security: curve_cert and plain_passwords cannot be combined: the broker has one socket, and a socket speaks one mechanism (use CURVE, which also authenticates, and encrypts)');
  }
  if (c.curveCert !== null && c.curveClients === null) {
    throw configError('broker.security.curve_clients: say which CURVE clients may connect: a directory of their certificates, or "any" (encryption without client authentication)');
  }
  if (c.curveClients !== null && c.curveCert === null) throw configError('broker.security.curve_clients: needs curve_cert (the broker\'s own secret certificate)');

  const socketOptions: Partial<SocketOptions> = {};
  const summary: Record<string, unknown> = { mechanism: 'NULL' };
  if (c.curveCert !== null) {
    const { cert, warnings } = readCertificateFile(c.curveCert, { secret: true });
    for (const w of warnings) log.warn('insecure certificate file', { file: c.curveCert, warning: w });
    Object.assign(socketOptions, { curveServer: true, curveSecretKey: cert.secretKey!, curvePublicKey: cert.publicKey });
    Object.assign(summary, { mechanism: 'CURVE', publicKey: cert.publicKey, clients: c.curveClients });
  }
  let store: CertificateStore | undefined;
  if (c.curveClients !== null && c.curveClients !== 'any') {
    store = new CertificateStore(c.curveClients, {
      reloadInterval: c.reloadInterval,
      onProblem: (message) => log.warn('certificate store', { dir: c.curveClients, problem: message }),
    });
    await store.reload();
    summary.certificates = store.size;
  }
  if (c.plainPasswords !== null) {
    try {
      await fs.access(c.plainPasswords);
    } catch (err) {
      throw configError(`broker.security.plain_passwords: cannot read ${c.plainPasswords}: ${(err as Error).message}`);
    }
    socketOptions.plainServer = true;
    summary.mechanism = 'PLAIN';
  }

  // ZAP: for CURVE and PLAIN always; for NULL only to apply address lists (the socket asks when it has a domain)
  const zap = socketOptions.curveServer === true || socketOptions.plainServer === true || c.allow.length > 0 || c.deny.length > 0;
  let auth: Authenticator | undefined;
  if (zap) {
    socketOptions.zapDomain = c.zapDomain;
    socketOptions.zapEnforceDomain = true;
    const anyKey = c.curveClients === 'any';
    auth = new Authenticator({
      allow: c.allow,
      deny: c.deny,
      ...(c.plainPasswords !== null ? { passwordsFile: c.plainPasswords } : {}),
      reloadInterval: c.reloadInterval,
      // CURVE keys: the broker's certificate store decides, so that the user id is the certificate's name
      authenticate: async (req: AuthRequest): Promise<AuthVerdict> => {
        // another socket's rules (the cluster links): its domain, its decision
        const other = zapDomains.get(req.domain);
        if (other !== undefined && req.domain !== c.zapDomain) return other(req);
        if (req.mechanism !== 'CURVE' || req.publicKey === undefined) return false;
        if (anyKey) return { allow: true, userId: req.publicKey };
        if (!store) return false;
        if (await store.refreshIfChanged()) access?.invalidate();
        const known = store.get(req.publicKey);
        if (!known) return { allow: false, reason: 'unknown CURVE key' };
        return { allow: true, userId: known.name ?? req.publicKey, metadata: { ...known.cert.metadata } };
      },
      onDecision: (req, status, reason) => {
        const fields = { audit: 'auth', mechanism: req.mechanism, address: req.address, user: req.username, key: req.publicKey, status, reason };
        if (status === '200') log.debug('authenticated', fields);
        else log.warn('authentication refused', fields);
      },
    });
    try {
      await auth.start();
    } catch (err) {
      throw mdpError(MdpErrorCode.CONFIG, `cannot start the broker's ZAP handler (another one is bound in this process?): ${(err as Error).message}`, { cause: err, issues: ['zap handler'] });
    }
  }

  // the policy
  let source: PolicySource | undefined;
  let access: AccessControl | undefined;
  let policyStamp = '';
  let policyText = '';
  const lookup = store ? (key: string) => store!.get(key) : undefined;
  if (c.accessPolicy !== null) source = { label: `access policy ${c.accessPolicy}`, file: c.accessPolicy, section: [] };
  else if (c.access !== null) source = { label: options.configFile ? `${options.configFile}: broker.access` : 'broker.access', file: options.configFile, section: ['broker', 'access'] };
  if (source) {
    let policy: Policy;
    if (source.file !== undefined) {
      policyStamp = await stamp(source.file);
      const r = await readPolicy(source);
      if ('issues' in r) {
        await auth?.stop();
        throw configError(`invalid access policy:\n  ${r.issues.join('\n  ')}`, r.issues);
      }
      policy = r.policy;
      policyText = r.text;
    } else {
      const r = compilePolicy(c.access, 'broker.access');
      if ('issues' in r) {
        await auth?.stop();
        throw configError(`invalid access policy:\n  ${r.issues.join('\n  ')}`, r.issues);
      }
      policy = r.policy;
    }
    access = new AccessControl({ policy, source: source.label, logger: log, ...(lookup ? { lookup } : {}) });
    Object.assign(summary, { policy: source.label, policyDigest: policy.digest, default: policy.effect, rules: policy.rules.length });
  }

  const reload = async (force = false): Promise<ReloadOutcome> => {
    const outcome: ReloadOutcome = { policy: source?.file === undefined ? 'none' : 'unchanged', certificates: store ? 'unchanged' : 'none' };
    if (store && (await store.refreshIfChanged(true))) {
      outcome.certificates = 'reloaded';
      access?.invalidate();
      log.info('client certificates re-read', { dir: store.dir, certificates: store.size });
    }
    if (source?.file !== undefined && access) {
      const now = await stamp(source.file);
      if (force || now !== policyStamp) {
        policyStamp = now;
        const r = await readPolicy(source);
        if ('issues' in r) {
          outcome.policy = 'rejected';
          outcome.issues = r.issues;
          access.rejectedVersion(source.label, r.issues);
        } else if (r.text !== policyText || force) {
          policyText = r.text;
          outcome.policy = 'reloaded';
          access.setPolicy(r.policy, source.label);
        }
      }
    }
    if (force && auth) await auth.reload().catch((err: Error) => log.warn('passwords file not re-read', { error: err.message }));
    return outcome;
  };

  let timer: ReturnType<typeof setInterval> | undefined;
  let running: Promise<unknown> | undefined;
  if (c.reloadInterval > 0 && (source?.file !== undefined || store)) {
    timer = setInterval(() => {
      running ??= reload()
        .catch((err: Error) => log.error('security reload failed', { error: err.message }))
        .finally(() => (running = undefined));
    }, c.reloadInterval);
    // the broker's own timers keep the process alive; this one must not
    (timer as { unref?: () => void }).unref?.();
  }

  return {
    socketOptions,
    access,
    summary,
    reload: async (force = true) => {
      await running;
      return reload(force);
    },
    close: async () => {
      if (timer !== undefined) clearInterval(timer);
      await running;
      await auth?.stop();
    },
  };
}

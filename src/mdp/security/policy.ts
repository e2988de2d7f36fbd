/**
 * The broker's access policy: who may request which service, who may serve it, who may use MMI,
 * the dead-letter admin services and Titanic, and (for clustering, not enforced yet) which peers
 * may link up as brokers. Parsed and compiled once per version; a decision is then a walk over
 * pre-compiled rules, and the broker caches decisions per connection and service (access.ts), so a
 * message costs a map look-up.
 *
 *   default: deny              # allow | deny: when no rule speaks for the service (default deny)
 *   mmi: any                   # who may call mmi.* (default any)
 *   admin: [role:ops]          # who may call mmi.dlq.* (list, replay, purge dead letters) (default none)
 *   titanic: any               # who may use titanic.* at all (default any)
 *   peers: [role:broker]       # peer brokers (issue 11; parsed, not enforced yet) (default role:broker)
 *   rules:
 *     - service: "echo"        # exact name, or a glob: * matches any run of characters
 *       request: [role:ops, user:alice]
 *       serve: [role:echo-worker]
 *
 * Who: `any` (every peer the broker let in: on a CURVE or PLAIN broker, every authenticated peer),
 * `user:NAME` (the ZAP user id: the PLAIN user, or the certificate's name or key), `key:Z85` (the CURVE
 * public key), `role:NAME` (in the certificate's `role` metadata). A list, a single string, or `none`.
 *
 * Rules are read in order: for a service and an action (request or serve), the first rule whose
 * pattern matches the service and that has that action decides: allowed when the peer matches one
 * of its entries, denied otherwise. No such rule: `default`. Rules never apply to mmi.* and titanic.*,
 * which the broker answers itself (a titanic.request is checked against its target service).
 *
 * Pure data in, decisions out: no I/O (setup.ts reads the files).
 */
import { parse as parseYaml } from 'yaml';
import { curveKeyText } from '../../crypto/keys.ts';
import { asciiString, fromString } from '../../util/bytes.ts';
import { MMI_NAMESPACE } from '../constants.ts';

export const PolicyEffect = { ALLOW: 'allow', DENY: 'deny' } as const;
export type PolicyEffect = (typeof PolicyEffect)[keyof typeof PolicyEffect];

export const Action = { REQUEST: 'request', SERVE: 'serve' } as const;
export type Action = (typeof Action)[keyof typeof Action];

/** The entries that govern the broker's own services and links, each a list of who. */
export const Entry = { MMI: 'mmi', ADMIN: 'admin', TITANIC: 'titanic', PEERS: 'peers' } as const;
export type Entry = (typeof Entry)[keyof typeof Entry];

/** Who a connection is, as the policy sees it. */
export interface Identity {
  /** ZAP user id: the PLAIN username, or the certificate's name (or key, without a name). */
  readonly user?: string;
  /** CURVE public key, Z85. */
  readonly key?: string;
  /** From the certificate's `role` metadata. */
  readonly roles: readonly string[];
}

export interface Decision {
  readonly allowed: boolean;
  /** The rule that decided, for the audit log: `rules[2] service "echo"`, `default: deny`, `mmi`… */
  readonly rule: string;
}

const TITANIC_NAMESPACE = 'titanic.';
const PRINCIPAL = /^(user|key|role):(.+)$/;
const TOP_KEYS = ['default', 'mmi', 'admin', 'titanic', 'peers', 'rules'] as const;
const RULE_KEYS = ['service', 'request', 'serve'] as const;
const ENTRY_DEFAULTS: Record<Entry, readonly string[]> = { mmi: ['any'], admin: [], titanic: ['any'], peers: ['role:broker'] };

/** A compiled list of who: `any`, or a set of `user:…`, `key:…`, `role:…` strings. */
export class Principals {
  readonly any: boolean;
  private readonly users: ReadonlySet<string>;
  private readonly keys: ReadonlySet<string>;
  private readonly roles: ReadonlySet<string>;
  readonly entries: readonly string[];

  constructor(entries: readonly string[]) {
    this.entries = entries;
    this.any = entries.includes('any');
    const pick = (kind: string): Set<string> => new Set(entries.filter((e) => e.startsWith(kind + ':')).map((e) => e.slice(kind.length + 1)));
    this.users = pick('user');
    this.keys = pick('key');
    this.roles = pick('role');
  }

  matches(who: Identity): boolean {
    if (this.any) return true;
    if (who.user !== undefined && this.users.has(who.user)) return true;
    if (who.key !== undefined && this.keys.has(who.key)) return true;
    for (const r of who.roles) if (this.roles.has(r)) return true;
    return false;
  }
}

/** Service names are bytes; the broker keys them as latin1 strings of those bytes, so patterns are too. */
function latin1OfUtf8(s: string): string {
  return asciiString(fromString(s));
}

/**
 * A service pattern compiled once: an exact name compares as a string; a glob (`*` = any run of
 * characters, `.` included) becomes its literal pieces, matched as a prefix, a suffix and, in between,
 * each piece at its leftmost place (which is optimal when `*` is the only wildcard). Linear in the
 * name, whatever the pattern: service names come from clients, and a backtracking RegExp over a
 * 16 MiB name with a few stars would stall the broker.
 */
export class ServicePattern {
  readonly source: string;
  private readonly exact: string | undefined;
  private readonly prefix: string = '';
  private readonly suffix: string = '';
  private readonly middle: readonly string[] = [];
  private readonly minLength: number = 0;

  constructor(source: string) {
    this.source = source;
    const bytes = latin1OfUtf8(source);
    const parts = bytes.split('*');
    if (parts.length === 1) {
      this.exact = bytes;
      return;
    }
    this.prefix = parts[0]!;
    this.suffix = parts[parts.length - 1]!;
    this.middle = parts.slice(1, -1).filter((p) => p !== '');
    this.minLength = parts.reduce((n, p) => n + p.length, 0);
  }

  /** `name`: the service name as the broker keys it (latin1 of its bytes). */
  matches(name: string): boolean {
    if (this.exact !== undefined) return this.exact === name;
    if (name.length < this.minLength || !name.startsWith(this.prefix) || !name.endsWith(this.suffix)) return false;
    let at = this.prefix.length;
    const end = name.length - this.suffix.length;
    for (const piece of this.middle) {
      const i = name.indexOf(piece, at);
      if (i < 0 || i + piece.length > end) return false;
      at = i + piece.length;
    }
    return true;
  }
}

export interface CompiledRule {
  readonly index: number;
  readonly pattern: ServicePattern;
  readonly request: Principals | undefined;
  readonly serve: Principals | undefined;
}

/** A policy ready for decisions. Immutable: a reload builds a new one. */
export class Policy {
  readonly effect: PolicyEffect;
  readonly rules: readonly CompiledRule[];
  private readonly entries: Readonly<Record<Entry, Principals>>;
  /** Short digest of the document, to tell versions apart in logs and metrics. */
  readonly digest: string;

  constructor(effect: PolicyEffect, rules: readonly CompiledRule[], entries: Record<Entry, Principals>, digest: string) {
    this.effect = effect;
    this.rules = rules;
    this.entries = entries;
    this.digest = digest;
  }

  /** The decision for `action` on a service (`name`: latin1 of its bytes). */
  decide(who: Identity, action: Action, name: string): Decision {
    for (const rule of this.rules) {
      const principals = action === Action.REQUEST ? rule.request : rule.serve;
      if (principals === undefined || !rule.pattern.matches(name)) continue;
      return { allowed: principals.matches(who), rule: `rules[${rule.index}] service ${JSON.stringify(rule.pattern.source)}` };
    }
    return { allowed: this.effect === PolicyEffect.ALLOW, rule: `default: ${this.effect}` };
  }

  /** The decision of one of the entries (mmi, admin, titanic, peers). */
  decideEntry(who: Identity, entry: Entry): Decision {
    return { allowed: this.entries[entry].matches(who), rule: entry };
  }

  entry(entry: Entry): readonly string[] {
    return this.entries[entry].entries;
  }
}

/** Normalises one `who` list (string, list, `none`); pushes issues with `where` in front. */
function principals(raw: unknown, where: string, issues: string[]): string[] | undefined {
  if (raw === null || raw === 'none') return [];
  const list = typeof raw === 'string' ? [raw] : raw;
  if (!Array.isArray(list)) {
    issues.push(`${where}: must be a list such as [role:ops, user:alice], or any or none, got ${JSON.stringify(raw)}`);
    return undefined;
  }
  const out: string[] = [];
  list.forEach((item, i) => {
    const at = `${where}[${i}]`;
    if (typeof item !== 'string') {
      issues.push(`${at}: must be a string (any, user:NAME, key:Z85 or role:NAME), got ${JSON.stringify(item)}`);
      return;
    }
    const text = item.trim();
    if (text === 'any') {
      out.push('any');
      return;
    }
    const m = PRINCIPAL.exec(text);
    if (!m) {
      issues.push(`${at}: must be any, user:NAME, key:Z85 or role:NAME, got ${JSON.stringify(item)}`);
      return;
    }
    if (m[1] === 'key') {
      try {
        out.push(`key:${curveKeyText(m[2]!, 'key')}`);
      } catch (err) {
        issues.push(`${at}: ${(err as Error).message}`);
      }
      return;
    }
    out.push(`${m[1]}:${m[2]}`);
  });
  return out;
}

function digestOf(doc: unknown): string {
  // FNV-1a over the canonical JSON: a label for versions, not a security measure
  const text = JSON.stringify(doc) ?? '';
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

function isReserved(pattern: string): boolean {
  return pattern.startsWith(MMI_NAMESPACE) || pattern.startsWith(TITANIC_NAMESPACE);
}

/**
 * Validates and compiles a policy document (the parsed YAML). Every problem is reported, one line each,
 * prefixed with `origin` (e.g. `broker.access` or the file name).
 */
export function compilePolicy(doc: unknown, origin = 'policy'): { policy: Policy } | { issues: string[] } {
  const issues: string[] = [];
  if (doc === null || doc === undefined) doc = {};
  if (typeof doc !== 'object' || Array.isArray(doc)) return { issues: [`${origin}: must be a mapping (default, mmi, admin, titanic, peers, rules), got ${JSON.stringify(doc)}`] };
  const d = doc as Record<string, unknown>;
  for (const k of Object.keys(d)) if (!(TOP_KEYS as readonly string[]).includes(k)) issues.push(`${origin}.${k}: unknown entry (known: ${TOP_KEYS.join(', ')})`);
  let effect: PolicyEffect = PolicyEffect.DENY;
  if (d.default !== undefined) {
    if (d.default === PolicyEffect.ALLOW || d.default === PolicyEffect.DENY) effect = d.default;
    else issues.push(`${origin}.default: must be allow or deny, got ${JSON.stringify(d.default)}`);
  }
  const entries = {} as Record<Entry, Principals>;
  for (const e of Object.values(Entry)) {
    const list = d[e] === undefined ? ENTRY_DEFAULTS[e] : principals(d[e], `${origin}.${e}`, issues);
    entries[e] = new Principals(list ?? []);
  }
  const rules: CompiledRule[] = [];
  const rawRules = d.rules ?? [];
  if (!Array.isArray(rawRules)) issues.push(`${origin}.rules: must be a list of rules, got ${JSON.stringify(rawRules)}`);
  else {
    rawRules.forEach((raw, index) => {
      const at = `${origin}.rules[${index}]`;
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
        issues.push(`${at}: must be a mapping with service, request and/or serve, got ${JSON.stringify(raw)}`);
        return;
      }
      const r = raw as Record<string, unknown>;
      for (const k of Object.keys(r)) if (!(RULE_KEYS as readonly string[]).includes(k)) issues.push(`${at}.${k}: unknown entry (known: ${RULE_KEYS.join(', ')})`);
      const service = r.service;
      if (typeof service !== 'string' || service === '') {
        issues.push(`${at}.service: must be a service name or a glob such as "echo" or "billing.*", got ${JSON.stringify(service)}`);
        return;
      }
      if (isReserved(service)) {
        issues.push(`${at}.service: ${JSON.stringify(service)} is answered by the broker; mmi.* is governed by the mmi and admin entries, titanic.* by titanic (and the target service)`);
        return;
      }
      if (r.request === undefined && r.serve === undefined) {
        issues.push(`${at}: needs request, serve or both`);
        return;
      }
      const request = r.request === undefined ? undefined : principals(r.request, `${at}.request`, issues);
      const serve = r.serve === undefined ? undefined : principals(r.serve, `${at}.serve`, issues);
      rules.push({
        index,
        pattern: new ServicePattern(service),
        request: request === undefined ? undefined : new Principals(request),
        serve: serve === undefined ? undefined : new Principals(serve),
      });
    });
  }
  if (issues.length > 0) return { issues };
  return { policy: new Policy(effect, rules, entries, digestOf(doc)) };
}

/**
 * Parses YAML text and compiles the policy in it; `section` picks a nested mapping (the config file's
 * `broker.access`), `origin` names the source in messages.
 */
export function compilePolicyText(text: string, origin: string, section: readonly string[] = []): { policy: Policy } | { issues: string[] } {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    return { issues: [`${origin}: not valid YAML: ${(err as Error).message.split('\n')[0]}`] };
  }
  const where = section.length > 0 ? `${origin}: ${section.join('.')}` : origin;
  for (const k of section) doc = doc !== null && typeof doc === 'object' ? (doc as Record<string, unknown>)[k] : undefined;
  // an empty document is more likely a file caught half-written than a policy that denies everything
  if (doc === null || doc === undefined) return { issues: [`${where}: no policy (empty); write "default: deny" for one that denies everything`] };
  return compilePolicy(doc, where);
}

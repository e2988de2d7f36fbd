/**
 * The access policy: validation (every problem, with its path), the glob compiler and the compiled
 * decisions against a naive evaluator written from the README's rules (fast-check), the broker's
 * decision cache (per connection, invalidated by new policies and certificates, bounded) against the
 * same evaluator, counting and the audit log, and the denial answer in every dialect.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { curveKeyPair, type PeerInfo } from '../../src/mod.ts';
import { Metadata } from '../../src/internal.ts';
import {
  AccessControl,
  ALL_CODECS,
  compilePolicy,
  compilePolicyText,
  createLogger,
  DENIED_SERVICE,
  Direction,
  encodeDenial,
  parseDenial,
  resolveConfig,
  MdpError,
  type AccessIdentity,
  type Logger,
  type MdpCodec,
  type Policy,
} from '../../src/mdp/mod.ts';
import { ServicePattern } from '../../src/mdp/security/policy.ts';
import { parseClientReply, ProtocolViolation, type DialectName } from './dialects.peers.ts';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

function compiled(doc: unknown): Policy {
  const r = compilePolicy(doc);
  if ('issues' in r) throw new Error(r.issues.join('\n'));
  return r.policy;
}

const silent: Logger = { error() {}, warn() {}, info() {}, debug() {}, enabled: () => false };

// ---- the naive evaluator: the README's rules, read literally ---------------------------------------

function naiveGlob(p: string, s: string): boolean {
  if (p === '') return s === '';
  if (p[0] === '*') return naiveGlob(p.slice(1), s) || (s !== '' && naiveGlob(p, s.slice(1)));
  return s !== '' && p[0] === s[0] && naiveGlob(p.slice(1), s.slice(1));
}

interface Doc {
  default?: 'allow' | 'deny';
  mmi?: string[];
  admin?: string[];
  titanic?: string[];
  rules: { service: string; request?: string[]; serve?: string[] }[];
}

function naiveWho(list: string[], who: AccessIdentity): boolean {
  return list.some((p) => p === 'any' || (who.user !== undefined && p === `user:${who.user}`) || (who.key !== undefined && p === `key:${who.key}`) || who.roles.some((r) => p === `role:${r}`));
}

function naiveDecide(doc: Doc, who: AccessIdentity, action: 'request' | 'serve', service: string): boolean {
  for (const rule of doc.rules) {
    const list = rule[action];
    if (list !== undefined && naiveGlob(rule.service, service)) return naiveWho(list, who);
  }
  return (doc.default ?? 'deny') === 'allow';
}

/** What the broker should answer to a request, by the README: mmi.dlq.* admin, mmi.* mmi, titanic.* titanic (+ target). */
function naiveRequest(doc: Doc, who: AccessIdentity, service: string, target: string | undefined): boolean {
  if (service.startsWith('mmi.dlq.')) return naiveWho(doc.admin ?? [], who);
  if (service.startsWith('mmi.')) return naiveWho(doc.mmi ?? ['any'], who);
  if (service.startsWith('titanic.')) {
    if (!naiveWho(doc.titanic ?? ['any'], who)) return false;
    return service === 'titanic.request' && target !== undefined && target !== '' ? naiveDecide(doc, who, 'request', target) : true;
  }
  return naiveDecide(doc, who, 'request', service);
}

// ---- arbitraries ------------------------------------------------------------------------------------

const K1 = curveKeyPair().publicKey;
const K2 = curveKeyPair().publicKey;
const principal = fc.constantFrom('any', 'user:alice', 'user:bob', `key:${K1}`, `key:${K2}`, 'role:ops', 'role:dev');
const who = fc.record({
  user: fc.constantFrom(undefined, 'alice', 'bob', 'carol'),
  key: fc.constantFrom(undefined, K1, K2),
  roles: fc.subarray(['ops', 'dev', 'qa']),
});
/** Names from a small alphabet so that patterns and names collide often; `.` and `+` test escaping. */
const name = fc.stringMatching(/^[ab.+]{1,4}$/);
const pattern = fc.stringMatching(/^[ab.+*]{1,4}$/);
const rule = fc.record(
  { service: pattern, request: fc.array(principal, { maxLength: 3 }), serve: fc.array(principal, { maxLength: 3 }) },
  { requiredKeys: ['service'] },
).filter((r) => r.request !== undefined || r.serve !== undefined);
const doc: fc.Arbitrary<Doc> = fc.record(
  {
    default: fc.constantFrom('allow' as const, 'deny' as const),
    mmi: fc.array(principal, { maxLength: 2 }),
    admin: fc.array(principal, { maxLength: 2 }),
    titanic: fc.array(principal, { maxLength: 2 }),
    rules: fc.array(rule, { maxLength: 8 }),
  },
  { requiredKeys: ['rules'] },
);

function whoOf(w: { user: string | undefined; key: string | undefined; roles: string[] }): AccessIdentity {
  return { ...(w.user !== undefined ? { user: w.user } : {}), ...(w.key !== undefined ? { key: w.key } : {}), roles: w.roles };
}

// ---- tests ------------------------------------------------------------------------------------------

describe('policy documents', () => {
  it('reports every problem at once, each with its path', () => {
    const r = compilePolicy(
      {
        default: 'maybe',
        mmi: 'role',
        colour: 'blue',
        rules: [
          { service: 'echo', request: ['role:ops', 'user:', 42, 'key:short'] },
          { service: '', request: 'any' },
          { service: 'x' },
          { service: 'mmi.*', request: 'any' },
          { service: 'y', request: { a: 1 }, serve: 'any', extra: true },
          'nope',
        ],
      },
      'policy.yaml',
    );
    expect('issues' in r && r.issues).toEqual([
      'policy.yaml.colour: unknown entry (known: default, mmi, admin, titanic, peers, rules)',
      'policy.yaml.default: must be allow or deny, got "maybe"',
      'policy.yaml.mmi[0]: must be any, user:NAME, key:Z85 or role:NAME, got "role"',
      'policy.yaml.rules[0].request[1]: must be any, user:NAME, key:Z85 or role:NAME, got "user:"',
      'policy.yaml.rules[0].request[2]: must be a string (any, user:NAME, key:Z85 or role:NAME), got 42',
      'policy.yaml.rules[0].request[3]: key must be 40 Z85 characters, got 5',
      'policy.yaml.rules[1].service: must be a service name or a glob such as "echo" or "billing.*", got ""',
      'policy.yaml.rules[2]: needs request, serve or both',
      'policy.yaml.rules[3].service: "mmi.*" is answered by the broker; mmi.* is governed by the mmi and admin entries, titanic.* by titanic (and the target service)',
      'policy.yaml.rules[4].extra: unknown entry (known: service, request, serve)',
      'policy.yaml.rules[4].request: must be a list such as [role:ops, user:alice], or any or none, got {"a":1}',
      'policy.yaml.rules[5]: must be a mapping with service, request and/or serve, got "nope"',
    ]);
  });

  it('defaults: deny, mmi any, titanic any, admin nobody, peers role:broker; none and single strings', () => {
    const p = compiled({ rules: [{ service: 'a', request: 'any', serve: 'none' }] });
    const anyone = { roles: [] };
    expect(p.effect).toBe('deny');
    expect(p.decide(anyone, 'request', 'a').allowed).toBe(true);
    expect(p.decide(anyone, 'serve', 'a')).toEqual({ allowed: false, rule: 'rules[0] service "a"' });
    expect(p.decide(anyone, 'request', 'b')).toEqual({ allowed: false, rule: 'default: deny' });
    expect([p.decideEntry(anyone, 'mmi').allowed, p.decideEntry(anyone, 'titanic').allowed, p.decideEntry(anyone, 'admin').allowed]).toEqual([true, true, false]);
    expect(p.entry('peers')).toEqual(['role:broker']);
    expect(p.decideEntry({ roles: ['broker'] }, 'peers').allowed).toBe(true);
    // keys are normalised: 32 raw bytes' Z85 either way, and a peers entry may list them
    const q = compiled({ peers: [`key:${K1}`, 'role:broker'] });
    expect(q.decideEntry({ key: K1, roles: [] }, 'peers').allowed).toBe(true);
  });

  it('reads YAML text, and refuses an empty or broken one', () => {
    expect('policy' in compilePolicyText('default: allow\n', 'p.yaml')).toBe(true);
    expect(compilePolicyText('', 'p.yaml')).toEqual({ issues: ['p.yaml: no policy (empty); write "default: deny" for one that denies everything'] });
    expect(compilePolicyText('rules: [', 'p.yaml')).toMatchObject({ issues: [expect.stringMatching(/^p\.yaml: not valid YAML: /)] });
    const r = compilePolicyText('broker:\n  access:\n    default: allow\n', 'broker.yaml', ['broker', 'access']);
    expect('policy' in r && r.policy.effect).toBe('allow');
    expect(compilePolicyText('broker: {}\n', 'broker.yaml', ['broker', 'access'])).toMatchObject({ issues: [expect.stringContaining('broker.yaml: broker.access: no policy')] });
  });

  it('is part of the broker config: broker.access inline, broker.security.* fields, env and flags', () => {
    const c = resolveConfig({
      yaml: 'broker:\n  security:\n    curve_cert: /k/broker_secret\n    curve_clients: /k/clients\n    allow: [10.0.0.0/8]\n  access:\n    default: allow\n',
      env: { PUREZMQ_BROKER_DENY: '10.0.0.66, fd00::/8', PUREZMQ_BROKER_ACCESS_POLICY: '/k/policy.yaml' },
      flags: { broker: { zapDomain: 'mdp' }, client: { curveServerKey: '/k/broker' } },
    });
    expect(c.broker).toMatchObject({ curveCert: '/k/broker_secret', curveClients: '/k/clients', allow: ['10.0.0.0/8'], deny: ['10.0.0.66', 'fd00::/8'], accessPolicy: '/k/policy.yaml', zapDomain: 'mdp', access: { default: 'allow' } });
    expect(c.client.curveServerKey).toBe('/k/broker');
    let err: MdpError | undefined;
    try {
      resolveConfig({ yaml: 'broker:\n  security:\n    allow: [10.0.0.300]\n    curve_key: x\n  access:\n    default: sometimes\n', yamlPath: 'b.yaml', env: { PUREZMQ_BROKER_ACCESS: 'x' } });
    } catch (e) {
      err = e as MdpError;
    }
    expect(err?.issues).toEqual([
      'broker.allow (in b.yaml): must be IP addresses or CIDR ranges such as 10.0.0.0/8 or fd00::/8, got "10.0.0.300"',
      expect.stringMatching(/^broker\.security\.curve_key \(in b\.yaml\): unknown field \(known: curve_cert, curve_clients, plain_passwords, allow, deny, zap_domain, access_policy, reload_interval\)$/),
      'broker.access (in b.yaml): not a valid access policy:\n    access.default: must be allow or deny, got "sometimes"',
      expect.stringMatching(/^PUREZMQ_BROKER_ACCESS: unknown variable/),
    ]);
  });
});

describe('compiled decisions', () => {
  it('globs match exactly what a naive matcher matches', () => {
    fc.assert(
      fc.property(pattern, name, (p, n) => {
        expect(new ServicePattern(p).matches(n)).toBe(naiveGlob(p, n));
      }),
      { numRuns: 2000 },
    );
    // longer ones, where several pieces between stars must be placed
    fc.assert(
      fc.property(fc.stringMatching(/^[ab*]{1,9}$/), fc.stringMatching(/^[ab]{0,12}$/), (p, n) => {
        expect(new ServicePattern(p).matches(n)).toBe(naiveGlob(p, n));
      }),
      { numRuns: 3000 },
    );
    // linear in the name: a client's 1 MB name against a pattern a backtracking matcher would choke on
    const t0 = performance.now();
    expect(new ServicePattern('*a*a*a*a*a*a*b').matches('a'.repeat(1 << 20))).toBe(false);
    expect(performance.now() - t0).toBeLessThan(500);
    // service names are bytes: a UTF-8 name matches its pattern
    const utf8 = (s: string): string => String.fromCharCode(...enc(s));
    expect(new ServicePattern('café.*').matches(utf8('café.au-lait'))).toBe(true);
  });

  it("any policy's decisions equal the naive evaluator's", () => {
    fc.assert(
      fc.property(doc, who, name, fc.constantFrom('request' as const, 'serve' as const), (d, w, n, action) => {
        const p = compiled(d);
        expect(p.decide(whoOf(w), action, n).allowed).toBe(naiveDecide(d, whoOf(w), action, n));
      }),
      { numRuns: 1000 },
    );
  });
});

// ---- the broker's decision cache ---------------------------------------------------------------------

/** A connection as the socket describes it (the object `lastPeer` returns, one per handshake). */
function peer(w: AccessIdentity): PeerInfo {
  return { socketType: 'DEALER', identity: new Uint8Array(0), metadata: new Metadata([]), userId: w.user, ...(w.key ? { publicKey: w.key } : {}), remoteAddress: '127.0.0.1', minor: 1 };
}

describe('AccessControl (the broker side)', () => {
  it('cached decisions always equal fresh ones, across connections, new policies and new certificates', () => {
    const op = fc.oneof(
      { weight: 8, arbitrary: fc.record({ kind: fc.constant('request' as const), conn: fc.nat(3), service: fc.oneof(name, fc.constantFrom('mmi.service', 'mmi.dlq.list', 'titanic.reply', 'titanic.request')), target: name }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('serve' as const), conn: fc.nat(3), service: name }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('policy' as const), doc }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('roles' as const), key: fc.constantFrom(K1, K2), roles: fc.subarray(['ops', 'dev', 'qa']) }) },
    );
    fc.assert(
      fc.property(doc, fc.array(who, { minLength: 4, maxLength: 4 }), fc.array(op, { maxLength: 60 }), (first, people, ops) => {
        // roles come from the certificate store (by key); the connections carry user and key only
        const keyRoles = new Map<string, string[]>([
          [K1, ['ops']],
          [K2, []],
        ]);
        let current: Doc = first;
        const access = new AccessControl({ policy: compiled(first), source: 'test', logger: silent, lookup: (k) => (keyRoles.has(k) ? { roles: keyRoles.get(k)! } : undefined) });
        const conns = people.map((w) => peer(whoOf({ ...w, roles: [] })));
        const identity = (i: number): AccessIdentity => {
          const p = conns[i]!;
          return { ...(p.userId ? { user: p.userId } : {}), ...(p.publicKey ? { key: p.publicKey } : {}), roles: p.publicKey ? (keyRoles.get(p.publicKey) ?? []) : [] };
        };
        for (const o of ops) {
          if (o.kind === 'policy') {
            current = o.doc;
            access.setPolicy(compiled(o.doc));
          } else if (o.kind === 'roles') {
            keyRoles.set(o.key, o.roles);
            access.invalidate();
          } else if (o.kind === 'serve') {
            expect(access.serve(conns[o.conn], enc(o.service)) === undefined).toBe(naiveDecide(current, identity(o.conn), 'serve', o.service));
          } else {
            const body = o.service === 'titanic.request' ? [enc(o.target), enc('x')] : [enc('x')];
            const allowed = access.request(conns[o.conn], enc(o.service), body) === undefined;
            expect(allowed, `${o.service} ${o.target}`).toBe(naiveRequest(current, identity(o.conn), o.service, o.service === 'titanic.request' ? o.target : undefined));
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('counts every decision per service, and logs a denial once per connection, service and policy version', () => {
    const lines: string[] = [];
    const log = createLogger({ level: 'info', format: 'json', write: (l) => lines.push(l) });
    const access = new AccessControl({ policy: compiled({ rules: [{ service: 'echo', request: ['role:ops'], serve: ['role:worker'] }] }), source: 'p.yaml', logger: log, lookup: () => ({ roles: ['ops'] }) });
    const bob = peer({ user: 'bob', roles: [] });
    const alice = peer({ user: 'alice', key: K1, roles: [] });
    for (let i = 0; i < 5; i++) expect(access.request(bob, enc('echo'), [enc('x')])).toEqual({ who: { user: 'bob', roles: [] }, rule: 'rules[0] service "echo"' });
    for (let i = 0; i < 3; i++) expect(access.request(alice, enc('echo'), [enc('x')])).toBeUndefined();
    expect(access.serve(alice, enc('echo'))).toBeDefined();
    expect(access.request(bob, enc('mmi.service'), [enc('echo')])).toBeUndefined();
    const m = access.metrics();
    expect(m.services!.echo).toEqual({ requestAllowed: 3, requestDenied: 5, serveAllowed: 0, serveDenied: 1 });
    expect([m.allowed, m.denied]).toEqual([4, 6]);
    // mmi.broker's summary: the sums and the most denied services, no per-service map
    const summary = access.metrics(false);
    expect(summary.services).toBeUndefined();
    expect([summary.allowed, summary.denied, summary.mostDenied]).toEqual([4, 6, [{ service: 'echo', requestAllowed: 3, requestDenied: 5, serveAllowed: 0, serveDenied: 1 }]]);
    expect(m.policy).toMatchObject({ source: 'p.yaml', version: 1, default: 'deny', rules: 1 });
    // JSON lines: one for bob's requests (5 denials), one for alice's READY
    const audit = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(audit).toEqual([
      expect.objectContaining({ level: 'warn', msg: 'access denied', audit: 'access', decision: 'deny', action: 'request', service: 'echo', user: 'bob', rule: 'rules[0] service "echo"', policy: m.policy.digest, address: '127.0.0.1' }),
      expect.objectContaining({ msg: 'access denied', action: 'serve', service: 'echo', user: 'alice', key: K1, roles: 'ops' }),
    ]);
    // a new version: the old decisions go, and the next denial is logged again
    access.setPolicy(compiled({ rules: [{ service: 'echo', request: ['user:bob'] }] }), 'p.yaml');
    expect(access.request(bob, enc('echo'), [enc('x')])).toBeUndefined();
    expect(access.request(alice, enc('echo'), [enc('x')])).toBeDefined();
    expect(lines.at(-2)).toContain('"msg":"access policy loaded"');
    expect(JSON.parse(lines.at(-1)!)).toMatchObject({ msg: 'access denied', user: 'alice' });
    access.rejectedVersion('p.yaml', ['p.yaml.default: must be allow or deny, got "x"']);
    expect(JSON.parse(lines.at(-1)!)).toMatchObject({ level: 'error', msg: 'access policy rejected: keeping the one in force', issues: ['p.yaml.default: must be allow or deny, got "x"'] });
    expect(access.metrics()).toMatchObject({ reloads: 1, rejected: 1, policy: { version: 2 } });
  });

  it('stays right past its bounds: more services per connection than it caches', () => {
    const access = new AccessControl({ policy: compiled({ rules: [{ service: 's1*', request: 'any' }] }), source: 't', logger: silent });
    const p = peer({ roles: [] });
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 600; i++) expect(access.request(p, enc(`s${i}`), [enc('')]) === undefined).toBe(naiveGlob('s1*', `s${i}`));
    }
    // a client-chosen name of a megabyte is decided, not cached or counted by name, and logged short
    const lines: string[] = [];
    const big = new AccessControl({ policy: compiled({ rules: [{ service: 'x*', request: 'none' }] }), source: 't', logger: createLogger({ level: 'info', format: 'json', write: (l) => lines.push(l) }) });
    const huge = enc(`x${'y'.repeat(1 << 20)}`);
    for (let i = 0; i < 3; i++) expect(big.request(p, huge, [enc('')])).toBeDefined();
    expect(Object.keys(big.metrics().services!)).toEqual(['(other)']);
    expect(lines.every((l) => l.length < 1000)).toBe(true);
    expect(JSON.parse(lines[0]!).service).toMatch(/^xy+… \(1048577 bytes\)$/);
    // a connection without a PeerInfo (never, on a ROUTER) is nobody
    expect(access.request(undefined, enc('s1'), [enc('')])).toBeUndefined();
    expect(access.request(undefined, enc('t'), [enc('')])).toBeDefined();
  });
});

// ---- the denial answer --------------------------------------------------------------------------------

describe('denial answer', () => {
  const serviceFrame = enc('echo');
  const frames = (codec: MdpCodec): Buffer[] => encodeDenial(codec, serviceFrame).map((f) => Buffer.from(f));
  const view = (codec: MdpCodec): string[] => frames(codec).map((f) => (f.length === 1 && f[0]! < 0x20 ? `0x0${f[0]!.toString(16)}` : f.toString()));

  it('has the documented frames in each dialect', () => {
    const by = Object.fromEntries(ALL_CODECS.map((c) => [c.dialect, view(c)]));
    expect(by).toEqual({
      rfc18: ['MDPC02', '0x03', 'mmi.denied', '403', 'echo', 'access denied'],
      rfc7: ['', 'MDPC01', 'mmi.denied', '403', 'echo', 'access denied'],
      majortomo: ['', 'MDPC02', '0x06', 'mmi.denied', '403', 'echo', 'access denied'],
      plantd: ['MDPC02', 'DISCONNECT', 'mmi.denied', '403', 'echo', 'access denied'],
    });
    for (const codec of ALL_CODECS) {
      const d = parseDenial(codec, frames(codec));
      expect({ ...d, service: Buffer.from(d!.service).toString() }).toEqual({ service: 'echo', code: '403', text: 'access denied' });
    }
  });

  it("cannot be taken for a worker's reply by any dialect's client", () => {
    for (const codec of ALL_CODECS) {
      const f = frames(codec);
      const d = codec.dialect as DialectName;
      // the frame-exact copies of each dialect's own client: rfc18/rfc7 see another service, majortomo and plantd no reply at all
      const asReq = d === 'rfc7' ? f.slice(1) : f; // a REQ socket strips the empty frame
      expect(() => parseClientReply(d, 'echo', asReq), d).toThrow(ProtocolViolation);
      const r = codec.decode(f, Direction.TO_CLIENT);
      if (r.ok) expect(r.command.protocol === 'client' && r.command.command === 'FINAL' && Buffer.from(r.command.service).toString()).toBe(DENIED_SERVICE);
    }
  });

  it('no reply a worker can cause is a denial: any FINAL or PARTIAL for a service outside mmi.*', () => {
    const svc = fc.stringMatching(/^[a-z.]{1,8}$/).filter((s) => !s.startsWith('mmi.'));
    const body = fc.array(fc.oneof(fc.constant('mmi.denied'), fc.constant('403'), fc.string({ maxLength: 6 })), { minLength: 1, maxLength: 5 });
    fc.assert(
      fc.property(fc.constantFrom(...ALL_CODECS), svc, body, fc.boolean(), (codec, s, b, final) => {
        if (!final && !codec.streams) return;
        const reply = codec.encode({ protocol: 'client', command: final ? 'FINAL' : 'PARTIAL', version: codec.version, service: enc(s), body: b.map(enc) }, Direction.TO_CLIENT);
        expect(parseDenial(codec, reply)).toBeUndefined();
      }),
    );
  });
});

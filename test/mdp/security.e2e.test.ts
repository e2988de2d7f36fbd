/**
 * End to end: `purezmq broker --curve-cert … --curve-clients … --access-policy …` as a process, its
 * keys made by `purezmq keygen`, driven by CURVE clients and workers written on libzmq (zeromq.js,
 * whose CURVE is libsodium's) that read those certificate files with their own minimal zcert reader.
 * Tests run in order: the last ones rewrite the policy file under the running broker.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as lib from 'zeromq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, MdpErrorCode, TitanicClient, Worker, type MdpError } from '../../src/mdp/mod.ts';
import { buildCli, runCli, spawnCli, startBroker, waitFor, type BrokerProcess } from './helpers.ts';
import { B, byte, E, parseClientReply, PeerWorker, ProtocolViolation, str, type DialectName } from './dialects.peers.ts';

let cli: string;
let cleanup: () => void;
let dir: string;
let broker: BrokerProcess;
let eps: string[];
let policyFile: string;
const closers: (() => void)[] = [];

/**
 * A zcert reader of its own (not purezmq's): the `curve` section's keys, as pyzmq's zmq.auth and czmq
 * read them. What libzmq-side code would do with a certificate file.
 */
function zcert(file: string): { publicKey: string; secretKey?: string } {
  const text = readFileSync(file, 'utf8');
  const section = text.split(/^curve\s*$/m)[1] ?? '';
  const pick = (name: string): string | undefined => new RegExp(`^\\s+${name}\\s*=\\s*"([^"]{40})"`, 'm').exec(section)?.[1];
  const publicKey = pick('public-key');
  if (!publicKey) throw new Error(`${file}: no public-key`);
  const secretKey = pick('secret-key');
  return secretKey ? { publicKey, secretKey } : { publicKey };
}

/** libzmq socket options of a CURVE client holding `name`'s secret certificate. */
function curve(name: string): Record<string, string> {
  const own = zcert(join(dir, `${name}_secret`));
  return { curveServerKey: zcert(join(dir, 'broker')).publicKey, curvePublicKey: own.publicKey, curveSecretKey: own.secretKey! };
}

function dealer(options: Record<string, unknown>, endpoint = eps[0]!, timeoutMs = 5000): lib.Dealer {
  const s = new lib.Dealer({ linger: 0, receiveTimeout: timeoutMs, ...options });
  s.connect(endpoint);
  closers.push(() => s.close());
  return s;
}

function worker(name: string, service: string): PeerWorker {
  const w = new PeerWorker('rfc18', eps[0]!, service, (body) => body.map((b) => b.toUpperCase()), { socketOptions: curve(name) });
  closers.push(() => w.close());
  return w;
}

/** The broker's JSON log lines so far. */
function logLines(): Record<string, unknown>[] {
  return broker
    .stderr()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

const POLICY_V1 = `default: deny
mmi: any
rules:
  - service: "echo"
    request: ["role:ops"]
    serve: ["role:echo-worker"]
  - service: "up*"
    request: ["role:ops"]
    serve: ["role:echo-worker"]
`;

/** Replaces the policy file the way an operator should: written aside, then renamed into place (never seen half-written). */
function replacePolicy(text: string): void {
  writeFileSync(`${policyFile}.new`, text);
  renameSync(`${policyFile}.new`, policyFile);
}

async function request02(sock: lib.Dealer, service: string, body: string): Promise<Buffer[]> {
  await sock.send([B('MDPC02'), byte(0x01), B(service), B(body)]);
  return sock.receive();
}

beforeAll(async () => {
  ({ cli, cleanup } = buildCli());
  dir = mkdtempSync(join(tmpdir(), 'pz-sec-e2e-'));
  const keygen = async (name: string, ...meta: string[]): Promise<void> => {
    const r = await runCli(cli, ['keygen', join(dir, name), ...meta.flatMap((m) => ['--metadata', m])]);
    expect(r.code, r.stderr).toBe(0);
  };
  await Promise.all([
    keygen('broker'),
    keygen('alice', 'role=ops'),
    keygen('bob'),
    keygen('good-worker', 'role=echo-worker'),
    keygen('bad-worker'),
    keygen('eve', 'role=ops'), // not in the clients directory (until the last test puts her there)
  ]);
  mkdirSync(join(dir, 'clients'));
  for (const n of ['alice', 'bob', 'good-worker', 'bad-worker']) copyFileSync(join(dir, n), join(dir, 'clients', n));
  policyFile = join(dir, 'policy.yaml');
  writeFileSync(policyFile, POLICY_V1);
  broker = await startBroker(
    cli,
    [
      '--bind', 'tcp://127.0.0.1:*',
      '--bind', 'tcp://127.0.0.1:*',
      '--curve-cert', join(dir, 'broker_secret'),
      '--curve-clients', join(dir, 'clients'),
      '--access-policy', policyFile,
      '--reload-interval', '50ms',
      '--heartbeat-interval', '200',
      '--log-format', 'json',
    ],
    2,
  );
  eps = broker.endpoints;
}, 60000);

afterAll(async () => {
  for (const c of closers.splice(0)) c();
  // a broker that died mid-file explains every later failure: say how
  if (broker && (broker.proc.exitCode !== null || broker.proc.signalCode !== null || process.env.PZ_DEBUG_E2E)) {
    console.error(`broker exit ${broker.proc.exitCode ?? broker.proc.signalCode}; its stderr:\n${broker.stderr().split('\n').slice(-40).join('\n')}`);
  }
  await broker?.stop();
  rmSync(dir, { recursive: true, force: true });
  cleanup?.();
});

describe('purezmq broker with CURVE and an access policy, libzmq peers', () => {
  it('keygen output is czmq-format files whose keys libzmq accepts (libzmq on both ends, no purezmq)', async () => {
    const router = new lib.Router({ linger: 0, curveServer: true, curveSecretKey: zcert(join(dir, 'broker_secret')).secretKey! });
    await router.bind('tcp://127.0.0.1:*');
    const d = new lib.Dealer({ linger: 0, receiveTimeout: 5000, ...curve('alice') });
    d.connect(router.lastEndpoint!);
    try {
      await d.send('over libsodium');
      const [, msg] = await router.receive();
      expect(str(msg)).toBe('over libsodium');
    } finally {
      d.close();
      router.close();
    }
    const text = readFileSync(join(dir, 'alice'), 'utf8');
    expect(text).toMatch(/^metadata\n {4}name = "alice"\n {4}role = "ops"\ncurve\n {4}public-key = "/m);
  });

  it('an allowed client is served, on every bound endpoint', async () => {
    const w = worker('good-worker', 'echo');
    for (const ep of eps) {
      const reply = await request02(dealer(curve('alice'), ep), 'echo', `hello ${ep}`);
      expect(reply.map(str)).toEqual(['MDPC02', '\u0003', 'echo', `HELLO ${ep.toUpperCase()}`]);
    }
    expect(w.requests).toHaveLength(eps.length);
  });

  it('a client with an unknown key gets no connection', async () => {
    const eve = dealer(curve('eve'), eps[0], 500);
    await eve.send([B('MDPC02'), byte(0x01), B('echo'), B('x')]);
    await expect(eve.receive()).rejects.toMatchObject({ code: 'EAGAIN' });
    const eveKey = zcert(join(dir, 'eve')).publicKey;
    await waitFor(() => logLines().some((l) => l.msg === 'authentication refused' && l.key === eveKey && l.status === '400'), 'the refusal in the audit log');
  });

  it('a NULL client gets nothing, on every endpoint', async () => {
    for (const ep of eps) {
      const anon = dealer({}, ep, 400);
      await anon.send([B('MDPC02'), byte(0x01), B('mmi.service'), B('echo')]);
      await expect(anon.receive()).rejects.toMatchObject({ code: 'EAGAIN' });
    }
  });

  it('an authenticated client denied a service gets the denial at once, and the worker never sees the request', async () => {
    const w = worker('good-worker', 'echo');
    const before = w.requests.length;
    const t0 = performance.now();
    const reply = await request02(dealer(curve('bob'), eps[0], 5000), 'echo', 'let me in');
    expect(performance.now() - t0).toBeLessThan(2500); // an answer, not the 5 s timeout
    expect(reply.map(str)).toEqual(['MDPC02', '\u0003', 'mmi.denied', '403', 'echo', 'access denied']);
    expect(() => parseClientReply('rfc18', 'echo', reply)).toThrow(/names another service/);
    // bob may still use MMI (mmi: any)
    expect((await request02(dealer(curve('bob')), 'mmi.service', 'echo')).map(str).slice(2)).toEqual(['mmi.service', '200']);
    expect(w.requests.length).toBe(before);
    const audit = logLines().filter((l) => l.msg === 'access denied' && l.user === 'bob');
    expect(audit[0]).toMatchObject({ level: 'warn', audit: 'access', decision: 'deny', action: 'request', service: 'echo', rule: 'rules[0] service "echo"' });
  });

  it('the denial in every dialect is refused by that dialect\'s own client parser', async () => {
    const frames: Record<DialectName, Buffer[]> = {} as Record<DialectName, Buffer[]>;
    const req = new lib.Request({ linger: 0, receiveTimeout: 5000, ...curve('bob') });
    req.connect(eps[0]!);
    closers.push(() => req.close());
    await req.send([B('MDPC01'), B('echo'), B('x')]);
    frames.rfc7 = await req.receive();
    const mt = dealer(curve('bob'));
    await mt.send([E, B('MDPC02'), byte(0x02), B('echo'), B('x')]);
    frames.majortomo = await mt.receive();
    const pd = dealer(curve('bob'));
    await pd.send([E, B('MDPC02'), B('REQUEST'), B('echo'), B('x')]);
    frames.plantd = await pd.receive();
    expect(frames.rfc7.map(str)).toEqual(['MDPC01', 'mmi.denied', '403', 'echo', 'access denied']);
    expect(frames.majortomo.map(str)).toEqual(['', 'MDPC02', '\u0006', 'mmi.denied', '403', 'echo', 'access denied']);
    expect(frames.plantd.map(str)).toEqual(['MDPC02', 'DISCONNECT', 'mmi.denied', '403', 'echo', 'access denied']);
    for (const d of ['rfc7', 'majortomo', 'plantd'] as const) expect(() => parseClientReply(d, 'echo', frames[d]), d).toThrow(ProtocolViolation);
  });

  it('a worker that may not serve is DISCONNECTed, and requests go only to the allowed worker', async () => {
    const bad = worker('bad-worker', 'echo');
    const good = worker('good-worker', 'echo');
    await waitFor(() => bad.disconnects > 0, 'DISCONNECT for the refused worker');
    const alice = dealer(curve('alice'));
    for (let i = 0; i < 6; i++) expect(str((await request02(alice, 'echo', `r${i}`))[3])).toBe(`R${i}`);
    expect(bad.requests).toEqual([]);
    expect(good.requests.length).toBeGreaterThan(0);
    expect(logLines().some((l) => l.msg === 'access denied' && l.action === 'serve' && l.user === 'bad-worker')).toBe(true);
  });

  it("purezmq's Worker, refused, backs off and says why", async () => {
    const warnings: Record<string, unknown>[] = [];
    const logger = { error() {}, info() {}, debug() {}, warn: (msg: string, f?: Record<string, unknown>) => void warnings.push({ msg, ...f }), enabled: () => true };
    const w = new Worker(eps[0]!, 'echo', () => 'never', {
      curveServerKey: zcert(join(dir, 'broker')).publicKey,
      curveCert: zcert(join(dir, 'bad-worker_secret')),
      reconnectInterval: 2500,
      logger,
    });
    try {
      await waitFor(() => warnings.length > 0, 'the refusal');
      expect(warnings[0]).toMatchObject({ msg: 'broker refused the READY with DISCONNECT (not allowed to serve this service?)', service: 'echo', retryInMs: 1000 });
      expect(w.stats.requests).toBe(0);
    } finally {
      await w.close(0);
    }
  });

  it('purezmq Client and CLI: MDP_ACCESS_DENIED (exit 8), MDP_AUTH_REFUSED (exit 9), Titanic checked against its target', async () => {
    worker('good-worker', 'echo');
    const serverKey = zcert(join(dir, 'broker')).publicKey;
    const keys = (name: string) => ({ curveServerKey: serverKey, curveCert: zcert(join(dir, `${name}_secret`)) });
    const bob = new Client(eps[0]!, { ...keys('bob'), timeout: 5000, retries: 0 });
    const eve = new Client(eps[0]!, { ...keys('eve'), timeout: 5000, retries: 2 });
    const titanic = new TitanicClient(eps[0]!, { ...keys('bob'), timeout: 5000, retries: 0 });
    const alice = new Client(eps[0]!, { ...keys('alice'), timeout: 5000 });
    try {
      const t0 = performance.now();
      await expect(bob.request('echo', 'x')).rejects.toMatchObject({ code: MdpErrorCode.ACCESS_DENIED, service: 'echo', status: '403' });
      await expect(titanic.request('echo', 'x')).rejects.toMatchObject({ code: MdpErrorCode.ACCESS_DENIED });
      const refused = (await eve.request('echo', 'x').catch((e: MdpError) => e)) as MdpError;
      expect(refused.code).toBe(MdpErrorCode.AUTH_REFUSED);
      expect(performance.now() - t0).toBeLessThan(4000); // none of them waited for its 5 s timeout
      expect((await alice.request('echo', 'from code')).map(str)).toEqual(['FROM CODE']);
    } finally {
      bob.close();
      eve.close();
      titanic.dispose();
      alice.close();
    }
    const common = ['--broker', eps[0]!, '--curve-server-key', join(dir, 'broker'), '--timeout', '5s', '--retries', '0'];
    const denied = await runCli(cli, ['request', 'echo', 'x', '--curve-cert', join(dir, 'bob_secret'), ...common]);
    expect([denied.code, denied.stderr.trim()]).toEqual([8, 'purezmq request: the broker\'s access policy does not let this client call "echo" (403 access denied)']);
    const unknown = await runCli(cli, ['request', 'echo', 'x', '--curve-cert', join(dir, 'eve_secret'), ...common]);
    expect(unknown.code).toBe(9);
    // the broker's key as Z85 text this time, instead of its certificate file (with =: a Z85 key may start with '-')
    const ok = await runCli(cli, ['request', 'echo', 'cli', '--curve-cert', join(dir, 'alice_secret'), '--broker', eps[0]!, `--curve-server-key=${serverKey}`]);
    expect([ok.code, ok.stdout]).toEqual([0, 'CLI\n']);
  });

  it('purezmq worker from the CLI, with its certificate and the broker\'s certificate file', async () => {
    const w = spawnCli(cli, ['worker', 'upper', '--exec', 'tr a-z A-Z', '--broker', eps[1]!, '--curve-cert', join(dir, 'good-worker_secret'), '--curve-server-key', join(dir, 'broker')]);
    closers.push(() => void w.stop());
    const r = await runCli(cli, ['request', 'upper', 'shout', '--broker', eps[1]!, '--curve-cert', join(dir, 'alice_secret'), '--curve-server-key', join(dir, 'broker'), '--timeout', '10s']);
    expect([r.code, r.stdout, r.stderr]).toEqual([0, 'SHOUT\n', '']);
    const m = await runCli(cli, ['mmi', 'broker', '--json', '--broker', eps[0]!, '--curve-cert', join(dir, 'alice_secret'), '--curve-server-key', join(dir, 'broker')]);
    // mmi.broker's summary: sums, and the most denied services
    const doc = JSON.parse(m.stdout) as { access: { allowed: number; denied: number; mostDenied: { service: string; requestDenied: number; serveDenied: number }[] } };
    const echo = doc.access.mostDenied.find((d) => d.service === 'echo')!;
    expect(echo.requestDenied).toBeGreaterThan(0);
    expect(echo.serveDenied).toBeGreaterThan(0);
    expect(doc.access.allowed).toBeGreaterThan(0);
    const table = await runCli(cli, ['mmi', 'broker', '--broker', eps[0]!, '--curve-cert', join(dir, 'alice_secret'), '--curve-server-key', join(dir, 'broker')]);
    expect(table.stdout).toMatch(/^access\.echo +request_allowed=\d+ request_denied=[1-9]\d* serve_allowed=\d+ serve_denied=[1-9]/m);
    await w.stop();
  });

  it('a policy file changed while the broker runs takes effect without a restart', async () => {
    worker('good-worker', 'echo');
    const bob = dealer(curve('bob'));
    expect(str((await request02(bob, 'echo', 'before'))[2])).toBe('mmi.denied');
    replacePolicy(POLICY_V1.replace('request: ["role:ops"]', 'request: ["role:ops", "user:bob"]'));
    await waitFor(() => logLines().some((l) => l.msg === 'access policy loaded' && l.version === 2), 'the new policy to be loaded');
    expect((await request02(bob, 'echo', 'after')).map(str).slice(2)).toEqual(['echo', 'AFTER']);
  });

  it('a broken policy file is rejected, and the old policy keeps working', async () => {
    replacePolicy('default: deny\nrules:\n  - service: echo\n    request: [role:ops, bob]\n');
    await waitFor(() => logLines().some((l) => l.msg === 'access policy rejected: keeping the one in force'), 'the broken policy to be rejected');
    const rejected = logLines().find((l) => l.msg === 'access policy rejected: keeping the one in force')!;
    expect(rejected.issues).toEqual([`${policyFile}.rules[0].request[1]: must be any, user:NAME, key:Z85 or role:NAME, got "bob"`]);
    replacePolicy('rules: [\n');
    await waitFor(() => logLines().filter((l) => l.msg === 'access policy rejected: keeping the one in force').length >= 2, 'the unparsable policy to be rejected');
    // version 2 still in force: bob and alice are both served
    expect(str((await request02(dealer(curve('bob')), 'echo', 'still'))[3])).toBe('STILL');
    expect(str((await request02(dealer(curve('alice')), 'echo', 'also'))[3])).toBe('ALSO');
    const m = await runCli(cli, ['mmi', 'broker', '--json', '--broker', eps[0]!, '--curve-cert', join(dir, 'alice_secret'), '--curve-server-key', join(dir, 'broker')]);
    expect((JSON.parse(m.stdout) as { access: unknown }).access).toMatchObject({ reloads: 1, rejected: 2, policy: { version: 2 } });
  });

  it('a certificate added to the clients directory admits its key without a restart', async () => {
    worker('good-worker', 'echo');
    copyFileSync(join(dir, 'eve'), join(dir, 'clients', 'eve'));
    // eve's connections so far were refused; a new one is let in once the directory is re-read
    await waitFor(() => logLines().some((l) => l.msg === 'client certificates re-read' && l.certificates === 5), 'the directory to be re-read');
    const eve = dealer(curve('eve'));
    expect((await request02(eve, 'echo', 'in at last')).map(str).slice(2)).toEqual(['echo', 'IN AT LAST']);
  });
});

describe('purezmq broker with PLAIN and address lists', () => {
  it('PLAIN users are user:NAME to the policy; a wrong password and a denied address get no connection', async () => {
    writeFileSync(join(dir, 'passwords'), '# czmq zauth format\nadmin=s3cret\nguest=guest\nworker=w\n');
    writeFileSync(join(dir, 'plain-policy.yaml'), 'rules:\n  - service: echo\n    request: [user:admin]\n    serve: [user:worker]\n');
    const args = ['--bind', 'tcp://127.0.0.1:*', '--plain-passwords', join(dir, 'passwords'), '--access-policy', join(dir, 'plain-policy.yaml'), '--log-format', 'json'];
    const plain = await startBroker(cli, args);
    const open: { close(): void }[] = [];
    const as = (plainUsername: string, plainPassword: string, timeoutMs = 5000): lib.Dealer => {
      const d = new lib.Dealer({ linger: 0, receiveTimeout: timeoutMs, plainUsername, plainPassword });
      d.connect(plain.endpoint);
      open.push(d);
      return d;
    };
    try {
      const w = new PeerWorker('rfc18', plain.endpoint, 'echo', (body) => body.map((b) => b.toUpperCase()), { socketOptions: { plainUsername: 'worker', plainPassword: 'w' } });
      open.push(w);
      expect((await request02(as('admin', 's3cret'), 'echo', 'plain')).map(str).slice(2)).toEqual(['echo', 'PLAIN']);
      expect((await request02(as('guest', 'guest'), 'echo', 'x')).map(str).slice(2, 4)).toEqual(['mmi.denied', '403']);
      const wrong = as('admin', 'nope', 400);
      await wrong.send([B('MDPC02'), byte(0x01), B('echo'), B('x')]);
      await expect(wrong.receive()).rejects.toMatchObject({ code: 'EAGAIN' });
      expect(w.requests.map((r) => r.body)).toEqual([['plain']]);
    } finally {
      for (const o of open) o.close();
      await plain.stop();
    }
    expect(plain.stderr()).toContain('"msg":"authentication refused","audit":"auth","mechanism":"PLAIN"');
    // an address list applies to every mechanism: here it shuts out loopback altogether
    const fenced = await startBroker(cli, [...args, '--deny', '127.0.0.0/8']);
    try {
      const d = new lib.Dealer({ linger: 0, receiveTimeout: 400, plainUsername: 'admin', plainPassword: 's3cret' });
      d.connect(fenced.endpoint);
      await d.send([B('MDPC02'), byte(0x01), B('mmi.service'), B('echo')]);
      await expect(d.receive()).rejects.toMatchObject({ code: 'EAGAIN' });
      d.close();
      await waitFor(() => fenced.stderr().includes('"reason":"address denied"'), 'the address refusal');
    } finally {
      await fenced.stop();
    }
  });
});

describe('purezmq broker refuses bad security configuration (exit 2)', () => {
  it('a bad certificate, with its file and line; CURVE without a clients list; CURVE with PLAIN; a bad policy', async () => {
    const bad = join(dir, 'bad_secret');
    writeFileSync(bad, readFileSync(join(dir, 'broker_secret'), 'utf8').replace(/secret-key = "(.)/, 'secret-key = "~'));
    const line = readFileSync(bad, 'utf8').split('\n').findIndex((l) => l.includes('secret-key')) + 1;
    let r = await runCli(cli, ['broker', '--bind', 'tcp://127.0.0.1:*', '--curve-cert', bad, '--curve-clients', 'any', '--log-level', 'silent']);
    expect([r.code, r.stderr.trim()]).toEqual([2, `purezmq broker: bad security configuration: ${bad}:${line}: secret-key is not a valid CURVE key: is not valid Z85`]);
    r = await runCli(cli, ['broker', '--bind', 'tcp://127.0.0.1:*', '--curve-cert', join(dir, 'broker_secret'), '--log-level', 'silent']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('curve_clients: say which CURVE clients may connect');
    writeFileSync(join(dir, 'passwords'), 'admin=secret\n');
    r = await runCli(cli, ['broker', '--bind', 'tcp://127.0.0.1:*', '--curve-cert', join(dir, 'broker_secret'), '--curve-clients', 'any', '--plain-passwords', join(dir, 'passwords'), '--log-level', 'silent']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('cannot be combined');
    writeFileSync(join(dir, 'bad-policy.yaml'), 'default: perhaps\n');
    r = await runCli(cli, ['broker', '--bind', 'tcp://127.0.0.1:*', '--access-policy', join(dir, 'bad-policy.yaml'), '--log-level', 'silent']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${join(dir, 'bad-policy.yaml')}.default: must be allow or deny, got "perhaps"`);
  });
});

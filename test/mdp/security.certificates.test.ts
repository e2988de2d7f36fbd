/**
 * Certificates (czmq zcert format): the parser's errors name the file and the line, the writer's
 * output parses back (also with the Authenticator's own reader), files get the right modes and are
 * never overwritten without force, and the certificate directory is re-read when it changes.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { curveKeyPair, parseCertificate as authenticatorParse } from '../../src/mod.ts';
import { MdpError, MdpErrorCode, certificateRoles, formatCurveCertificate, parseCurveCertificate, peerCurveSocketOptions } from '../../src/mdp/mod.ts';
import { CertificateStore, newCertificate, readCertificateFile, writeCertificatePair } from '../../src/mdp/node.ts';

const dir = mkdtempSync(join(tmpdir(), 'pz-certs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The MdpError a call throws. */
function thrown(fn: () => unknown): MdpError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(MdpError);
    return err as MdpError;
  }
  throw new Error('expected an error');
}

const KEYS = curveKeyPair();

describe('certificate text', () => {
  it('writes what czmq writes, and reads it back (public and secret)', () => {
    const cert = { publicKey: KEYS.publicKey, secretKey: KEYS.secretKey, metadata: { name: 'alice', role: 'ops, echo-worker' } };
    const pub = formatCurveCertificate(cert, { secret: false, generated: new Date(Date.UTC(2026, 0, 2, 3, 4, 5)) });
    expect(pub).toBe(
      [
        '#   ****  Generated on 2026-01-02 03:04:05 by purezmq  ****',
        '#   ZeroMQ CURVE Public Certificate',
        '#   Exchange securely, or use a secure mechanism to verify the contents',
        '#   of this file after exchange. Store public certificates in your home',
        '#   directory, in the .curve subdirectory.',
        '',
        'metadata',
        '    name = "alice"',
        '    role = "ops, echo-worker"',
        'curve',
        `    public-key = "${KEYS.publicKey}"`,
        '',
      ].join('\n'),
    );
    expect(parseCurveCertificate(pub, 'alice')).toEqual({ publicKey: KEYS.publicKey, metadata: cert.metadata });
    const sec = formatCurveCertificate(cert, { secret: true });
    expect(sec).toContain('ZeroMQ CURVE **Secret** Certificate');
    expect(parseCurveCertificate(sec, 'alice_secret', { secret: true })).toEqual(cert);
    expect(certificateRoles(parseCurveCertificate(pub, 'alice'))).toEqual(['ops', 'echo-worker']);
    // the Authenticator's curveDirectory reader takes the same files
    expect(authenticatorParse(pub)).toEqual({ publicKey: KEYS.publicKey, metadata: cert.metadata });
    expect(authenticatorParse(sec)?.publicKey).toBe(KEYS.publicKey);
  });

  it('round-trips any metadata a ZPL file can hold', () => {
    const name = fc.stringMatching(/^[A-Za-z0-9$\-_@.&+/]{1,12}$/).filter((n) => n !== '__proto__');
    const value = fc.string({ maxLength: 20 }).filter((v) => !/[\u0000-\u001f\u007f]/.test(v) && !(v.includes('"') && v.includes("'")));
    fc.assert(
      fc.property(fc.dictionary(name, value, { maxKeys: 5 }), fc.boolean(), (metadata, secret) => {
        const cert = { publicKey: KEYS.publicKey, secretKey: KEYS.secretKey, metadata };
        const back = parseCurveCertificate(formatCurveCertificate(cert, { secret }), 'f', { secret });
        expect(back.metadata).toEqual(metadata);
        expect(back.secretKey).toBe(secret ? KEYS.secretKey : undefined);
      }),
    );
  });

  it('refuses a missing or bad key with the file and the line', () => {
    const good = formatCurveCertificate({ publicKey: KEYS.publicKey, secretKey: KEYS.secretKey, metadata: { name: 'a' } }, { secret: true });
    const lines = good.split('\n');
    const at = (re: RegExp): number => lines.findIndex((l) => re.test(l)) + 1;

    const noPublic = lines.filter((l) => !l.includes('public-key')).join('\n');
    let e = thrown(() => parseCurveCertificate(noPublic, 'certs/a_secret'));
    expect(e.code).toBe(MdpErrorCode.CERTIFICATE);
    expect([e.file, e.line]).toEqual(['certs/a_secret', at(/^curve$/)]);
    expect(e.message).toBe(`certs/a_secret:${at(/^curve$/)}: the curve section has no public-key`);

    e = thrown(() => parseCurveCertificate(good.replace(KEYS.publicKey, KEYS.publicKey.slice(1)), 'a'));
    expect(e.line).toBe(at(/public-key/));
    expect(e.message).toMatch(/^a:\d+: public-key is not a valid CURVE key: must be 40 Z85 characters, got 39$/);

    e = thrown(() => parseCurveCertificate(good.replace(KEYS.secretKey, `~${KEYS.secretKey.slice(1)}`), 'a_secret', { secret: true }));
    expect(e.line).toBe(at(/secret-key/));
    expect(e.message).toContain('secret-key is not a valid CURVE key: is not valid Z85');

    e = thrown(() => parseCurveCertificate(good.replace(KEYS.secretKey, curveKeyPair().secretKey), 'a_secret', { secret: true }));
    expect(e.message).toBe(`a_secret:${at(/secret-key/)}: secret-key does not belong to public-key`);

    const pub = lines.filter((l) => !l.includes('secret-key')).join('\n');
    e = thrown(() => parseCurveCertificate(pub, 'keys/a', { secret: true }));
    expect(e.message).toBe(`keys/a:${at(/^curve$/)}: the curve section has no secret-key (this looks like a public certificate; its secret half is keys/a_secret)`);

    e = thrown(() => parseCurveCertificate('curve\n    public-key "x"\n', 'b'));
    expect([e.line, e.message]).toEqual([2, 'b:2: not a ZPL entry (name = "value"): "public-key \\"x\\""']);
    e = thrown(() => parseCurveCertificate('# nothing here\n', 'c'));
    expect(e.message).toBe('c:1: no curve section with a public-key');
  });

  it('reads what czmq writes: comments, bare and single-quoted values, CRLF, nested sections', () => {
    const text = [
      '#   ****  Generated on 2015-01-27 15:39:27 by CZMQ  ****',
      'metadata',
      "    name = 'Alice'   # a comment",
      '    email = alice@example.com',
      '    nested',
      '        deep = "ignored"',
      'curve',
      `    public-key = "${KEYS.publicKey}"`,
      '',
    ].join('\r\n');
    expect(parseCurveCertificate(text, 'x')).toEqual({ publicKey: KEYS.publicKey, metadata: { name: 'Alice', email: 'alice@example.com' } });
  });
});

describe('certificate files', () => {
  it('keygen writes NAME (0644) and NAME_secret (0600), never over an existing file without force', async () => {
    const base = join(dir, 'alice');
    const cert = newCertificate(base, { role: 'ops' });
    expect(cert.metadata).toEqual({ name: 'alice', role: 'ops' });
    await writeCertificatePair(base, cert);
    expect(statSync(base).mode & 0o777).toBe(0o644);
    expect(statSync(`${base}_secret`).mode & 0o777).toBe(0o600);
    expect(readCertificateFile(`${base}_secret`, { secret: true })).toEqual({ cert, warnings: [] });
    expect(readCertificateFile(base).cert).toEqual({ publicKey: cert.publicKey, metadata: cert.metadata });

    const again = newCertificate(base);
    await expect(writeCertificatePair(base, again)).rejects.toMatchObject({ code: MdpErrorCode.CONFIG, message: `${base} exists; not overwritten (--force replaces it)` });
    expect(readCertificateFile(base).cert.publicKey).toBe(cert.publicKey); // untouched
    chmodSync(`${base}_secret`, 0o644);
    await writeCertificatePair(base, again, { force: true });
    expect(readCertificateFile(base).cert.publicKey).toBe(again.publicKey);
    expect(statSync(`${base}_secret`).mode & 0o777).toBe(0o600); // made 0600 again
  });

  it('warns about a secret file that group or others can read', async () => {
    const base = join(dir, 'loose');
    await writeCertificatePair(base, newCertificate(base));
    chmodSync(`${base}_secret`, 0o640);
    expect(readCertificateFile(`${base}_secret`, { secret: true }).warnings).toEqual([`${base}_secret holds a secret key and can be read by its group (mode 0640); chmod 600 it`]);
    chmodSync(`${base}_secret`, 0o604);
    expect(readCertificateFile(`${base}_secret`, { secret: true }).warnings[0]).toContain('can be read by other users (mode 0604)');
    // a public certificate is public
    chmodSync(base, 0o644);
    expect(readCertificateFile(base).warnings).toEqual([]);
    expect(() => readCertificateFile(join(dir, 'nope'))).toThrow(/cannot read certificate .*nope/);
  });

  it('the certificate directory: keyed by public key, bad files skipped and reported, re-read when it changes', async () => {
    const certs = join(dir, 'clients');
    mkdirSync(certs);
    const bob = newCertificate('bob', { role: 'dev' });
    writeFileSync(join(certs, 'bob'), formatCurveCertificate(bob, { secret: false }));
    writeFileSync(join(certs, 'broken'), 'curve\n    public-key = "short"\n');
    writeFileSync(join(certs, '.hidden'), 'not a certificate');
    const problems: string[] = [];
    const store = new CertificateStore(certs, { reloadInterval: 0, onProblem: (m) => problems.push(m) });
    await store.reload();
    expect(store.size).toBe(1);
    expect(store.get(bob.publicKey)).toMatchObject({ name: 'bob', roles: ['dev'] });
    expect(problems).toEqual([`certificate skipped: ${join(certs, 'broken')}:2: public-key is not a valid CURVE key: must be 40 Z85 characters, got 5`]);
    const generation = store.generation;
    // interval 0: only an explicit look re-reads
    expect(await store.refreshIfChanged()).toBe(false);
    expect(await store.refreshIfChanged(true)).toBe(false); // nothing changed
    const carol = newCertificate('carol', { role: 'ops' });
    writeFileSync(join(certs, 'carol'), formatCurveCertificate(carol, { secret: false }));
    rmSync(join(certs, 'bob'));
    expect(await store.refreshIfChanged(true)).toBe(true);
    expect(store.generation).toBe(generation + 1);
    expect(store.get(bob.publicKey)).toBeUndefined();
    expect(store.get(carol.publicKey)?.roles).toEqual(['ops']);
    // a directory that cannot be read keeps what was read last
    rmSync(certs, { recursive: true });
    expect(await store.refreshIfChanged(true)).toBe(false);
    expect(store.get(carol.publicKey)).toBeDefined();
    expect(problems.at(-1)).toContain('not re-read');
  });
});

describe('Client and Worker CURVE options', () => {
  it('become DEALER options, checked up front', () => {
    const server = curveKeyPair();
    expect(peerCurveSocketOptions({})).toEqual({});
    expect(peerCurveSocketOptions({ curveServerKey: server.publicKey })).toEqual({ curveServerKey: server.publicKey });
    expect(peerCurveSocketOptions({ curveServerKey: server.publicKey, curveCert: { secretKey: KEYS.secretKey } })).toEqual({
      curveServerKey: server.publicKey,
      curveSecretKey: KEYS.secretKey,
      curvePublicKey: KEYS.publicKey,
    });
    const bad = (o: Parameters<typeof peerCurveSocketOptions>[0]): string => thrown(() => peerCurveSocketOptions(o)).message;
    expect(bad({ curveCert: KEYS })).toBe("curveCert needs curveServerKey (the broker's public key)");
    expect(bad({ curveServerKey: 'short' })).toBe('curveServerKey must be 40 Z85 characters, got 5');
    expect(bad({ curveServerKey: server.publicKey, curveCert: { publicKey: KEYS.publicKey } })).toContain('has no secret key');
    expect(bad({ curveServerKey: server.publicKey, curveCert: { secretKey: KEYS.secretKey, publicKey: server.publicKey } })).toBe("curveCert's public key does not belong to its secret key");
  });
});

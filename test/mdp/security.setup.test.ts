/**
 * The broker's security set-up in process: a policy inline in the config file (broker.access) is read
 * again from that file when it changes, through the same reload hook the CLI's SIGHUP and the timer use;
 * a broken version is refused and the old one stays. No sockets, no sleeps: reload() is called directly.
 */
import { mkdtempSync, rmSync, writeFileSync, readFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Broker, Client, createLogger, MdpErrorCode, resolveConfig, type MdpError } from '../../src/mdp/mod.ts';
import { openBrokerSecurity } from '../../src/mdp/node.ts';

const dir = mkdtempSync(join(tmpdir(), 'pz-sec-setup-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(file: string, text: string): void {
  writeFileSync(`${file}.tmp`, text);
  renameSync(`${file}.tmp`, file);
}

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('broker security set-up', () => {
  it('re-reads broker.access from the config file it came from; a broken version keeps the old one', async () => {
    const file = join(dir, 'broker.yaml');
    const v1 = 'broker:\n  reload_interval: 0\n  access:\n    rules:\n      - service: echo\n        request: any\n';
    write(file, v1);
    const config = resolveConfig({ yaml: readFileSync(file, 'utf8'), yamlPath: file });
    const lines: string[] = [];
    const security = await openBrokerSecurity(config.broker, { logger: createLogger({ level: 'info', format: 'json', write: (l) => lines.push(l) }), configFile: file });
    try {
      const access = security.access!;
      expect(security.socketOptions).toEqual({}); // no CURVE, PLAIN or address list: no ZAP either
      expect(access.request(undefined, enc('echo'), [enc('')])).toBeUndefined();
      expect(await security.reload(false)).toEqual({ policy: 'unchanged', certificates: 'none' });
      write(file, v1.replace('request: any', 'request: none'));
      expect(await security.reload(false)).toEqual({ policy: 'reloaded', certificates: 'none' });
      expect(access.request(undefined, enc('echo'), [enc('')])).toEqual({ who: { roles: [] }, rule: 'rules[0] service "echo"' });
      write(file, 'broker:\n  access:\n    rules: [{ service: echo }]\n');
      const r = await security.reload(false);
      expect(r).toEqual({ policy: 'rejected', certificates: 'none', issues: [`${file}: broker.access.rules[0]: needs request, serve or both`] });
      expect(access.request(undefined, enc('echo'), [enc('')])).toBeDefined(); // version 2 still in force
      expect(access.metrics()).toMatchObject({ reloads: 1, rejected: 1, policy: { version: 2, source: `${file}: broker.access` } });
      const policyLines = lines.map((l) => (JSON.parse(l) as { msg: string }).msg).filter((m) => m.startsWith('access policy'));
      expect(policyLines).toEqual(['access policy loaded', 'access policy rejected: keeping the one in force']);
    } finally {
      await security.close();
    }
  });

  it('a Broker in code: an inline policy from options, enforced with the denial answer, reloadSecurity()', async () => {
    const broker = new Broker({ access: { default: 'deny', rules: [{ service: 'open', request: 'any' }] }, heartbeatInterval: 100 });
    const ep = await broker.bind('tcp://127.0.0.1:*');
    const client = new Client(ep, { timeout: 5000, retries: 0 });
    try {
      const err = (await client.request('closed', 'x').catch((e: MdpError) => e)) as MdpError;
      expect([err.code, err.service]).toEqual([MdpErrorCode.ACCESS_DENIED, 'closed']);
      // no file to read again: nothing changes
      expect(await broker.reloadSecurity()).toEqual({ policy: 'none', certificates: 'none' });
      expect(broker.metrics().access?.services?.closed).toEqual({ requestAllowed: 0, requestDenied: 1, serveAllowed: 0, serveDenied: 0 });
    } finally {
      client.close();
      await broker.close(0);
    }
  });
});

/**
 * Durable requests end to end: the real `purezmq broker --data-dir` process, driven by Majordomo peers
 * written on libzmq (durable.peers.ts), killed with SIGKILL at chosen and at random moments, and started
 * again on the same directory and endpoint. Checks what RFC 9 and the README promise: an acknowledged
 * Titanic request is never lost and is executed; a plain request the broker took is served after the
 * restart, once, to the same client identity; stored replies survive further kills.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCli, libMmi, runCli, startBroker, waitFor, type BrokerProcess } from './helpers.ts';
import { NamedClient, ReviveWorker, titanic } from './durable.peers.ts';
import { Client } from '../../src/mdp/mod.ts';

let cli: string;
let cleanup: () => void;
const dirs: string[] = [];
const brokers: BrokerProcess[] = [];
const stops: (() => unknown)[] = [];

beforeAll(() => {
  ({ cli, cleanup } = buildCli());
}, 60_000);

afterEach(async () => {
  for (const s of stops.splice(0).reverse()) await s();
  for (const b of brokers.splice(0)) await b.stop('SIGKILL');
});

afterAll(() => {
  cleanup?.();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function dataDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'pz-durable-'));
  dirs.push(d);
  return d;
}

const HB = ['--heartbeat-interval', '100', '--heartbeat-liveness', '20', '--retry-backoff', '20'];

async function broker(dir: string, endpoint = 'tcp://127.0.0.1:*', extra: string[] = []): Promise<BrokerProcess> {
  const b = await startBroker(cli, ['--bind', endpoint, '--data-dir', dir, ...HB, ...extra]);
  brokers.push(b);
  return b;
}

/** SIGKILL, then start again on the same directory and endpoint. */
async function crashAndRestart(b: BrokerProcess, dir: string, extra: string[] = []): Promise<BrokerProcess> {
  await b.stop('SIGKILL');
  brokers.splice(brokers.indexOf(b), 1);
  return broker(dir, b.endpoint, extra);
}

async function metrics(ep: string): Promise<{ requests: Record<string, number>; lifecycle: Record<string, number> }> {
  const [code, doc] = await libMmi(ep, 'mmi.broker');
  expect(code).toBe('200');
  return JSON.parse(doc!);
}

describe('purezmq broker --data-dir, killed with SIGKILL', () => {
  it('executes every acknowledged Titanic request after a restart, and its reply survives two more kills', async () => {
    const dir = dataDir();
    let b = await broker(dir);
    const uuids: string[] = [];
    for (let i = 0; i < 20; i++) {
      const r = await titanic(b.endpoint, 'titanic.request', ['t-echo', `job-${i}`]);
      expect(r?.[0]).toBe('200');
      uuids.push(r![1]!);
    }
    b = await crashAndRestart(b, dir);
    await waitFor(() => /store recovered.*requests=20 queued=20/.test(b.stderr()), 'the recovery line', 15_000);
    const w = new ReviveWorker(b.endpoint, 't-echo', (body) => [Buffer.from(`done:${body[0]}`)]);
    stops.push(() => w.stop());
    for (const [i, uuid] of uuids.entries()) {
      await waitFor(async () => (await titanic(b.endpoint, 'titanic.reply', [uuid]))?.[0] === '200', `reply ${i}`, 10_000);
    }
    expect([...w.served].sort()).toEqual(uuids.map((_, i) => `job-${i}`).sort());
    // replies are on disk: two more kills, and titanic.reply still answers them
    b = await crashAndRestart(b, dir);
    b = await crashAndRestart(b, dir);
    await waitFor(() => /titanicReplies=20/.test(b.stderr()), 'the recovery line', 15_000);
    for (const [i, uuid] of uuids.entries()) expect(await titanic(b.endpoint, 'titanic.reply', [uuid])).toEqual(['200', `done:job-${i}`]);
    // close is stored too, and unknown UUIDs get the RFC's answers
    expect(await titanic(b.endpoint, 'titanic.close', [uuids[0]!])).toEqual(['200']);
    b = await crashAndRestart(b, dir);
    expect(await titanic(b.endpoint, 'titanic.reply', [uuids[0]!])).toEqual(['400']);
    expect(await titanic(b.endpoint, 'titanic.reply', [uuids[1]!])).toEqual(['200', 'done:job-1']);
    expect(await titanic(b.endpoint, 'titanic.close', ['0123456789abcdef0123456789abcdef'])).toEqual(['200']);
    expect(w.served).toHaveLength(20); // nothing ran twice: every reply was on disk before the kills
  });

  it('serves every plain request it took before the kill after the restart, once, to the same client identity', async () => {
    const dir = dataDir();
    let b = await broker(dir);
    const clients = ['alpha', 'beta', 'gamma'].map((name) => new NamedClient(b.endpoint, `client-${name}`));
    stops.push(...clients.map((c) => () => c.close()));
    for (const [n, c] of clients.entries()) for (let i = 0; i < 5; i++) await c.send('p-echo', `c${n}-r${i}`);
    // queued (there is no worker yet) means journalled: the broker queues a request once it is stored
    await waitFor(async () => (await metrics(b.endpoint)).requests.queued === 15, '15 queued requests', 15_000);
    b = await crashAndRestart(b, dir);
    // stderr may come after stdout's "listening on"
    await waitFor(() => /requests=15 queued=15/.test(b.stderr()), 'the recovery line', 15_000);
    const w = new ReviveWorker(b.endpoint, 'p-echo', (body) => body);
    stops.push(() => w.stop());
    for (const [n, c] of clients.entries()) for (let i = 0; i < 5; i++) expect(await c.waitFor(`c${n}-r${i}`, 10_000)).toBe(true);
    // no second copy turns up
    await new Promise((r) => setTimeout(r, 300));
    for (const [n, c] of clients.entries()) {
      expect(c.replies).toHaveLength(5);
      for (let i = 0; i < 5; i++) expect(c.count(`c${n}-r${i}`)).toBe(1);
    }
    expect(w.served).toHaveLength(15);
  });

  it('loses nothing it acknowledged when killed at random moments under load', async () => {
    const dir = dataDir();
    let b = await broker(dir);
    const ep = b.endpoint;
    const w = new ReviveWorker(ep, 'load', async (body) => {
      await new Promise((r) => setTimeout(r, 1));
      return body;
    });
    stops.push(() => w.stop());
    const clients = [0, 1, 2].map((n) => new NamedClient(ep, `load-client-${n}`));
    stops.push(...clients.map((c) => () => c.close()));
    let running = true;
    let resends = 0;
    const sent: string[][] = clients.map(() => []);
    // each client: one request at a time, unique bodies; no reply in 8 s (the request was never
    // taken, or its reply was lost in the instant between recording and sending it) → send again
    const drive = clients.map(async (c, n) => {
      for (let i = 0; running; i++) {
        const body = `c${n}-${i}`;
        sent[n]!.push(body);
        await c.send('load', body);
        while (!(await c.waitFor(body, 8000))) {
          resends++;
          await c.send('load', body);
        }
      }
    });
    const acked: string[] = [];
    const submit = (async () => {
      for (let i = 0; running; i++) {
        const r = await titanic(ep, 'titanic.request', ['load', `t-${i}`], 2000);
        if (r?.[0] === '200') acked.push(r[1]!);
      }
    })();
    for (let round = 0; round < 3; round++) {
      await new Promise((r) => setTimeout(r, 200 + Math.floor(Math.random() * 400)));
      b = await crashAndRestart(b, dir);
    }
    await new Promise((r) => setTimeout(r, 300));
    running = false;
    await Promise.all([...drive, submit]);
    for (const [n, c] of clients.entries()) {
      for (const body of sent[n]!) expect(c.count(body), body).toBe(1);
    }
    expect(acked.length).toBeGreaterThan(0);
    for (const uuid of acked) {
      await waitFor(async () => (await titanic(ep, 'titanic.reply', [uuid]))?.[0] === '200', `titanic reply ${uuid}`, 10_000);
    }
    const served = new Set(w.served);
    for (const n of clients.keys()) for (const body of sent[n]!) expect(served.has(body)).toBe(true);
    expect(resends).toBeLessThanOrEqual(3); // at most one request per kill was never taken or lost its reply
  }, 60_000);

  it('purezmq Client with a routingId collects its reply after the broker restarts, without sending the request again', async () => {
    const dir = dataDir();
    let b = await broker(dir);
    let calls = 0;
    const w = new ReviveWorker(b.endpoint, 'slow-once', async (body) => {
      // the first run is still busy when the broker dies; the run after the restart answers
      if (++calls === 1) await new Promise((r) => setTimeout(r, 60_000));
      return [Buffer.from(`ok:${body[0]}`)];
    });
    stops.push(() => w.stop());
    const client = new Client(b.endpoint, { routingId: 'durable-client', timeout: 1500, retries: 5 });
    stops.push(() => client.close());
    const reply = client.request('slow-once', 'payload');
    await waitFor(() => calls === 1, 'the first dispatch', 15_000);
    b = await crashAndRestart(b, dir);
    expect((await reply).map(String)).toEqual(['ok:payload']);
    expect(calls).toBe(2); // at-least-once: the run the crash cut short, and the one after the restart
    const m = await metrics(b.endpoint);
    expect(m.lifecycle.accepted).toBe(0); // the restarted broker never saw the request again: it replayed it
    expect(m.lifecycle.delivered).toBe(1);
  });

  it('SIGTERM keeps what it could not finish for the next start', async () => {
    const dir = dataDir();
    let b = await broker(dir, 'tcp://127.0.0.1:*', ['--shutdown-grace', '200ms']);
    const c = new NamedClient(b.endpoint, 'term-client');
    stops.push(() => c.close());
    for (let i = 0; i < 3; i++) await c.send('after-term', `t${i}`);
    await waitFor(async () => (await metrics(b.endpoint)).requests.queued === 3, 'three queued', 15_000);
    expect(await b.stop('SIGTERM')).toBe(0);
    brokers.splice(brokers.indexOf(b), 1);
    expect(b.stderr()).toMatch(/requests kept for the next start queued=3/);
    b = await broker(dir, b.endpoint);
    await waitFor(() => /requests=3 queued=3/.test(b.stderr()), 'the recovery line', 15_000);
    const w = new ReviveWorker(b.endpoint, 'after-term', (body) => body);
    stops.push(() => w.stop());
    for (let i = 0; i < 3; i++) expect(await c.waitFor(`t${i}`, 10_000)).toBe(true);
  });

  it('refuses a second broker on the same data directory', async () => {
    const dir = dataDir();
    await broker(dir);
    const second = await runCli(cli, ['broker', '--bind', 'tcp://127.0.0.1:*', '--data-dir', dir]);
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/MDP_STORE_LOCKED|in use/);
  });

  it('stops on a damaged journal naming the file and offset, and starts with --repair', async () => {
    const dir = dataDir();
    let b = await broker(dir, 'tcp://127.0.0.1:*', ['--segment-bytes', '4KiB']);
    for (let i = 0; i < 40; i++) expect((await titanic(b.endpoint, 'titanic.request', ['nobody', `x${i}`.padEnd(200, '.')]))?.[0]).toBe('200');
    await b.stop('SIGKILL');
    brokers.splice(brokers.indexOf(b), 1);
    const segments = readdirSync(dir).filter((f) => f.startsWith('seg-')).sort();
    expect(segments.length).toBeGreaterThan(1);
    const victim = join(dir, segments[0]!);
    const bytes = readFileSync(victim);
    bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
    writeFileSync(victim, bytes);
    const refused = await runCli(cli, ['broker', '--bind', 'tcp://127.0.0.1:*', '--data-dir', dir]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(segments[0]!);
    expect(refused.stderr).toMatch(/at byte \d+/);
    expect(refused.stderr).toMatch(/--repair/);
    b = await broker(dir, 'tcp://127.0.0.1:*', ['--repair']);
    await waitFor(() => /quarantine/.test(b.stderr()), 'the repair report', 15_000);
    expect(readdirSync(join(dir, 'quarantine'))).toHaveLength(1);
  });

  it('purezmq titanic request|reply|close|call, with their exit codes', async () => {
    const dir = dataDir();
    const b = await broker(dir);
    const ep = ['--broker', b.endpoint];
    const req = await runCli(cli, ['titanic', 'request', 'cli-upper', 'hello', ...ep]);
    expect(req.code).toBe(0);
    const uuid = req.stdout.trim();
    expect(uuid).toMatch(/^[0-9A-F]{32}$/);
    const pending = await runCli(cli, ['titanic', 'reply', uuid, ...ep]);
    expect([pending.code, pending.stderr]).toEqual([6, expect.stringMatching(/300/)]);
    const w = new ReviveWorker(b.endpoint, 'cli-upper', (body) => body.map((f) => Buffer.from(f.toString().toUpperCase())));
    stops.push(() => w.stop());
    const waited = await runCli(cli, ['titanic', 'reply', uuid, '--wait', '--wait-timeout', '10s', ...ep]);
    expect([waited.code, waited.stdout]).toEqual([0, 'HELLO\n']);
    expect((await runCli(cli, ['titanic', 'close', uuid, ...ep])).code).toBe(0);
    const gone = await runCli(cli, ['titanic', 'reply', uuid, ...ep]);
    expect([gone.code, gone.stderr]).toEqual([5, expect.stringMatching(/400/)]);
    const call = await runCli(cli, ['titanic', 'call', 'cli-upper', 'a', 'b', ...ep]);
    expect([call.code, call.stdout]).toEqual([0, 'A\nB\n']);
    const bad = await runCli(cli, ['titanic', 'request', 'mmi.service', 'x', ...ep]);
    expect([bad.code, bad.stderr]).toEqual([5, expect.stringMatching(/400/)]);
  });

  it('lists, replays and purges dead letters from the CLI (purezmq dlq)', async () => {
    const dir = dataDir();
    let b = await broker(dir, 'tcp://127.0.0.1:*', ['--request-timeout', '200ms']);
    const c = new NamedClient(b.endpoint, 'dlq-client');
    stops.push(() => c.close());
    await c.send('later', 'one');
    await c.send('later', 'two');
    await waitFor(async () => (await metrics(b.endpoint)).requests.deadLetters === 2, 'two dead letters', 15_000);
    b = await crashAndRestart(b, dir, ['--request-timeout', '200ms']); // dead letters are on disk too
    // A dead letter is listed as soon as it is made, and its record synced a moment later: one killed
    // in between comes back as the live request it was, and expires into the dead letters again.
    await waitFor(async () => (await metrics(b.endpoint)).requests.deadLetters === 2, 'two dead letters after the restart', 15_000);
    const list = await runCli(cli, ['dlq', 'list', '--broker', b.endpoint, '--json']);
    expect(list.code).toBe(0);
    const page = JSON.parse(list.stdout) as { total: number; items: { uuid: string; reason: string; service: string }[] };
    expect(page.total).toBe(2);
    expect(page.items.map((d) => [d.service, d.reason])).toEqual([['later', 'expired'], ['later', 'expired']]);
    const table = await runCli(cli, ['dlq', 'list', '--broker', b.endpoint]);
    expect(table.stdout).toMatch(/UUID\s+KIND\s+SERVICE\s+REASON/);
    const w = new ReviveWorker(b.endpoint, 'later', (body) => body);
    stops.push(() => w.stop());
    const replay = await runCli(cli, ['dlq', 'replay', page.items[0]!.uuid, '--broker', b.endpoint]);
    expect([replay.code, replay.stdout.trim()]).toEqual([0, 'replayed 1']);
    expect(await c.waitFor('one', 5000)).toBe(true); // the same client identity, across the restart
    const purge = await runCli(cli, ['dlq', 'purge', '--all', '--broker', b.endpoint]);
    expect([purge.code, purge.stdout.trim()]).toEqual([0, 'purged 1']);
    const none = await runCli(cli, ['dlq', 'purge', page.items[1]!.uuid, '--broker', b.endpoint]);
    expect(none.code).toBe(5);
    expect(c.count('two')).toBe(0);
  });
});

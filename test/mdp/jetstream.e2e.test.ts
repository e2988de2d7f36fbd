/**
 * The JetStream store end to end: real `purezmq broker --store nats://…` processes sharing one store,
 * real nats-servers (test/_helpers/nats.ts), Majordomo peers on libzmq (durable.peers.ts). What the
 * issue promises: a Titanic request acknowledged (200) by a broker that is then killed for good is
 * executed by a worker on another broker and answered there; titanic.reply and titanic.close work
 * for any UUID on any broker; a NATS that is down gives 500, not a hang; with a 3-node NATS cluster
 * and replicas 3, losing one NATS node and one broker (holding a request on its worker) loses no
 * acknowledged request.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildCli, libMmi, startBroker, waitFor, type BrokerProcess } from './helpers.ts';
import { NamedClient, ReviveWorker, titanic } from './durable.peers.ts';
import { startNats, startNatsCluster, type NatsSetup } from '../_helpers/nats.ts';

let cli: string;
let cleanup: () => void;
const brokers: BrokerProcess[] = [];
const stops: (() => unknown)[] = [];
const nats: NatsSetup[] = [];
let seq = 0;

beforeAll(() => {
  ({ cli, cleanup } = buildCli());
}, 60_000);

afterEach(async () => {
  for (const s of stops.splice(0).reverse()) await s();
  for (const b of brokers.splice(0)) await b.stop('SIGKILL');
  for (const n of nats.splice(0)) await n.cleanup();
});

afterAll(() => cleanup?.());

const HB = ['--heartbeat-interval', '100', '--heartbeat-liveness', '20', '--retry-backoff', '20'];

async function broker(store: string, node: string, extra: string[] = []): Promise<BrokerProcess> {
  const b = await startBroker(cli, ['--bind', 'tcp://127.0.0.1:*', '--store', store, '--node-id', node, '--store-stream', `E${seq}`, '--store-bucket', `e${seq}`, '--max-store-bytes', '8MiB', ...HB, ...extra]);
  brokers.push(b);
  return b;
}

async function kill(b: BrokerProcess): Promise<void> {
  await b.stop('SIGKILL');
  brokers.splice(brokers.indexOf(b), 1);
}

/** The name of the NATS server that leads a stream's replicas. */
async function streamLeader(url: string, stream: string): Promise<string> {
  const { connect } = await import('@nats-io/transport-node');
  const { jetstreamManager } = await import('@nats-io/jetstream');
  const nc = await connect({ servers: url });
  try {
    const info = await (await jetstreamManager(nc)).streams.info(stream);
    return info.cluster!.leader!;
  } finally {
    await nc.close();
  }
}

/** titanic.reply on `endpoint` until it answers 200; the reply frames. */
async function replyOf(endpoint: string, uuid: string, ms = 15_000): Promise<string[]> {
  let last: string[] | undefined;
  await waitFor(async () => (last = await titanic(endpoint, 'titanic.reply', [uuid]))?.[0] === '200', `the reply to ${uuid} (last: ${JSON.stringify(last)})`, ms);
  return last!.slice(1);
}

/**
 * Starts a broker with a module loader hook that writes the URL of every ES module the process
 * loads to a file, runs one Titanic round trip through it, stops it, and returns those URLs.
 */
async function loadedModules(args: string[]): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'pz-loaded-'));
  try {
    const list = join(dir, 'loaded.txt');
    writeFileSync(list, '');
    writeFileSync(join(dir, 'hooks.mjs'), `import { appendFileSync } from 'node:fs';\nexport async function load(url, context, next) { appendFileSync(${JSON.stringify(list)}, url + '\\n'); return next(url, context); }\n`);
    writeFileSync(join(dir, 'register.mjs'), `import { register } from 'node:module';\nregister(${JSON.stringify(`file://${join(dir, 'hooks.mjs')}`)});\n`);
    const before = process.env.NODE_OPTIONS;
    process.env.NODE_OPTIONS = `${before ?? ''} --import=${join(dir, 'register.mjs')}`.trim();
    let b: BrokerProcess;
    try {
      b = await startBroker(cli, ['--bind', 'tcp://127.0.0.1:*', ...args]);
    } finally {
      if (before === undefined) delete process.env.NODE_OPTIONS;
      else process.env.NODE_OPTIONS = before;
    }
    brokers.push(b);
    expect((await titanic(b.endpoint, 'titanic.request', ['nobody', 'x']))?.[0]).toBe('200');
    await b.stop('SIGTERM');
    brokers.splice(brokers.indexOf(b), 1);
    return readFileSync(list, 'utf8').split('\n').filter((l) => l !== '');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('loading', () => {
  it('a broker without --store nats:// never loads the NATS client or the JetStream store; one with it does', async () => {
    const plain = await loadedModules([]);
    expect(plain.some((u) => u.endsWith('/broker/broker.js'))).toBe(true); // the hook sees the modules loaded
    expect(plain.filter((u) => /\/@nats-io\/|\/store\/jetstream\.js$/.test(u))).toEqual([]);
    seq++;
    const n = await startNats();
    nats.push(n);
    const shared = await loadedModules(['--store', n.storeUrl, '--store-stream', `E${seq}`, '--store-bucket', `e${seq}`, '--max-store-bytes', '8MiB']);
    expect(shared.some((u) => u.endsWith('/store/jetstream.js'))).toBe(true);
    expect(shared.some((u) => u.includes('/@nats-io/transport-node/'))).toBe(true);
  }, 30_000);
});

describe('purezmq broker --store nats:// (one NATS server)', () => {
  it('a request broker A acknowledged and then died with is executed on broker B and answered by any broker; close and unknown UUIDs; NATS down is 500', async () => {
    seq++;
    const n = await startNats();
    nats.push(n);
    const a = await broker(n.storeUrl, 'a');
    const b = await broker(n.storeUrl, 'b');
    expect(a.stderr()).toMatch(/store=.?jetstream nats:\/\/127\.0\.0\.1/);
    const uuids: string[] = [];
    for (let i = 0; i < 8; i++) {
      const r = await titanic(a.endpoint, 'titanic.request', ['js-echo', `job-${i}`, 'x']);
      expect(r?.[0]).toBe('200');
      uuids.push(r![1]!);
    }
    // pending on both brokers: B answers for requests A accepted
    expect(await titanic(b.endpoint, 'titanic.reply', [uuids[0]!])).toEqual(['300']);
    expect(await titanic(a.endpoint, 'titanic.reply', [uuids[0]!])).toEqual(['300']);
    await kill(a); // for good: its machine is gone
    const w = new ReviveWorker(b.endpoint, 'js-echo', (body) => [Buffer.from(`done:${body[0]}`), body[1] ?? Buffer.alloc(0)]);
    stops.push(() => w.stop());
    for (const [i, uuid] of uuids.entries()) expect(await replyOf(b.endpoint, uuid)).toEqual([`done:job-${i}`, 'x']);
    expect([...w.served].sort()).toEqual(uuids.map((_, i) => `job-${i}`).sort());

    // a broker that joins later answers too: the replies are in the store, not in B
    const c = await broker(n.storeUrl, 'c');
    expect(await titanic(c.endpoint, 'titanic.reply', [uuids[3]!.toLowerCase()])).toEqual(['200', 'done:job-3', 'x']);
    expect(await titanic(c.endpoint, 'titanic.close', [uuids[3]!])).toEqual(['200']);
    expect(await titanic(b.endpoint, 'titanic.reply', [uuids[3]!])).toEqual(['400']);
    expect(await titanic(b.endpoint, 'titanic.reply', ['0123456789ABCDEF0123456789ABCDEF'])).toEqual(['400']);
    expect(await titanic(b.endpoint, 'titanic.close', ['0123456789ABCDEF0123456789ABCDEF'])).toEqual(['200']);

    // a request C accepts while B has the worker runs on B
    const r = await titanic(c.endpoint, 'titanic.request', ['js-echo', 'late']);
    expect(r?.[0]).toBe('200');
    expect(await replyOf(c.endpoint, r![1]!)).toEqual(['done:late', '']);

    // NATS gone: the store answers 500 in bounded time, never a hang (the client waits up to 15 s)
    await n.servers[0]!.stop('SIGKILL');
    const t = Date.now();
    expect((await titanic(c.endpoint, 'titanic.request', ['js-echo', 'nats-down'], 15_000))?.[0]).toMatch(/^500 /);
    expect((await titanic(c.endpoint, 'titanic.reply', [uuids[5]!], 15_000))?.[0]).toMatch(/^500 /);
    expect(Date.now() - t).toBeLessThan(14_000);
  }, 60_000);
});

describe('purezmq broker --store nats:// (plain requests)', () => {
  it('plain requests a broker took are replayed from its node journal by the broker started again with its --node-id', async () => {
    seq++;
    const n = await startNats();
    nats.push(n);
    const a = await broker(n.storeUrl, 'plain-a');
    const client = new NamedClient(a.endpoint, 'js-client');
    stops.push(() => client.close());
    for (let i = 0; i < 5; i++) await client.send('js-plain', `p${i}`);
    // queued means journalled: the broker queues a request once the store holds it
    await waitFor(async () => JSON.parse((await libMmi(a.endpoint, 'mmi.broker'))[1]!).requests.queued === 5, '5 queued requests', 10_000);
    await kill(a);
    const again = await startBroker(cli, ['--bind', a.endpoint, '--store', n.storeUrl, '--node-id', 'plain-a', '--store-stream', `E${seq}`, '--store-bucket', `e${seq}`, '--max-store-bytes', '8MiB', ...HB]);
    brokers.push(again);
    await waitFor(() => /store recovered.*requests=5 queued=5/.test(again.stderr()), 'the recovery line', 15_000);
    const w = new ReviveWorker(again.endpoint, 'js-plain', (body) => body);
    stops.push(() => w.stop());
    for (let i = 0; i < 5; i++) expect(await client.waitFor(`p${i}`, 10_000)).toBe(true);
    expect(w.served).toHaveLength(5);
    // delivered: gone from the journal, another restart replays nothing
    await kill(again);
    const third = await broker(n.storeUrl, 'plain-a');
    await waitFor(() => /store recovered.*requests=0/.test(third.stderr()), 'the recovery line', 15_000);
  }, 40_000);
});

describe('purezmq broker --store nats:// (retries)', () => {
  it('a request whose brokers keep getting lost is dead-lettered past --max-retries, seen by titanic.reply on any broker, and can be replayed', async () => {
    seq++;
    const n = await startNats();
    nats.push(n);
    const opts = ['--max-retries', '0', '--store-ack-wait', '1000'];
    const a = await broker(n.storeUrl, 'a', opts);
    const stuck = new ReviveWorker(a.endpoint, 'js-doomed', () => new Promise<Buffer[]>(() => undefined));
    stops.push(() => stuck.stop());
    const r = await titanic(a.endpoint, 'titanic.request', ['js-doomed', 'poison']);
    expect(r?.[0]).toBe('200');
    const uuid = r![1]!;
    await waitFor(() => stuck.served.length === 1, "A's worker taking the request", 10_000);
    await kill(a);
    stuck.stop();
    const b = await broker(n.storeUrl, 'b', opts);
    const w = new ReviveWorker(b.endpoint, 'js-doomed', (body) => [Buffer.from(`done:${body[0]}`)]);
    stops.push(() => w.stop());
    // B takes it after AckWait: a lost broker counts as a failed dispatch, and max_retries is 0
    await waitFor(async () => (await titanic(b.endpoint, 'titanic.reply', [uuid]))?.[0] === '400 dead-lettered: retries-exhausted', 'the dead letter', 10_000);
    expect(w.served).toEqual([]);
    const c = await broker(n.storeUrl, 'c', opts);
    expect(await titanic(c.endpoint, 'titanic.reply', [uuid])).toEqual(['400 dead-lettered: retries-exhausted']);
    const [code, list] = await libMmi(b.endpoint, 'mmi.dlq.list');
    expect(code).toBe('200');
    expect(JSON.parse(list!).items).toEqual([expect.objectContaining({ uuid, reason: 'retries-exhausted' })]);
    // replayed, it goes back to the shared queue and runs on B's worker
    const [rc, replayed] = await libMmi(b.endpoint, 'mmi.dlq.replay', [uuid]);
    expect([rc, JSON.parse(replayed!).replayed]).toEqual(['200', 1]);
    expect(await replyOf(c.endpoint, uuid)).toEqual(['done:poison']);
  }, 40_000);
});

describe('purezmq broker --store nats:// --store-replicas 3 (3-node NATS cluster)', () => {
  it('loses no acknowledged request when one NATS node and one broker (with a request on its worker) are killed', async () => {
    seq++;
    const n = await startNatsCluster(3);
    nats.push(n);
    const opts = ['--store-replicas', '3', '--store-ack-wait', '1500'];
    const a = await broker(n.storeUrl, 'a', opts);
    const b = await broker(n.storeUrl, 'b', opts);
    // A's worker takes one request and never answers: the request is in progress on A when A dies
    const stuck = new ReviveWorker(a.endpoint, 'js-work', () => new Promise<Buffer[]>(() => undefined));
    stops.push(() => stuck.stop());
    const uuids: string[] = [];
    for (let i = 0; i < 10; i++) {
      const r = await titanic(i % 2 ? b.endpoint : a.endpoint, 'titanic.request', ['js-work', `job-${i}`]);
      expect(r?.[0]).toBe('200');
      uuids.push(r![1]!);
    }
    await waitFor(() => stuck.served.length === 1, "A's worker taking a request", 10_000);
    // the NATS node that leads the request stream goes, with broker A
    const leader = await streamLeader(n.servers[1]!.url, `E${seq}`);
    const victim = n.servers.find((s) => s.name === leader)!;
    expect(victim).toBeDefined();
    await victim.stop('SIGKILL');
    await kill(a);
    stuck.stop();
    // B goes on taking requests on the two NATS nodes left (once they have elected a new leader)
    for (let i = 10; i < 14; i++) {
      let r: string[] | undefined;
      await waitFor(async () => (r = await titanic(b.endpoint, 'titanic.request', ['js-work', `job-${i}`], 15_000))?.[0] === '200', `request ${i} after the NATS node died (last: ${JSON.stringify(r)})`, 30_000);
      uuids.push(r![1]!);
    }
    const w = new ReviveWorker(b.endpoint, 'js-work', (body) => [Buffer.from(`done:${body[0]}`)]);
    stops.push(() => w.stop());
    for (const [i, uuid] of uuids.entries()) expect(await replyOf(b.endpoint, uuid, 20_000)).toEqual([`done:job-${i}`]);
    // the one A held ran again on B, after AckWait; the others once
    expect([...w.served].sort()).toEqual(uuids.map((_, i) => `job-${i}`).sort());
  }, 90_000);
});

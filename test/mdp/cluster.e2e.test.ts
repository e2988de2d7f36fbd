/**
 * Broker clustering end to end: real `purezmq broker` processes on loopback joined over PZC01, and
 * Majordomo peers on libzmq (cluster.peers.ts). Short heartbeats (100 ms) keep failure detection fast.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { buildCli, libMmi, libRequest01, libRequest02, runCli, startBroker, waitFor, type BrokerProcess } from './helpers.ts';
import { Client02, StreamWorker } from './cluster.peers.ts';
import { NamedClient } from './durable.peers.ts';
import { newCertificate, writeCertificatePair } from '../../src/mdp/security/certfile.ts';
import { Client, Worker } from '../../src/mdp/mod.ts';

let cli: string;
let cleanup: () => void;
const brokers: BrokerProcess[] = [];
const stops: (() => unknown)[] = [];
const dirs: string[] = [];

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

const FAST = ['--cluster-heartbeat', '100', '--cluster-liveness', '5', '--heartbeat-interval', '100', '--retry-backoff', '20', '--retry-backoff-max', '100'];

interface Node {
  b: BrokerProcess;
  id: string;
  /** Client endpoint. */
  ep: string;
  /** Cluster endpoint. */
  cluster: string;
}

async function node(id: string, peers: Node[], extra: string[] = [], bind = 'tcp://127.0.0.1:*'): Promise<Node> {
  const args = ['--bind', bind, '--cluster-bind', 'tcp://127.0.0.1:*', '--node-id', id, ...peers.flatMap((p) => ['--peer', p.cluster]), ...FAST, ...extra];
  const b = await startBroker(cli, args);
  brokers.push(b);
  await waitFor(() => /^cluster on /m.test(b.stdout()), `${id}'s cluster line`);
  const cluster = /^cluster on (\S+)/m.exec(b.stdout())![1]!;
  return { b, id, ep: b.endpoint, cluster };
}

interface ClusterDoc {
  node: string;
  members: { id: string; self: boolean; state: string; clientEndpoints: string[]; services: Record<string, { idle: number }> }[];
  counters: Record<string, number>;
  curve: boolean;
}

async function clusterView(n: Node): Promise<ClusterDoc> {
  const [code, doc] = await libMmi(n.ep, 'mmi.cluster');
  expect(code).toBe('200');
  return JSON.parse(doc!) as ClusterDoc;
}

async function aliveMembers(n: Node): Promise<string[]> {
  return (await clusterView(n)).members.filter((m) => !m.self && m.state === 'alive').map((m) => m.id).sort();
}

/** Waits until `n` sees `service` with an idle worker on each of `members`. */
async function seesService(n: Node, service: string, members: string[]): Promise<void> {
  await waitFor(async () => {
    const v = await clusterView(n);
    return members.every((id) => (v.members.find((m) => m.id === id)?.services[service]?.idle ?? 0) > 0);
  }, `${n.id} to see ${service} on ${members.join(',')}`);
}

function worker(n: Node, service: string, options: { name: string; partials?: number; delayMs?: number }): StreamWorker {
  const w = new StreamWorker(n.ep, service, options);
  stops.push(() => w.stop());
  return w;
}

function client(n: Node): Client02 {
  const c = new Client02(n.ep);
  stops.push(() => c.close());
  return c;
}

describe('purezmq broker --cluster-bind: federation', () => {
  it('a chain A←B←C joined through one peer each: all learn each other, and a client on A is served by a worker on C', async () => {
    const a = await node('A', []);
    const b = await node('B', [a]);
    const c = await node('C', [b]);
    for (const [n, others] of [
      [a, ['B', 'C']],
      [b, ['A', 'C']],
      [c, ['A', 'B']],
    ] as const) {
      await waitFor(async () => JSON.stringify(await aliveMembers(n)) === JSON.stringify(others), `${n.id} to know ${others.join(',')}`);
    }
    // client endpoints travel with the member records
    expect((await clusterView(a)).members.find((m) => m.id === 'C')!.clientEndpoints).toEqual([c.ep]);
    expect(a.b.stderr()).toMatch(/cluster: member joined node=A member=C/);

    worker(c, 'echo', { name: 'C' });
    await seesService(a, 'echo', ['C']);
    expect((await libMmi(a.ep, 'mmi.service', ['echo'])).at(-1)).toBe('200');
    expect(await libMmi(a.ep, 'mmi.workers', ['echo'])).toEqual(['200', '1', 'local=0', 'remote=1']);
    const services = await libMmi(a.ep, 'mmi.services', ['']);
    expect(services).toEqual(['200', '', 'echo']);

    const { replies } = await libRequest02(a.ep, 'echo', ['hello']);
    expect(replies.map((m) => m.slice(3).map(String))).toEqual([['hello', 'by C']]);
    const counters = (await clusterView(a)).counters;
    expect(counters.forwarded).toBe(1);
    expect((await clusterView(c)).counters.receivedFromPeers).toBe(1);
    const [, broker] = await libMmi(a.ep, 'mmi.broker');
    expect(JSON.parse(broker!).cluster).toMatchObject({ node: 'A', forwarded: 1, members: { alive: 2 } });
    // the operator's view: a table, or the document with --json
    const table = await runCli(cli, ['mmi', 'cluster', '--broker', a.ep]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^NODE +STATE +CLUSTER/m);
    expect(table.stdout).toMatch(new RegExp(`^C +alive +${c.cluster.replace(/[.*]/g, '\\$&')} +${c.ep.replace(/[.*]/g, '\\$&')} .* echo$`, 'm'));
    expect(table.stdout).toMatch(/forwarded 1, received 0, reforwarded 0, member deaths 0/);
    const json = await runCli(cli, ['mmi', 'cluster', '--json', '--broker', c.ep]);
    expect(JSON.parse(json.stdout).node).toBe('C');
    // a single broker has no cluster: 501, exit 5
    const single = await startBroker(cli, ['--bind', 'tcp://127.0.0.1:*']);
    brokers.push(single);
    const none = await runCli(cli, ['mmi', 'cluster', '--broker', single.endpoint]);
    expect(none.code).toBe(5);
    expect(none.stderr).toMatch(/not in a cluster/);
    expect(await libMmi(single.endpoint, 'mmi.workers', [''])).toEqual(['200', '0']);

    // PARTIALs across the hop: in order, in each client's own dialect
    worker(c, 'stream', { name: 'C', partials: 3 });
    await seesService(a, 'stream', ['C']);
    const streamed = await libRequest02(a.ep, 'stream', ['s1']);
    expect(streamed.replies.map((m) => [m[1]![0], ...m.slice(3).map(String)])).toEqual([
      [0x02, 's1', 'part-0'],
      [0x02, 's1', 'part-1'],
      [0x02, 's1', 'part-2'],
      [0x03, 's1', 'by C'],
    ]);
    // an MDP/0.1 client cannot take PARTIALs: one REPLY with every frame, in order
    const merged = await libRequest01(a.ep, 'stream', ['s2']);
    expect(merged.map(String)).toEqual(['MDPC01', 'stream', 's2', 'part-0', 's2', 'part-1', 's2', 'part-2', 's2', 'by C']);
  });

  it('spreads requests over workers on two brokers; no local worker on the client\'s broker', async () => {
    const a = await node('A', []);
    const b = await node('B', [a]);
    const c = await node('C', [a]);
    const wb = worker(b, 'slow', { name: 'B', delayMs: 40 });
    const wc = worker(c, 'slow', { name: 'C', delayMs: 40 });
    await seesService(a, 'slow', ['B', 'C']);
    const cl = client(a);
    const keys = Array.from({ length: 20 }, (_, i) => `r${i}`);
    for (const k of keys) await cl.send('slow', k);
    await waitFor(() => keys.every((k) => cl.finals(k).length === 1), 'every FINAL', 15_000);
    const by = keys.map((k) => cl.finals(k)[0]!.body[1]);
    expect(by.filter((x) => x === 'by B').length).toBeGreaterThan(2);
    expect(by.filter((x) => x === 'by C').length).toBeGreaterThan(2);
    expect(wb.served.length + wc.served.length).toBe(20);
  });

  it('a broker SIGKILLed with forwarded requests in flight: every request still gets its FINAL', async () => {
    const a = await node('A', []);
    const b = await node('B', [a]);
    const c = await node('C', [a]);
    const wb = worker(b, 'job', { name: 'B', delayMs: 300 });
    worker(c, 'job', { name: 'C', delayMs: 30 });
    await seesService(a, 'job', ['B', 'C']);
    const cl = client(a);
    const keys = Array.from({ length: 12 }, (_, i) => `j${i}`);
    for (const k of keys) await cl.send('job', k);
    await waitFor(() => wb.served.length > 0, 'B to take one');
    await b.b.stop('SIGKILL');
    await waitFor(() => keys.every((k) => cl.finals(k).length >= 1), 'every FINAL after the kill', 20_000);
    for (const k of keys) expect(cl.finals(k)[0]!.body[0]).toBe(k);
    const v = await clusterView(a);
    expect(v.counters.reforwarded).toBeGreaterThanOrEqual(1);
    await waitFor(async () => (await clusterView(a)).members.find((m) => m.id === 'B')?.state === 'dead', 'B dead at A');
    expect((await clusterView(a)).counters.memberDeaths).toBe(1);
    expect(a.b.stderr()).toMatch(/cluster: member dead node=A member=B/);
  });

  it("with --data-dir, a forwarded request stays in the origin's journal until its FINAL: killed and restarted, the origin runs it again and its client gets the reply once", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pz-cluster-'));
    dirs.push(dir);
    const b = await node('B', []);
    const a = await node('A', [b], ['--data-dir', dir]);
    const w = worker(b, 'dur', { name: 'B', delayMs: 400 });
    await seesService(a, 'dur', ['B']);
    const c = new NamedClient(a.ep, 'client-1');
    stops.push(() => c.close());
    await c.send('dur', 'd1');
    await waitFor(() => w.served.includes('d1'), 'B to run it');
    await a.b.stop('SIGKILL');
    brokers.splice(brokers.indexOf(a.b), 1);
    const a2 = await node('A', [b], ['--data-dir', dir], a.ep);
    await waitFor(() => /store recovered.*requests=1 queued=1/.test(a2.b.stderr()), 'the recovery line');
    expect(await c.waitFor('d1', 10_000)).toBe(true);
    // at-least-once: the first run's FINAL went to the dead incarnation; the journal ran it again
    expect(w.served.filter((x) => x === 'd1').length).toBe(2);
    await new Promise((r) => setTimeout(r, 300));
    expect(c.count('d1')).toBe(1);
    expect(c.replies[0]).toEqual(['dur', 'd1']);
  });

  it("CURVE on the cluster links beside CURVE for clients: the broker's own ZAP handler hands the cluster's domain over", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pz-cluster-'));
    dirs.push(dir);
    const certs: Record<string, { secret: string; publicKey: string }> = {};
    for (const name of ['a', 'b', 'ca', 'cb', 'x']) {
      const cert = newCertificate(name);
      const { secretFile } = await writeCertificatePair(join(dir, name), cert);
      certs[name] = { secret: secretFile, publicKey: cert.publicKey };
    }
    const keys = join(dir, 'cluster-keys');
    writeFileSync(keys, `${certs.a!.publicKey}\n${certs.b!.publicKey}\n`);
    const secured = (cluster: string, client: string) => ['--curve-cert', certs[client]!.secret, '--curve-clients', 'any', '--cluster-curve-secret-key-file', certs[cluster]!.secret, '--cluster-curve-peer-keys', keys];
    const a = await node('A', [], secured('a', 'ca'));
    // B names A's key by endpoint: a file of its own
    const keysB = join(dir, 'keys-b');
    writeFileSync(keysB, `${certs.a!.publicKey} ${a.cluster}\n${certs.b!.publicKey}\n`);
    const b = await node('B', [a], ['--curve-cert', certs.cb!.secret, '--curve-clients', 'any', '--cluster-curve-secret-key-file', certs.b!.secret, '--cluster-curve-peer-keys', keysB]);
    const wb = new Worker(b.ep, 'both', (req) => [new TextEncoder().encode('by B'), ...req], { heartbeatInterval: 100, curveServerKey: certs.cb!.publicKey });
    stops.push(() => wb.close());
    const client = new Client(a.ep, { timeout: 5000, curveServerKey: certs.ca!.publicKey });
    stops.push(() => client.close());
    await waitFor(async () => String((await client.request('mmi.service', 'both')).at(-1)) === '200', "A to see B's worker");
    expect((await client.request('both', 'x')).map(String)).toEqual(['by B', 'x']);
    expect(a.b.stderr()).toMatch(/mechanism=CURVE/);
    expect(a.b.stderr()).toMatch(/cluster: member joined node=A member=B/);
    // clients may bring any key; brokers may not: X's cluster key is not listed at A
    const keysX = join(dir, 'keys-x');
    writeFileSync(keysX, `${certs.a!.publicKey} ${a.cluster}\n`);
    const x = await node('X', [a], ['--cluster-curve-secret-key-file', certs.x!.secret, '--cluster-curve-peer-keys', keysX]);
    await waitFor(() => /cluster: (peer refused|authentication refused)/.test(a.b.stderr()), "A's refusal of X");
    const [, doc] = (await client.request('mmi.cluster', '')).map(String);
    expect(JSON.parse(doc!).members.map((m: { id: string }) => m.id).sort()).toEqual(['A', 'B']);
    expect(x.b.stderr()).not.toMatch(/member joined/);
  });

  it('a broker started before its seed joins when the seed comes up; a seed killed and restarted is dead, then rejoins', async () => {
    const port = await new Promise<number>((resolve) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const p = (srv.address() as AddressInfo).port;
        srv.close(() => resolve(p));
      });
    });
    const seed = `tcp://127.0.0.1:${port}`;
    const b = await node('B', [{ cluster: seed } as Node]);
    await new Promise((r) => setTimeout(r, 400)); // B knocks at a closed door a few times
    const a = await node('A', [], ['--cluster-bind', seed]);
    await waitFor(async () => JSON.stringify(await aliveMembers(b)) === '["A"]', 'B to know A');
    await a.b.stop('SIGKILL');
    brokers.splice(brokers.indexOf(a.b), 1);
    await waitFor(async () => (await clusterView(b)).members.find((m) => m.id === 'A')?.state === 'dead', 'A dead at B');
    const a2 = await node('A', [], ['--cluster-bind', seed]);
    await waitFor(async () => JSON.stringify(await aliveMembers(b)) === '["A"]', 'A back at B');
    expect(b.b.stderr()).toMatch(/cluster: member dead node=B member=A[\s\S]*cluster: member (rejoined|joined) node=B member=A/);
    expect(await aliveMembers(a2)).toEqual(['B']);
  });

  it('CURVE on the cluster links: listed keys join, an unlisted key is refused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pz-cluster-'));
    dirs.push(dir);
    const certs: Record<string, { secret: string; publicKey: string }> = {};
    for (const name of ['a', 'b', 'x']) {
      const cert = newCertificate(name);
      const { secretFile } = await writeCertificatePair(join(dir, name), cert);
      certs[name] = { secret: secretFile, publicKey: cert.publicKey };
    }
    const keysA = join(dir, 'keys-a');
    writeFileSync(keysA, `# brokers admitted\n${certs.b!.publicKey}\n`);
    const a = await node('A', [], ['--cluster-curve-secret-key-file', certs.a!.secret, '--cluster-curve-peer-keys', keysA]);
    const keysB = join(dir, 'keys-b');
    writeFileSync(keysB, `${certs.a!.publicKey} ${a.cluster}\n`);
    const b = await node('B', [a], ['--cluster-curve-secret-key-file', certs.b!.secret, '--cluster-curve-peer-keys', keysB]);
    // X has a key of its own that A does not list (X lists A's, so it would talk)
    const keysX = join(dir, 'keys-x');
    writeFileSync(keysX, `${certs.a!.publicKey} ${a.cluster}\n`);
    const x = await node('X', [a], ['--cluster-curve-secret-key-file', certs.x!.secret, '--cluster-curve-peer-keys', keysX]);
    await waitFor(async () => JSON.stringify(await aliveMembers(a)) === '["B"]', 'A to know B');
    worker(b, 'secure', { name: 'B' });
    await seesService(a, 'secure', ['B']);
    const { replies } = await libRequest02(a.ep, 'secure', ['q']);
    expect(replies[0]!.slice(3).map(String)).toEqual(['q', 'by B']);
    expect((await clusterView(a)).curve).toBe(true);
    await waitFor(() => /cluster: (peer refused|authentication refused)/.test(a.b.stderr()), "A's refusal of X");
    expect(await aliveMembers(a)).toEqual(['B']);
    expect(await aliveMembers(x)).toEqual([]);
  });
});

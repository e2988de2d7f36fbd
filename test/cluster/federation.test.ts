/**
 * Brokers joined in one process through the library (`new Broker({ clusterBind, peer })`), with
 * purezmq's Client and Worker: local-first waits for a local worker before forwarding, round-robin
 * takes members in turn, a Titanic request runs on another broker's worker, and shutdown is a
 * departure the others see at once.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Broker, Client, TitanicClient, Worker } from '../../src/mdp/mod.ts';
import { waitFor } from '../mdp/helpers.ts';

const closers: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

const FAST = { heartbeatInterval: 100, clusterHeartbeat: 50, clusterLiveness: '6', retryBackoff: 10, retryBackoffMax: 50 } as const;

async function broker(nodeId: string, peers: Broker[], extra: Record<string, unknown> = {}): Promise<{ b: Broker; ep: string }> {
  const b = new Broker({ ...FAST, clusterBind: 'tcp://127.0.0.1:*', nodeId, peer: peers.map((p) => p.clusterEndpoint!), ...extra });
  closers.push(() => b.close(0));
  const ep = await b.bind('tcp://127.0.0.1:*');
  return { b, ep };
}

function worker(ep: string, service: string, fn: (body: Uint8Array[]) => Promise<string[]> | string[]): Worker {
  const w = new Worker(ep, service, async (req) => fn(req), { heartbeatInterval: 100 });
  closers.push(() => w.close());
  return w;
}

function remoteIdle(b: Broker, service: string, member: string): number {
  return b.clusterView()?.members.find((m) => m.id === member)?.services[service]?.idle ?? 0;
}

describe('Broker in a cluster (library)', () => {
  it('local-first: a request waits for the busy local worker, up to the local wait, then goes to a member', async () => {
    const { b: a, ep: epA } = await broker('a', [], { clusterStrategy: 'local-first', clusterLocalWait: 300 });
    const { ep: epB } = await broker('b', [a]);
    const served: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    worker(epA, 'lf', async (body) => {
      served.push(`a:${String(body[0])}`);
      if (String(body[0]) === 'first') await gate;
      return ['a'];
    });
    worker(epB, 'lf', (body) => {
      served.push(`b:${String(body[0])}`);
      return ['b'];
    });
    await waitFor(() => remoteIdle(a, 'lf', 'b') > 0, "a to see b's worker");
    const client = new Client(epA, { timeout: 5000 });
    closers.push(() => client.close());
    const first = client.request('lf', 'first');
    await waitFor(() => served.includes('a:first'), 'the local worker busy');
    const t0 = performance.now();
    const second = await client.request('lf', 'second');
    const waited = performance.now() - t0;
    expect(second.map(String)).toEqual(['b']);
    // it waited for the local worker (about the local wait), then went to b
    expect(waited).toBeGreaterThanOrEqual(250);
    release();
    expect((await first).map(String)).toEqual(['a']);
    // with the local worker idle, nothing waits and nothing is forwarded
    expect((await client.request('lf', 'third')).map(String)).toEqual(['a']);
    expect(a.metrics().cluster).toMatchObject({ forwarded: 1, strategy: 'local-first' });
  });

  it('round-robin takes the members in turn; a Titanic request runs on a member; a departure is seen at once', async () => {
    const { b: a, ep: epA } = await broker('a', [], { clusterStrategy: 'round-robin' });
    const { b: b1, ep: epB } = await broker('b', [a]);
    const { b: c1, ep: epC } = await broker('c', [b1]);
    worker(epB, 'rr', () => ['b']);
    worker(epC, 'rr', () => ['c']);
    await waitFor(() => remoteIdle(a, 'rr', 'b') > 0 && remoteIdle(a, 'rr', 'c') > 0, 'a to see both');
    const client = new Client(epA, { timeout: 5000 });
    closers.push(() => client.close());
    const by: string[] = [];
    for (let i = 0; i < 6; i++) by.push(String((await client.request('rr', String(i)))[0]));
    expect(by.filter((x) => x === 'b').length).toBe(3);
    expect(by.filter((x) => x === 'c').length).toBe(3);

    const titanic = new TitanicClient(epA, { timeout: 5000 });
    closers.push(() => titanic.client.close());
    const reply = await titanic.call('rr', 'job', { pollInterval: 20, timeout: 5000 });
    expect(['b', 'c']).toContain(String(reply[0]));

    await c1.close(0);
    // it said it leaves: no waiting for the liveness
    await waitFor(() => (a.metrics().cluster?.members.left ?? 0) === 1, 'a to see c leave', 1000);
    for (let i = 0; i < 3; i++) expect(String((await client.request('rr', String(i)))[0])).toBe('b');
  });
});

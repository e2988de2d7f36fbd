/**
 * The broker's HTTP endpoint (issue 13 item 13) with a real HTTP client (fetch) and an independent
 * Prometheus text-format parser (the `parse-prometheus-text-format` package), in process; and the
 * CLI's --http flag on the real broker process.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: the package ships no type declarations
import parsePrometheus from 'parse-prometheus-text-format';
import * as lib from 'zeromq';
import { Broker } from '../../src/mdp/mod.ts';
import { startHttp, type HttpEndpoint } from '../../src/mdp/http.ts';
import { buildCli, startBroker, waitFor, type BrokerProcess } from './helpers.ts';
import { PeerWorker } from './dialects.peers.ts';

interface Family {
  name: string;
  type: string;
  metrics: { value?: string; labels?: Record<string, string>; buckets?: Record<string, string>; count?: string; sum?: string }[];
}

let broker: Broker;
let ep: string;
let http: HttpEndpoint;
let worker: PeerWorker;

beforeAll(async () => {
  broker = new Broker({ heartbeatInterval: 100 });
  ep = await broker.bind('tcp://127.0.0.1:*');
  http = await startHttp(broker, '127.0.0.1:0');
  worker = new PeerWorker('rfc18', ep, 'we"ird\\svc', (body) => body, { heartbeatMs: 100 });
  const sock = new lib.Dealer({ linger: 0, receiveTimeout: 5000 });
  sock.connect(ep);
  for (let i = 0; i < 3; i++) {
    await sock.send(['MDPC02', Buffer.of(1), 'we"ird\\svc', `r${i}`]);
    await sock.receive();
  }
  await sock.send(['MDPC02', Buffer.of(1), 'nobody', 'x']);
  await waitFor(() => broker.metrics().counters.requests === 4, 'requests');
  sock.close();
});

afterAll(async () => {
  worker?.kill();
  await http?.close();
  await broker?.close(0);
});

async function metrics(): Promise<Map<string, Family>> {
  const res = await fetch(`${http.url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  const families = parsePrometheus(await res.text()) as Family[];
  return new Map(families.map((f) => [f.name, f]));
}

describe('HTTP endpoint', () => {
  it('/metrics parses as Prometheus text, with per-service series labelled by service', async () => {
    const m = await metrics();
    expect(m.get('purezmq_broker_requests_total')).toMatchObject({ type: 'COUNTER', metrics: [{ value: '4' }] });
    expect(m.get('purezmq_broker_workers')!.metrics[0]!.value).toBe('1');
    const requests = m.get('purezmq_broker_service_requests_total')!;
    expect(requests.type).toBe('COUNTER');
    // label values are escaped, and come back as they were
    expect(requests.metrics.find((x) => x.labels?.service === 'we"ird\\svc')?.value).toBe('3');
    expect(m.get('purezmq_broker_service_queue_depth')!.metrics.find((x) => x.labels?.service === 'nobody')?.value).toBe('1');
    const workers = m.get('purezmq_broker_service_workers')!.metrics.filter((x) => x.labels?.service === 'we"ird\\svc');
    expect(workers.map((x) => [x.labels!.state, x.value])).toEqual([['idle', '1'], ['busy', '0']]);
    const latency = m.get('purezmq_broker_service_latency_seconds')!;
    expect(latency.type).toBe('HISTOGRAM');
    // this parser keeps only a histogram's buckets (no labels, sum or count): the rest from the text
    expect(Object.keys(latency.metrics[0]!.buckets!)).toHaveLength(16);
    const text = await (await fetch(`${http.url}/metrics`)).text();
    expect(text).toContain('purezmq_broker_service_latency_seconds_count{service="we\\"ird\\\\svc"} 3\n');
    expect(text).toContain('purezmq_broker_service_latency_seconds_bucket{service="we\\"ird\\\\svc",le="+Inf"} 3\n');
    expect(m.get('purezmq_broker_lifecycle_total')!.metrics.find((x) => x.labels?.transition === 'delivered')?.value).toBe('3');
    expect(m.get('purezmq_broker_store_durable')!.metrics[0]).toMatchObject({ value: '0', labels: { store: 'memory' } });
    expect(m.get('purezmq_broker_connections')!.metrics[0]!.value).toBe('1'); // the worker
  });

  it('/healthz, /readyz, /v1/broker and /v1/services', async () => {
    expect(await (await fetch(`${http.url}/healthz`)).text()).toBe('ok\n');
    const ready = await fetch(`${http.url}/readyz`);
    expect([ready.status, await ready.text()]).toEqual([200, 'ready\n']);
    const doc = (await (await fetch(`${http.url}/v1/broker`)).json()) as { services: object; servicesSummary: { count: number } };
    expect(doc.services).toEqual({});
    expect(doc.servicesSummary.count).toBe(2);
    const page = (await (await fetch(`${http.url}/v1/services?limit=1`)).json()) as { services: object; next: string };
    expect(Object.keys(page.services)).toEqual(['nobody']);
    const next = (await (await fetch(`${http.url}/v1/services?limit=1&after=${encodeURIComponent(page.next)}`)).json()) as { services: object };
    expect(Object.keys(next.services)).toEqual(['we"ird\\svc']);
    expect((await fetch(`${http.url}/v1/services?limit=x`)).status).toBe(400);
    expect((await fetch(`${http.url}/nope`)).status).toBe(404);
    expect((await fetch(`${http.url}/metrics`, { method: 'POST' })).status).toBe(405);
  });

  it('/readyz says 503 and why while the broker shuts down', async () => {
    const b = new Broker({ heartbeatInterval: 100 });
    const h = await startHttp(b, '127.0.0.1:0');
    try {
      const before = await fetch(`${h.url}/readyz`);
      expect([before.status, await before.text()]).toEqual([503, 'not ready: no endpoint bound\n']);
      await b.bind('tcp://127.0.0.1:*');
      expect((await fetch(`${h.url}/readyz`)).status).toBe(200);
      await b.close(0);
      const after = await fetch(`${h.url}/readyz`);
      expect([after.status, await after.text()]).toEqual([503, 'not ready: shutting down\n']);
    } finally {
      await h.close();
      await b.close(0);
    }
  });
});

describe('purezmq broker --http', () => {
  let cli: string;
  let cleanup: () => void;
  let b: BrokerProcess | undefined;
  beforeAll(() => {
    ({ cli, cleanup } = buildCli());
  }, 60_000);
  afterAll(async () => {
    await b?.stop('SIGKILL');
    cleanup?.();
  });

  it('serves /metrics next to the broker and says where', async () => {
    b = await startBroker(cli, ['--bind', 'tcp://127.0.0.1:*', '--http', '127.0.0.1:0']);
    await waitFor(() => /^http on http:\/\/127\.0\.0\.1:\d+$/m.test(b!.stdout()), 'the http line');
    const url = /^http on (\S+)$/m.exec(b.stdout())![1]!;
    const text = await (await fetch(`${url}/metrics`)).text();
    expect((parsePrometheus(text) as Family[]).some((f) => f.name === 'purezmq_broker_info')).toBe(true);
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    expect(await b.stop('SIGTERM')).toBe(0);
  });
});

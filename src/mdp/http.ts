/**
 * The broker's HTTP endpoint for operators (`purezmq broker --http 127.0.0.1:9555`), on node:http:
 *
 *   GET /metrics       Prometheus text format (per-service series carry a `service` label)
 *   GET /healthz       200 while the process serves
 *   GET /readyz        200 when the broker is bound, its store open and it is not shutting down; else 503
 *   GET /v1/broker     the mmi.broker document (summary) as JSON
 *   GET /v1/services   a page of per-service metrics: ?limit=100&after=NAME&prefix=P
 *
 * Node-only (the CLI imports it lazily). Off by default: metrics name services, which is information
 * an operator may not want on the network; bind it to loopback or a management interface.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Broker } from './broker/broker.ts';
import { prometheusText } from './broker/prometheus.ts';
import { MdpErrorCode, mdpError } from './errors.ts';
import { silentLogger, type Logger } from './log.ts';

/** /metrics is rendered at most this often (a scrape storm costs one rendering per period). */
const METRICS_CACHE_MS = 1000;
const DEFAULT_PAGE = 100;
const MAX_PAGE = 1000;

export interface HttpEndpoint {
  /** http://host:port actually bound (a port 0 resolved). */
  readonly url: string;
  close(): Promise<void>;
}

/** "127.0.0.1:9555", "[::1]:9555", "localhost:0" -> host and port. */
export function parseHttpAddress(address: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(address.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw mdpError(MdpErrorCode.CONFIG, `http address must be HOST:PORT (port 0–65535), got "${address}"`, { issues: ['broker.http'] });
  return { host: m[1] ?? m[2]!, port };
}

export function startHttp(broker: Broker, address: string, log: Logger = silentLogger): Promise<HttpEndpoint> {
  const { host, port } = parseHttpAddress(address);
  let cached: { at: number; text: string } | undefined;
  const metrics = (): string => {
    const t = performance.now();
    if (!cached || t - cached.at >= METRICS_CACHE_MS) cached = { at: t, text: prometheusText(broker.metrics()) };
    return cached.text;
  };
  const send = (res: ServerResponse, status: number, type: string, body: string): void => {
    res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
    res.end(body);
  };
  const json = (res: ServerResponse, status: number, doc: unknown): void => send(res, status, 'application/json', JSON.stringify(doc) + '\n');
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      send(res, 405, 'text/plain', 'method not allowed\n');
      return;
    }
    switch (url.pathname) {
      case '/metrics':
        send(res, 200, 'text/plain; version=0.0.4; charset=utf-8', metrics());
        return;
      case '/healthz':
        send(res, 200, 'text/plain', 'ok\n');
        return;
      case '/readyz': {
        const h = broker.health();
        send(res, h.ready ? 200 : 503, 'text/plain', h.ready ? 'ready\n' : `not ready: ${h.reasons.join('; ')}\n`);
        return;
      }
      case '/v1/broker':
        json(res, 200, broker.summary());
        return;
      case '/v1/services': {
        const limitText = url.searchParams.get('limit');
        const limit = limitText === null ? DEFAULT_PAGE : Number(limitText);
        if (!Number.isInteger(limit) || limit < 1) {
          json(res, 400, { error: `limit must be a positive integer, got "${limitText}"` });
          return;
        }
        json(res, 200, broker.servicePage(url.searchParams.get('after') ?? undefined, Math.min(limit, MAX_PAGE), url.searchParams.get('prefix') ?? ''));
        return;
      }
      default:
        send(res, 404, 'text/plain', 'not found: /metrics, /healthz, /readyz, /v1/broker, /v1/services\n');
    }
  };
  const server: Server = createServer((req, res) => {
    try {
      handle(req, res);
    } catch (err) {
      log.error('http request failed', { path: req.url, error: err as Error });
      if (!res.headersSent) send(res, 500, 'text/plain', 'internal error\n');
      else res.destroy();
    }
  });
  // an operator endpoint: a handful of scrapers and probes, not a crowd
  server.maxConnections = 64;
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const a = server.address();
      const bound = typeof a === 'object' && a ? a : { address: host, port };
      const shown = bound.address.includes(':') ? `[${bound.address}]` : bound.address;
      resolve({
        url: `http://${shown}:${bound.port}`,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}

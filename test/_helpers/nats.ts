/**
 * Real `nats-server -js` processes for the JetStream store tests: one server, or a 3-node cluster
 * with routes on loopback (replicas 3). Each gets a free port (the server picks it: `-p -1`, read
 * back from its log), a temporary store directory, and is ready when its log says so and JetStream
 * answers (a cluster: once it has a meta leader). Stopped by PID; directories removed by `cleanup`.
 *
 * nats-server is the Debian package `nats-server` (2.9.x); `.ci/run` installs it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type AddressInfo, type Server as Server_ } from 'node:net';

const INSTALL = 'nats-server is not installed: the JetStream tests run a real one. Install it with `sudo apt-get install -y nats-server` (Debian/Ubuntu), or put a nats-server 2.9+ binary on PATH (https://github.com/nats-io/nats-server/releases), or set NATS_SERVER=/path/to/nats-server.';

/** The nats-server binary; throws with the way to install it when there is none. */
export function natsServerBinary(): string {
  // Debian installs it in /usr/sbin, which is not on every user's PATH
  const candidates = process.env.NATS_SERVER ? [process.env.NATS_SERVER] : ['nats-server', '/usr/sbin/nats-server', '/usr/local/bin/nats-server'];
  for (const bin of candidates) {
    const r = spawnSync(bin, ['--version'], { encoding: 'utf8' });
    if (!r.error && r.status === 0) return bin;
  }
  throw new Error(INSTALL);
}

export interface NatsServer {
  readonly name: string;
  /** Client port, and `nats://127.0.0.1:PORT`. */
  readonly port: number;
  readonly url: string;
  readonly clusterPort: number | undefined;
  readonly dir: string;
  running(): boolean;
  log(): string;
  /** SIGKILL (default) or SIGTERM, and wait for the exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts again on the same ports and directory (after stop). */
  restart(): Promise<void>;
}

interface Spec {
  name: string;
  dir: string;
  port: number;
  /** More nats-server flags (--user/--pass, --auth …). */
  extra?: string[];
  cluster?: { name: string; port: number; routes: string[] };
}

function args(spec: Spec): string[] {
  const a = ['-js', '-a', '127.0.0.1', '-p', String(spec.port), '-sd', spec.dir, '-n', spec.name];
  if (spec.cluster) {
    a.push('--cluster_name', spec.cluster.name, '--cluster', `nats://127.0.0.1:${spec.cluster.port}`);
    if (spec.cluster.routes.length > 0) a.push('--routes', spec.cluster.routes.join(','));
  }
  a.push(...(spec.extra ?? []));
  return a;
}

/** Spawns one server and resolves once its log shows it ready, with the ports it listens on. */
function launch(bin: string, spec: Spec): Promise<{ proc: ChildProcess; port: number; clusterPort: number | undefined; log: () => string }> {
  const proc = spawn(bin, args(spec), { stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  const onData = (c: Buffer): void => {
    text += c.toString();
    if (text.length > 200_000) text = text.slice(-100_000);
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`nats-server ${spec.name} did not start within 15 s:\n${text}`));
    }, 15_000);
    const check = (): void => {
      if (!/Server is ready/.test(text)) return;
      const client = /Listening for client connections on [^\s]*:(\d+)/.exec(text);
      const route = /Listening for route connections on [^\s]*:(\d+)/.exec(text);
      if (!client || (spec.cluster && !route)) return;
      clearTimeout(timer);
      proc.stdout!.off('data', check);
      proc.stderr!.off('data', check);
      resolve({ proc, port: Number(client[1]), clusterPort: route ? Number(route[1]) : undefined, log: () => text });
    };
    proc.stdout!.on('data', check);
    proc.stderr!.on('data', check);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`nats-server ${spec.name} exited with ${code}:\n${text}`));
    });
  });
}

function exited(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((r) => proc.once('exit', () => r()));
}

class Server implements NatsServer {
  readonly name: string;
  port: number;
  clusterPort: number | undefined;
  readonly dir: string;
  private proc: ChildProcess | undefined;
  private readText: () => string = () => '';
  private readonly bin: string;
  private spec: Spec;

  constructor(bin: string, spec: Spec) {
    this.bin = bin;
    this.spec = spec;
    this.name = spec.name;
    this.dir = spec.dir;
    this.port = spec.port;
    this.clusterPort = spec.cluster?.port;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const r = await launch(this.bin, this.spec);
    this.proc = r.proc;
    this.readText = r.log;
    this.port = r.port;
    this.clusterPort = r.clusterPort;
    // the same ports when it restarts: clients and routes know it by them
    this.spec = { ...this.spec, port: r.port, ...(this.spec.cluster && r.clusterPort ? { cluster: { ...this.spec.cluster, port: r.clusterPort } } : {}) };
  }

  running(): boolean {
    return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  log(): string {
    return this.readText();
  }

  async stop(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const proc = this.proc;
    if (!proc || !this.running()) return;
    proc.kill(signal);
    await exited(proc);
  }

  restart(): Promise<void> {
    if (this.running()) throw new Error(`nats-server ${this.name} is running`);
    return this.start();
  }
}

/** Waits until JetStream answers an API request on `url` (a cluster: once it has elected a meta leader). */
export async function waitForJetStream(url: string, timeoutMs = 20_000, auth: { user?: string; pass?: string; token?: string } = {}): Promise<void> {
  const { connect } = await import('@nats-io/transport-node');
  const { jetstreamManager } = await import('@nats-io/jetstream');
  const end = Date.now() + timeoutMs;
  const nc = await connect({ servers: url, timeout: 2000, ...auth });
  try {
    for (;;) {
      try {
        const jsm = await jetstreamManager(nc, { timeout: 1000 });
        await jsm.getAccountInfo();
        return;
      } catch (err) {
        if (Date.now() > end) throw new Error(`JetStream on ${url} not ready after ${timeoutMs} ms: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } finally {
    await nc.close();
  }
}

/** Ports free on loopback now (bound to port 0 and released). */
async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () => new Promise<Server_>((resolve, reject) => {
      const s = createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => resolve(s));
    })),
  );
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

export interface NatsSetup {
  servers: NatsServer[];
  /** `nats://127.0.0.1:P1,127.0.0.1:P2,…`: what --store takes. */
  storeUrl: string;
  /** Stops every server still running and removes the directories. */
  cleanup(): Promise<void>;
}

function storeUrl(servers: NatsServer[]): string {
  return `nats://${servers.map((s) => `127.0.0.1:${s.port}`).join(',')}`;
}

/** One nats-server with JetStream; `auth` makes it require a user and password. */
export async function startNats(auth?: { user: string; pass: string }): Promise<NatsSetup> {
  const bin = natsServerBinary();
  const dir = mkdtempSync(join(tmpdir(), 'pz-nats-'));
  const server = new Server(bin, { name: 'n1', dir, port: -1, extra: auth ? ['--user', auth.user, '--pass', auth.pass] : [] });
  try {
    await server.start();
    await waitForJetStream(server.url, 20_000, auth);
  } catch (err) {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    servers: [server],
    get storeUrl() {
      return storeUrl([server]);
    },
    cleanup: async () => {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Three nats-servers in one cluster on loopback, JetStream on each (replicas up to 3), each with
 * routes to the others.
 */
export async function startNatsCluster(size = 3): Promise<NatsSetup> {
  const bin = natsServerBinary();
  const root = mkdtempSync(join(tmpdir(), 'pz-nats-cluster-'));
  const cluster = `pz${process.pid}`;
  const servers: Server[] = [];
  const cleanup = async (): Promise<void> => {
    for (const s of servers) await s.stop();
    rmSync(root, { recursive: true, force: true });
  };
  try {
    // JetStream clustering wants every node to have routes at start: the cluster ports are chosen
    // first (free now; a clash with another process is reported by the server's log)
    const ports = await freePorts(size);
    const routes = ports.map((p) => `nats://127.0.0.1:${p}`);
    servers.push(...ports.map((p, i) => new Server(bin, { name: `n${i + 1}`, dir: join(root, `n${i + 1}`), port: -1, cluster: { name: cluster, port: p, routes: routes.filter((_, j) => j !== i) } })));
    await Promise.all(servers.map((s) => s.start()));
    for (const s of servers) await waitForJetStream(s.url);
  } catch (err) {
    await cleanup();
    throw err;
  }
  return { servers, storeUrl: storeUrl(servers), cleanup };
}

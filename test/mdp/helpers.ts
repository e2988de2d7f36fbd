/**
 * Helpers for the Majordomo end-to-end tests: build and spawn the real `purezmq` CLI, and
 * Majordomo clients written frame by frame on libzmq (the `zeromq` package), independent of
 * purezmq's own codec, client and worker. The libzmq worker is PeerWorker in dialects.peers.ts
 * (rfc18 = MDP/0.2, rfc7 = MDP/0.1).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as lib from 'zeromq';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * Compiles src/ (tsconfig.build.json) into a private folder under the repo's ignored tmp/, so that
 * a test never runs a stale or half-written dist/ and parallel test files don't race each other.
 * The folder sits inside the repo so that `yaml` resolves from node_modules and "type": "module"
 * applies. Returns the path of cli.js and a cleanup function.
 */
export function buildCli(): { cli: string; cleanup: () => void } {
  const dir = join(ROOT, 'tmp', `mdp-e2e-${process.pid}-${Date.now().toString(36)}`);
  mkdirSync(dir, { recursive: true });
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  try {
    execFileSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', join(dir, 'dist'), '--sourceMap', 'false', '--declaration', 'false'], {
      cwd: ROOT,
      stdio: 'pipe',
    });
  } catch (err) {
    // tsc emits even with type errors elsewhere in src/ (other work in progress); only a missing
    // output is fatal
    if (!existsSync(join(dir, 'dist', 'cli.js'))) throw err;
  }
  return { cli: join(dir, 'dist', 'cli.js'), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface BrokerProcess {
  proc: ChildProcess;
  endpoints: string[];
  endpoint: string;
  stdout(): string;
  stderr(): string;
  /** Sends a signal and resolves with the exit code (null when killed by a signal). */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts `purezmq broker` and waits for its "listening on" lines. */
export async function startBroker(cli: string, args: string[], expectEndpoints = 1): Promise<BrokerProcess> {
  const proc = spawn(process.execPath, [cli, 'broker', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let errText = '';
  proc.stderr!.on('data', (c: Buffer) => (errText += c.toString()));
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  const endpoints = await new Promise<string[]>((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`broker did not start: ${out} ${errText}`)), 15000);
    proc.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const eps = [...out.matchAll(/^listening on (\S+)$/gm)].map((m) => m[1]!);
      if (eps.length >= expectEndpoints) {
        clearTimeout(timer);
        resolvePromise(eps);
      }
    });
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`broker exited with ${code}: ${errText}`));
    });
  });
  return {
    proc,
    endpoints,
    endpoint: endpoints[0]!,
    stdout: () => out,
    stderr: () => errText,
    stop: async (signal = 'SIGTERM') => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
}

/** Runs the CLI to completion. */
export function runCli(cli: string, args: string[], input?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise) => {
    const proc = spawn(process.execPath, [cli, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
    proc.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    proc.on('exit', (code) => resolvePromise({ code, stdout, stderr }));
    proc.stdin!.end(input ?? '');
  });
}

/** Spawns a long-running CLI process (a worker). */
export function spawnCli(cli: string, args: string[]): { proc: ChildProcess; stop: () => Promise<number | null>; stderr: () => string } {
  const proc = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  return {
    proc,
    stderr: () => stderr,
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      return exited;
    },
  };
}

// ---- frame-by-frame Majordomo clients on libzmq -------------------------------------------------

export const s = (b: Uint8Array | undefined): string => (b === undefined ? '<none>' : Buffer.from(b).toString());
export const bytes = (...b: number[]): Buffer => Buffer.from(b);
export const E = Buffer.alloc(0);

/** Polls `cond` until true (bounded). */
export async function waitFor(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** An MDP/0.2 client on a libzmq DEALER: returns every message up to and including the FINAL. */
export async function libRequest02(
  endpoint: string,
  service: string,
  body: (string | Buffer)[],
  timeoutMs = 5000,
): Promise<{ replies: Buffer[][]; sock: lib.Dealer }> {
  const sock = new lib.Dealer({ linger: 0, receiveTimeout: timeoutMs });
  sock.connect(endpoint);
  try {
    await sock.send([Buffer.from('MDPC02'), bytes(0x01), Buffer.from(service), ...body.map((b) => (typeof b === 'string' ? Buffer.from(b) : b))]);
    const replies: Buffer[][] = [];
    for (;;) {
      const msg = await sock.receive();
      replies.push(msg);
      if (msg[1]?.[0] === 0x03) return { replies, sock };
    }
  } finally {
    sock.close();
  }
}

/** An MDP/0.1 client on a libzmq REQ socket (the RFC's recommended client). Returns the reply frames. */
export async function libRequest01(endpoint: string, service: string, body: (string | Buffer)[], timeoutMs = 5000): Promise<Buffer[]> {
  const sock = new lib.Request({ linger: 0, receiveTimeout: timeoutMs });
  sock.connect(endpoint);
  try {
    await sock.send([Buffer.from('MDPC01'), Buffer.from(service), ...body.map((b) => (typeof b === 'string' ? Buffer.from(b) : b))]);
    return await sock.receive();
  } finally {
    sock.close();
  }
}

/** mmi.* over MDP/0.2 from libzmq: the FINAL's body frames as strings. */
export async function libMmi(endpoint: string, service: string, body: string[] = ['']): Promise<string[]> {
  const { replies } = await libRequest02(endpoint, service, body);
  return replies[replies.length - 1]!.slice(3).map(s);
}

/** One service's metrics through mmi.broker's paged detail ("services LIMIT AFTER PREFIX"). */
export async function libServiceMetrics(endpoint: string, service: string): Promise<Record<string, any> | undefined> {
  const [code, doc] = await libMmi(endpoint, 'mmi.broker', ['services', '10', '', service]);
  if (code !== '200') throw new Error(`mmi.broker services answered ${code}`);
  return JSON.parse(doc!).services[service];
}

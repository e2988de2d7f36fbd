// A nats-server with JetStream for the bench's --store nats:// rows: a free port chosen by the server
// (-p -1, read back from its log), a temporary store directory, stopped (SIGKILL) and removed by kill().
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** The nats-server binary, or undefined when there is none (the rows are then skipped with a note). */
export function natsServerBinary() {
  const candidates = process.env.NATS_SERVER ? [process.env.NATS_SERVER] : ['nats-server', '/usr/sbin/nats-server', '/usr/local/bin/nats-server'];
  return candidates.find((bin) => {
    const r = spawnSync(bin, ['--version']);
    return !r.error && r.status === 0;
  });
}

/** Starts one server; resolves with { url, proc, kill } once its log says it is ready. */
export function startNats() {
  const bin = natsServerBinary();
  if (!bin) return Promise.reject(new Error('nats-server is not installed (apt-get install -y nats-server)'));
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pz-bench-nats-'));
  const proc = spawn(bin, ['-js', '-a', '127.0.0.1', '-p', '-1', '-sd', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  const kill = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGKILL');
      await new Promise((r) => proc.once('exit', r));
    }
    rmSync(dir, { recursive: true, force: true });
  };
  let log = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => kill().then(() => reject(new Error(`nats-server did not start:\n${log}`))), 15000);
    const onData = (c) => {
      log += c.toString();
      const port = /Listening for client connections on [^\s]*:(\d+)/.exec(log);
      if (port && /Server is ready/.test(log)) {
        clearTimeout(timer);
        resolve({ url: `nats://127.0.0.1:${port[1]}`, proc, kill });
      }
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`nats-server exited with ${code}:\n${log}`));
    });
  });
}

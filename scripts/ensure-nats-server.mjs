#!/usr/bin/env node
// Run by `npm test` before the suite: the JetStream store tests need a real nats-server. When it is
// missing and this is a Debian/Ubuntu machine where we are root (a fresh CI box or container), it is
// installed with apt-get, so that `npm ci && npm test` holds on a fresh machine; otherwise this says
// how to install it and the suite runs anyway (only the JetStream tests then fail, saying the same).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const candidates = process.env.NATS_SERVER ? [process.env.NATS_SERVER] : ['nats-server', '/usr/sbin/nats-server', '/usr/local/bin/nats-server'];
const found = candidates.some((bin) => spawnSync(bin, ['--version'], { stdio: 'ignore' }).status === 0);
if (!found) {
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (root && existsSync('/usr/bin/apt-get')) {
    console.error('nats-server is missing: installing it with apt-get (the JetStream store tests run a real one)');
    const update = spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
    const install = update.status === 0 ? spawnSync('apt-get', ['install', '-y', '-qq', 'nats-server'], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } }) : update;
    if (install.status !== 0) console.error('apt-get could not install nats-server: the JetStream store tests will fail');
  } else {
    console.error('nats-server is missing: the JetStream store tests will fail. Install it with `sudo apt-get install -y nats-server` (Debian/Ubuntu) or set NATS_SERVER=/path/to/nats-server.');
  }
}

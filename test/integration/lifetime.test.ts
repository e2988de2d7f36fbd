/**
 * When the process may exit (issue 14, items 5 and 6), as zeromq.js decides it: open, idle
 * sockets do not keep it alive; a pending send(), receive() or events read does; queued messages
 * are given up to `linger` when it would exit. zeromq.js's own process-exit tests check the same
 * of the `zeromq` package from child processes; its native handles are not visible in-process,
 * so these check purezmq's handles directly.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import * as zmq from '../../src/mod.ts';
import { holding } from '../../src/util/keepalive.ts';
import { SocketTracker, unusedEndpoint, waitForEvent } from './helpers.ts';

const t = new SocketTracker();
afterEach(() => t.closeAll());

/** Resources keeping the event loop alive, by type (Node's own view). */
function keepingAlive(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of process.getActiveResourcesInfo()) counts.set(r, (counts.get(r) ?? 0) + 1);
  return counts;
}

/** What was added since `before`. */
function added(before: Map<string, number>): string[] {
  const out: string[] = [];
  for (const [type, n] of keepingAlive()) for (let i = before.get(type) ?? 0; i < n; i++) out.push(type);
  return out;
}

describe('item 5: what keeps the process alive', () => {
  for (const proto of ['tcp', 'ipc'] as const) {
    it(`bound and connected sockets that are idle do not (${proto})`, async () => {
      const before = keepingAlive();
      const router = t.add(new zmq.Router());
      await router.bind(proto === 'tcp' ? 'tcp://127.0.0.1:*' : 'ipc://*');
      const dealer = t.add(new zmq.Dealer());
      const up = waitForEvent(router, 'handshake');
      dealer.connect(router.lastEndpoint!);
      await up;
      await dealer.send('x');
      await router.receive();
      // TCP/pipe servers and connections are unref'd: nothing of ours holds the loop
      expect(added(before).filter((r) => r !== 'Timeout')).toEqual([]);
      expect(holding()).toBe(0);
    });
  }

  it('a pending receive() does, until it completes', async () => {
    const router = t.add(new zmq.Router());
    await router.bind('tcp://127.0.0.1:*');
    const dealer = t.add(new zmq.Dealer());
    dealer.connect(router.lastEndpoint!);
    const pending = router.receive();
    expect(holding()).toBe(1);
    await dealer.send('x');
    await pending;
    expect(holding()).toBe(0);
  });

  it('a pending send() does, and so does a read of events; close() lets go', async () => {
    const dealer = t.add(new zmq.Dealer());
    const sending = dealer.send('nobody to take it').catch(() => undefined);
    expect(holding()).toBe(1);
    const reading = dealer.events.receive();
    expect(holding()).toBe(2);
    dealer.close();
    await sending;
    await reading;
    expect(holding()).toBe(0);
  });
});

/** Runs `fn` with process.stderr captured; returns what was written. */
async function stderrOf(fn: () => Promise<void>): Promise<string> {
  const writes: string[] = [];
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    writes.push(String(chunk));
    return true;
  });
  try {
    await fn();
  } finally {
    spy.mockRestore();
  }
  return writes.join('');
}

describe('item 6: linger at exit', () => {
  it('queued messages hold the exit for up to linger, with zeromq.js warning when that may be long', async () => {
    const written = await stderrOf(async () => {
      const dealer = t.add(new zmq.Dealer({ linger: 600 }));
      dealer.connect(await unusedEndpoint('tcp'));
      await dealer.send('queued');
      const idle = t.add(new zmq.Dealer({ linger: 600 })); // nothing queued: holds nothing
      idle.connect(await unusedEndpoint('tcp'));
      const ended = waitForEvent(dealer, 'end', 5000);
      process.emit('beforeExit', 0);
      expect(holding()).toBe(1);
      await ended; // closed once its linger ran out
      expect(idle.closed).toBe(false);
      expect(holding()).toBe(0);
    });
    expect(written).toMatch(
      /^\(node:\d+\) WARNING: Waiting for queued ZeroMQ messages to be delivered\. Set 'context\.blocky = false' to change this behaviour\.\n$/,
    );
  });

  it('a short linger holds the exit without a warning', async () => {
    const written = await stderrOf(async () => {
      const dealer = t.add(new zmq.Dealer({ linger: 50 }));
      dealer.connect(await unusedEndpoint('tcp'));
      await dealer.send('queued');
      const ended = waitForEvent(dealer, 'end', 5000);
      process.emit('beforeExit', 0);
      await ended;
    });
    expect(written).toBe('');
  });
});

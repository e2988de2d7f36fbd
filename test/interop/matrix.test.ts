/**
 * Every socket pair libzmq allows (zmtp.md §8), purezmq against libzmq 4.3.5 (zeromq.js v6):
 * each case runs with purezmq as either side, either side binding, over tcp and ipc.
 * Scenarios check the routing rules of zmtp.md §9 and §11 on real traffic.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  bindAddress, pendingReceive, rejectionCode, sleep, Sockets, strs, within,
  type Impl, type Role, type Sock, type Transport,
} from '../_helpers/interop.ts';

const T = 5000; // bound on every single wait

interface Ctx {
  aImpl: Impl;
  bImpl: Impl;
  /** Which side bound (the other connected). */
  binder: 'a' | 'b';
}

interface Case {
  name: string;
  a: Role;
  b: Role;
  aOpts?: Record<string, unknown>;
  bOpts?: Record<string, unknown>;
  run(a: Sock, b: Sock, ctx: Ctx): Promise<void>;
}

const recv = (s: Sock, what: string) => within(s.receive(), T, what).then(strs);

/** Sends until the peer is known (ROUTER with mandatory: EHOSTUNREACH until its handshake is done). */
async function sendWhenRoutable(router: Sock, msg: string[]): Promise<void> {
  const end = Date.now() + T;
  for (;;) {
    const code = await rejectionCode(router.send(msg));
    if (code === undefined) return;
    if (code !== 'EHOSTUNREACH' || Date.now() > end) throw new Error(`ROUTER send failed: ${code}`);
    await sleep(5);
  }
}

/**
 * Keeps one receive pending on `sub` (a bound libzmq SUB only passes its subscriptions on while
 * something calls into it) and calls `probe` until a message with first frame `target` arrives.
 * Subscriptions propagate asynchronously, so this is how a test knows one took effect.
 * Returns every message received, the target last.
 */
async function probeUntil(sub: Sock, probe: () => Promise<void>, target: string): Promise<string[][]> {
  const seen: string[][] = [];
  let done = false;
  const reader = (async () => {
    for (;;) {
      const msg = strs(await sub.receive());
      seen.push(msg);
      if (msg[0] === target) return;
    }
  })();
  reader.then(() => (done = true), () => (done = true));
  for (let i = 0; !done; i++) {
    if (i > 1000) throw new Error(`${target} never arrived: subscription did not take effect`);
    await probe();
    await sleep(5);
  }
  await reader; // rethrows a receive failure
  return seen;
}

/**
 * Publisher `a`, subscriber `b`. Subscribes to "A", publishes until it arrives, then checks that
 * only matching messages come through (XSUB does not filter locally, so there it is the
 * publisher's filtering that is checked), that XPUB sees `\x01A` / `\x00A` / `\x01Z`, and that a
 * cancel is honoured.
 */
async function pubSub(a: Sock, b: Sock, xpub: boolean, xsub: boolean): Promise<void> {
  const subscribe = (t: string) => (xsub ? b.send(`\x01${t}`) : (b.subscribe(t), Promise.resolve()));
  const cancel = (t: string) => (xsub ? b.send(`\x00${t}`) : (b.unsubscribe(t), Promise.resolve()));

  await subscribe('A');
  const firstP = probeUntil(b, async () => {
    await a.send('B-probe');
    await a.send(['A-probe', 'second frame']);
  }, 'A-probe');
  firstP.catch(() => {});
  if (xpub) expect(await recv(a, 'XPUB subscription event')).toEqual(['\x01A']);
  const first = await firstP;
  // the probe's other prefix never arrives
  expect(first).toEqual([['A-probe', 'second frame']]);

  for (let i = 0; i < 20; i++) {
    await a.send(`B-${i}`); // other prefix
    await a.send([`A-${i}`, '', 'x']); // match, with an empty middle frame
    await a.send(`xA-${i}`); // contains the topic, but not as a prefix
  }
  await a.send('A-end');
  const matched: string[] = [];
  for (;;) {
    const msg = await recv(b, 'published messages');
    const head = msg[0]!;
    expect(head.startsWith('A')).toBe(true); // nothing else ever arrives
    if (head === 'A-probe') continue; // leftovers from the probing loop
    if (head === 'A-end') break;
    expect(msg).toEqual([head, '', 'x']);
    matched.push(head);
  }
  expect(matched).toEqual(Array.from({ length: 20 }, (_, i) => `A-${i}`));

  // swap A for Z: the cancel is processed before the new subscription (same connection, in order)
  await cancel('A');
  await subscribe('Z');
  if (xpub) {
    expect(await recv(a, 'XPUB cancel event')).toEqual(['\x00A']);
    expect(await recv(a, 'XPUB subscription event')).toEqual(['\x01Z']);
  }
  const second = await probeUntil(b, async () => {
    await a.send('A-after-cancel');
    await a.send('Z-probe');
  }, 'Z-probe');
  // only A messages sent before the cancel took effect may precede the first Z, nothing else
  for (const m of second.slice(0, -1)) expect(['A-probe', 'A-after-cancel']).toContain(m[0]);
  // once a Z got through, the cancel had been seen: no A message may follow
  await a.send('A-late');
  await a.send('Z-end');
  for (;;) {
    const m = await recv(b, 'messages after the cancel');
    expect(['Z-probe', 'Z-end']).toContain(m[0]);
    if (m[0] === 'Z-end') break;
  }

  if (xpub && xsub) {
    // XSUB forwards anything that is not a subscription upstream; XPUB hands it to the app
    await b.send(['upstream', '']);
    expect(await recv(a, 'upstream message at XPUB')).toEqual(['upstream', '']);
  }
}

const CASES: Case[] = [
  {
    name: 'DEALER(routingId)–ROUTER',
    a: 'DEALER',
    b: 'ROUTER',
    aOpts: { routingId: 'dealer-1' },
    async run(a, b) {
      for (let i = 0; i < 3; i++) {
        await a.send([`hello-${i}`, '', 'x']);
        expect(await recv(b, 'ROUTER receive')).toEqual(['dealer-1', `hello-${i}`, '', 'x']);
        await b.send(['dealer-1', `reply-${i}`, '']);
        expect(await recv(a, 'DEALER receive')).toEqual([`reply-${i}`, '']);
      }
      // unknown identity: silently dropped (no ROUTER_MANDATORY), the next message still routes
      await b.send(['nobody', 'lost']);
      await b.send(['dealer-1', 'after']);
      expect(await recv(a, 'DEALER receive after drop')).toEqual(['after']);
    },
  },
  {
    name: 'DEALER–ROUTER (generated routing id)',
    a: 'DEALER',
    b: 'ROUTER',
    async run(a, b) {
      await a.send('hi');
      const msg = await within(b.receive(), T, 'ROUTER receive');
      const id = msg[0]!;
      // libzmq and purezmq: 5 bytes, 0x00 + uint32 counter
      expect(id.length).toBe(5);
      expect(id[0]).toBe(0);
      expect(strs(msg.slice(1))).toEqual(['hi']);
      await b.send([id, 'back']);
      expect(await recv(a, 'DEALER receive')).toEqual(['back']);
    },
  },
  {
    name: 'DEALER–DEALER',
    a: 'DEALER',
    b: 'DEALER',
    async run(a, b) {
      await a.send(['', 'a1', '']);
      expect(await recv(b, 'b receive')).toEqual(['', 'a1', '']);
      await b.send(['b1', 'b2']);
      expect(await recv(a, 'a receive')).toEqual(['b1', 'b2']);
    },
  },
  {
    name: 'ROUTER–ROUTER',
    a: 'ROUTER',
    b: 'ROUTER',
    aOpts: { routingId: 'router-a', mandatory: true },
    bOpts: { routingId: 'router-b', mandatory: true },
    async run(a, b, ctx) {
      // the connecting ROUTER learns the bound one's id from its READY Identity
      const [conn, bound, connId, boundId] = ctx.binder === 'a' ? [b, a, 'router-b', 'router-a'] : [a, b, 'router-a', 'router-b'];
      await sendWhenRoutable(conn, [boundId, 'ping', '']);
      expect(await recv(bound, 'bound ROUTER receive')).toEqual([connId, 'ping', '']);
      await bound.send([connId, 'pong']);
      expect(await recv(conn, 'connecting ROUTER receive')).toEqual([boundId, 'pong']);
      expect(await rejectionCode(bound.send(['unknown-peer', 'x']))).toBe('EHOSTUNREACH');
    },
  },
  {
    name: 'REQ–REP',
    a: 'REQ',
    b: 'REP',
    async run(a, b) {
      for (let i = 0; i < 3; i++) {
        await a.send([`q${i}`, '']); // an empty frame inside the body is not a delimiter
        expect(await recv(b, 'REP receive')).toEqual([`q${i}`, '']);
        await b.send([`r${i}`, '', 'z']);
        expect(await recv(a, 'REQ receive')).toEqual([`r${i}`, '', 'z']);
      }
      // out of turn, both libraries leave the call waiting until the turn comes
      await a.send('q-last');
      const tooSoon = a.send('q-after');
      expect(await recv(b, 'REP receive')).toEqual(['q-last']);
      const nextRequest = b.receive();
      await b.send('r-last');
      expect(await recv(a, 'REQ receive')).toEqual(['r-last']);
      await within(tooSoon, 5000, 'the waiting REQ send');
      expect(strs(await within(nextRequest, 5000, 'the waiting REP receive'))).toEqual(['q-after']);
      await b.send('r-after');
      expect(await recv(a, 'REQ receive')).toEqual(['r-after']);
    },
  },
  {
    name: 'REQ(routingId)–ROUTER',
    a: 'REQ',
    b: 'ROUTER',
    aOpts: { routingId: 'req-1' },
    async run(a, b) {
      for (let i = 0; i < 2; i++) {
        await a.send([`q${i}`, 'more']);
        // REQ envelope on the wire: empty delimiter before the body
        expect(await recv(b, 'ROUTER receive')).toEqual(['req-1', '', `q${i}`, 'more']);
        await b.send(['req-1', '', `r${i}`]);
        expect(await recv(a, 'REQ receive')).toEqual([`r${i}`]);
      }
    },
  },
  {
    name: 'REQ(correlate, relaxed)–ROUTER',
    a: 'REQ',
    b: 'ROUTER',
    aOpts: { routingId: 'req-c', correlate: true, relaxed: true },
    async run(a, b) {
      await a.send('q1');
      const m1 = await within(b.receive(), T, 'first request');
      // [identity, 4-byte request id, delimiter, body]; the id is opaque (libzmq: host order)
      expect(m1.map((f) => f.length)).toEqual([5, 4, 0, 2]);
      // relaxed: a new request before the reply; the old reply is then discarded
      await a.send('q2');
      const m2 = await within(b.receive(), T, 'second request');
      expect(strs(m2.slice(2))).toEqual(['', 'q2']);
      expect(Buffer.from(m2[1]!).equals(Buffer.from(m1[1]!))).toBe(false);
      await b.send([m1[0]!, m1[1]!, '', 'stale']);
      await b.send([m2[0]!, m2[1]!, '', 'fresh']);
      expect(await recv(a, 'REQ receive')).toEqual(['fresh']);
    },
  },
  {
    name: 'REQ(correlate)–REP',
    a: 'REQ',
    b: 'REP',
    aOpts: { correlate: true },
    async run(a, b) {
      // REP keeps [request id, delimiter] as the envelope and sends it back
      for (let i = 0; i < 3; i++) {
        await a.send([`q${i}`, '']);
        expect(await recv(b, 'REP receive')).toEqual([`q${i}`, '']);
        await b.send(`r${i}`);
        expect(await recv(a, 'REQ receive')).toEqual([`r${i}`]);
      }
    },
  },
  {
    name: 'DEALER–REP',
    a: 'DEALER',
    b: 'REP',
    async run(a, b) {
      // REP keeps every frame up to the first empty one as the envelope
      await a.send(['hop1', 'hop2', '', 'q', '']);
      expect(await recv(b, 'REP receive')).toEqual(['q', '']);
      await b.send(['r', 'r2']);
      expect(await recv(a, 'DEALER receive')).toEqual(['hop1', 'hop2', '', 'r', 'r2']);
      // a message without delimiter is no request: discarded, the next one gets through
      await a.send(['no-delimiter']);
      await a.send(['', 'q2']);
      expect(await recv(b, 'REP receive')).toEqual(['q2']);
      await b.send('r2');
      expect(await recv(a, 'DEALER receive')).toEqual(['', 'r2']);
    },
  },
  { name: 'PUB–SUB', a: 'PUB', b: 'SUB', run: (a, b) => pubSub(a, b, false, false) },
  { name: 'XPUB–XSUB', a: 'XPUB', b: 'XSUB', run: (a, b) => pubSub(a, b, true, true) },
  { name: 'PUB–XSUB', a: 'PUB', b: 'XSUB', run: (a, b) => pubSub(a, b, false, true) },
  { name: 'XPUB–SUB', a: 'XPUB', b: 'SUB', run: (a, b) => pubSub(a, b, true, false) },
  {
    name: 'PUSH–PULL',
    a: 'PUSH',
    b: 'PULL',
    async run(a, b) {
      for (let i = 0; i < 50; i++) await a.send([`m${i}`, '']);
      for (let i = 0; i < 50; i++) expect(await recv(b, 'PULL receive')).toEqual([`m${i}`, '']);
    },
  },
  {
    name: 'PAIR–PAIR',
    a: 'PAIR',
    b: 'PAIR',
    async run(a, b) {
      await a.send(['to-b', '']);
      expect(await recv(b, 'b receive')).toEqual(['to-b', '']);
      await b.send('to-a');
      expect(await recv(a, 'a receive')).toEqual(['to-a']);
    },
  },
];

const sockets = new Sockets();
afterEach(() => sockets.closeAll());

const IMPLS: [Impl, Impl][] = [
  ['pz', 'lib'],
  ['lib', 'pz'],
];

describe('interop matrix: purezmq <-> libzmq', () => {
  for (const c of CASES) {
    // same type and options on both sides: (pz, lib) with a binding equals (lib, pz) with b binding
    const symmetric = c.a === c.b;
    describe(c.name, () => {
      for (const [aImpl, bImpl] of symmetric ? IMPLS.slice(0, 1) : IMPLS) {
        for (const binder of ['a', 'b'] as const) {
          for (const transport of ['tcp', 'ipc'] as Transport[]) {
            it(`${c.a}=${aImpl} ${c.b}=${bImpl}, ${binder === 'a' ? c.a : c.b} binds, ${transport}`, async () => {
              const a = sockets.make(c.a, aImpl, c.aOpts);
              const b = sockets.make(c.b, bImpl, c.bOpts);
              const [server, client] = binder === 'a' ? [a, b] : [b, a];
              await server.bind(bindAddress(transport));
              expect(server.lastEndpoint).toMatch(transport === 'tcp' ? /^tcp:\/\/127\.0\.0\.1:\d+$/ : /^ipc:\/\//);
              client.connect(server.lastEndpoint!);
              await c.run(a, b, { aImpl, bImpl, binder });
            });
          }
        }
      }
    });
  }
});

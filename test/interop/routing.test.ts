/**
 * Routing with several peers, checked on both implementations: the socket under test is libzmq
 * (the reference) or purezmq, its peers are the other implementation. Load balancing, fair
 * queuing, per-peer replies, connect-time routing ids and duplicate routing ids (zmtp.md §11).
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  bindAddress, recordEvents, rejectionCode, sleep, Sockets, strs, waitUntil, within,
  type Impl, type Role, type Sock,
} from '../_helpers/interop.ts';

const T = 5000;
const IMPLS: Impl[] = ['lib', 'pz'];
const other = (impl: Impl): Impl => (impl === 'lib' ? 'pz' : 'lib');
const name = (impl: Impl) => (impl === 'lib' ? 'libzmq (reference)' : 'purezmq');

const sockets = new Sockets();
afterEach(() => sockets.closeAll());

const recv = (s: Sock, what: string) => within(s.receive(), T, what).then(strs);

/** `n` bound peers of `role`; `hub` connects to each and has finished every handshake. */
async function hubToPeers(hub: Sock, role: Role, impl: Impl, n: number): Promise<Sock[]> {
  const peers: Sock[] = [];
  let handshakes = 0;
  hub.events.on('handshake', () => handshakes++);
  for (let i = 0; i < n; i++) {
    const p = sockets.make(role, impl);
    await p.bind(bindAddress('tcp'));
    hub.connect(p.lastEndpoint!);
    peers.push(p);
  }
  await waitUntil(() => handshakes >= n, T, `${n} handshakes`);
  return peers;
}

describe('load balancing to several peers', () => {
  for (const impl of IMPLS) {
    for (const [hubRole, peerRole] of [['DEALER', 'ROUTER'], ['PUSH', 'PULL']] as [Role, Role][]) {
      it(`${name(impl)} ${hubRole} round-robins over 3 ${peerRole}s`, async () => {
        const hub = sockets.make(hubRole, impl, hubRole === 'DEALER' ? { routingId: 'hub' } : {});
        const peers = await hubToPeers(hub, peerRole, other(impl), 3);
        for (let i = 0; i < 30; i++) await hub.send([`m${i}`, '']);
        const got: string[][] = [];
        for (const p of peers) {
          const mine: string[] = [];
          for (let k = 0; k < 10; k++) {
            const msg = await recv(p, `${peerRole} receive`);
            if (peerRole === 'ROUTER') expect(msg.shift()).toBe('hub');
            expect(msg[1]).toBe('');
            mine.push(msg[0]!);
          }
          got.push(mine);
        }
        // each peer got every third message, in order (which third depends on connection order)
        for (const mine of got) {
          const seq = mine.map((m) => Number(m.slice(1)));
          for (let k = 1; k < seq.length; k++) expect(seq[k]! - seq[k - 1]!).toBe(3);
        }
        expect(got.flat().sort()).toEqual(Array.from({ length: 30 }, (_, i) => `m${i}`).sort());
      });
    }

    it(`${name(impl)} REQ alternates over 2 REPs, taking each reply from the peer it asked`, async () => {
      const req = sockets.make('REQ', impl);
      const reps = await hubToPeers(req, 'REP', other(impl), 2);
      const served: number[] = [];
      // one pending receive per REP (a libzmq socket allows only one at a time)
      const next = (k: number) => reps[k]!.receive().then((m) => ({ k, m: strs(m) }));
      const pending = reps.map((_, k) => next(k));
      for (const p of pending) p.catch(() => {});
      for (let i = 0; i < 4; i++) {
        await req.send(`q${i}`);
        const answered = await within(Promise.race(pending), T, 'a REP receives');
        expect(answered.m).toEqual([`q${i}`]);
        served.push(answered.k);
        await reps[answered.k]!.send(`r${i}`);
        pending[answered.k] = next(answered.k);
        pending[answered.k]!.catch(() => {});
        expect(await recv(req, 'REQ receive')).toEqual([`r${i}`]);
      }
      // strict alternation: 0,1,0,1 or 1,0,1,0
      expect(served[0]).not.toBe(served[1]);
      expect(served[2]).toBe(served[0]);
      expect(served[3]).toBe(served[1]);
    });
  }
});

describe('receiving from several peers', () => {
  for (const impl of IMPLS) {
    for (const [hubRole, peerRole] of [['ROUTER', 'DEALER'], ['PULL', 'PUSH']] as [Role, Role][]) {
      it(`${name(impl)} ${hubRole} fair-queues 3 ${peerRole}s, each one's order kept, replies routed back`, async () => {
        const hub = sockets.make(hubRole, impl);
        await hub.bind(bindAddress('tcp'));
        const peers = [0, 1, 2].map((k) => {
          // one peer without a routing id: the ROUTER makes one up
          const p = sockets.make(peerRole, other(impl), k < 2 && peerRole === 'DEALER' ? { routingId: `peer-${k}` } : {});
          p.connect(hub.lastEndpoint!);
          return p;
        });
        await Promise.all(peers.map(async (p, k) => {
          for (let i = 0; i < 20; i++) await p.send([`p${k}`, `${i}`]);
        }));
        const perPeer = new Map<string, string[]>();
        const ids = new Map<string, Uint8Array>();
        for (let n = 0; n < 60; n++) {
          const raw = await within(hub.receive(), T, 'receive');
          const msg = strs(raw);
          if (hubRole === 'ROUTER') {
            const id = msg.shift()!;
            ids.set(msg[0]!, raw[0]!);
            if (msg[0] !== 'p2') expect(id).toBe(`peer-${msg[0]!.slice(1)}`);
            else expect(raw[0]!.length).toBe(5);
          }
          perPeer.set(msg[0]!, [...(perPeer.get(msg[0]!) ?? []), msg[1]!]);
        }
        for (const k of [0, 1, 2]) expect(perPeer.get(`p${k}`)).toEqual(Array.from({ length: 20 }, (_, i) => `${i}`));
        if (hubRole === 'ROUTER') {
          for (const k of [0, 1, 2]) await hub.send([ids.get(`p${k}`)!, `to-p${k}`]);
          for (const k of [0, 1, 2]) expect(await recv(peers[k]!, 'reply')).toEqual([`to-p${k}`]);
        }
      });
    }

    it(`${name(impl)} PUB fans out to 3 SUBs by their own prefixes`, async () => {
      const pub = sockets.make('PUB', impl);
      await pub.bind(bindAddress('tcp'));
      const topics = ['A', 'B', ''];
      const subs = topics.map((t) => {
        const s = sockets.make('XSUB', other(impl)); // XSUB: no local filtering, so this checks PUB's
        s.connect(pub.lastEndpoint!);
        void s.send(`\x01${t}`);
        return s;
      });
      // each subscriber gets its probe through before the real traffic
      const logs = subs.map(() => [] as string[]);
      const readers = subs.map((s, k) => (async () => {
        for (;;) {
          const m = strs(await s.receive());
          logs[k]!.push(m[0]!);
          if (m[0] === 'B-end') return;
        }
      })());
      for (const r of readers) r.catch(() => {});
      for (let i = 0; !logs.every((l) => l.length > 0); i++) {
        if (i > 1000) throw new Error('subscriptions never took effect');
        await pub.send('A-probe');
        await pub.send('B-probe');
        await sleep(5);
      }
      await pub.send('A-1');
      await pub.send('B-1');
      await pub.send('C-1');
      await pub.send('B-end');
      // B-end ends every reader except A's; end that one with an A message B's reader never sees
      await within(Promise.all([readers[1], readers[2]]), T, 'B and all subscribers');
      await pub.send('A-end');
      const a = await (async () => {
        for (;;) if (logs[0]!.includes('A-end')) return logs[0]!; else await sleep(5);
      })();
      expect(a.filter((m) => !m.startsWith('A'))).toEqual([]);
      expect(a).toContain('A-1');
      expect(logs[1]!.filter((m) => !m.startsWith('B'))).toEqual([]);
      expect(logs[1]).toContain('B-1');
      expect(logs[2]).toEqual(expect.arrayContaining(['A-1', 'B-1', 'C-1', 'B-end']));
    });
  }
});

describe('ROUTER routing ids', () => {
  for (const impl of IMPLS) {
    it(`${name(impl)} ROUTER names its peers with connect-time routing ids`, async () => {
      const hub = sockets.make('ROUTER', impl, { routingId: 'hub', mandatory: true });
      const peers: Sock[] = [];
      for (const id of ['east', 'west']) {
        const p = sockets.make('ROUTER', other(impl));
        await p.bind(bindAddress('tcp'));
        (hub.connect as (a: string, o: { routingId: string }) => void)(p.lastEndpoint!, { routingId: id });
        peers.push(p);
      }
      for (const [k, id] of ['east', 'west'].entries()) {
        const end = Date.now() + T;
        // EHOSTUNREACH until that connection's handshake is done
        while ((await rejectionCode(hub.send([id, `hello ${id}`]))) === 'EHOSTUNREACH' && Date.now() < end) await sleep(5);
        expect(await recv(peers[k]!, `${id} receive`)).toEqual(['hub', `hello ${id}`]);
      }
      await peers[1]!.send(['hub', 'from west']);
      expect(await recv(hub, 'hub receive')).toEqual(['west', 'from west']);
    });

    for (const handover of [false, true]) {
      it(`${name(impl)} ROUTER with a duplicate routing id (handover ${handover}): ${handover ? 'newcomer takes over' : 'newcomer ignored'}, nobody is disconnected`, async () => {
        const router = sockets.make('ROUTER', impl, { handover });
        await router.bind(bindAddress('tcp'));
        const first = sockets.make('DEALER', other(impl), { routingId: 'same' });
        const second = sockets.make('DEALER', other(impl), { routingId: 'same' });
        const firstEvents = recordEvents(first, ['handshake', 'disconnect']);
        const secondEvents = recordEvents(second, ['handshake', 'disconnect']);
        first.connect(router.lastEndpoint!);
        await first.send('from first');
        expect(await recv(router, 'first message')).toEqual(['same', 'from first']);
        second.connect(router.lastEndpoint!);
        await second.send('from second');
        await waitUntil(() => secondEvents.includes('handshake'), T, 'second handshake');
        // a few reconnect intervals: a refused or kicked-out peer would reconnect and come back
        await sleep(400);
        expect(firstEvents).toEqual(['handshake']);
        expect(secondEvents).toEqual(['handshake']);
        const [winner, loser] = handover ? [second, first] : [first, second];
        await router.send(['same', 'to same']);
        expect(await recv(winner, 'message to the id holder')).toEqual(['to same']);
        // the ignored peer's messages are dropped; the holder's arrive (sent a little later, so a
        // wrongly delivered message from the ignored peer would be read first)
        await loser.send('from the ignored one');
        await sleep(50);
        await winner.send('from the holder');
        const got = await recv(router, 'holder message');
        if (handover) {
          // the newcomer's first message was sent before it had the id: it arrives under the id
          if (got[1] === 'from second') expect(await recv(router, 'holder message')).toEqual(['same', 'from the holder']);
          else expect(got).toEqual(['same', 'from the holder']);
        } else {
          expect(got).toEqual(['same', 'from the holder']);
        }
      });
    }
  }
});

describe('PAIR with a second peer', () => {
  for (const impl of IMPLS) {
    // libzmq keeps a second connection open and unused (refusing it would make the peer
    // reconnect every reconnectInterval forever); purezmq does the same.
    it(`${name(impl)} PAIR keeps its first peer; the second stays connected and unused`, async () => {
      const pair = sockets.make('PAIR', impl);
      await pair.bind(bindAddress('tcp'));
      const first = sockets.make('PAIR', other(impl));
      const second = sockets.make('PAIR', other(impl));
      const secondEvents = recordEvents(second, ['handshake', 'disconnect']);
      first.connect(pair.lastEndpoint!);
      await first.send('from first');
      expect(await recv(pair, 'first message')).toEqual(['from first']);
      second.connect(pair.lastEndpoint!);
      void second.send('from second').catch(() => {});
      await waitUntil(() => secondEvents.includes('handshake'), T, 'second handshake');
      await sleep(400); // a few reconnect intervals
      expect(secondEvents).toEqual(['handshake']);
      await first.send('again');
      expect(await recv(pair, 'first peer still served')).toEqual(['again']);
      await pair.send('to first');
      expect(await recv(first, 'reply to first')).toEqual(['to first']);
    });
  }
});

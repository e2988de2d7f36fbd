/**
 * Subscription bookkeeping, checked differentially: each scenario runs once with libzmq on the
 * side under test (the reference) and once with purezmq there, with the same expectations.
 *
 * libzmq 4.3.5 behaviour this pins down (src/xpub.cpp, src/xsub.cpp, src/mtrie):
 * - SUB/XSUB count subscriptions locally: every subscribe is sent, a CANCEL only when the count
 *   drops to zero, and after a reconnect each distinct topic once.
 * - PUB/XPUB keep a *set* of topics per subscriber: a repeated SUBSCRIBE changes nothing and one
 *   CANCEL removes the topic for that subscriber.
 * - XPUB (default verbosity) tells its application `\x01T` when T gets its first subscriber and
 *   `\x00T` when its last one cancels or disconnects.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { bindAddress, collect, sleep, Sockets, strs, waitUntil, within, type Impl, type Sock } from '../_helpers/interop.ts';

const T = 5000;
const IMPLS: Impl[] = ['lib', 'pz'];
const name = (impl: Impl) => (impl === 'lib' ? 'libzmq (reference)' : 'purezmq');

const sockets = new Sockets();
afterEach(() => sockets.closeAll());

/** Waits until `log` has grown by messages that include every one of `expected` (first frames). */
async function waitFor(log: string[][], from: number, expected: string[], what: string): Promise<string[]> {
  await waitUntil(() => expected.every((e) => log.slice(from).some((m) => m[0] === e)), T, what);
  return log.slice(from).map((m) => m[0]!);
}

/**
 * Publishes `probe` until it arrives at `log`, then `end`; returns the first frames that
 * arrived from the first probe on (the subscription producing `probe` is in effect by then).
 */
async function probeThenEnd(pub: Sock, log: string[][], probe: string, end: string): Promise<string[]> {
  const start = log.length;
  for (let i = 0; !log.slice(start).some((m) => m[0] === probe); i++) {
    if (i > 1000) throw new Error(`${probe} never arrived`);
    await pub.send(probe);
    await sleep(5);
  }
  const firstProbe = log.findIndex((m, i) => i >= start && m[0] === probe);
  await pub.send(`A-late`);
  await pub.send(end);
  await waitUntil(() => log.some((m) => m[0] === end), T, end);
  return log.slice(firstProbe).map((m) => m[0]!);
}

type Verbosity = null | 'allSubs' | 'allSubsUnsubs';

/** What the XPUB application reads at each step of the scenario below, sorted, per verbosity. */
const XPUB_STEPS: Record<string, string[][]> = {
  null: [['\x01A', '\x01S1', '\x01S2'], ['\x01S3'], ['\x00S1', '\x00S3'], ['\x00A', '\x00S2']],
  allSubs: [['\x01A', '\x01A', '\x01A', '\x01S1', '\x01S2'], ['\x01S3'], ['\x00S1', '\x00S3'], ['\x00A', '\x00S2']],
  allSubsUnsubs: [['\x01A', '\x01A', '\x01A', '\x01S1', '\x01S2'], ['\x00A', '\x01S3'], ['\x00S1', '\x00S3'], ['\x00A', '\x00S2']],
};

describe('XPUB subscription events (libzmq XSUB subscribers)', () => {
  for (const verbosity of [null, 'allSubs', 'allSubsUnsubs'] as Verbosity[]) {
    for (const impl of IMPLS) {
      it(`${name(impl)} XPUB, verbosity ${verbosity}: which subscribes and cancels the application sees`, async () => {
        const expected = XPUB_STEPS[String(verbosity)]!;
        const xpub = sockets.make('XPUB', impl, { verbosity });
        await xpub.bind(bindAddress('tcp'));
        const events = collect(xpub);
        const s1 = sockets.lib('XSUB');
        const s2 = sockets.lib('XSUB');
        s1.connect(xpub.lastEndpoint!);
        s2.connect(xpub.lastEndpoint!);
        let mark = 0;
        const step = async (i: number, what: string) => {
          const want = expected[i]!;
          // every expected event in, and no more than expected (an extra one fails the comparison)
          await waitUntil(() => events.length - mark >= want.length, T, what);
          expect(events.slice(mark).map((m) => m[0]!).sort(), what).toEqual(want);
          mark = events.length;
        };

        // A from both subscribers, twice from s1 (libzmq XSUB sends each); sentinels S1/S2 follow
        // on each connection, so once they are in, every event the A's caused is in too
        await s1.send('\x01A');
        await s2.send('\x01A');
        await s1.send('\x01A');
        await s1.send('\x01S1');
        await s2.send('\x01S2');
        await waitUntil(() => events.some((m) => m[0] === '\x01S1') && events.some((m) => m[0] === '\x01S2'), T, 'S1, S2');
        await step(0, 'subscribes');

        // s1 cancels A twice (its XSUB sends one CANCEL, at count zero): s2 still has A
        await s1.send('\x00A');
        await s1.send('\x00A');
        await s1.send('\x01S3');
        await waitUntil(() => events.slice(mark).some((m) => m[0] === '\x01S3'), T, 'S3');
        await step(1, 'cancel of a topic another subscriber keeps');

        // s1 goes away: its topics nobody else has are cancelled for it
        s1.close();
        await step(2, 'first subscriber disconnects');
        // s2 goes away: A and S2 lose their last subscriber
        s2.close();
        await step(3, 'last subscriber disconnects');
        // nothing else trickles in afterwards (the next event would be a bug)
        await sleep(50);
        expect(events.length).toBe(mark);
      });
    }
  }
});

describe('publisher keeps one set of topics per subscriber (libzmq XSUB subscriber)', () => {
  for (const impl of IMPLS) {
    it(`${name(impl)} PUB: a repeated SUBSCRIBE is undone by one CANCEL`, async () => {
      const pub = sockets.make('PUB', impl);
      await pub.bind(bindAddress('tcp'));
      const xsub = sockets.lib('XSUB');
      xsub.connect(pub.lastEndpoint!);
      const log = collect(xsub);
      // libzmq XSUB: sends SUBSCRIBE A twice, CANCEL A once (when its own count reaches zero)
      await xsub.send('\x01A');
      await xsub.send('\x01A');
      const before = await probeThenEnd(pub, log, 'A-probe', 'A-end');
      expect(before).toContain('A-late');
      await xsub.send('\x00A');
      await xsub.send('\x00A');
      await xsub.send('\x01Z');
      // XSUB does not filter: whatever arrives was sent by the publisher
      const after = await probeThenEnd(pub, log, 'Z-probe', 'Z-end');
      expect(after.filter((m) => m.startsWith('A'))).toEqual([]);
    });
  }
});

describe('subscriber counts its subscriptions (libzmq XPUB publisher)', () => {
  for (const impl of IMPLS) {
    for (const role of ['SUB', 'XSUB'] as const) {
      it(`${name(impl)} ${role}: two subscribes, one cancel keep the topic`, async () => {
        const xpub = sockets.lib('XPUB');
        await xpub.bind(bindAddress('tcp'));
        const events = collect(xpub);
        const sub = sockets.make(role, impl);
        sub.connect(xpub.lastEndpoint!);
        const log = collect(sub);
        const subscribe = (t: string) => (role === 'XSUB' ? sub.send(`\x01${t}`) : (sub.subscribe(t), Promise.resolve()));
        const cancel = (t: string) => (role === 'XSUB' ? sub.send(`\x00${t}`) : (sub.unsubscribe(t), Promise.resolve()));

        // connected first, so each call below goes out as it is made
        await subscribe('S0');
        await waitFor(events, 0, ['\x01S0'], 'first subscription');
        await subscribe('A');
        await subscribe('A');
        await cancel('A');
        await subscribe('S');
        // in order on one connection: had A been cancelled at the publisher, \x00A came before \x01S
        expect(await waitFor(events, 1, ['\x01S'], 'sentinel S')).toEqual(['\x01A', '\x01S']);
        const flow = await probeThenEnd(xpub, log, 'A-probe', 'A-end');
        expect(flow).toContain('A-late');

        const mark = events.length;
        await cancel('A');
        expect(await waitFor(events, mark, ['\x00A'], 'cancel of A')).toEqual(['\x00A']);
      });
    }
  }
});

describe('topics beyond text', () => {
  for (const impl of IMPLS) {
    it(`${name(impl)} XPUB, other side SUB: 300-byte topic (long SUBSCRIBE command) and binary topic with 0x00 bytes`, async () => {
      const xpub = sockets.make('XPUB', impl);
      await xpub.bind(bindAddress('tcp'));
      const sub = sockets.make('SUB', impl === 'lib' ? 'pz' : 'lib');
      sub.connect(xpub.lastEndpoint!);
      const long = Buffer.alloc(300, 0x41);
      const bin = Buffer.from([0, 1, 0, 255]);
      sub.subscribe(long);
      sub.subscribe(bin);
      const events = [strs(await within(xpub.receive(), T, 'event 1')), strs(await within(xpub.receive(), T, 'event 2'))];
      // sent before the connection was up: each side re-sends them in its own order
      expect(events.map((e) => e[0]).sort()).toEqual([`\x01${bin.toString('latin1')}`, `\x01${long.toString('latin1')}`]);
      // subscriptions are in: binary prefix match on a 1001-frame message, then the long topic
      const frames = Array.from({ length: 1000 }, (_, i) => String(i));
      await xpub.send([Buffer.concat([Buffer.from([0, 1, 0]), Buffer.from('no')]), 'x']); // shorter prefix: no match
      await xpub.send([Buffer.concat([bin, Buffer.from('yes')]), ...frames]);
      await xpub.send([Buffer.concat([long.subarray(1), Buffer.from('B')])]); // 299 A's then B: no match
      await xpub.send([Buffer.concat([long, Buffer.from('!')])]);
      const m1 = await within(sub.receive(), T, 'binary topic message');
      expect(Buffer.from(m1[0]!).toString('latin1')).toBe('\x00\x01\x00\xffyes');
      expect(strs(m1.slice(1))).toEqual(frames);
      const m2 = await within(sub.receive(), T, 'long topic message');
      expect(Buffer.from(m2[0]!).equals(Buffer.concat([long, Buffer.from('!')]))).toBe(true);
    });
  }
});

describe('purezmq PUB fan-out to libzmq SUBs', () => {
  it('one stream to three libzmq SUBs (one filtered): every frame byte-exact and in order, small, long and large frames', async () => {
    const pub = sockets.pz('PUB', { sendHighWaterMark: 0 });
    await pub.bind(bindAddress('tcp'));
    const subs = [sockets.lib('SUB'), sockets.lib('SUB'), sockets.lib('SUB')];
    const topics = ['', '', 'a'];
    const logs = subs.map((s, i) => {
      s.connect(pub.lastEndpoint!);
      s.subscribe(topics[i]!);
      return collect(s);
    });
    // every subscription is in effect once each SUB has seen a probe
    for (let i = 0; !logs.every((l) => l.some((m) => m[0] === 'a-probe')); i++) {
      if (i > 1000) throw new Error('subscriptions never took effect');
      await pub.send('a-probe');
      await sleep(5);
    }
    const sent: string[][] = [];
    for (let i = 0; i < 300; i++) {
      const topic = i % 3 === 0 ? `b${i}` : `a${i}`;
      const msg = i % 10 === 0 ? [topic, 'x'.repeat(300), 'y'.repeat(i % 20 === 0 ? 5000 : 7)] : i % 2 ? [topic] : [topic, String(i)];
      sent.push(msg);
      await pub.send(msg);
    }
    sent.push(['a-end']);
    await pub.send('a-end');
    await within(Promise.all(logs.map((l, i) => waitUntil(() => l.some((m) => m[0] === 'a-end'), T, `a-end at SUB ${i}`))), T + 1000, 'every SUB');
    logs.forEach((log, i) => {
      const got = log.filter((m) => m[0] !== 'a-probe');
      expect(got).toEqual(sent.filter((m) => m[0]!.startsWith(topics[i]!)));
    });
  });
});

describe('invertMatching (ZMQ_INVERT_MATCHING), both directions', () => {
  for (const [pubImpl, subImpl] of [['pz', 'lib'], ['lib', 'pz'], ['pz', 'pz']] as [Impl, Impl][]) {
    it(`${name(pubImpl)} PUB → ${name(subImpl)} SUB: only what matches no subscription is delivered`, async () => {
      const pub = sockets.make('PUB', pubImpl, { invertMatching: true });
      await pub.bind(bindAddress('tcp'));
      const sub = sockets.make('SUB', subImpl, { invertMatching: true });
      sub.connect(pub.lastEndpoint!);
      sub.subscribe('news');
      const log = collect(sub);
      // 'other-probe' matches no subscription, so it is delivered once the subscription is in place
      // (before it, an inverting PUB sends everything: no subscription matches yet)
      for (let i = 0; !log.some((m) => m[0] === 'other-probe'); i++) {
        if (i > 1000) throw new Error('nothing came through');
        await pub.send('other-probe');
        await sleep(5);
      }
      const from = log.length;
      await pub.send('news: filtered out');
      await pub.send('weather: delivered');
      await pub.send('news-flash: filtered out');
      await pub.send('end');
      await waitUntil(() => log.some((m) => m[0] === 'end'), T, 'end');
      expect(log.slice(from).map((m) => m[0])).toEqual(['weather: delivered', 'end']);
    });
  }
});

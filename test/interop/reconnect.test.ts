/**
 * Reconnection across a restart of the bound side (zmtp.md §11-12): the connecting socket
 * keeps its pipe, queues while disconnected, reconnects on its own and delivers the queue.
 */
import { describe, expect, it } from 'vitest';
import { bindAddress, recordEvents, rejectionCode, sleep, Sockets, strs, waitUntil, within, type Impl, type Sock, type Transport } from '../_helpers/interop.ts';

const T = 5000;

/** Binds `make()` to `address`, retrying while the old listener still holds the port. */
async function rebind(make: () => Sock, address: string): Promise<Sock> {
  const end = Date.now() + T;
  for (;;) {
    const s = make();
    const code = await rejectionCode(s.bind(address));
    if (code === undefined) return s;
    s.close();
    if (code !== 'EADDRINUSE' || Date.now() > end) throw new Error(`rebinding ${address} failed: ${code}`);
    await sleep(20);
  }
}

const CASES: { routerImpl: Impl; transport: Transport }[] = [
  { routerImpl: 'lib', transport: 'tcp' },
  { routerImpl: 'lib', transport: 'ipc' },
  { routerImpl: 'pz', transport: 'tcp' },
  { routerImpl: 'pz', transport: 'ipc' },
];

describe('reconnect after the bound side restarts', () => {
  for (const { routerImpl, transport } of CASES) {
    const dealerImpl: Impl = routerImpl === 'lib' ? 'pz' : 'lib';
    const name = `${routerImpl === 'lib' ? 'libzmq' : 'purezmq'} ROUTER restarts, ${dealerImpl === 'pz' ? 'purezmq' : 'libzmq'} DEALER reconnects, ${transport}`;
    it(name, async () => {
      const sockets = new Sockets();
      try {
        const dealer = sockets.make('DEALER', dealerImpl, { routingId: 'rc-dealer', reconnectInterval: 50 });
        const events = recordEvents(dealer, ['connect', 'connect:retry', 'disconnect', 'handshake']);
        let router = sockets.make('ROUTER', routerImpl);
        await router.bind(bindAddress(transport));
        const endpoint = router.lastEndpoint!;
        dealer.connect(endpoint);

        await dealer.send('before');
        expect(strs(await within(router.receive(), T, 'message before the restart'))).toEqual(['rc-dealer', 'before']);
        await router.send(['rc-dealer', 'ack']);
        expect(strs(await within(dealer.receive(), T, 'ack before the restart'))).toEqual(['ack']);

        router.close();
        await waitUntil(() => events.includes('disconnect'), T, 'DEALER notices the restart');
        // queued on the connect-side pipe while nobody listens
        await dealer.send(['while-down', '']);

        router = await rebind(() => sockets.make('ROUTER', routerImpl), endpoint);
        expect(strs(await within(router.receive(), T, 'queued message after the restart'))).toEqual(['rc-dealer', 'while-down', '']);
        // the dealer retried on its own and connected again
        const history = events.join(' ');
        if (dealerImpl === 'pz') {
          // purezmq reports each retry, then the new connection
          expect(history).toMatch(/^connect handshake disconnect( connect:retry)+ connect handshake$/);
        } else {
          // libzmq's monitor events arrive asynchronously: the last handshake may still be on its way
          expect(history).toMatch(/^connect handshake disconnect( \S+)* connect( |$)/);
        }
        await router.send(['rc-dealer', 'welcome back']);
        expect(strs(await within(dealer.receive(), T, 'reply after the restart'))).toEqual(['welcome back']);
        await dealer.send('after');
        expect(strs(await within(router.receive(), T, 'message after the restart'))).toEqual(['rc-dealer', 'after']);
      } finally {
        sockets.closeAll();
      }
    });
  }
});

describe('subscriptions survive a restart of the publisher', () => {
  for (const pubImpl of ['lib', 'pz'] as Impl[]) {
    for (const transport of ['tcp', 'ipc'] as Transport[]) {
      const subImpl: Impl = pubImpl === 'lib' ? 'pz' : 'lib';
      it(`${pubImpl === 'lib' ? 'libzmq' : 'purezmq'} PUB restarts, ${subImpl === 'lib' ? 'libzmq' : 'purezmq'} SUB subscribes again, ${transport}`, async () => {
        const sockets = new Sockets();
        try {
          const sub = sockets.make('SUB', subImpl, { reconnectInterval: 50 });
          const events = recordEvents(sub, ['disconnect']);
          let pub = sockets.make('PUB', pubImpl);
          await pub.bind(bindAddress(transport));
          const endpoint = pub.lastEndpoint!;
          sub.connect(endpoint);
          sub.subscribe('A');
          sub.subscribe('A'); // counted twice locally, re-sent once after reconnecting
          sub.subscribe('B');

          // publishes `msg` until the subscriber has it, then `end`; returns what arrived
          const flow = async (label: string): Promise<string[]> => {
            const seen: string[] = [];
            const reader = (async () => {
              for (;;) {
                const m = strs(await sub.receive());
                seen.push(m[0]!);
                if (m[0] === `B-${label}-end`) return;
              }
            })();
            reader.catch(() => {});
            for (let i = 0; !seen.includes(`A-${label}`); i++) {
              if (i > 1000) throw new Error(`A-${label} never arrived`);
              await pub.send(`A-${label}`);
              await sleep(5);
            }
            await pub.send(`C-${label}`); // not subscribed
            await pub.send(`B-${label}-end`);
            await within(reader, T, `B-${label}-end`);
            return seen;
          };

          expect(await flow('first')).not.toContain('C-first');
          pub.close();
          await waitUntil(() => events.includes('disconnect'), T, 'SUB notices the restart');
          pub = await rebind(() => sockets.make('PUB', pubImpl), endpoint);
          // the new publisher knows nothing: only the subscriber's re-sent subscriptions bring traffic
          expect(await flow('second')).not.toContain('C-second');
          // one unsubscribe of the twice-subscribed A keeps it
          sub.unsubscribe('A');
          expect(await flow('third')).toContain('A-third');
        } finally {
          sockets.closeAll();
        }
      });
    }
  }
});

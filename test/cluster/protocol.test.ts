/**
 * A broker's cluster endpoint spoken to frame by frame by a fake member (purezmq ROUTER + DEALER and
 * the PZC01 codec): HELLO is answered with WELCOME, a FORWARD is served and answered with its FINAL,
 * refused with the right reason when it cannot be taken, a CANCEL drops a queued one, and a malformed
 * message is dropped and counted without closing the link.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Broker, Worker } from '../../src/mdp/mod.ts';
import { Dealer, Router } from '../../src/mod.ts';
import { decodeCluster, encodeCluster, RefuseReason, WireState, type ClusterMessage } from '../../src/mdp/cluster/wire.ts';
import { waitFor } from '../mdp/helpers.ts';

const closers: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

/** A member that is only a codec: it receives on its ROUTER and sends on a DEALER, as brokers do. */
async function fakeMember(target: string): Promise<{ got: ClusterMessage[]; send(m: ClusterMessage | Uint8Array[]): Promise<void>; endpoint: string }> {
  const router = new Router({ linger: 0 });
  await router.bind('tcp://127.0.0.1:*');
  const endpoint = router.lastEndpoint!;
  const dealer = new Dealer({ linger: 0 });
  dealer.connect(target);
  const got: ClusterMessage[] = [];
  let open = true;
  void (async () => {
    while (open) {
      try {
        const msg = await router.receive();
        const r = decodeCluster(msg.slice(1));
        if (r.ok) got.push(r.message);
      } catch {
        return;
      }
    }
  })();
  closers.push(() => {
    open = false;
    dealer.close();
    router.close();
  });
  return { got, endpoint, send: (m) => dealer.send(Array.isArray(m) ? m : encodeCluster(m)) };
}

describe('PZC01 at a broker (a fake member)', () => {
  it('HELLO → WELCOME; FORWARD → FINAL; refusals; CANCEL; malformed messages dropped and counted', async () => {
    const broker = new Broker({ heartbeatInterval: 100, clusterBind: 'tcp://127.0.0.1:*', nodeId: 'real', clusterHeartbeat: 50, clusterLiveness: '40' });
    closers.push(() => broker.close(0));
    const ep = await broker.bind('tcp://127.0.0.1:*');
    let hold = true;
    const w = new Worker(ep, 'echo', async (req) => {
      while (hold && String(req[0]) === 'slow') await new Promise((r) => setTimeout(r, 10));
      return [text('echo:'), ...req];
    }, { heartbeatInterval: 100 });
    closers.push(() => w.close());
    await waitFor(() => broker.metrics().services.echo?.workers === 1, 'the worker');

    const fake = await fakeMember(broker.clusterEndpoint!);
    await fake.send({ command: 'HELLO', from: 'fake', member: { id: 'fake', endpoint: fake.endpoint, clientEndpoints: [], incarnation: 1, heartbeat: 0, state: WireState.ALIVE, publicKey: undefined } });
    await waitFor(() => fake.got.some((m) => m.command === 'WELCOME'), 'WELCOME');
    const welcome = fake.got.find((m) => m.command === 'WELCOME') as Extract<ClusterMessage, { command: 'WELCOME' }>;
    expect(welcome.members[0]).toMatchObject({ id: 'real', endpoint: broker.clusterEndpoint, clientEndpoints: [ep], state: WireState.ALIVE });
    // and its view of services, in full, at once
    await waitFor(() => fake.got.some((m) => m.command === 'SERVICES' && m.full && m.services.some((s) => s.name === 'echo' && s.idle === 1)), 'a full SERVICES view');
    const hb = setInterval(() => void fake.send({ command: 'HEARTBEAT', from: 'fake', incarnation: 1, heartbeat: Date.now() }), 50);
    closers.push(() => clearInterval(hb));

    const replies = (rid: number) => fake.got.filter((m) => (m.command === 'FINAL' || m.command === 'PARTIAL' || m.command === 'REFUSE') && m.rid === rid);
    await fake.send({ command: 'FORWARD', from: 'fake', rid: 7, service: text('echo'), dialect: 'rfc18', body: [text('hi')] });
    await waitFor(() => replies(7).length > 0, 'the FINAL of 7');
    expect(replies(7).map((m) => ({ ...m, body: 'body' in m ? m.body.map((f) => new TextDecoder().decode(f)) : [] }))).toEqual([{ command: 'FINAL', from: 'real', rid: 7, body: ['echo:', 'hi'] }]);

    await fake.send({ command: 'FORWARD', from: 'fake', rid: 8, service: text('nobody'), dialect: 'rfc18', body: [] });
    await fake.send({ command: 'FORWARD', from: 'fake', rid: 9, service: text('mmi.service'), dialect: 'rfc18', body: [text('echo')] });
    await waitFor(() => replies(8).length > 0 && replies(9).length > 0, 'the refusals');
    expect(replies(8)[0]).toMatchObject({ command: 'REFUSE', reason: RefuseReason.NO_WORKER });
    expect(replies(9)[0]).toMatchObject({ command: 'REFUSE', reason: RefuseReason.UNKNOWN_SERVICE });

    // one on the worker, one queued behind it; the queued one is cancelled and never runs
    await fake.send({ command: 'FORWARD', from: 'fake', rid: 10, service: text('echo'), dialect: 'rfc18', body: [text('slow')] });
    await fake.send({ command: 'FORWARD', from: 'fake', rid: 11, service: text('echo'), dialect: 'rfc18', body: [text('cancelled')] });
    await waitFor(() => broker.metrics().services.echo!.queueDepth === 1, 'the second queued');
    await fake.send({ command: 'CANCEL', from: 'fake', rid: 11 });
    await waitFor(() => broker.metrics().services.echo!.queueDepth === 0, 'the cancel');
    hold = false;
    await waitFor(() => replies(10).length > 0, 'the FINAL of 10');
    await new Promise((r) => setTimeout(r, 100));
    expect(replies(11)).toEqual([]);

    // garbage on the link: dropped and counted; the link still works
    await fake.send([text('PZC01'), Uint8Array.of(0x7f), text('fake')]);
    await fake.send([text('nonsense')]);
    await waitFor(() => (broker.metrics().cluster?.invalid ?? 0) === 2, 'two invalid');
    await fake.send({ command: 'FORWARD', from: 'fake', rid: 12, service: text('echo'), dialect: 'rfc7', body: [text('again')] });
    await waitFor(() => replies(12).length > 0, 'the FINAL of 12');
    expect(broker.metrics().cluster).toMatchObject({ receivedFromPeers: 6, invalid: 2 });
    // a FORWARD from a node it does not know has no way back: dropped
    await fake.send({ command: 'FORWARD', from: 'stranger', rid: 13, service: text('echo'), dialect: 'rfc18', body: [] });
    await waitFor(() => (broker.metrics().cluster?.invalid ?? 0) === 3, 'the stranger dropped');
  });
});

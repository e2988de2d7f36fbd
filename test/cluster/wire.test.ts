/**
 * PZC01 codec: fixtures frame by frame, round trips of every command (fast-check), and the strict
 * decoder: truncation, garbage and out-of-bound fields end in MDP_CLUSTER_MALFORMED, never a throw.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decodeCluster, encodeCluster, RefuseReason, WireState, type ClusterMessage, type MemberRecord } from '../../src/mdp/cluster/wire.ts';

const enc = new TextEncoder();
const text = (s: string): Uint8Array => enc.encode(s);

const idArb = fc.string({ minLength: 1, maxLength: 40 }).filter((s) => enc.encode(s).length <= 255);
const epArb = fc.integer({ min: 1, max: 65535 }).map((p) => `tcp://127.0.0.1:${p}`);
const u53 = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
const memberArb: fc.Arbitrary<MemberRecord> = fc.record({
  id: idArb,
  endpoint: epArb,
  clientEndpoints: fc.array(epArb, { maxLength: 4 }),
  incarnation: u53,
  heartbeat: u53,
  state: fc.constantFrom(WireState.ALIVE, WireState.DEAD, WireState.LEFT),
  publicKey: fc.option(fc.uint8Array({ minLength: 32, maxLength: 32 }), { nil: undefined }),
});
const bodyArb = fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 5 });
const messageArb: fc.Arbitrary<ClusterMessage> = fc.oneof(
  fc.record({ command: fc.constant('HELLO' as const), from: idArb, member: memberArb }),
  fc.record({ command: fc.constant('WELCOME' as const), from: idArb, members: fc.array(memberArb, { minLength: 1, maxLength: 5 }) }),
  fc.record({ command: fc.constant('MEMBERS' as const), from: idArb, members: fc.array(memberArb, { maxLength: 5 }) }),
  fc.record({ command: fc.constant('HEARTBEAT' as const), from: idArb, incarnation: u53, heartbeat: u53 }),
  fc
    .record({
      command: fc.constant('SERVICES' as const),
      from: idArb,
      full: fc.boolean(),
      version: fc.integer({ min: 1, max: 1e9 }),
      seen: u53,
      services: fc.array(fc.record({ name: idArb, idle: fc.nat(1e6), busy: fc.nat(1e6), queued: fc.nat(1e6) }), { maxLength: 5 }),
    })
    .chain((m) => fc.integer({ min: 0, max: m.version - 1 }).map((base) => ({ ...m, base: m.full ? 0 : base }))),
  fc.record({ command: fc.constant('FORWARD' as const), from: idArb, rid: u53, service: fc.uint8Array({ minLength: 1, maxLength: 50 }), dialect: fc.constantFrom('', 'rfc7', 'rfc18', 'majortomo', 'plantd'), body: bodyArb }),
  fc.record({ command: fc.constantFrom('PARTIAL' as const, 'FINAL' as const), from: idArb, rid: u53, body: bodyArb }),
  fc.record({ command: fc.constant('REFUSE' as const), from: idArb, rid: u53, reason: fc.constantFrom(...Object.values(RefuseReason)), text: fc.string({ maxLength: 50 }) }),
  fc.record({ command: fc.constant('CANCEL' as const), from: idArb, rid: u53 }),
);

function malformed(frames: Uint8Array[]): string {
  const r = decodeCluster(frames);
  expect(r.ok).toBe(false);
  if (r.ok) return '';
  expect(r.error.code).toBe('MDP_CLUSTER_MALFORMED');
  return r.error.message;
}

describe('PZC01 codec', () => {
  it('encodes a HEARTBEAT frame by frame', () => {
    const frames = encodeCluster({ command: 'HEARTBEAT', from: 'a', incarnation: 0x0102, heartbeat: 7 });
    expect(frames.map((f) => Buffer.from(f).toString('hex'))).toEqual(['505a433031', '04', '61', '0000000000000102' + '0000000000000007']);
  });

  it('encodes a FORWARD with its body frames as given (not copied)', () => {
    const body = [text('x'), text('')];
    const frames = encodeCluster({ command: 'FORWARD', from: 'n1', rid: 5, service: text('echo'), dialect: 'rfc18', body });
    expect(frames.length).toBe(8);
    expect(Buffer.from(frames[1]!).toString('hex')).toBe('06');
    expect(Buffer.from(frames[3]!).toString('hex')).toBe('0000000000000005');
    expect(frames[6]).toBe(body[0]);
  });

  it('encodes a member record field by field', () => {
    const frames = encodeCluster({
      command: 'HELLO',
      from: 'b',
      member: { id: 'b', endpoint: 'tcp://h:1', clientEndpoints: ['tcp://h:2'], incarnation: 1, heartbeat: 2, state: WireState.ALIVE, publicKey: undefined },
    });
    expect(Buffer.from(frames[3]!).toString('hex')).toBe(
      '0001' + '01' + '62' + '00' + '0000000000000001' + '0000000000000002' + '0009' + Buffer.from('tcp://h:1').toString('hex') + '01' + '0009' + Buffer.from('tcp://h:2').toString('hex') + '00',
    );
  });

  it('round-trips every command', () => {
    fc.assert(
      fc.property(messageArb, (m) => {
        const r = decodeCluster(encodeCluster(m));
        expect(r.ok).toBe(true);
        if (r.ok) expect(r.message).toEqual(m);
      }),
      { numRuns: 500 },
    );
  });

  it('refuses every truncation of a packed frame with a typed error', () => {
    fc.assert(
      fc.property(messageArb.filter((m) => ['HELLO', 'WELCOME', 'MEMBERS', 'HEARTBEAT', 'SERVICES'].includes(m.command)), fc.nat(), (m, cut) => {
        const frames = encodeCluster(m);
        const last = frames[3]!;
        const n = cut % last.length;
        malformed([...frames.slice(0, 3), last.subarray(0, n)]);
        // and one byte too many
        malformed([...frames.slice(0, 3), Uint8Array.of(...last, 0)]);
      }),
      { numRuns: 300 },
    );
  });

  it('never throws on garbage, and anything it accepts re-encodes to the same frames', () => {
    const frameArb = fc.oneof(fc.uint8Array({ maxLength: 40 }), fc.constant(text('PZC01')), fc.constantFrom(...[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0].map((b) => Uint8Array.of(b))));
    fc.assert(
      fc.property(fc.array(frameArb, { maxLength: 8 }), (frames) => {
        const r = decodeCluster(frames);
        if (!r.ok) {
          expect(r.error.code).toBe('MDP_CLUSTER_MALFORMED');
          return;
        }
        expect(decodeCluster(encodeCluster(r.message))).toEqual(r);
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses each malformed header and field with a message that names it', () => {
    expect(malformed([text('PZC01'), Uint8Array.of(4)])).toMatch(/2 frames, at least 3/);
    expect(malformed([text('PZC02'), Uint8Array.of(4), text('a'), new Uint8Array(16)])).toMatch(/not "PZC01"/);
    expect(malformed([text('PZC01'), Uint8Array.of(0x20), text('a')])).toMatch(/unknown command 0x20/);
    expect(malformed([text('PZC01'), Uint8Array.of(4, 4), text('a')])).toMatch(/command frame is 2 bytes/);
    expect(malformed([text('PZC01'), Uint8Array.of(4), new Uint8Array(0), new Uint8Array(16)])).toMatch(/sender id is 0 bytes/);
    expect(malformed([text('PZC01'), Uint8Array.of(4), Uint8Array.of(0xff), new Uint8Array(16)])).toMatch(/sender id is not valid UTF-8/);
    expect(malformed([text('PZC01'), Uint8Array.of(4), text('a'), Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, ...new Uint8Array(8))])).toMatch(/above 2\^53-1/);
    expect(malformed([text('PZC01'), Uint8Array.of(6), text('a'), new Uint8Array(8), new Uint8Array(0), new Uint8Array(0)])).toMatch(/service name is 0 bytes/);
    expect(malformed([text('PZC01'), Uint8Array.of(6), text('a'), new Uint8Array(7), text('s'), new Uint8Array(0)])).toMatch(/request id is 7 bytes/);
    expect(malformed([text('PZC01'), Uint8Array.of(9), text('a'), new Uint8Array(8), Uint8Array.of(9), new Uint8Array(0)])).toMatch(/reason/);
    // a member list that claims more members than the bound, before reading any
    expect(malformed([text('PZC01'), Uint8Array.of(3), text('a'), Uint8Array.of(0xff, 0xff)])).toMatch(/65535 members, at most 1024/);
    // a delta must sit on an older version
    const sv = encodeCluster({ command: 'SERVICES', from: 'a', full: false, version: 3, base: 2, seen: 0, services: [] });
    sv[3]![16] = 9; // base's low byte: 9 >= version 3
    expect(malformed(sv)).toMatch(/delta base 9 is not below its version 3/);
  });
});

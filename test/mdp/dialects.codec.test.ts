/**
 * Dialect codecs (majortomo, plantd, and the RFC ones through the same interface), the detection
 * table, and the dialect settings of the configuration. Wire bytes here are spelled out from the
 * implementations' own code (see test/mdp/dialects.peers.ts for the sources), not from our codecs.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  ALL_CODECS,
  Broker,
  DIALECT_CODECS,
  Direction,
  MAJORTOMO,
  MDP01,
  MDP02,
  MdpError,
  MdpErrorCode,
  MalformedReason,
  PLANTD,
  detect,
  directionsOf,
  expandDialects,
  parseAny,
  resolveConfig,
  resolveDialect,
  type MdpCodec,
  type MdpCommand,
} from '../../src/mdp/mod.ts';

const f = (s: string): Uint8Array => new TextEncoder().encode(s);
const b = (...n: number[]): Uint8Array => Uint8Array.from(n);
const E = new Uint8Array(0);
const id = b(0x00, 0x6b, 0x8b, 0x45, 0x67);
const hex = (frames: readonly Uint8Array[]): string[] => frames.map((x) => Buffer.from(x).toString('hex'));

interface Vector {
  name: string;
  codec: MdpCodec;
  dir: Direction;
  frames: Uint8Array[];
  command: MdpCommand;
}

const v = '0.2' as const;
const vectors: Vector[] = [
  // majortomo: client.py, worker.py, broker.py
  { name: 'majortomo client REQUEST', codec: MAJORTOMO, dir: Direction.TO_BROKER, frames: [E, f('MDPC02'), b(0x02), f('echo'), f('hi'), E], command: { protocol: 'client', command: 'REQUEST', version: v, service: f('echo'), body: [f('hi'), E] } },
  { name: 'majortomo PARTIAL to client (no service frame)', codec: MAJORTOMO, dir: Direction.TO_CLIENT, frames: [E, f('MDPC02'), b(0x03), f('p')], command: { protocol: 'client', command: 'PARTIAL', version: v, service: E, body: [f('p')] } },
  { name: 'majortomo FINAL to client', codec: MAJORTOMO, dir: Direction.TO_CLIENT, frames: [E, f('MDPC02'), b(0x04), f('a'), f('b')], command: { protocol: 'client', command: 'FINAL', version: v, service: E, body: [f('a'), f('b')] } },
  { name: 'majortomo READY', codec: MAJORTOMO, dir: Direction.TO_BROKER, frames: [E, f('MDPW02'), b(0x01), f('echo')], command: { protocol: 'worker', command: 'READY', version: v, service: f('echo') } },
  { name: 'majortomo REQUEST to worker', codec: MAJORTOMO, dir: Direction.TO_WORKER, frames: [E, f('MDPW02'), b(0x02), id, E, f('x')], command: { protocol: 'worker', command: 'REQUEST', version: v, client: id, body: [f('x')] } },
  { name: 'majortomo worker PARTIAL', codec: MAJORTOMO, dir: Direction.TO_BROKER, frames: [E, f('MDPW02'), b(0x03), id, E, f('x')], command: { protocol: 'worker', command: 'PARTIAL', version: v, client: id, body: [f('x')] } },
  { name: 'majortomo worker FINAL', codec: MAJORTOMO, dir: Direction.TO_BROKER, frames: [E, f('MDPW02'), b(0x04), id, E, f('x'), f('y')], command: { protocol: 'worker', command: 'FINAL', version: v, client: id, body: [f('x'), f('y')] } },
  { name: 'majortomo HEARTBEAT to broker', codec: MAJORTOMO, dir: Direction.TO_BROKER, frames: [E, f('MDPW02'), b(0x05)], command: { protocol: 'worker', command: 'HEARTBEAT', version: v } },
  { name: 'majortomo DISCONNECT to worker', codec: MAJORTOMO, dir: Direction.TO_WORKER, frames: [E, f('MDPW02'), b(0x06)], command: { protocol: 'worker', command: 'DISCONNECT', version: v } },
  // plantd: client.go, worker.go, broker.go
  { name: 'plantd client REQUEST', codec: PLANTD, dir: Direction.TO_BROKER, frames: [E, f('MDPC02'), f('REQUEST'), f('echo'), f('hi')], command: { protocol: 'client', command: 'REQUEST', version: v, service: f('echo'), body: [f('hi')] } },
  { name: 'plantd PARTIAL to client (no leading empty frame)', codec: PLANTD, dir: Direction.TO_CLIENT, frames: [f('MDPC02'), f('PARTIAL'), f('echo'), f('p')], command: { protocol: 'client', command: 'PARTIAL', version: v, service: f('echo'), body: [f('p')] } },
  { name: 'plantd FINAL to client', codec: PLANTD, dir: Direction.TO_CLIENT, frames: [f('MDPC02'), f('FINAL'), f('echo'), f('a'), E], command: { protocol: 'client', command: 'FINAL', version: v, service: f('echo'), body: [f('a'), E] } },
  { name: 'plantd READY', codec: PLANTD, dir: Direction.TO_BROKER, frames: [E, f('MDPW02'), f('READY'), f('echo')], command: { protocol: 'worker', command: 'READY', version: v, service: f('echo') } },
  { name: 'plantd REQUEST to worker', codec: PLANTD, dir: Direction.TO_WORKER, frames: [f('MDPW02'), f('REQUEST'), id, E, f('x')], command: { protocol: 'worker', command: 'REQUEST', version: v, client: id, body: [f('x')] } },
  { name: 'plantd worker FINAL (with the delimiter we write)', codec: PLANTD, dir: Direction.TO_BROKER, frames: [E, f('MDPW02'), f('FINAL'), id, E, f('x')], command: { protocol: 'worker', command: 'FINAL', version: v, client: id, body: [f('x')] } },
  { name: 'plantd worker PARTIAL', codec: PLANTD, dir: Direction.TO_BROKER, frames: [E, f('MDPW02'), f('PARTIAL'), id, E, f('x')], command: { protocol: 'worker', command: 'PARTIAL', version: v, client: id, body: [f('x')] } },
  { name: 'plantd HEARTBEAT to broker', codec: PLANTD, dir: Direction.TO_BROKER, frames: [E, f('MDPW02'), f('HEARTBEAT')], command: { protocol: 'worker', command: 'HEARTBEAT', version: v } },
  { name: 'plantd HEARTBEAT to worker', codec: PLANTD, dir: Direction.TO_WORKER, frames: [f('MDPW02'), f('HEARTBEAT')], command: { protocol: 'worker', command: 'HEARTBEAT', version: v } },
  { name: 'plantd DISCONNECT to broker', codec: PLANTD, dir: Direction.TO_BROKER, frames: [E, f('MDPW02'), f('DISCONNECT')], command: { protocol: 'worker', command: 'DISCONNECT', version: v } },
  { name: 'plantd DISCONNECT to worker', codec: PLANTD, dir: Direction.TO_WORKER, frames: [f('MDPW02'), f('DISCONNECT')], command: { protocol: 'worker', command: 'DISCONNECT', version: v } },
];

function refused(codec: MdpCodec, frames: Uint8Array[], dir: Direction): MdpError {
  const r = codec.decode(frames, dir);
  if (r.ok) throw new Error(`accepted: ${JSON.stringify(r.command)}`);
  return r.error;
}

describe('dialect codecs: wire vectors', () => {
  for (const x of vectors) {
    it(`${x.name}: decode and encode are byte-exact`, () => {
      const r = x.codec.decode(x.frames, x.dir);
      expect(r.ok && r.command).toEqual(x.command);
      expect(hex(x.codec.encode(x.command, x.dir))).toEqual(hex(x.frames));
    });
  }

  it("plantd: a worker's FINAL without delimiter (what worker.go's Reply sends) means what plantd's broker reads", () => {
    // broker.go unwraps the client frame and drops one empty frame after it, if there is one
    const r = PLANTD.decode([E, f('MDPW02'), f('FINAL'), id, f('x'), f('y')], Direction.TO_BROKER);
    expect(r.ok && r.command).toEqual({ protocol: 'worker', command: 'FINAL', version: v, client: id, body: [f('x'), f('y')] });
    // a body that starts with an empty frame loses it, as on plantd's broker; our encoding keeps it
    const lossy = PLANTD.decode([E, f('MDPW02'), f('FINAL'), id, E, f('y')], Direction.TO_BROKER);
    expect(lossy.ok && 'body' in lossy.command && lossy.command.body).toEqual([f('y')]);
    const ours = PLANTD.encode({ protocol: 'worker', command: 'FINAL', version: v, client: id, body: [E, f('y')] });
    const back = PLANTD.decode(ours, Direction.TO_BROKER);
    expect(back.ok && 'body' in back.command && back.command.body).toEqual([E, f('y')]);
  });

  it('replies with no body frame at all decode to one empty frame (the MDP spelling of an empty body)', () => {
    const m = MAJORTOMO.decode([E, f('MDPC02'), b(0x04)], Direction.TO_CLIENT);
    expect(m.ok && 'body' in m.command && m.command.body).toEqual([E]);
    const mw = MAJORTOMO.decode([E, f('MDPW02'), b(0x04), id, E], Direction.TO_BROKER);
    expect(mw.ok && 'body' in mw.command && mw.command.body).toEqual([E]);
    const p = PLANTD.decode([f('MDPC02'), f('FINAL'), f('echo')], Direction.TO_CLIENT);
    expect(p.ok && 'body' in p.command && p.command.body).toEqual([E]);
    const pw = PLANTD.decode([E, f('MDPW02'), f('FINAL'), id], Direction.TO_BROKER);
    expect(pw.ok && 'body' in pw.command && pw.command.body).toEqual([E]);
  });

  it('plantd HEARTBEAT/DISCONNECT need a direction to be encoded (framed differently each way)', () => {
    expect(() => PLANTD.encode({ protocol: 'worker', command: 'HEARTBEAT', version: v })).toThrow(expect.objectContaining({ code: MdpErrorCode.UNSUPPORTED }));
  });

  const cases: { name: string; codec: MdpCodec; dir: Direction; frames: Uint8Array[]; reason: string }[] = [
    { name: 'majortomo client using the RFC 18 REQUEST byte', codec: MAJORTOMO, dir: Direction.TO_BROKER, frames: [E, f('MDPC02'), b(0x01), f('s'), f('x')], reason: MalformedReason.BAD_COMMAND },
    { name: 'majortomo REQUEST without body', codec: MAJORTOMO, dir: Direction.TO_BROKER, frames: [E, f('MDPC02'), b(0x02), f('s')], reason: MalformedReason.TOO_FEW_FRAMES },
    { name: 'majortomo REQUEST with empty service', codec: MAJORTOMO, dir: Direction.TO_BROKER, frames: [E, f('MDPC02'), b(0x02), E, f('x')], reason: MalformedReason.EMPTY_SERVICE },
    { name: 'majortomo READY with a body', codec: MAJORTOMO, dir: Direction.TO_BROKER, frames: [E, f('MDPW02'), b(0x01), f('s'), f('x')], reason: MalformedReason.WRONG_FRAME_COUNT },
    { name: 'majortomo FINAL without delimiter', codec: MAJORTOMO, dir: Direction.TO_BROKER, frames: [E, f('MDPW02'), b(0x04), id, f('x'), f('y')], reason: MalformedReason.MISSING_EMPTY_FRAME },
    { name: 'majortomo FINAL with empty address', codec: MAJORTOMO, dir: Direction.TO_BROKER, frames: [E, f('MDPW02'), b(0x04), E, E, f('y')], reason: MalformedReason.EMPTY_ADDRESS },
    { name: 'majortomo worker sending REQUEST', codec: MAJORTOMO, dir: Direction.TO_BROKER, frames: [E, f('MDPW02'), b(0x02), id, E, f('x')], reason: MalformedReason.WRONG_DIRECTION },
    { name: 'majortomo worker command 0x07', codec: MAJORTOMO, dir: Direction.TO_BROKER, frames: [E, f('MDPW02'), b(0x07)], reason: MalformedReason.BAD_COMMAND },
    { name: 'majortomo HEARTBEAT with an extra frame', codec: MAJORTOMO, dir: Direction.TO_BROKER, frames: [E, f('MDPW02'), b(0x05), E], reason: MalformedReason.WRONG_FRAME_COUNT },
    { name: 'majortomo without its leading empty frame', codec: MAJORTOMO, dir: Direction.TO_CLIENT, frames: [f('MDPC02'), b(0x04), f('x')], reason: MalformedReason.MISSING_EMPTY_FRAME },
    { name: 'majortomo client REQUEST toward a client', codec: MAJORTOMO, dir: Direction.TO_CLIENT, frames: [E, f('MDPC02'), b(0x02), f('x')], reason: MalformedReason.WRONG_DIRECTION },
    { name: 'plantd unknown word', codec: PLANTD, dir: Direction.TO_BROKER, frames: [E, f('MDPW02'), f('REPLY'), id, f('x')], reason: MalformedReason.BAD_COMMAND },
    { name: 'plantd lower-case word', codec: PLANTD, dir: Direction.TO_BROKER, frames: [E, f('MDPC02'), f('request'), f('s'), f('x')], reason: MalformedReason.BAD_COMMAND },
    { name: 'plantd REQUEST without body', codec: PLANTD, dir: Direction.TO_BROKER, frames: [E, f('MDPC02'), f('REQUEST'), f('s')], reason: MalformedReason.TOO_FEW_FRAMES },
    { name: 'plantd READY without service', codec: PLANTD, dir: Direction.TO_BROKER, frames: [E, f('MDPW02'), f('READY')], reason: MalformedReason.WRONG_FRAME_COUNT },
    { name: 'plantd FINAL without client', codec: PLANTD, dir: Direction.TO_BROKER, frames: [E, f('MDPW02'), f('FINAL')], reason: MalformedReason.TOO_FEW_FRAMES },
    { name: 'plantd client sending FINAL', codec: PLANTD, dir: Direction.TO_BROKER, frames: [E, f('MDPC02'), f('FINAL'), f('s'), f('x')], reason: MalformedReason.WRONG_DIRECTION },
    { name: 'plantd peer without the leading empty frame', codec: PLANTD, dir: Direction.TO_BROKER, frames: [f('MDPW02'), f('READY'), f('s')], reason: MalformedReason.MISSING_EMPTY_FRAME },
    { name: 'plantd broker message with a leading empty frame', codec: PLANTD, dir: Direction.TO_WORKER, frames: [E, f('MDPW02'), f('HEARTBEAT')], reason: MalformedReason.BAD_HEADER },
    { name: 'plantd reply with empty service', codec: PLANTD, dir: Direction.TO_CLIENT, frames: [f('MDPC02'), f('FINAL'), E, f('x')], reason: MalformedReason.EMPTY_SERVICE },
    { name: 'plantd READY toward a worker', codec: PLANTD, dir: Direction.TO_WORKER, frames: [f('MDPW02'), f('READY'), f('s')], reason: MalformedReason.WRONG_DIRECTION },
  ];
  for (const c of cases) {
    it(`refuses ${c.name} with MDP_MALFORMED (${c.reason})`, () => {
      const err = refused(c.codec, c.frames, c.dir);
      expect(err).toBeInstanceOf(MdpError);
      expect(err.code).toBe(MdpErrorCode.MALFORMED);
      expect(err.reason).toBe(c.reason);
    });
  }
});

describe('dialect detection', () => {
  const table: [string, Uint8Array[], string | undefined][] = [
    ['RFC 18 client', [f('MDPC02'), b(0x01), f('s'), f('x')], 'rfc18'],
    ['RFC 18 worker', [f('MDPW02'), b(0x01), f('s')], 'rfc18'],
    ['RFC 7 client', [E, f('MDPC01'), f('s'), f('x')], 'rfc7'],
    ['RFC 7 worker', [E, f('MDPW01'), b(0x01), f('s')], 'rfc7'],
    ['majortomo client', [E, f('MDPC02'), b(0x02), f('s'), f('x')], 'majortomo'],
    ['majortomo worker', [E, f('MDPW02'), b(0x01), f('s')], 'majortomo'],
    ['plantd client', [E, f('MDPC02'), f('REQUEST'), f('s'), f('x')], 'plantd'],
    ['plantd worker', [E, f('MDPW02'), f('READY'), f('s')], 'plantd'],
    ['plantd heartbeat', [E, f('MDPW02'), f('HEARTBEAT')], 'plantd'],
    // RFC 7 and majortomo both lead with an empty frame: the header decides
    ['empty frame then MDPW01 0x05 (RFC 7 DISCONNECT)', [E, f('MDPW01'), b(0x05)], 'rfc7'],
    ['empty frame then MDPW02 0x05 (majortomo HEARTBEAT)', [E, f('MDPW02'), b(0x05)], 'majortomo'],
    // majortomo and plantd share the header: the width of the command frame decides
    ['one-byte command that is a capital letter', [E, f('MDPW02'), f('R')], 'majortomo'],
    ['two capital letters', [E, f('MDPW02'), f('RE')], 'plantd'],
    ['RFC 7 client without its empty frame', [f('MDPC01'), f('s'), f('x')], undefined],
    ['command before header', [b(1), f('MDPC02'), f('s')], undefined],
    ['HTTP', [f('GET / HTTP/1.1')], undefined],
    ['lone empty frame', [E], undefined],
  ];
  for (const [name, frames, dialect] of table) {
    it(`${name} -> ${dialect ?? 'no dialect'}`, () => {
      expect(detect(frames)?.dialect).toBe(dialect);
      const { codec, result } = parseAny(frames);
      expect(codec?.dialect).toBe(dialect);
      if (!dialect) expect(result.ok).toBe(false);
    });
  }

  it('a message no dialect claims is malformed with a reason', () => {
    const r1 = parseAny([f('MDPC01'), f('s'), f('x')]).result;
    expect(!r1.ok && r1.error.reason).toBe(MalformedReason.MISSING_EMPTY_FRAME);
    const r2 = parseAny([f('GET')]).result;
    expect(!r2.ok && r2.error.reason).toBe(MalformedReason.BAD_HEADER);
    const r3 = parseAny([]).result;
    expect(!r3.ok && r3.error.reason).toBe(MalformedReason.TOO_FEW_FRAMES);
  });

  it('an RFC 18 REQUEST sent with a leading empty frame reads as majortomo and is refused (REQUEST is 0x02 there)', () => {
    const { codec, result } = parseAny([E, f('MDPC02'), b(0x01), f('s'), f('x')]);
    expect(codec).toBe(MAJORTOMO);
    expect(!result.ok && result.error.reason).toBe(MalformedReason.BAD_COMMAND);
  });
});

// ---- properties -------------------------------------------------------------------------------

const frame = fc.uint8Array({ maxLength: 10 });
const nonEmpty = fc.uint8Array({ minLength: 1, maxLength: 10 });
const body = fc.array(frame, { minLength: 1, maxLength: 4 });

/** Commands a dialect can express (RFC 7 has no PARTIAL). */
function commandsOf(codec: MdpCodec): fc.Arbitrary<MdpCommand> {
  const version = fc.constant(codec.version);
  const replyService = codec.replyHasService ? nonEmpty : fc.constant(E);
  const replies = codec.streams ? (['PARTIAL', 'FINAL'] as const) : (['FINAL'] as const);
  return fc.oneof(
    fc.record({ protocol: fc.constant('client' as const), command: fc.constant('REQUEST' as const), version, service: nonEmpty, body }),
    fc.record({ protocol: fc.constant('client' as const), command: fc.constantFrom(...replies), version, service: replyService, body }),
    fc.record({ protocol: fc.constant('worker' as const), command: fc.constant('READY' as const), version, service: nonEmpty }),
    fc.record({ protocol: fc.constant('worker' as const), command: fc.constantFrom('REQUEST' as const, ...replies), version, client: nonEmpty, body }),
    fc.record({ protocol: fc.constant('worker' as const), command: fc.constantFrom('HEARTBEAT' as const, 'DISCONNECT' as const), version }),
  );
}

const mdpLike = fc
  .tuple(
    fc.constantFrom<Uint8Array[]>([], [E], [E, f('MDPC01')], [E, f('MDPW01')], [f('MDPC02')], [f('MDPW02')], [E, f('MDPC02')], [E, f('MDPW02')]),
    fc.array(
      fc.oneof(
        { weight: 3, arbitrary: fc.integer({ min: 0, max: 8 }).map((n) => b(n)) },
        { weight: 2, arbitrary: fc.constantFrom('REQUEST', 'PARTIAL', 'FINAL', 'READY', 'HEARTBEAT', 'DISCONNECT', 'REPLY').map(f) },
        { weight: 2, arbitrary: fc.constant(E) },
        { weight: 2, arbitrary: frame },
      ),
      { maxLength: 6 },
    ),
  )
  .map(([head, rest]) => [...head, ...rest]);

const allDirections = [Direction.TO_BROKER, Direction.TO_CLIENT, Direction.TO_WORKER];

describe('dialect codecs: properties', () => {
  for (const codec of ALL_CODECS) {
    it(`${codec.dialect}: encode then decode gives the command back, in each direction it travels`, () => {
      fc.assert(
        fc.property(commandsOf(codec), (cmd) => {
          for (const dir of directionsOf(cmd)) {
            const r = codec.decode(codec.encode(cmd, dir), dir);
            expect(r.ok && r.command).toEqual(cmd);
          }
        }),
        { numRuns: 300 },
      );
    });

    it(`${codec.dialect}: random and MDP-like frames never throw; anything accepted is in a stable normal form`, () => {
      fc.assert(
        fc.property(fc.oneof(mdpLike, fc.array(frame, { maxLength: 7 })), fc.constantFrom(...allDirections), (frames, dir) => {
          const r = codec.decode(frames, dir);
          if (!r.ok) {
            expect(r.error.code).toBe(MdpErrorCode.MALFORMED);
            expect(r.error.reason).toBeTypeOf('string');
            return;
          }
          const again = codec.decode(codec.encode(r.command, dir), dir);
          expect(again.ok && again.command).toEqual(r.command);
        }),
        { numRuns: 1500 },
      );
    });
  }

  it('no message toward the broker is claimed by two dialects', () => {
    fc.assert(
      fc.property(fc.oneof(mdpLike, fc.array(frame, { maxLength: 6 })), (frames) => {
        expect(ALL_CODECS.filter((c) => c.claims(frames)).length).toBeLessThanOrEqual(1);
      }),
      { numRuns: 3000 },
    );
  });

  it("every dialect's own messages to the broker are detected as that dialect", () => {
    for (const codec of ALL_CODECS) {
      fc.assert(
        fc.property(commandsOf(codec), (cmd) => {
          if (!directionsOf(cmd).includes(Direction.TO_BROKER)) return;
          const frames = codec.encode(cmd, Direction.TO_BROKER);
          expect(detect(frames)).toBe(codec);
          const { result } = parseAny(frames);
          expect(result.ok && result.command).toEqual(cmd);
        }),
        { numRuns: 200 },
      );
    }
  });
});

describe('dialect settings', () => {
  it('expands names and groups in canonical order, refusing unknown names', () => {
    expect(expandDialects(['all'])).toEqual({ dialects: ['rfc18', 'rfc7', 'majortomo', 'plantd'] });
    expect(expandDialects(['rfc'])).toEqual({ dialects: ['rfc18', 'rfc7'] });
    expect(expandDialects(['plantd', 'RFC7', 'plantd'])).toEqual({ dialects: ['rfc7', 'plantd'] });
    expect(expandDialects(['mdp3'])).toMatchObject({ error: expect.stringContaining('unknown dialect "mdp3"') });
    expect(expandDialects([])).toMatchObject({ error: expect.stringContaining('at least one') });
  });

  it('broker.dialects from YAML, environment and flags (later wins), one message per bad value', () => {
    expect(resolveConfig().broker.dialects).toEqual(['rfc18', 'rfc7', 'majortomo', 'plantd']);
    expect(resolveConfig({ yaml: 'broker:\n  dialects: [rfc18, plantd]\n' }).broker.dialects).toEqual(['rfc18', 'plantd']);
    expect(resolveConfig({ yaml: 'broker:\n  dialects: [plantd]\n', env: { PUREZMQ_BROKER_DIALECTS: 'rfc' } }).broker.dialects).toEqual(['rfc18', 'rfc7']);
    expect(resolveConfig({ env: { PUREZMQ_BROKER_DIALECTS: 'rfc' }, flags: { broker: { dialects: ['majortomo', 'rfc7,plantd'] } } }).broker.dialects).toEqual([
      'rfc7',
      'majortomo',
      'plantd',
    ]);
    let err: MdpError | undefined;
    try {
      resolveConfig({ flags: { broker: { dialects: ['zmq'] }, client: { dialect: 'mdp' } } });
    } catch (e) {
      err = e as MdpError;
    }
    expect(err?.code).toBe(MdpErrorCode.CONFIG);
    expect(err?.issues).toHaveLength(2);
    expect(err?.issues[0]).toMatch(/^broker\.dialects \(from --dialects\): unknown dialect "zmq"/);
    expect(err?.issues[1]).toMatch(/^client\.dialect \(from --dialect\): must be one of auto, rfc18, rfc7, majortomo, plantd/);
  });

  it('client and worker dialect: auto follows the version, a dialect name wins', () => {
    expect(resolveDialect('auto', '0.1')).toBe(MDP01);
    expect(resolveDialect('auto', '0.2')).toBe(MDP02);
    expect(resolveDialect(undefined, undefined)).toBe(MDP02);
    expect(resolveDialect('majortomo', '0.1')).toBe(MAJORTOMO);
    expect(DIALECT_CODECS.plantd).toBe(PLANTD);
    expect(() => resolveDialect('auto', '0.3')).toThrow(expect.objectContaining({ code: MdpErrorCode.CONFIG }));
    expect(() => resolveDialect('zyre' as 'plantd', '0.2')).toThrow(expect.objectContaining({ code: MdpErrorCode.CONFIG }));
  });

  it('Broker option dialects: names and groups, validated before any socket is opened', async () => {
    const strict = new Broker({ dialects: ['rfc'] });
    try {
      const m = strict.metrics();
      expect(m.acceptedDialects).toEqual(['rfc18', 'rfc7']);
      expect(m.protocols).toEqual(['MDP/0.1', 'MDP/0.2']);
      expect(m.dialects.plantd).toMatchObject({ accepted: false, workers: 0, clients: 0, refused: 0 });
    } finally {
      await strict.close(0);
    }
    const plantdOnly = new Broker({ dialects: ['plantd'] });
    try {
      expect(plantdOnly.metrics().protocols).toEqual([]); // no RFC version spoken
      expect(plantdOnly.config.dialects).toEqual(['plantd']);
    } finally {
      await plantdOnly.close(0);
    }
    expect(() => new Broker({ dialects: ['mdp9' as 'rfc7'] })).toThrow(expect.objectContaining({ code: MdpErrorCode.CONFIG }));
    expect(() => new Broker({ dialects: [] })).toThrow(expect.objectContaining({ code: MdpErrorCode.CONFIG }));
  });
});

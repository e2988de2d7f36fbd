import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  CODECS,
  Direction,
  directionsOf,
  encode,
  parse,
  type MdpCommand,
} from '../../src/mdp/codec.ts';
import { MdpError, MdpErrorCode, MalformedReason } from '../../src/mdp/errors.ts';

const te = new TextEncoder();
const f = (s: string): Uint8Array => te.encode(s);
const b = (...bytes: number[]): Uint8Array => Uint8Array.of(...bytes);
const E = new Uint8Array(0);
const hex = (frames: readonly Uint8Array[]): string[] => frames.map((x) => Buffer.from(x).toString('hex'));

function parsed(frames: Uint8Array[], dir: Direction): MdpCommand {
  const r = parse(frames, dir);
  if (!r.ok) throw r.error;
  return r.command;
}
function refused(frames: Uint8Array[], dir: Direction): MdpError {
  const r = parse(frames, dir);
  if (r.ok) throw new Error(`accepted ${JSON.stringify(r.command)}`);
  return r.error;
}

describe('MDP codec: wire vectors (shared/specs/mdp.md §3-§8)', () => {
  const id = b(0x00, 0x6b, 0x8b, 0x45, 0x67);
  const vectors: { name: string; dir: Direction; frames: Uint8Array[]; command: MdpCommand }[] = [
    {
      name: '0.1 client REQUEST',
      dir: Direction.TO_BROKER,
      frames: [E, f('MDPC01'), f('echo'), f('hello'), f('world')],
      command: { protocol: 'client', command: 'REQUEST', version: '0.1', service: f('echo'), body: [f('hello'), f('world')] },
    },
    {
      name: '0.1 client REPLY (= FINAL)',
      dir: Direction.TO_CLIENT,
      frames: [E, f('MDPC01'), f('mmi.service'), f('200')],
      command: { protocol: 'client', command: 'FINAL', version: '0.1', service: f('mmi.service'), body: [f('200')] },
    },
    {
      name: '0.1 READY',
      dir: Direction.TO_BROKER,
      frames: [E, f('MDPW01'), b(0x01), f('echo')],
      command: { protocol: 'worker', command: 'READY', version: '0.1', service: f('echo') },
    },
    {
      name: '0.1 worker REQUEST',
      dir: Direction.TO_WORKER,
      frames: [E, f('MDPW01'), b(0x02), id, E, f('hello'), f('world')],
      command: { protocol: 'worker', command: 'REQUEST', version: '0.1', client: id, body: [f('hello'), f('world')] },
    },
    {
      name: '0.1 worker REPLY (= FINAL)',
      dir: Direction.TO_BROKER,
      frames: [E, f('MDPW01'), b(0x03), id, E, f('HELLO'), f('WORLD')],
      command: { protocol: 'worker', command: 'FINAL', version: '0.1', client: id, body: [f('HELLO'), f('WORLD')] },
    },
    {
      name: '0.1 HEARTBEAT',
      dir: Direction.TO_WORKER,
      frames: [E, f('MDPW01'), b(0x04)],
      command: { protocol: 'worker', command: 'HEARTBEAT', version: '0.1' },
    },
    {
      name: '0.1 DISCONNECT',
      dir: Direction.TO_BROKER,
      frames: [E, f('MDPW01'), b(0x05)],
      command: { protocol: 'worker', command: 'DISCONNECT', version: '0.1' },
    },
    {
      name: '0.2 client REQUEST',
      dir: Direction.TO_BROKER,
      frames: [f('MDPC02'), b(0x01), f('echo'), f('hi')],
      command: { protocol: 'client', command: 'REQUEST', version: '0.2', service: f('echo'), body: [f('hi')] },
    },
    {
      name: '0.2 client PARTIAL',
      dir: Direction.TO_CLIENT,
      frames: [f('MDPC02'), b(0x02), f('echo'), f('p')],
      command: { protocol: 'client', command: 'PARTIAL', version: '0.2', service: f('echo'), body: [f('p')] },
    },
    {
      name: '0.2 client FINAL with an empty body frame',
      dir: Direction.TO_CLIENT,
      frames: [f('MDPC02'), b(0x03), f('echo'), E],
      command: { protocol: 'client', command: 'FINAL', version: '0.2', service: f('echo'), body: [E] },
    },
    {
      name: '0.2 READY',
      dir: Direction.TO_BROKER,
      frames: [f('MDPW02'), b(0x01), f('echo')],
      command: { protocol: 'worker', command: 'READY', version: '0.2', service: f('echo') },
    },
    {
      name: '0.2 worker REQUEST',
      dir: Direction.TO_WORKER,
      frames: [f('MDPW02'), b(0x02), id, E, f('x')],
      command: { protocol: 'worker', command: 'REQUEST', version: '0.2', client: id, body: [f('x')] },
    },
    {
      name: '0.2 worker PARTIAL',
      dir: Direction.TO_BROKER,
      frames: [f('MDPW02'), b(0x03), id, E, f('x')],
      command: { protocol: 'worker', command: 'PARTIAL', version: '0.2', client: id, body: [f('x')] },
    },
    {
      name: '0.2 worker FINAL',
      dir: Direction.TO_BROKER,
      frames: [f('MDPW02'), b(0x04), id, E, f('x'), f('y')],
      command: { protocol: 'worker', command: 'FINAL', version: '0.2', client: id, body: [f('x'), f('y')] },
    },
    {
      name: '0.2 HEARTBEAT',
      dir: Direction.TO_BROKER,
      frames: [f('MDPW02'), b(0x05)],
      command: { protocol: 'worker', command: 'HEARTBEAT', version: '0.2' },
    },
    {
      name: '0.2 DISCONNECT',
      dir: Direction.TO_WORKER,
      frames: [f('MDPW02'), b(0x06)],
      command: { protocol: 'worker', command: 'DISCONNECT', version: '0.2' },
    },
  ];

  for (const v of vectors) {
    it(`${v.name}: parse and encode are byte-exact`, () => {
      expect(parsed(v.frames, v.dir)).toEqual(v.command);
      expect(hex(encode(v.command))).toEqual(hex(v.frames));
    });
  }

  it('dispatches on the header first: the same byte means different things in 0.1 and 0.2', () => {
    expect(parsed([E, f('MDPW01'), b(0x03), id, E, f('r')], Direction.TO_BROKER)).toMatchObject({ command: 'FINAL', version: '0.1' });
    expect(parsed([f('MDPW02'), b(0x03), id, E, f('r')], Direction.TO_BROKER)).toMatchObject({ command: 'PARTIAL', version: '0.2' });
    expect(parsed([E, f('MDPW01'), b(0x05)], Direction.TO_BROKER)).toMatchObject({ command: 'DISCONNECT' });
    expect(parsed([f('MDPW02'), b(0x05)], Direction.TO_BROKER)).toMatchObject({ command: 'HEARTBEAT' });
  });

  const cases: { name: string; dir: Direction; frames: Uint8Array[]; reason: string }[] = [
    { name: 'no frames', dir: Direction.TO_BROKER, frames: [], reason: MalformedReason.TOO_FEW_FRAMES },
    { name: 'unknown header', dir: Direction.TO_BROKER, frames: [f('MDPC03'), b(1), f('s'), f('x')], reason: MalformedReason.BAD_HEADER },
    { name: 'lower-case header', dir: Direction.TO_BROKER, frames: [f('mdpc02'), b(1), f('s'), f('x')], reason: MalformedReason.BAD_HEADER },
    { name: '0.1 without its empty frame', dir: Direction.TO_BROKER, frames: [f('MDPC01'), f('s'), f('x')], reason: MalformedReason.MISSING_EMPTY_FRAME },
    { name: '0.2 with a leading empty frame', dir: Direction.TO_BROKER, frames: [E, f('MDPC02'), b(1), f('s'), f('x')], reason: MalformedReason.BAD_HEADER },
    { name: 'plantd text command', dir: Direction.TO_BROKER, frames: [E, f('MDPC02'), f('REQUEST'), f('s'), f('x')], reason: MalformedReason.BAD_HEADER },
    { name: 'command before header', dir: Direction.TO_BROKER, frames: [b(1), f('MDPC02'), f('s'), f('x')], reason: MalformedReason.BAD_HEADER },
    { name: '0.2 REQUEST without body', dir: Direction.TO_BROKER, frames: [f('MDPC02'), b(1), f('s')], reason: MalformedReason.TOO_FEW_FRAMES },
    { name: '0.2 REQUEST with empty service', dir: Direction.TO_BROKER, frames: [f('MDPC02'), b(1), E, f('x')], reason: MalformedReason.EMPTY_SERVICE },
    { name: '0.2 client PARTIAL sent to the broker', dir: Direction.TO_BROKER, frames: [f('MDPC02'), b(2), f('s'), f('x')], reason: MalformedReason.WRONG_DIRECTION },
    { name: '0.2 client command 0x04', dir: Direction.TO_BROKER, frames: [f('MDPC02'), b(4), f('s'), f('x')], reason: MalformedReason.BAD_COMMAND },
    { name: 'two-byte command frame', dir: Direction.TO_BROKER, frames: [f('MDPW02'), b(1, 0), f('s')], reason: MalformedReason.BAD_COMMAND },
    { name: '0.2 READY with a body', dir: Direction.TO_BROKER, frames: [f('MDPW02'), b(1), f('s'), f('x')], reason: MalformedReason.WRONG_FRAME_COUNT },
    { name: '0.2 READY empty service', dir: Direction.TO_BROKER, frames: [f('MDPW02'), b(1), E], reason: MalformedReason.EMPTY_SERVICE },
    { name: '0.2 HEARTBEAT with an extra frame', dir: Direction.TO_BROKER, frames: [f('MDPW02'), b(5), E], reason: MalformedReason.WRONG_FRAME_COUNT },
    { name: '0.2 FINAL without delimiter', dir: Direction.TO_BROKER, frames: [f('MDPW02'), b(4), f('id'), f('x'), f('y')], reason: MalformedReason.MISSING_EMPTY_FRAME },
    { name: '0.2 FINAL with empty address', dir: Direction.TO_BROKER, frames: [f('MDPW02'), b(4), E, E, f('y')], reason: MalformedReason.EMPTY_ADDRESS },
    { name: '0.2 FINAL without body', dir: Direction.TO_BROKER, frames: [f('MDPW02'), b(4), f('id'), E], reason: MalformedReason.TOO_FEW_FRAMES },
    { name: '0.2 worker REQUEST sent to the broker', dir: Direction.TO_BROKER, frames: [f('MDPW02'), b(2), f('id'), E, f('x')], reason: MalformedReason.WRONG_DIRECTION },
    { name: '0.2 worker command 0x07', dir: Direction.TO_BROKER, frames: [f('MDPW02'), b(7)], reason: MalformedReason.BAD_COMMAND },
    { name: '0.2 READY sent to a worker', dir: Direction.TO_WORKER, frames: [f('MDPW02'), b(1), f('s')], reason: MalformedReason.WRONG_DIRECTION },
    { name: '0.1 worker command 0x06', dir: Direction.TO_BROKER, frames: [E, f('MDPW01'), b(6)], reason: MalformedReason.BAD_COMMAND },
    { name: '0.1 READY missing service', dir: Direction.TO_BROKER, frames: [E, f('MDPW01'), b(1)], reason: MalformedReason.WRONG_FRAME_COUNT },
    { name: '0.1 REPLY without delimiter', dir: Direction.TO_BROKER, frames: [E, f('MDPW01'), b(3), f('id'), f('x'), f('y')], reason: MalformedReason.MISSING_EMPTY_FRAME },
    { name: '0.1 client request without body', dir: Direction.TO_BROKER, frames: [E, f('MDPC01'), f('s')], reason: MalformedReason.TOO_FEW_FRAMES },
    { name: '0.1 client message to a worker', dir: Direction.TO_WORKER, frames: [E, f('MDPC01'), f('s'), f('x')], reason: MalformedReason.WRONG_DIRECTION },
    { name: '0.2 address longer than 255 bytes', dir: Direction.TO_BROKER, frames: [f('MDPW02'), b(4), new Uint8Array(256), E, f('x')], reason: MalformedReason.ADDRESS_TOO_LONG },
  ];
  for (const c of cases) {
    it(`refuses ${c.name} with MDP_MALFORMED (${c.reason})`, () => {
      const err = refused(c.frames, c.dir);
      expect(err).toBeInstanceOf(MdpError);
      expect(err.code).toBe(MdpErrorCode.MALFORMED);
      expect(err.reason).toBe(c.reason);
    });
  }

  it('cannot encode what a version cannot say', () => {
    expect(() => encode({ protocol: 'client', command: 'PARTIAL', version: '0.1', service: f('s'), body: [f('x')] })).toThrow(
      expect.objectContaining({ code: MdpErrorCode.UNSUPPORTED }),
    );
    expect(() => encode({ protocol: 'worker', command: 'PARTIAL', version: '0.1', client: f('c'), body: [f('x')] })).toThrow(
      expect.objectContaining({ code: MdpErrorCode.UNSUPPORTED }),
    );
    expect(() => encode({ protocol: 'client', command: 'FINAL', version: '0.2', service: f('s'), body: [] })).toThrow(
      expect.objectContaining({ code: MdpErrorCode.MALFORMED }),
    );
  });
});

// ---- properties -----------------------------------------------------------------------------

const frame = fc.uint8Array({ maxLength: 12 });
const nonEmpty = fc.uint8Array({ minLength: 1, maxLength: 12 });
const body = fc.array(frame, { minLength: 1, maxLength: 4 });
const version = fc.constantFrom('0.1' as const, '0.2' as const);

const commandArb: fc.Arbitrary<MdpCommand> = fc.oneof(
  fc.record({ protocol: fc.constant('client' as const), command: fc.constant('REQUEST' as const), version, service: nonEmpty, body }),
  fc.record({ protocol: fc.constant('client' as const), command: fc.constant('FINAL' as const), version, service: nonEmpty, body }),
  fc.record({ protocol: fc.constant('client' as const), command: fc.constant('PARTIAL' as const), version: fc.constant('0.2' as const), service: nonEmpty, body }),
  fc.record({ protocol: fc.constant('worker' as const), command: fc.constant('READY' as const), version, service: nonEmpty }),
  fc.record({ protocol: fc.constant('worker' as const), command: fc.constantFrom('REQUEST' as const, 'FINAL' as const), version, client: nonEmpty, body }),
  fc.record({ protocol: fc.constant('worker' as const), command: fc.constant('PARTIAL' as const), version: fc.constant('0.2' as const), client: nonEmpty, body }),
  fc.record({ protocol: fc.constant('worker' as const), command: fc.constantFrom('HEARTBEAT' as const, 'DISCONNECT' as const), version }),
);

const allDirections = [Direction.TO_BROKER, Direction.TO_CLIENT, Direction.TO_WORKER];

/** Frames that look like MDP often enough to exercise every branch of the grammar. */
const mdpLike = fc
  .tuple(
    fc.constantFrom<Uint8Array[]>([], [E], [E, f('MDPC01')], [E, f('MDPW01')], [f('MDPC02')], [f('MDPW02')], [E, f('MDPC02')], [f('MDPC01')]),
    fc.array(
      fc.oneof(
        { weight: 3, arbitrary: fc.integer({ min: 0, max: 8 }).map((n) => b(n)) },
        { weight: 2, arbitrary: fc.constant(E) },
        { weight: 3, arbitrary: frame },
      ),
      { maxLength: 7 },
    ),
  )
  .map(([head, rest]) => [...head, ...rest]);

describe('MDP codec: properties', () => {
  it('encode then parse gives the command back, in each direction it travels', () => {
    fc.assert(
      fc.property(commandArb, (cmd) => {
        const frames = encode(cmd);
        for (const dir of directionsOf(cmd)) expect(parsed(frames, dir)).toEqual(cmd);
      }),
      { numRuns: 500 },
    );
  });

  it('the wrong direction is refused: nothing is valid both ways except HEARTBEAT and DISCONNECT', () => {
    fc.assert(
      fc.property(commandArb, (cmd) => {
        const frames = encode(cmd);
        const ways = directionsOf(cmd);
        for (const dir of allDirections) {
          if (ways.includes(dir)) continue;
          const r = parse(frames, dir);
          // 0.1 client REQUEST and REPLY share one layout: in the other direction it reads as the other command
          if (cmd.protocol === 'client' && cmd.version === '0.1' && dir !== Direction.TO_WORKER) {
            expect(r.ok && r.command.command).toBe(cmd.command === 'REQUEST' ? 'FINAL' : 'REQUEST');
          } else {
            expect(r.ok).toBe(false);
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('random and MDP-like frames never throw, and anything accepted is exactly its canonical encoding', () => {
    fc.assert(
      fc.property(fc.oneof(mdpLike, fc.array(frame, { maxLength: 8 })), fc.constantFrom(...allDirections), (frames, dir) => {
        const r = parse(frames, dir);
        if (r.ok) {
          expect(hex(encode(r.command))).toEqual(hex(frames));
        } else {
          expect(r.error).toBeInstanceOf(MdpError);
          expect(r.error.code).toBe(MdpErrorCode.MALFORMED);
          expect(r.error.reason).toBeTypeOf('string');
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('a mutated valid message is refused (header, command byte, empty frames, frame counts)', () => {
    const mutation = fc.constantFrom('header', 'command', 'command-width', 'leading-empty', 'delimiter', 'extra-frame', 'drop-body', 'empty-service');
    fc.assert(
      fc.property(commandArb, mutation, fc.integer({ min: 0, max: 5 }), (cmd, m, pick) => {
        const frames: Uint8Array[] = encode(cmd).map((x) => x.slice());
        const v1 = cmd.version === '0.1';
        const h = v1 ? 1 : 0; // index of the header frame
        const c = h + 1; // index of the command frame (0.2 client and every worker message)
        const hasCommandFrame = cmd.protocol === 'worker' || !v1;
        const dir = directionsOf(cmd)[0]!;
        switch (m) {
          case 'header':
            frames[h]![pick] ^= 0x20;
            break;
          case 'command': {
            if (!hasCommandFrame) return;
            // a byte that names no command of this sub-protocol and version
            frames[c] = b([0x00, 0x07, 0x08, 0x7f, 0xff, 0x41][pick]!);
            break;
          }
          case 'command-width':
            if (!hasCommandFrame) return;
            frames[c] = b(frames[c]![0]!, 0);
            break;
          case 'leading-empty':
            if (v1) frames.shift();
            else frames.unshift(E);
            break;
          case 'delimiter': {
            if (cmd.protocol !== 'worker' || !('client' in cmd)) return;
            frames[c + 2] = f('not-empty');
            break;
          }
          case 'extra-frame':
            if (cmd.command !== 'READY' && cmd.command !== 'HEARTBEAT' && cmd.command !== 'DISCONNECT') return;
            frames.push(E);
            break;
          case 'drop-body':
            if (!('body' in cmd)) return;
            frames.length -= cmd.body.length;
            break;
          case 'empty-service':
            if (!('service' in cmd)) return;
            frames[hasCommandFrame ? c + 1 : h + 1] = E;
            break;
        }
        const r = parse(frames, dir);
        expect(r.ok, `${m} on ${JSON.stringify(cmd)}`).toBe(false);
      }),
      { numRuns: 2000 },
    );
  });

  it('every codec only claims its own headers', () => {
    expect(CODECS.map((c) => c.version)).toEqual(['0.2', '0.1']);
    expect(CODECS[0]!.claims([E, f('MDPC01')])).toBe(false);
    expect(CODECS[1]!.claims([f('MDPC02')])).toBe(false);
  });
});

/**
 * Message shapes against libzmq: empty frames, frame sizes around the short/long length
 * boundary, multi-megabyte frames, and order over thousands of messages, in both directions.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { bindAddress, Sockets, within, type Impl, type Sock, type Transport } from '../_helpers/interop.ts';

const MiB = 1024 * 1024;

/** Deterministic, position-dependent content, so a shifted or truncated frame cannot pass. */
function pattern(size: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  let x = (seed * 2654435761) >>> 0;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

function sameBytes(actual: Uint8Array, expected: Uint8Array): boolean {
  return Buffer.from(actual.buffer, actual.byteOffset, actual.byteLength).equals(expected);
}

const sockets = new Sockets();
afterEach(() => sockets.closeAll());

/** A purezmq and a libzmq DEALER, one bound and the other connected to it. */
async function dealers(pzBinds: boolean, transport: Transport): Promise<{ pz: Sock; lib: Sock }> {
  const pz = sockets.pz('DEALER', { sendHighWaterMark: 1000, receiveHighWaterMark: 1000 });
  const lib = sockets.lib('DEALER');
  const [server, client] = pzBinds ? [pz, lib] : [lib, pz];
  await server.bind(bindAddress(transport));
  client.connect(server.lastEndpoint!);
  return { pz, lib };
}

const DIRECTIONS: [Impl, Impl][] = [
  ['pz', 'lib'],
  ['lib', 'pz'],
];

describe('payloads purezmq <-> libzmq', () => {
  for (const transport of ['tcp', 'ipc'] as Transport[]) {
    for (const [fromImpl, toImpl] of DIRECTIONS) {
      it(`empty frames, length boundaries and 4 MiB frames, ${fromImpl} -> ${toImpl}, ${transport}`, async () => {
        const pair = await dealers(fromImpl === 'pz', transport);
        const from = pair[fromImpl];
        const to = pair[toImpl];
        const sizes = [0, 1, 254, 255, 256, 257, 65535, 65536, 65537, MiB + 3];
        const messages: Buffer[][] = [
          [Buffer.alloc(0)],
          [Buffer.alloc(0), Buffer.alloc(0), Buffer.alloc(0)],
          sizes.map((n, i) => pattern(n, i)),
          [Buffer.alloc(0), pattern(4 * MiB, 100), Buffer.alloc(0), Buffer.from('tail')],
          [pattern(4 * MiB, 101)],
          [pattern(4 * MiB + 1, 102), pattern(3, 103)],
          [Buffer.from('last')],
        ];
        const received = (async () => {
          const out: Uint8Array[][] = [];
          for (let i = 0; i < messages.length; i++) out.push(await to.receive());
          return out;
        })();
        for (const m of messages) await from.send(m);
        const got = await within(received, 15000, 'all messages');
        expect(got.map((m) => m.length)).toEqual(messages.map((m) => m.length));
        for (let i = 0; i < messages.length; i++) {
          for (let j = 0; j < messages[i]!.length; j++) {
            const a = got[i]![j]!;
            const e = messages[i]![j]!;
            expect(a.length, `message ${i} frame ${j} length`).toBe(e.length);
            expect(sameBytes(a, e), `message ${i} frame ${j} content`).toBe(true);
          }
        }
      });
    }

    it(`order of 5000 messages each way at once, ${transport}`, async () => {
      const { pz, lib } = await dealers(transport === 'tcp', transport);
      const N = 5000;
      const frame = (i: number): Buffer[] => {
        const seq = Buffer.alloc(4);
        seq.writeUInt32BE(i);
        // every 7th message carries an empty frame, every 100th a 64 KiB one (fills TCP buffers)
        return [seq, i % 7 === 0 ? Buffer.alloc(0) : Buffer.from(`m${i}`), ...(i % 100 === 0 ? [pattern(65536, i)] : [])];
      };
      const drain = async (s: Sock): Promise<string[]> => {
        const errors: string[] = [];
        for (let i = 0; i < N; i++) {
          const msg = await s.receive();
          const seq = Buffer.from(msg[0]!).readUInt32BE(0);
          const want = frame(i);
          if (seq !== i || msg.length !== want.length || !msg.every((f, k) => sameBytes(f, want[k]!))) {
            errors.push(`message ${i}: got seq ${seq} with ${msg.length} frames`);
            if (errors.length > 5) break;
          }
        }
        return errors;
      };
      const pump = async (s: Sock): Promise<void> => {
        for (let i = 0; i < N; i++) await s.send(frame(i));
      };
      const toLib = drain(lib);
      const toPz = drain(pz);
      await within(Promise.all([pump(pz), pump(lib)]), 15000, 'sending 5000 each way');
      const [errLib, errPz] = await within(Promise.all([toLib, toPz]), 15000, 'receiving 5000 each way');
      expect(errLib).toEqual([]);
      expect(errPz).toEqual([]);
    });
  }
});

/**
 * Model-based test (fast-check fc.commands + asyncModelRun) of DEALER/ROUTER routing with the real
 * sockets over inproc. The model is deliberately simple: per (router, dealer) FIFO queues in each
 * direction and a round-robin cursor per dealer over its routers, in connect order.
 *
 * Topology (fixed; command sequences vary):
 *   d0 → r0, r1     (round-robins over two routers)
 *   d1 → r0
 *   d2 → r1, r0     (the other connect order)
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { Dealer, Router, type Socket } from '../../src/mod.ts';

const ROUTERS = 2;
const DEALER_LINKS: readonly (readonly number[])[] = [[0, 1], [0], [1, 0]];
const DEALERS = DEALER_LINKS.length;
const dealerId = (d: number): string => `d${d}`;

type Parts = string[];

interface Model {
  /** toRouter[r].get(dealerId) = messages (without id) in send order */
  toRouter: Map<string, Parts[]>[];
  /** toDealer[d][r] = messages from router r to dealer d */
  toDealer: Parts[][][];
  /** index into DEALER_LINKS[d] of the router that gets dealer d's next message */
  cursor: number[];
  seq: number;
}

interface Real {
  routers: Router[];
  dealers: Dealer[];
}

function newModel(): Model {
  return {
    toRouter: Array.from({ length: ROUTERS }, (_, r) => {
      const m = new Map<string, Parts[]>();
      DEALER_LINKS.forEach((links, d) => links.includes(r) && m.set(dealerId(d), []));
      return m;
    }),
    toDealer: Array.from({ length: DEALERS }, () => Array.from({ length: ROUTERS }, () => [] as Parts[])),
    cursor: Array(DEALERS).fill(0),
    seq: 0,
  };
}

const text = (msg: Uint8Array[]): string[] => msg.map((f) => Buffer.from(f).toString());

async function expectNothing(socket: Socket): Promise<void> {
  const saved = socket.receiveTimeout;
  socket.receiveTimeout = 0;
  try {
    await expect(socket.receive()).rejects.toMatchObject({ code: 'EAGAIN' });
  } finally {
    socket.receiveTimeout = saved;
  }
}

/** Extra frames for multipart messages, including empty ones. */
const extras = fc.array(fc.constantFrom('', 'x', 'more'), { maxLength: 3 });

type Cmd = fc.AsyncCommand<Model, Real>;

function cmd(name: string, check: (m: Model) => boolean, run: (m: Model, real: Real) => Promise<void>): Cmd {
  return { check, run, toString: () => name };
}

const always = (): boolean => true;

function dealerSend(d: number, extra: string[]): Cmd {
  return cmd(`d${d}.send(+${extra.length})`, always, async (m, real) => {
    const parts = [`d${d}#${m.seq++}`, ...extra];
    const links = DEALER_LINKS[d]!;
    const r = links[m.cursor[d]!]!;
    m.cursor[d] = (m.cursor[d]! + 1) % links.length;
    m.toRouter[r]!.get(dealerId(d))!.push(parts);
    await real.dealers[d]!.send(parts);
  });
}

function routerSend(r: number, d: number, extra: string[]): Cmd {
  return cmd(
    `r${r}.send(d${d}, +${extra.length})`,
    () => DEALER_LINKS[d]!.includes(r),
    async (m, real) => {
      const parts = [`r${r}#${m.seq++}`, ...extra];
      m.toDealer[d]![r]!.push(parts);
      await real.routers[r]!.send([dealerId(d), ...parts]);
    },
  );
}

/** To a routing id nobody has: dropped silently (ROUTER without mandatory), nobody receives it. */
function routerSendUnknown(r: number): Cmd {
  return cmd(`r${r}.send(nobody)`, always, async (m, real) => {
    await real.routers[r]!.send(['nobody', `lost#${m.seq++}`]);
  });
}

function routerReceive(r: number): Cmd {
  return cmd(
    `r${r}.receive()`,
    (m) => [...m.toRouter[r]!.values()].some((q) => q.length > 0),
    async (m, real) => {
      const [id, ...parts] = text(await real.routers[r]!.receive());
      const queue = m.toRouter[r]!.get(id!);
      expect(queue, `r${r} got a message from unknown id ${id}`).toBeDefined();
      expect(queue!.length, `r${r} got an unexpected message from ${id}`).toBeGreaterThan(0);
      // prefixed with the sender's id, and per-peer order kept
      expect(parts).toEqual(queue!.shift());
    },
  );
}

function dealerReceive(d: number): Cmd {
  return cmd(
    `d${d}.receive()`,
    (m) => m.toDealer[d]!.some((q) => q.length > 0),
    async (m, real) => {
      const parts = text(await real.dealers[d]!.receive());
      const r = Number(/^r(\d+)#/.exec(parts[0]!)?.[1] ?? -1);
      const queue = m.toDealer[d]![r];
      expect(queue, `d${d} got ${JSON.stringify(parts)}`).toBeDefined();
      expect(parts).toEqual(queue!.shift()); // reached the addressed dealer, in order per router
    },
  );
}

function routerReceivesNothing(r: number): Cmd {
  return cmd(
    `r${r}.receive() → EAGAIN`,
    (m) => [...m.toRouter[r]!.values()].every((q) => q.length === 0),
    (_m, real) => expectNothing(real.routers[r]!),
  );
}

function dealerReceivesNothing(d: number): Cmd {
  return cmd(
    `d${d}.receive() → EAGAIN`,
    (m) => m.toDealer[d]!.every((q) => q.length === 0),
    (_m, real) => expectNothing(real.dealers[d]!),
  );
}

const dealerIdx = fc.integer({ min: 0, max: DEALERS - 1 });
const routerIdx = fc.integer({ min: 0, max: ROUTERS - 1 });

const commands = [
  fc.tuple(dealerIdx, extras).map(([d, e]) => dealerSend(d, e)),
  fc.tuple(routerIdx, dealerIdx, extras).map(([r, d, e]) => routerSend(r, d, e)),
  routerIdx.map((r) => routerSendUnknown(r)),
  routerIdx.map((r) => routerReceive(r)),
  dealerIdx.map((d) => dealerReceive(d)),
  routerIdx.map((r) => routerReceivesNothing(r)),
  dealerIdx.map((d) => dealerReceivesNothing(d)),
];

let run = 0;
const open: Socket[] = [];

afterEach(() => {
  for (const s of open.splice(0)) s.close();
});

async function setup(): Promise<Real> {
  const tag = `model-dr-${process.pid}-${run++}`;
  // bounded waits: a missing message fails the run with EAGAIN instead of hanging it
  const routers = Array.from({ length: ROUTERS }, () => new Router({ receiveTimeout: 2000 }));
  const dealers = Array.from({ length: DEALERS }, (_, d) => new Dealer({ routingId: dealerId(d), receiveTimeout: 2000 }));
  open.push(...routers, ...dealers);
  for (let r = 0; r < ROUTERS; r++) await routers[r]!.bind(`inproc://${tag}-r${r}`);
  DEALER_LINKS.forEach((links, d) => links.forEach((r) => dealers[d]!.connect(`inproc://${tag}-r${r}`)));
  return { routers, dealers };
}

describe('model: DEALER/ROUTER routing over inproc', () => {
  it('ROUTER prefixes the sender id, replies reach only the addressed dealer, order per peer, DEALER round-robins', async () => {
    await fc.assert(
      fc.asyncProperty(fc.commands(commands, { maxCommands: 40 }), async (cmds) => {
        const real = await setup();
        try {
          await fc.asyncModelRun(() => ({ model: newModel(), real }), cmds);
        } finally {
          for (const s of [...real.routers, ...real.dealers]) s.close();
        }
      }),
      { numRuns: 50 },
    );
  });

  it('one dealer on two routers: consecutive messages alternate between them, starting with the first connected', async () => {
    const real = await setup();
    for (let i = 0; i < 6; i++) await real.dealers[0]!.send(`m${i}`);
    const at0 = [0, 1, 2].map(() => real.routers[0]!.receive());
    const got0 = (await Promise.all(at0)).map((m) => text(m));
    const got1 = (await Promise.all([0, 1, 2].map(() => real.routers[1]!.receive()))).map((m) => text(m));
    expect(got0).toEqual([['d0', 'm0'], ['d0', 'm2'], ['d0', 'm4']]);
    expect(got1).toEqual([['d0', 'm1'], ['d0', 'm3'], ['d0', 'm5']]);
    await expectNothing(real.routers[0]!);
    await expectNothing(real.routers[1]!);
  });
});

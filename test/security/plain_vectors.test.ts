import { describe, expect, it } from 'vitest';
import { PlainClient, PlainServer } from '../../src/mechanism/plain.ts';
import type { HandshakeStep } from '../../src/mechanism/mechanism.ts';
import { encodeError, parseCommand } from '../../src/zmtp/command.ts';
import { FrameWriter } from '../../src/engine/writer.ts';
import { ZmqError } from '../../src/errors.ts';
import { fromHex, fromString, toHex } from '../../src/util/bytes.ts';
import type { ZapReply } from '../../src/zap/protocol.ts';
import { Metadata } from '../../src/zmtp/metadata.ts';

/** PLAIN wire bytes observed from libzmq 4.3.4 (shared/specs/security.md §2.4), as frames. */
const LIBZMQ = {
  hello: '040d0548454c4c4f03626f62027077',
  welcome: '04080757454c434f4d45',
  initiateDealer: '042c08494e4954494154450b536f636b65742d54797065000000064445414c4552084964656e7469747900000000',
  readyRouter: '042f0552454144590b536f636b65742d5479706500000006524f55544552084964656e74697479000000067372762d6964',
  errorBuggy: '04095e52524f5203343030',
};

function frame(body: Uint8Array): string {
  const w = new FrameWriter();
  w.writeCommand(body);
  return w.take().map(toHex).join('');
}

const body = (frameHex: string) => fromHex(frameHex).subarray(2);

function run(m: PlainClient | PlainServer, frameHex: string): HandshakeStep | Promise<HandshakeStep> {
  const cmd = m instanceof PlainClient ? m.parseCommand(body(frameHex)) : parseCommand(body(frameHex));
  if (cmd instanceof ZmqError) throw cmd;
  return m.onCommand(cmd.name, cmd.data);
}

const dealerMeta: [string, Uint8Array][] = [
  ['Socket-Type', fromString('DEALER')],
  ['Identity', fromString('')],
];
const routerMeta: [string, Uint8Array][] = [
  ['Socket-Type', fromString('ROUTER')],
  ['Identity', fromString('srv-id')],
];

describe('PLAIN against the libzmq wire vectors', () => {
  it('client: HELLO and INITIATE byte-identical to libzmq; accepts libzmq WELCOME and READY', () => {
    const c = new PlainClient('bob', 'pw');
    expect(frame(c.start({ localMetadata: dealerMeta, remoteAddress: '', accepted: false, checkPeer: () => undefined }).send![0]!)).toBe(LIBZMQ.hello);
    const afterWelcome = run(c, LIBZMQ.welcome) as HandshakeStep;
    expect(frame(afterWelcome.send![0]!)).toBe(LIBZMQ.initiateDealer);
    const done = run(c, LIBZMQ.readyRouter) as HandshakeStep;
    expect(done.done?.peer.toObject()).toEqual({ 'Socket-Type': 'ROUTER', Identity: 'srv-id' });
  });

  it("client: libzmq's buggy ERROR (5E RROR) is an auth failure with status 400", () => {
    const c = new PlainClient('bob', 'pw');
    c.start({ localMetadata: dealerMeta, remoteAddress: '', accepted: false, checkPeer: () => undefined });
    const step = run(c, LIBZMQ.errorBuggy) as HandshakeStep;
    expect(step.error?.code).toBe('ERR_ZMTP_AUTH_FAILED');
    expect(step.error?.status).toBe(400);
  });

  it('client: the correct ERROR form works too; a WELCOME with data is malformed', () => {
    const c = new PlainClient('bob', 'pw');
    c.start({ localMetadata: dealerMeta, remoteAddress: '', accepted: false, checkPeer: () => undefined });
    expect((run(c, frame(encodeError('500'))) as HandshakeStep).error?.status).toBe(500);
    const c2 = new PlainClient('bob', 'pw');
    c2.start({ localMetadata: dealerMeta, remoteAddress: '', accepted: false, checkPeer: () => undefined });
    expect((run(c2, frame(fromHex('0757454c434f4d4500'))) as HandshakeStep).error?.code).toBe('ERR_ZMTP_MALFORMED_COMMAND_WELCOME');
  });

  it('server: takes libzmq HELLO/INITIATE, asks ZAP, answers WELCOME and READY like libzmq; sends the correct ERROR form', async () => {
    const asked: unknown[] = [];
    let verdict: ZapReply['statusCode'] = '200';
    const server = () =>
      new PlainServer({
        zap: {
          available: () => true,
          request: async (req) => {
            asked.push(req);
            return { statusCode: verdict, statusText: '', userId: 'bob-id', metadata: new Metadata() };
          },
        },
        domain: 'dom',
        identity: fromString('srv-id'),
      });
    const s = server();
    s.start({ localMetadata: routerMeta, remoteAddress: '127.0.0.1', accepted: false, checkPeer: () => undefined });
    const welcome = await run(s, LIBZMQ.hello);
    expect(frame(welcome.send![0]!)).toBe(LIBZMQ.welcome);
    expect(asked[0]).toMatchObject({ domain: 'dom', address: '127.0.0.1', mechanism: 'PLAIN' });
    const ready = (await run(s, LIBZMQ.initiateDealer)) as HandshakeStep;
    expect(frame(ready.send![0]!)).toBe(LIBZMQ.readyRouter);
    expect(ready.done?.userId).toBe('bob-id');

    verdict = '400';
    const s2 = server();
    s2.start({ localMetadata: routerMeta, remoteAddress: '127.0.0.1', accepted: false, checkPeer: () => undefined });
    const refused = await run(s2, LIBZMQ.hello);
    expect(refused.errorReason).toBe('400');
    // what Session puts on the wire for that reason: the correct 05 ERROR form, not libzmq's 5E RROR
    expect(frame(encodeError(refused.errorReason!))).toBe('040a054552524f5203343030');
  });
});

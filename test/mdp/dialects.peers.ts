/**
 * Frame-exact copies of each Majordomo dialect's client, worker and (for majortomo and plantd)
 * broker, written on libzmq (the `zeromq` package), independent of purezmq's codecs.
 *
 * Each copy sends exactly the frames the real implementation sends and checks what it receives with
 * the rules of the real implementation's parser, so that "the copy accepts it" means "the real one
 * would". Sources read (our own words, none of their code):
 * - rfc18 / rfc7: the RFC texts and the zguide examples (shared/specs/mdp.md).
 * - majortomo: shoppimon/majortomo protocol.py, client.py (`send`, `_parse_message`),
 *   worker.py (`_send`, `_verify_message`, `wait_for_request`), broker.py.
 * - plantd: geoffjay/plantd core/mdp client.go (`Send`, `ValidateClientMessage` in util.go),
 *   worker.go (`SendToBroker`, `Reply`, `Recv`), broker.go (`Run`, `WorkerMsg`, `ClientMsg`, `Send`).
 *
 * PeerWorker is the one libzmq worker stub of test/mdp: the MDP/0.2 and 0.1 suites (e2e, classes,
 * inprocess) use it as an rfc18 or rfc7 worker.
 */
import * as lib from 'zeromq';

export type DialectName = 'rfc18' | 'rfc7' | 'majortomo' | 'plantd';
export const DIALECT_NAMES: readonly DialectName[] = ['rfc18', 'rfc7', 'majortomo', 'plantd'];
/** Dialects with PARTIAL replies. */
export const STREAMS: Record<DialectName, boolean> = { rfc18: true, rfc7: false, majortomo: true, plantd: true };

export const E = Buffer.alloc(0);
export const B = (s: string): Buffer => Buffer.from(s);
export const byte = (n: number): Buffer => Buffer.from([n]);
export const str = (b: Buffer | Uint8Array | undefined): string => (b === undefined ? '<none>' : Buffer.from(b).toString());
const eq = (a: Buffer | undefined, b: Buffer): boolean => a !== undefined && a.equals(b);
const show = (frames: Buffer[]): string => JSON.stringify(frames.map((f) => (f.length === 1 && f[0]! < 0x20 ? `0x0${f[0]!.toString(16)}` : f.toString())));

/** Receives until the socket is closed, recording every message before handing it on. */
async function receiveAll(sock: lib.Dealer | lib.Router, received: Buffer[][], handle: (msg: Buffer[]) => void): Promise<void> {
  for (;;) {
    let msg: Buffer[];
    try {
      msg = await sock.receive();
    } catch {
      return;
    }
    received.push(msg);
    handle(msg);
  }
}

/** A frame the real implementation's parser would refuse. */
export class ProtocolViolation extends Error {
  constructor(dialect: string, what: string, frames: Buffer[]) {
    super(`${dialect}: ${what}: ${show(frames)}`);
  }
}

export interface ReplyPart {
  final: boolean;
  body: string[];
  /** The message as the client socket received it. */
  frames: Buffer[];
}

// ---- clients --------------------------------------------------------------------------------------

/** Request frames as each dialect's client sends them (rfc7 on a REQ socket: the empty frame is REQ's own). */
function clientRequest(dialect: DialectName, service: string, body: Buffer[]): Buffer[] {
  switch (dialect) {
    case 'rfc18':
      return [B('MDPC02'), byte(0x01), B(service), ...body];
    case 'rfc7':
      return [B('MDPC01'), B(service), ...body];
    case 'majortomo':
      // client.py send(): (b'', CLIENT_HEADER, REQUEST=b'\002', service) + args
      return [E, B('MDPC02'), byte(0x02), B(service), ...body];
    case 'plantd':
      // client.go Send(): "", MdpcClient, MdpcRequest ("REQUEST"), service, request...
      return [E, B('MDPC02'), B('REQUEST'), B(service), ...body];
  }
}

/** Parses a reply with the rules of the dialect's own client; throws ProtocolViolation. */
export function parseClientReply(dialect: DialectName, service: string, frames: Buffer[]): ReplyPart {
  const v = (what: string): never => {
    throw new ProtocolViolation(`${dialect} client`, what, frames);
  };
  switch (dialect) {
    case 'rfc18': {
      if (frames.length < 4) v('a reply has 4 or more frames');
      if (!eq(frames[0], B('MDPC02'))) v('header MDPC02 expected');
      const cmd = frames[1]!.length === 1 ? frames[1]![0] : -1;
      if (cmd !== 0x02 && cmd !== 0x03) v('PARTIAL 0x02 or FINAL 0x03 expected');
      if (str(frames[2]) !== service) v('the service frame names another service');
      return { final: cmd === 0x03, body: frames.slice(3).map(str), frames };
    }
    case 'rfc7': {
      // mdcliapi: REQ strips the empty frame; header MDPC01, then the service, then the body
      if (frames.length < 3) v('a REPLY has 3 or more frames after REQ strips the empty one');
      if (!eq(frames[0], B('MDPC01'))) v('header MDPC01 expected');
      if (str(frames[1]) !== service) v('the service frame names another service');
      return { final: true, body: frames.slice(2).map(str), frames };
    }
    case 'majortomo': {
      // client.py _parse_message(): >= 3 frames, pop b'', CLIENT_HEADER, PARTIAL b'\003' or FINAL b'\004'
      if (frames.length < 3) v('expecting at least 3 frames');
      if (frames[0]!.length !== 0) v('expecting first message frame to be empty');
      if (!eq(frames[1], B('MDPC02'))) v('unexpected protocol header');
      if (!eq(frames[2], byte(0x03)) && !eq(frames[2], byte(0x04))) v('expecting either PARTIAL or FINAL');
      return { final: frames[2]![0] === 0x04, body: frames.slice(3).map(str), frames };
    }
    case 'plantd': {
      // util.go ValidateClientMessage(): >= 3 frames, MDPC02, "PARTIAL"|"FINAL", non-empty service
      if (frames.length < 3) v('client message must have at least 3 frames');
      if (!eq(frames[0], B('MDPC02'))) v('frame 0 must be MDPC02');
      const cmd = str(frames[1]);
      if (cmd !== 'PARTIAL' && cmd !== 'FINAL') v('frame 1 must be PARTIAL or FINAL');
      if (frames[2]!.length === 0) v('frame 2 (service) cannot be empty');
      return { final: cmd === 'FINAL', body: frames.slice(3).map(str), frames };
    }
  }
}

/** One client of a dialect: one socket, one request at a time. */
export class PeerClient {
  readonly dialect: DialectName;
  private readonly sock: lib.Dealer | lib.Request;

  /** `socketOptions`: extra libzmq options (CURVE keys, for the security tests). */
  constructor(dialect: DialectName, endpoint: string, options: { timeoutMs?: number; socketOptions?: Record<string, unknown> } = {}) {
    this.dialect = dialect;
    const opts = { linger: 0, receiveTimeout: options.timeoutMs ?? 5000, ...options.socketOptions };
    this.sock = dialect === 'rfc7' ? new lib.Request(opts) : new lib.Dealer(opts);
    this.sock.connect(endpoint);
  }

  /** Sends without waiting for an answer. */
  send(service: string, body: (string | Buffer)[]): Promise<void> {
    return this.sock.send(clientRequest(this.dialect, service, body.map((b) => (typeof b === 'string' ? B(b) : b))));
  }

  /** Receives one reply message and checks it with the dialect client's rules. */
  async receive(service: string): Promise<ReplyPart> {
    return parseClientReply(this.dialect, service, await this.sock.receive());
  }

  /** Sends a request and collects every part up to the FINAL. */
  async request(service: string, body: (string | Buffer)[]): Promise<ReplyPart[]> {
    await this.send(service, body);
    const parts: ReplyPart[] = [];
    for (;;) {
      const part = await this.receive(service);
      parts.push(part);
      if (part.final) return parts;
    }
  }

  close(): void {
    if (!this.sock.closed) this.sock.close();
  }
}

/** One request, start to FINAL, on a fresh client. */
export async function peerRequest(dialect: DialectName, endpoint: string, service: string, body: (string | Buffer)[], timeoutMs = 5000): Promise<ReplyPart[]> {
  const c = new PeerClient(dialect, endpoint, { timeoutMs });
  try {
    return await c.request(service, body);
  } finally {
    c.close();
  }
}

// ---- workers --------------------------------------------------------------------------------------

type WorkerCmd = 'READY' | 'PARTIAL' | 'FINAL' | 'HEARTBEAT' | 'DISCONNECT';

const BYTES_02: Record<string, number> = { READY: 1, REQUEST: 2, PARTIAL: 3, FINAL: 4, HEARTBEAT: 5, DISCONNECT: 6 };
const BYTES_01: Record<string, number> = { READY: 1, REQUEST: 2, REPLY: 3, HEARTBEAT: 4, DISCONNECT: 5 };

/** What each dialect's worker puts on the wire for one command. */
export function workerFrames(dialect: DialectName, cmd: WorkerCmd, args: Buffer[] = []): Buffer[] {
  switch (dialect) {
    case 'rfc18':
      if (cmd === 'PARTIAL' || cmd === 'FINAL') return [B('MDPW02'), byte(BYTES_02[cmd]!), args[0]!, E, ...args.slice(1)];
      return [B('MDPW02'), byte(BYTES_02[cmd]!), ...args];
    case 'rfc7':
      if (cmd === 'PARTIAL') throw new Error('RFC 7 has no PARTIAL');
      if (cmd === 'FINAL') return [E, B('MDPW01'), byte(BYTES_01.REPLY!), args[0]!, E, ...args.slice(1)];
      return [E, B('MDPW01'), byte(BYTES_01[cmd]!), ...args];
    case 'majortomo':
      // worker.py _send(): (b'', WORKER_HEADER, message_type) + args; _send_to_client adds client, b''
      if (cmd === 'PARTIAL' || cmd === 'FINAL') return [E, B('MDPW02'), byte(BYTES_02[cmd]!), args[0]!, E, ...args.slice(1)];
      return [E, B('MDPW02'), byte(BYTES_02[cmd]!), ...args];
    case 'plantd':
      // worker.go SendToBroker(): "", MdpwWorker, command, [option], msg...; Reply() sends client, reply... (no delimiter)
      return [E, B('MDPW02'), B(cmd), ...args];
  }
}

export interface PeerRequest {
  client: Buffer;
  body: string[];
  frames: Buffer[];
}

/**
 * Parses a message from the broker with the rules of the dialect's own worker. Returns the command
 * and, for a REQUEST, the client and body; throws ProtocolViolation.
 */
export function parseWorkerMessage(dialect: DialectName, frames: Buffer[]): { cmd: 'REQUEST' | 'HEARTBEAT' | 'DISCONNECT'; req?: PeerRequest } {
  const v = (what: string): never => {
    throw new ProtocolViolation(`${dialect} worker`, what, frames);
  };
  let cmd: string;
  let rest: Buffer[];
  switch (dialect) {
    case 'rfc18': {
      if (frames.length < 2 || !eq(frames[0], B('MDPW02'))) v('header MDPW02 expected, no leading empty frame');
      const c = frames[1]!.length === 1 ? frames[1]![0]! : -1;
      cmd = c === 2 ? 'REQUEST' : c === 5 ? 'HEARTBEAT' : c === 6 ? 'DISCONNECT' : v('REQUEST, HEARTBEAT or DISCONNECT expected');
      if (cmd !== 'REQUEST' && frames.length !== 2) v(`${cmd} has exactly 2 frames`);
      rest = frames.slice(2);
      break;
    }
    case 'rfc7': {
      if (frames.length < 3 || frames[0]!.length !== 0 || !eq(frames[1], B('MDPW01'))) v('empty frame then MDPW01 expected');
      const c = frames[2]!.length === 1 ? frames[2]![0]! : -1;
      cmd = c === 2 ? 'REQUEST' : c === 4 ? 'HEARTBEAT' : c === 5 ? 'DISCONNECT' : v('REQUEST, HEARTBEAT or DISCONNECT expected');
      if (cmd !== 'REQUEST' && frames.length !== 3) v(`${cmd} has exactly 3 frames`);
      rest = frames.slice(3);
      break;
    }
    case 'majortomo': {
      // worker.py _verify_message(): >= 3 frames, pop b'', WORKER_HEADER, DISCONNECT|HEARTBEAT|REQUEST
      if (frames.length < 3) v('expecting at least 3 frames');
      if (frames[0]!.length !== 0) v('expecting first message frame to be empty');
      if (!eq(frames[1], B('MDPW02'))) v('unexpected protocol header');
      const c = frames[2]!.length === 1 ? frames[2]![0]! : -1;
      cmd = c === 2 ? 'REQUEST' : c === 5 ? 'HEARTBEAT' : c === 6 ? 'DISCONNECT' : v('expecting either HEARTBEAT, REQUEST or DISCONNECT');
      rest = frames.slice(3);
      break;
    }
    case 'plantd': {
      // util.go ValidateWorkerMessage(): >= 2 frames, frame 0 MDPW02, frame 1 a known command word
      if (frames.length < 2) v('worker message must have at least 2 frames');
      if (!eq(frames[0], B('MDPW02'))) v('frame 0 must be MDPW02');
      cmd = str(frames[1]);
      if (!['READY', 'REQUEST', 'PARTIAL', 'FINAL', 'HEARTBEAT', 'DISCONNECT'].includes(cmd)) v('frame 1 must be a valid worker command');
      if (cmd !== 'REQUEST' && cmd !== 'HEARTBEAT' && cmd !== 'DISCONNECT') v(`worker.go ignores ${cmd} from the broker`);
      rest = frames.slice(2);
      break;
    }
  }
  if (cmd !== 'REQUEST') return { cmd: cmd as 'HEARTBEAT' | 'DISCONNECT' };
  if (dialect === 'plantd') {
    // util.Unwrap: the client frame, then one empty frame dropped if present
    if (rest.length < 1) v('REQUEST without a client frame');
    const body = rest[1]?.length === 0 ? rest.slice(2) : rest.slice(1);
    return { cmd: 'REQUEST', req: { client: rest[0]!, body: body.map(str), frames } };
  }
  // RFC 7 / RFC 18 / majortomo wait_for_request(): client, b'', body (>= 1 frame)
  if (rest.length < 3) v('REQUEST needs client, empty frame and a body');
  if (rest[1]!.length !== 0) v('REQUEST: the frame after the client address must be empty');
  return { cmd: 'REQUEST', req: { client: rest[0]!, body: rest.slice(2).map(str), frames } };
}

export type PeerHandler = (body: string[], partial: (part: string[]) => Promise<void>) => Promise<string[] | 'ignore'> | string[] | 'ignore';

/**
 * One worker of a dialect on a libzmq DEALER: READY on connect (unless `ready: false`), HEARTBEAT
 * every `heartbeatMs` (0: never), each REQUEST to the handler, which may send PARTIALs and returns the
 * FINAL (REPLY in RFC 7) body, or 'ignore' to never answer. Protocol violations are collected, not thrown.
 */
export class PeerWorker {
  readonly dialect: DialectName;
  readonly service: string;
  readonly requests: PeerRequest[] = [];
  /** Every message from the broker, as received. */
  readonly received: Buffer[][] = [];
  readonly violations: string[] = [];
  heartbeats = 0;
  disconnects = 0;
  readonly sock: lib.Dealer;
  private readonly handler: PeerHandler;
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    dialect: DialectName,
    endpoint: string,
    service: string,
    handler: PeerHandler,
    options: { heartbeatMs?: number; ready?: boolean; socketOptions?: Record<string, unknown> } = {},
  ) {
    this.dialect = dialect;
    this.service = service;
    this.handler = handler;
    this.sock = new lib.Dealer({ linger: 0, ...options.socketOptions });
    this.sock.connect(endpoint);
    if (options.ready !== false) void this.send('READY', [B(service)]);
    const hb = options.heartbeatMs ?? 100;
    if (hb > 0) this.timer = setInterval(() => void this.send('HEARTBEAT').catch(() => undefined), hb);
    void receiveAll(this.sock, this.received, (msg) => this.onMessage(msg));
  }

  send(cmd: WorkerCmd, args: Buffer[] = []): Promise<void> {
    return this.sock.send(workerFrames(this.dialect, cmd, args));
  }

  /** Sends raw frames (for protocol-error tests). */
  sendRaw(frames: Buffer[]): Promise<void> {
    return this.sock.send(frames);
  }

  private onMessage(msg: Buffer[]): void {
    try {
      const m = parseWorkerMessage(this.dialect, msg);
      if (m.cmd === 'HEARTBEAT') this.heartbeats++;
      else if (m.cmd === 'DISCONNECT') this.disconnects++;
      else {
        this.requests.push(m.req!);
        void this.serve(m.req!);
      }
    } catch (err) {
      this.violations.push((err as Error).message);
    }
  }

  private async serve(req: PeerRequest): Promise<void> {
    const partial = async (part: string[]): Promise<void> => {
      await this.send('PARTIAL', [req.client, ...part.map(B)]);
    };
    let reply: string[] | 'ignore';
    try {
      reply = await this.handler(req.body, partial);
    } catch {
      return;
    }
    if (reply === 'ignore') return;
    await this.send('FINAL', [req.client, ...reply.map(B)]).catch(() => undefined);
  }

  stopHeartbeats(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Goes away without a word: the connection just closes. */
  kill(): void {
    this.stopHeartbeats();
    if (!this.sock.closed) this.sock.close();
  }

  close(): void {
    this.kill();
  }
}

// ---- brokers --------------------------------------------------------------------------------------

/**
 * The routing part of majortomo's and plantd's brokers, frame for frame: one ROUTER, a FIFO of
 * requests per service, idle workers in arrival order, HEARTBEAT to idle workers, replies relayed.
 * Enough to prove that a client or worker speaking the dialect works with that broker.
 */
export class PeerBroker {
  readonly dialect: 'majortomo' | 'plantd';
  readonly sock: lib.Router;
  /** Every message received, identity first. */
  readonly received: Buffer[][] = [];
  /** Messages the real broker would have dropped as protocol errors. */
  readonly dropped: string[] = [];
  private readonly idle = new Map<string, { id: Buffer; service: string }[]>();
  private readonly workers = new Map<string, { id: Buffer; service: string }>();
  private readonly queues = new Map<string, { client: Buffer; body: Buffer[] }[]>();
  private timer: ReturnType<typeof setInterval> | undefined;
  endpoint = '';

  constructor(dialect: 'majortomo' | 'plantd') {
    this.dialect = dialect;
    this.sock = new lib.Router({ linger: 0 });
  }

  async start(heartbeatMs = 100): Promise<string> {
    await this.sock.bind('tcp://127.0.0.1:*');
    this.endpoint = this.sock.lastEndpoint!;
    this.timer = setInterval(() => {
      for (const list of this.idle.values()) for (const w of list) void this.toWorker(w.id, 'HEARTBEAT', []).catch(() => undefined);
    }, heartbeatMs);
    void receiveAll(this.sock, this.received, (msg) => this.handle(msg));
    return this.endpoint;
  }

  /** Sends DISCONNECT to every worker (as both brokers do to a worker they delete). */
  async disconnectAll(): Promise<void> {
    for (const w of [...this.workers.values()]) {
      await this.toWorker(w.id, 'DISCONNECT', []);
      this.remove(w.id);
    }
  }

  workerCount(service: string): number {
    return [...this.workers.values()].filter((w) => w.service === service).length;
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    if (!this.sock.closed) this.sock.close();
  }

  private toWorker(id: Buffer, cmd: 'REQUEST' | 'HEARTBEAT' | 'DISCONNECT', rest: Buffer[]): Promise<void> {
    // majortomo _send_to_worker: [id, b'', WORKER_HEADER, command] + body; plantd brokerWorker.Send: id, MdpwWorker, command, msg...
    const head = this.dialect === 'majortomo' ? [id, E, B('MDPW02'), byte(BYTES_02[cmd]!)] : [id, B('MDPW02'), B(cmd)];
    return this.sock.send([...head, ...rest]);
  }

  private toClient(client: Buffer, cmd: 'PARTIAL' | 'FINAL', service: string, body: Buffer[]): Promise<void> {
    // majortomo _send_to_client: [client, b'', CLIENT_HEADER, command] + body (no service frame)
    // plantd: client, MdpcClient, MdpcPartial|MdpcFinal, service name, msg...
    const frames = this.dialect === 'majortomo' ? [client, E, B('MDPC02'), byte(BYTES_02[cmd]!), ...body] : [client, B('MDPC02'), B(cmd), B(service), ...body];
    return this.sock.send(frames);
  }

  private remove(id: Buffer): void {
    const k = id.toString('hex');
    const w = this.workers.get(k);
    if (!w) return;
    this.workers.delete(k);
    const list = this.idle.get(w.service);
    if (list) this.idle.set(w.service, list.filter((x) => !x.id.equals(id)));
  }

  private makeIdle(w: { id: Buffer; service: string }): void {
    const list = this.idle.get(w.service) ?? [];
    list.push(w);
    this.idle.set(w.service, list);
    this.dispatch(w.service);
  }

  private dispatch(service: string): void {
    const q = this.queues.get(service) ?? [];
    const list = this.idle.get(service) ?? [];
    while (q.length > 0 && list.length > 0) {
      const w = list.shift()!;
      const r = q.shift()!;
      void this.toWorker(w.id, 'REQUEST', [r.client, E, ...r.body]).catch(() => undefined);
    }
  }

  private handle(msg: Buffer[]): void {
    const drop = (why: string): void => {
      this.dropped.push(`${why}: ${show(msg.slice(1))}`);
    };
    const [id, first, header, command, ...rest] = msg as [Buffer, Buffer | undefined, Buffer | undefined, Buffer | undefined, ...Buffer[]];
    if (this.dialect === 'majortomo') {
      // broker.py _parse_incoming_message: >= 4 frames (identity included), frame 1 empty
      if (msg.length < 4) return drop('expecting at least 4 frames');
      if (first!.length !== 0) return drop('expecting empty frame 1');
      const cmd = command!.length === 1 ? command![0]! : -1;
      if (eq(header, B('MDPC02'))) {
        if (cmd !== 0x02) return drop('unexpected client command');
        if (rest.length < 2) return drop('client REQUEST is expected to be at least 2 frames long');
        return this.request(id, str(rest[0]), rest.slice(1));
      }
      if (!eq(header, B('MDPW02'))) return drop('unexpected protocol header');
      const name = Object.keys(BYTES_02).find((k) => BYTES_02[k] === cmd && k !== 'REQUEST');
      if (!name) return drop('unexpected command');
      return this.workerCommand(id, name, rest[0], rest.slice(2));
    }
    // plantd broker.go Run(): pop sender, pop one frame (unchecked), pop header
    if (eq(header, B('MDPC02'))) {
      if (str(command) !== 'REQUEST') return drop('invalid client command');
      if (rest.length < 2) return drop('message contains less than 2 frames');
      return this.request(id, str(rest[0]), rest.slice(1));
    }
    if (!eq(header, B('MDPW02'))) return drop('invalid message header');
    const name = str(command);
    if (name === 'PARTIAL' || name === 'FINAL') {
      // util.Unwrap: client, then one empty frame dropped if present
      const body = rest[1]?.length === 0 ? rest.slice(2) : rest.slice(1);
      return this.workerCommand(id, name, rest[0], body);
    }
    return this.workerCommand(id, name, rest[0], []);
  }

  private request(client: Buffer, service: string, body: Buffer[]): void {
    if (this.dialect === 'plantd' && service.startsWith('mmi.')) {
      // broker.go ClientMsg: mmi.service -> "200" if the service has a waiting worker, else "404"; others "501"
      const name = str(body[body.length - 1]);
      const code = service === 'mmi.service' ? ((this.idle.get(name)?.length ?? 0) > 0 ? '200' : '404') : '501';
      void this.toClient(client, 'FINAL', service, [...body.slice(0, -1), B(code)]);
      return;
    }
    const q = this.queues.get(service) ?? [];
    q.push({ client, body });
    this.queues.set(service, q);
    this.dispatch(service);
  }

  private workerCommand(id: Buffer, name: string, arg: Buffer | undefined, body: Buffer[]): void {
    const k = id.toString('hex');
    const known = this.workers.get(k);
    switch (name) {
      case 'READY': {
        if (known) {
          void this.toWorker(id, 'DISCONNECT', []);
          this.remove(id);
          return;
        }
        const w = { id, service: str(arg) };
        this.workers.set(k, w);
        this.makeIdle(w);
        return;
      }
      case 'PARTIAL':
      case 'FINAL':
        if (!known) {
          void this.toWorker(id, 'DISCONNECT', []);
          return;
        }
        void this.toClient(arg!, name, known.service, body);
        if (name === 'FINAL') this.makeIdle(known);
        return;
      case 'HEARTBEAT':
        return;
      case 'DISCONNECT':
        this.remove(id);
        return;
      default:
        this.dropped.push(`unknown worker command ${name}`);
    }
  }
}

#!/usr/bin/env node
// Capture ZMTP 3.x wire bytes from a real libzmq (via the `zeromq` npm package) and store
// them as JSON test vectors in spec-vectors/zmtp/.
//
// Usage:  node scripts/capture-vectors.mjs            (writes spec-vectors/zmtp/*.json)
//         node scripts/capture-vectors.mjs --check    (captures, compares with the files on disk,
//                                                      writes nothing; exit 1 on difference)
//
// How it works: for every scenario a libzmq socket binds to tcp://127.0.0.1:* and a raw
// `node:net` peer, driven byte by byte by this script, connects to it. The raw peer sends a
// hand-built 64-byte ZMTP 3.x greeting and a NULL READY command with a compatible Socket-Type,
// then records exactly the bytes libzmq puts on the wire. The `expect` field of each vector is
// derived by a small parser below that is independent of the transport reader, re-encoded and
// compared with the captured bytes (round trip), and compared with the [obs] hex dumps of
// /work/shared/specs/zmtp.md where the spec has one.
//
// The script never hangs: every read has a timeout and a global watchdog kills the run.

import net from "node:net";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";
import * as zmq from "zeromq";

const require = createRequire(import.meta.url);
const ZMQ_NPM_VERSION = require("zeromq/package.json").version;
const LIBZMQ_VERSION = zmq.version;
const SOURCE = `captured from libzmq ${LIBZMQ_VERSION} (zeromq npm ${ZMQ_NPM_VERSION})`;

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const OUT_DIR = path.join(ROOT, "spec-vectors", "zmtp");
const CHECK_ONLY = process.argv.includes("--check");

const READ_TIMEOUT_MS = 3000;
const WATCHDOG_MS = 25000;

const watchdog = setTimeout(() => {
  console.error(`capture-vectors: watchdog fired after ${WATCHDOG_MS} ms, aborting`);
  process.exit(2);
}, WATCHDOG_MS);

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

const hex = (buf) => Buffer.from(buf).toString("hex");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function assert(cond, msg) {
  if (!cond) throw new Error(`assertion failed: ${msg}`);
}

/** Deterministic payload of n bytes: byte i = i mod 256. */
function pattern(n) {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = i & 0xff;
  return b;
}

// ---------------------------------------------------------------------------------------------
// Bytes the raw peer sends (built by hand, per spec §2, §5, §6)
// ---------------------------------------------------------------------------------------------

/** 64-byte greeting: ff 00*8 7f 03 <minor> "NULL"+16 NUL, as-server 0, 31 NUL filler. */
function ourGreeting(minor = 1) {
  const g = Buffer.alloc(64);
  g[0] = 0xff;
  g[9] = 0x7f;
  g[10] = 3;
  g[11] = minor;
  g.write("NULL", 12, "ascii");
  return g;
}

/** Short command frame (body <= 255) with the given name and data. */
function commandFrame(name, data = Buffer.alloc(0)) {
  const body = Buffer.concat([Buffer.from([name.length]), Buffer.from(name, "ascii"), data]);
  assert(body.length <= 255, "short command only");
  return Buffer.concat([Buffer.from([0x04, body.length]), body]);
}

/** NULL READY with the given properties (in order). */
function readyFrame(props) {
  const parts = [];
  for (const [k, v] of props) {
    const vb = Buffer.from(v, "utf8");
    const len = Buffer.alloc(4);
    len.writeUInt32BE(vb.length);
    parts.push(Buffer.from([k.length]), Buffer.from(k, "ascii"), len, vb);
  }
  return commandFrame("READY", Buffer.concat(parts));
}

function pingFrame(ttlDs, context) {
  const ttl = Buffer.alloc(2);
  ttl.writeUInt16BE(ttlDs);
  return commandFrame("PING", Buffer.concat([ttl, context]));
}

// ---------------------------------------------------------------------------------------------
// Raw peer: a node:net socket with an incoming byte buffer and timed reads
// ---------------------------------------------------------------------------------------------

class RawPeer {
  constructor(sock) {
    this.sock = sock;
    this.buf = Buffer.alloc(0);
    this.waiter = null;
    this.closed = false;
    this.chunks = []; // sizes of TCP reads, for information
    sock.on("data", (d) => {
      this.chunks.push(d.length);
      this.buf = Buffer.concat([this.buf, d]);
      this._wake();
    });
    sock.on("close", () => {
      this.closed = true;
      this._wake();
    });
    sock.on("error", () => {
      this.closed = true;
      this._wake();
    });
  }

  static connect(endpoint) {
    const m = /^tcp:\/\/([^:]+):(\d+)$/.exec(endpoint);
    assert(m, `unexpected endpoint ${endpoint}`);
    return new Promise((resolve, reject) => {
      const s = net.connect({ host: m[1], port: Number(m[2]) });
      s.setNoDelay(true);
      s.once("connect", () => resolve(new RawPeer(s)));
      s.once("error", reject);
    });
  }

  _wake() {
    const w = this.waiter;
    this.waiter = null;
    if (w) w();
  }

  write(b) {
    this.sock.write(b);
  }

  /** Wait until at least n bytes are buffered (or timeout/close). */
  async waitFor(n, timeoutMs = READ_TIMEOUT_MS) {
    const deadline = Date.now() + timeoutMs;
    while (this.buf.length < n) {
      if (this.closed) throw new Error(`peer closed with ${this.buf.length}/${n} bytes buffered`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timeout waiting for ${n} bytes (have ${this.buf.length})`);
      await new Promise((r) => {
        const t = setTimeout(r, left);
        this.waiter = () => {
          clearTimeout(t);
          r();
        };
      });
    }
  }

  async read(n, timeoutMs) {
    await this.waitFor(n, timeoutMs);
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return Buffer.from(out);
  }

  /** Read one complete ZMTP frame; returns its raw bytes and flags. */
  async readFrame(timeoutMs) {
    await this.waitFor(2, timeoutMs);
    const flags = this.buf[0];
    let hdr, size;
    if (flags & 0x02) {
      await this.waitFor(9, timeoutMs);
      hdr = 9;
      size = Number(this.buf.readBigUInt64BE(1));
    } else {
      hdr = 2;
      size = this.buf[1];
    }
    const raw = await this.read(hdr + size, timeoutMs);
    return { flags, raw, body: raw.subarray(hdr) };
  }

  /** Read frames of one message (until a message frame without MORE). Commands are rejected. */
  async readMessage(timeoutMs) {
    const raws = [];
    for (;;) {
      const f = await this.readFrame(timeoutMs);
      assert(!(f.flags & 0x04), `unexpected command frame inside message: ${hex(f.raw)}`);
      raws.push(f.raw);
      if (!(f.flags & 0x01)) return Buffer.concat(raws);
    }
  }

  /** Read the next command frame whose name is `name`, skipping (and returning) others. */
  async readCommand(name, timeoutMs) {
    const skipped = [];
    for (;;) {
      const f = await this.readFrame(timeoutMs);
      if (f.flags & 0x04) {
        const n = f.body.subarray(1, 1 + f.body[0]).toString("latin1");
        if (n === name) return { raw: f.raw, skipped };
      }
      skipped.push(hex(f.raw));
    }
  }

  /** Assert that nothing else arrives within ms. */
  async expectSilence(ms = 50) {
    await sleep(ms);
    assert(this.buf.length === 0, `unexpected extra bytes: ${hex(this.buf)}`);
  }

  destroy() {
    this.sock.destroy();
  }
}

// ---------------------------------------------------------------------------------------------
// Independent parser (derives `expect` from the captured hex only)
// ---------------------------------------------------------------------------------------------

function parseGreetingHex(h) {
  const b = Buffer.from(h, "hex");
  if (b.length !== 64) throw new Error(`greeting must be 64 bytes, got ${b.length}`);
  if (b[0] !== 0xff) throw new Error("greeting byte 0 must be ff");
  if ((b[9] & 1) !== 1) throw new Error("greeting byte 9 bit 0 must be 1");
  let end = 12;
  while (end < 32 && b[end] !== 0) end++;
  for (let i = end; i < 32; i++) if (b[i] !== 0) throw new Error("mechanism not NUL padded");
  return {
    major: b[10],
    minor: b[11],
    mechanism: b.subarray(12, end).toString("ascii"),
    asServer: b[32] === 1,
  };
}

function parseCommandBody(body) {
  const nameLen = body[0];
  if (nameLen === undefined || nameLen === 0 || 1 + nameLen > body.length) {
    throw new Error("bad command name length");
  }
  const name = body.subarray(1, 1 + nameLen).toString("ascii");
  const data = body.subarray(1 + nameLen);
  const out = { name };
  switch (name) {
    case "READY": {
      const properties = {};
      let i = 0;
      while (i < data.length) {
        const kl = data[i];
        if (kl === 0 || i + 1 + kl + 4 > data.length) throw new Error("bad metadata name");
        const k = data.subarray(i + 1, i + 1 + kl).toString("ascii");
        i += 1 + kl;
        const vl = (data[i] << 24) | (data[i + 1] << 16) | (data[i + 2] << 8) | data[i + 3];
        i += 4;
        if (vl < 0 || i + vl > data.length) throw new Error("bad metadata value length");
        properties[k] = data.subarray(i, i + vl).toString("utf8");
        i += vl;
      }
      out.properties = properties;
      break;
    }
    case "PING":
      if (data.length < 2) throw new Error("PING too short");
      out.ttl = (data[0] << 8) | data[1];
      out.context = hex(data.subarray(2));
      break;
    case "PONG":
      out.context = hex(data);
      break;
    case "SUBSCRIBE":
    case "CANCEL":
      out.topic = hex(data);
      break;
    case "ERROR":
      out.reason = data.subarray(1, 1 + data[0]).toString("ascii");
      break;
    default:
      break;
  }
  return out;
}

function parseFramesHex(h) {
  const b = Buffer.from(h, "hex");
  const frames = [];
  let i = 0;
  while (i < b.length) {
    const flags = b[i];
    if (flags & 0xf8) throw new Error(`reserved flag bits set: ${flags.toString(16)}`);
    const long = (flags & 0x02) !== 0;
    let size;
    let j;
    if (long) {
      if (i + 9 > b.length) throw new Error("truncated long size");
      let s = 0;
      for (let k = 1; k <= 8; k++) s = s * 256 + b[i + k];
      size = s;
      j = i + 9;
    } else {
      if (i + 2 > b.length) throw new Error("truncated short size");
      size = b[i + 1];
      j = i + 2;
    }
    if (j + size > b.length) throw new Error("truncated body");
    const body = b.subarray(j, j + size);
    const f = {
      command: (flags & 0x04) !== 0,
      more: (flags & 0x01) !== 0,
      long,
      bodyHex: hex(body),
    };
    if (f.command) Object.assign(f, parseCommandBody(body));
    frames.push(f);
    i = j + size;
  }
  return frames;
}

/** Re-encode frames from an `expect` array (round-trip check of the parser). */
function encodeFrames(expect) {
  const out = [];
  for (const f of expect) {
    const body = Buffer.from(f.bodyHex, "hex");
    const flags = (f.more ? 1 : 0) | (f.long ? 2 : 0) | (f.command ? 4 : 0);
    if (f.long) {
      const hdr = Buffer.alloc(9);
      hdr[0] = flags;
      hdr.writeBigUInt64BE(BigInt(body.length), 1);
      out.push(hdr, body);
    } else {
      out.push(Buffer.from([flags, body.length]), body);
    }
  }
  return hex(Buffer.concat(out));
}

// ---------------------------------------------------------------------------------------------
// [obs] hex dumps from /work/shared/specs/zmtp.md (libzmq 4.3.4), for comparison.
// Only byte sequences that the spec gives completely (or that are fully determined by an
// abbreviated dump such as `04 26 05 READY 0b Socket-Type ...`) are listed.
// ---------------------------------------------------------------------------------------------

const a = (s) => Buffer.from(s, "ascii").toString("hex");
const SPEC = {
  "dealer-greeting": {
    section: "§2 test vector [obs]",
    hex: "ff00000000000000017f03014e554c4c" + "00".repeat(48),
  },
  "dealer-routing-id-abc-greeting": {
    section: "§2 padding rule (…00 04 with routing id \"ABC\") [obs]",
    hex: "ff00000000000000047f03014e554c4c" + "00".repeat(48),
  },
  "dealer-ready": {
    section: "§6 DEALER READY [obs]",
    hex:
      "0429055245414459" + "0b536f636b65742d5479706500000006" + "4445414c4552" +
      "084964656e7469747900000000",
  },
  "router-ready": {
    section: "§6 ROUTER READY (same layout as DEALER) [obs]",
    hex: "0429055245414459" + "0b" + a("Socket-Type") + "00000006" + a("ROUTER") + "08" + a("Identity") + "00000000",
  },
  "dealer-routing-id-abc-ready": {
    section: "§6 DEALER READY with routing id \"ABC\" [obs]",
    hex: "042c05" + a("READY") + "0b" + a("Socket-Type") + "00000006" + a("DEALER") + "08" + a("Identity") + "00000003" + a("ABC"),
  },
  "req-ready": {
    section: "§6 REQ READY [obs]",
    hex: "042605" + a("READY") + "0b" + a("Socket-Type") + "00000003" + a("REQ") + "08" + a("Identity") + "00000000",
  },
  "sub-ready": {
    section: "§6 SUB READY [obs]",
    hex: "04190552454144590b536f636b65742d54797065000000035355" + "42",
  },
  "xpub-ready": {
    section: "§6 XPUB READY (28 bytes) [obs]",
    hex: "041a05" + a("READY") + "0b" + a("Socket-Type") + "00000004" + a("XPUB"),
  },
  "router-routing-id-srv-id-ready": {
    section: "§6 ROUTER with ZMQ_ROUTING_ID=\"srv-id\" sends Identity srv-id [obs]",
    hex: "042f05" + a("READY") + "0b" + a("Socket-Type") + "00000006" + a("ROUTER") + "08" + a("Identity") + "00000006" + a("srv-id"),
  },
  "message-hello": { section: "§4 frame test vector", hex: "000568656c6c6f" },
  "message-abx-tail": { section: "§4 frame test vector", hex: "010341427800047461696c" },
  "message-empty-a": { section: "§4 frame test vector", hex: "0100000161" },
  "message-300-bytes": {
    section: "§4 frame test vector (header; body is our pattern)",
    hex: "02000000000000012c" + hex(pattern(300)),
  },
  "ping-ttl-25": { section: "§5.2 PING ttl=25, no context [obs]", hex: "040704" + a("PING") + "0019" },
  "pong-lol": { section: "§5.2 PONG \"LOL\" [obs]", hex: "040804" + a("PONG") + a("LOL") },
  "sub31-subscribe-all": { section: "§5.2 / §9 SUBSCRIBE \"\" [obs]", hex: "040a09" + a("SUBSCRIBE") },
  "sub31-subscribe-ab": { section: "§5.2 / §9 SUBSCRIBE \"AB\" [obs]", hex: "040c09" + a("SUBSCRIBE") + "4142" },
  "sub31-cancel-ab": { section: "§5.2 / §9 CANCEL \"AB\" [obs]", hex: "040906" + a("CANCEL") + "4142" },
  "sub30-subscribe-all": { section: "§9 3.0 peer [obs]", hex: "000101" },
  "sub30-subscribe-ab": { section: "§9 3.0 peer [obs]", hex: "0003014142" },
  "sub30-cancel-ab": { section: "§9 3.0 peer [obs]", hex: "0003004142" },
  "req-a-b": { section: "§11 REQ wire for send([\"a\",\"b\"]) [obs]", hex: "01000101610001" + "62" },
};

// PUB/PUSH/PULL/PAIR/XSUB: "likewise: Socket-Type only" (§6) — the spec gives no dump, but the
// bytes are fully determined by the rule, so compare those too.
for (const t of ["PUB", "XSUB", "PUSH", "PULL", "PAIR"]) {
  const meta = "0b" + a("Socket-Type") + hex(Buffer.from([0, 0, 0, t.length])) + a(t);
  const body = "05" + a("READY") + meta;
  SPEC[`${t.toLowerCase()}-ready`] = {
    section: "§6 rule \"Socket-Type only\" (no dump in spec)",
    hex: "04" + hex(Buffer.from([body.length / 2])) + body,
  };
}
// REP: not listed in the spec; libzmq rule (§6): Identity only for REQ, DEALER, ROUTER.
{
  const body = "05" + a("READY") + "0b" + a("Socket-Type") + "00000003" + a("REP");
  SPEC["rep-ready"] = {
    section: "§6 rule: Identity only for REQ/DEALER/ROUTER (no dump in spec)",
    hex: "04" + hex(Buffer.from([body.length / 2])) + body,
  };
}

// ---------------------------------------------------------------------------------------------
// Vector building
// ---------------------------------------------------------------------------------------------

const groups = {
  greeting: [],
  ready: [],
  frames: [],
  heartbeat: [],
  subscribe: [],
  req: [],
};
const report = [];

function addVector(group, name, kind, bytes, extra = {}) {
  const h = hex(bytes);
  const v = { name, source: SOURCE, kind, hex: h };
  if (kind === "greeting") {
    v.expect = parseGreetingHex(h);
  } else {
    v.expect = parseFramesHex(h);
    const re = encodeFrames(v.expect);
    assert(re === h, `${name}: re-encoding of parsed frames differs from capture`);
  }
  const spec = SPEC[name];
  const notes = [];
  if (extra.note) notes.push(extra.note);
  if (spec) {
    if (spec.hex === h) {
      notes.unshift(`identical to spec ${spec.section}`);
      report.push(`  ${name}: matches spec`);
    } else {
      notes.unshift(`DIFFERS from spec ${spec.section}: spec hex ${spec.hex}`);
      report.push(`  ${name}: DIFFERS from spec (${spec.section})`);
    }
  } else {
    report.push(`  ${name}: (no spec dump to compare)`);
  }
  if (notes.length) v.note = notes.join("; ");
  for (const [k, val] of Object.entries(extra)) if (k !== "note") v[k] = val;
  groups[group].push(v);
}

// ---------------------------------------------------------------------------------------------
// Scenario plumbing
// ---------------------------------------------------------------------------------------------

const openSockets = new Set();

function track(sock) {
  openSockets.add(sock);
  return sock;
}

function closeZ(sock) {
  if (openSockets.delete(sock)) {
    try {
      sock.close();
    } catch {
      /* already closed */
    }
  }
}

/**
 * Bind a libzmq socket, connect a raw peer, send greeting + READY at once, read libzmq's
 * greeting and READY. Returns { zsock, peer, greeting, ready }.
 */
async function handshake(zsock, peerType, { minor = 1, peerIdentity = null } = {}) {
  track(zsock);
  zsock.linger = 0;
  await zsock.bind("tcp://127.0.0.1:*");
  const peer = await RawPeer.connect(zsock.lastEndpoint);
  const props = [["Socket-Type", peerType]];
  if (peerIdentity !== null) props.push(["Identity", peerIdentity]);
  peer.write(Buffer.concat([ourGreeting(minor), readyFrame(props)]));
  const greeting = await peer.read(64);
  const f = await peer.readFrame();
  assert(f.flags === 0x04 || f.flags === 0x06, `expected READY command, got flags ${f.flags}`);
  assert(f.body.subarray(0, 6).toString("latin1") === "\x05READY", "expected READY");
  return { zsock, peer, greeting, ready: f.raw };
}

function finish(ctx) {
  ctx.peer.destroy();
  closeZ(ctx.zsock);
}

// ---------------------------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------------------------

/** 1. Greetings, plus observation of libzmq's staged sending (10, 1, 53 bytes). */
async function captureGreetings() {
  for (const [name, opts] of [
    ["dealer-greeting", {}],
    ["dealer-routing-id-abc-greeting", { routingId: "ABC" }],
  ]) {
    const z = track(new zmq.Dealer(opts));
    z.linger = 0;
    await z.bind("tcp://127.0.0.1:*");
    const peer = await RawPeer.connect(z.lastEndpoint);
    const g = ourGreeting(1);
    // Each stage: wait until the expected byte count has arrived, then 50 ms more to make
    // sure libzmq does not send anything beyond it before we send our next piece.
    const settle = async (n) => {
      await peer.waitFor(n);
      await sleep(50);
      return peer.buf.length;
    };
    // Stage 1: send nothing, libzmq should send 10 bytes (signature) only.
    const s1 = await settle(10);
    // Stage 2: send our 10-byte signature -> libzmq sends byte 10 (major).
    peer.write(g.subarray(0, 10));
    const s2 = await settle(11);
    // Stage 3: send our byte 10 -> libzmq sends bytes 11..63 without waiting for our rest.
    peer.write(g.subarray(10, 11));
    const s3 = await settle(64);
    peer.write(g.subarray(11));
    const greeting = await peer.read(64);
    const stages = [s1, s2 - s1, s3 - s2];
    assert(stages.join() === "10,1,53", `${name}: unexpected staging ${stages}`);
    addVector("greeting", name, "greeting", greeting, {
      note:
        "libzmq sent it in 3 stages: 10 bytes at once, 1 byte after our 10-byte signature, " +
        "53 bytes after our byte 10 (observedChunks)",
      observedChunks: stages,
    });
    peer.destroy();
    closeZ(z);
  }
}

/** 2. READY from every socket type. */
async function captureReady() {
  const cases = [
    ["dealer-ready", () => new zmq.Dealer(), "ROUTER"],
    ["router-ready", () => new zmq.Router(), "DEALER"],
    ["req-ready", () => new zmq.Request(), "REP"],
    ["rep-ready", () => new zmq.Reply(), "REQ"],
    ["pub-ready", () => new zmq.Publisher(), "SUB"],
    ["sub-ready", () => new zmq.Subscriber(), "PUB"],
    ["xpub-ready", () => new zmq.XPublisher(), "SUB"],
    ["xsub-ready", () => new zmq.XSubscriber(), "PUB"],
    ["push-ready", () => new zmq.Push(), "PULL"],
    ["pull-ready", () => new zmq.Pull(), "PUSH"],
    ["pair-ready", () => new zmq.Pair(), "PAIR"],
    ["dealer-routing-id-abc-ready", () => new zmq.Dealer({ routingId: "ABC" }), "ROUTER"],
    ["router-routing-id-srv-id-ready", () => new zmq.Router({ routingId: "srv-id" }), "DEALER"],
  ];
  for (const [name, make, peerType] of cases) {
    const ctx = await handshake(make(), peerType);
    await ctx.peer.expectSilence(30);
    addVector("ready", name, "frames", ctx.ready, {
      note: `libzmq ${name.split("-")[0].toUpperCase()} (bound) talking to a raw ${peerType} peer`,
    });
    finish(ctx);
  }
}

/** 3. Message frames from a libzmq DEALER to a raw peer pretending to be ROUTER. */
async function captureFrames() {
  const ctx = await handshake(new zmq.Dealer(), "ROUTER");
  const msgs = [
    ["message-hello", ["hello"]],
    ["message-abx-tail", ["ABx", "tail"]],
    ["message-empty-a", ["", "a"]],
    ["message-300-bytes", [pattern(300)]],
    ["message-70000-bytes", [pattern(70000)]],
    ["message-empty-middle", ["a", "", "b"]],
    ["message-255-bytes", [pattern(255)]],
    ["message-256-bytes", [pattern(256)]],
    ["message-empty", [""]],
  ];
  const notes = {
    "message-300-bytes": "body = bytes 0x00,0x01,...,0xff,0x00,... (i mod 256)",
    "message-70000-bytes": "body = i mod 256 for i in 0..69999; long form, size 00 00 00 00 00 01 11 70",
    "message-255-bytes": "largest short-form frame; body = i mod 256",
    "message-256-bytes": "smallest long-form frame (libzmq uses long form iff size > 255); body = i mod 256",
    "message-empty": "single empty frame",
    "message-empty-middle": 'three frames ["a", "", "b"]',
    "message-hello": 'libzmq DEALER send("hello") to a raw ROUTER peer',
  };
  for (const [name, parts] of msgs) {
    await ctx.zsock.send(parts);
    const raw = await ctx.peer.readMessage();
    addVector("frames", name, "frames", raw, notes[name] ? { note: notes[name] } : {});
  }
  await ctx.peer.expectSilence(30);
  finish(ctx);
}

/** 4. PING from libzmq (heartbeat), PONG in answer to our PINGs. */
async function captureHeartbeat() {
  {
    const z = new zmq.Dealer({ heartbeatInterval: 100, heartbeatTimeToLive: 2500, heartbeatTimeout: 2000 });
    const ctx = await handshake(z, "ROUTER");
    const { raw, skipped } = await ctx.peer.readCommand("PING", 2000);
    assert(skipped.length === 0, `frames before PING: ${skipped}`);
    addVector("heartbeat", "ping-ttl-25", "frames", raw, {
      note: "libzmq DEALER with heartbeatInterval=100 ms, heartbeatTimeToLive=2500 ms (TTL 25 ds)",
    });
    finish(ctx);
  }
  {
    const ctx = await handshake(new zmq.Dealer(), "ROUTER");
    const cases = [
      ["pong-lol", Buffer.from("LOL"), 'reply to our PING ttl=0 context "LOL" (040a0450494e4700004c4f4c)'],
      ["pong-empty", Buffer.alloc(0), "reply to our PING ttl=0 with empty context (04070450494e470000)"],
      [
        "pong-16-byte-context",
        pattern(16),
        "reply to our PING ttl=0 with the maximum 16-byte context 000102...0f",
      ],
      [
        "pong-truncated-context",
        pattern(20),
        "reply to our out-of-spec PING ttl=0 with a 20-byte context 000102...13: " +
          "libzmq echoes only the first 16 bytes (spec §10)",
      ],
    ];
    for (const [name, context, note] of cases) {
      const ping = pingFrame(0, context);
      if (name === "pong-lol") assert(hex(ping) === "040a0450494e4700004c4f4c", "our PING bytes");
      ctx.peer.write(ping);
      const { raw, skipped } = await ctx.peer.readCommand("PONG");
      assert(skipped.length === 0, `frames before PONG: ${skipped}`);
      addVector("heartbeat", name, "frames", raw, { note, requestHex: hex(ping) });
    }
    await ctx.peer.expectSilence(30);
    finish(ctx);
  }
}

/** 5. Subscriptions from libzmq SUB to a raw PUB with greeting minor 1 and minor 0. */
async function captureSubscribe() {
  for (const minor of [1, 0]) {
    const ctx = await handshake(new zmq.Subscriber(), "PUB", { minor });
    await ctx.peer.expectSilence(30);
    const sub = ctx.zsock;
    // libzmq attaches the new pipe to the socket only when the socket processes its command
    // mailbox, which happens on API activity. A pending receive() keeps the zeromq poller on
    // the socket fd, so the attach (and the resending of subscriptions) is processed promptly.
    const pending = sub.receive().catch(() => undefined);
    const steps = [
      ["subscribe-all", () => sub.subscribe(""), 'subscribe("")'],
      ["subscribe-ab", () => sub.subscribe("AB"), 'subscribe("AB")'],
      ["cancel-ab", () => sub.unsubscribe("AB"), 'unsubscribe("AB") (while "" stays subscribed)'],
    ];
    for (const [suffix, act, what] of steps) {
      act();
      const f = await ctx.peer.readFrame();
      const name = `sub3${minor}-${suffix}`;
      addVector("subscribe", name, "frames", f.raw, {
        note: `libzmq SUB after ${what}; raw peer greeting minor ${minor} (ZMTP 3.${minor})`,
      });
    }
    await ctx.peer.expectSilence(30);
    finish(ctx);
    await pending;
  }
}

/** 6. REQ request with the empty delimiter. */
async function captureReq() {
  const ctx = await handshake(new zmq.Request(), "REP");
  await ctx.zsock.send(["a", "b"]);
  const raw = await ctx.peer.readMessage();
  addVector("req", "req-a-b", "frames", raw, { note: 'libzmq REQ send(["a","b"]) to a raw REP' });
  await ctx.peer.expectSilence(30);
  finish(ctx);
}

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------

function serialize(arr) {
  return JSON.stringify(arr, null, 2) + "\n";
}

async function main() {
  const t0 = Date.now();
  await captureGreetings();
  await captureReady();
  await captureFrames();
  await captureHeartbeat();
  await captureSubscribe();
  await captureReq();

  let differences = 0;
  if (!CHECK_ONLY) fs.mkdirSync(OUT_DIR, { recursive: true });
  for (const [group, vectors] of Object.entries(groups)) {
    const file = path.join(OUT_DIR, `${group}.json`);
    const text = serialize(vectors);
    if (CHECK_ONLY) {
      const old = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : null;
      if (old !== text) {
        differences++;
        console.log(`DIFFERENT: ${path.relative(ROOT, file)}`);
      }
    } else {
      fs.writeFileSync(file, text);
      console.log(`wrote ${path.relative(ROOT, file)} (${vectors.length} vectors)`);
    }
  }
  console.log(`${SOURCE}; comparison with spec [obs] dumps:`);
  for (const line of report) console.log(line);
  console.log(`done in ${Date.now() - t0} ms`);
  return differences;
}

let exitCode = 0;
try {
  const diffs = await main();
  if (diffs) exitCode = 1;
} catch (err) {
  console.error("capture-vectors failed:", err);
  exitCode = 1;
} finally {
  for (const s of [...openSockets]) closeZ(s);
  clearTimeout(watchdog);
}
// libzmq context threads may keep the process alive briefly; exit explicitly.
setTimeout(() => process.exit(exitCode), 50).unref();
process.exitCode = exitCode;

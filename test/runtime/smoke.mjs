// Runtime smoke suite: the same script under Node (against dist/), Bun and Deno (against src/).
// Plain node:assert, no test framework, so that every runtime runs it as is.
// Usage: <runtime> test/runtime/smoke.mjs <path to mod.js or mod.ts>
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { pathToFileURL } from 'node:url';
import * as path from 'node:path';

const entry = process.argv[2] ?? 'dist/mod.js';
const zmq = await import(pathToFileURL(path.resolve(entry)).href);
const runtime = typeof globalThis.Bun !== 'undefined' ? 'bun' : typeof globalThis.Deno !== 'undefined' ? 'deno' : 'node';

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms} ms`)), ms);
    }),
  ]);
}

async function dealerRouter(address) {
  const router = new zmq.Router();
  const dealer = new zmq.Dealer({ routingId: 'smoke' });
  try {
    await router.bind(address);
    dealer.connect(router.lastEndpoint);
    for (let i = 0; i < 100; i++) await dealer.send(['req', String(i)]);
    for (let i = 0; i < 100; i++) {
      const [id, kind, n] = await router.receive();
      assert.equal(id.toString(), 'smoke');
      assert.equal(kind.toString(), 'req');
      assert.equal(n.toString(), String(i));
      await router.send([id, 'rep', n]);
    }
    for (let i = 0; i < 100; i++) {
      const [kind, n] = await dealer.receive();
      assert.equal(kind.toString(), 'rep');
      assert.equal(n.toString(), String(i));
    }
    const big = new Uint8Array(1 << 20).fill(7);
    await dealer.send([big]);
    const [, got] = await router.receive();
    assert.equal(got.length, big.length);
    assert.equal(got[12345], 7);
  } finally {
    dealer.close();
    router.close();
  }
}

async function pubSub(address) {
  const pub = new zmq.Publisher();
  const sub = new zmq.Subscriber();
  try {
    await pub.bind(address);
    sub.connect(pub.lastEndpoint);
    sub.subscribe('weather');
    const first = sub.receive();
    let arrived = false;
    first.then(() => (arrived = true), () => {});
    // subscriptions travel asynchronously: publish until the first message gets through
    for (let i = 0; i < 400 && !arrived; i++) {
      await pub.send(['sports', 'nope']);
      await pub.send(['weather', 'sunny']);
      await new Promise((r) => setTimeout(r, 5));
    }
    const [topic, body] = await first;
    assert.equal(topic.toString(), 'weather');
    assert.equal(body.toString(), 'sunny');
  } finally {
    sub.close();
    pub.close();
  }
}

async function curve(address) {
  const server = zmq.curveKeyPair();
  const client = zmq.curveKeyPair();
  const router = new zmq.Router({ curveServer: true, curveSecretKey: server.secretKey });
  const dealer = new zmq.Dealer({ curveServerKey: server.publicKey, curvePublicKey: client.publicKey, curveSecretKey: client.secretKey });
  try {
    await router.bind(address);
    dealer.connect(router.lastEndpoint);
    const big = new Uint8Array(200000).fill(3);
    await dealer.send(['secret', big]);
    const [id, word, body] = await router.receive();
    assert.equal(word.toString(), 'secret');
    assert.equal(body.length, big.length);
    assert.equal(body[199999], 3);
    assert.equal(router.lastPeer.publicKey, client.publicKey);
    await router.send([id, 'ok']);
    const [reply] = await dealer.receive();
    assert.equal(reply.toString(), 'ok');
  } finally {
    dealer.close();
    router.close();
  }
}

// a PUB with no subscriber completes every send at once: the loop must still let a timer run
async function sendLoopYields() {
  const pub = new zmq.Publisher();
  try {
    await pub.bind('tcp://127.0.0.1:*');
    let fired = false;
    setTimeout(() => {
      fired = true;
    }, 0);
    let sent = 0;
    while (!fired && sent < 20_000_000) {
      await pub.send('x');
      sent++;
    }
    assert.ok(fired, `the timer did not run during ${sent} sends`);
  } finally {
    pub.close();
  }
}

// a raw TCP client through a Stream socket: notification, data, reply, end
async function streamRaw() {
  const stream = new zmq.Stream();
  let client;
  try {
    await stream.bind('tcp://127.0.0.1:*');
    const port = Number(stream.lastEndpoint.split(':').pop());
    client = net.connect(port, '127.0.0.1');
    let got = '';
    client.on('data', (d) => (got += d));
    const [id, hello] = await stream.receive();
    assert.equal(hello.length, 0);
    client.write('ping');
    const [, data] = await stream.receive();
    assert.equal(data.toString(), 'ping');
    await stream.send([id, 'pong']);
    const ended = new Promise((r) => client.on('end', r));
    await stream.send([id, '']);
    await ended;
    assert.equal(got, 'pong');
  } finally {
    client?.destroy();
    stream.close();
  }
}

// a ROUTER–DEALER queue through Proxy, with a DEALER client and a DEALER worker
async function proxyQueue() {
  const front = new zmq.Router();
  const back = new zmq.Dealer();
  const client = new zmq.Dealer();
  const worker = new zmq.Dealer();
  try {
    await front.bind('tcp://127.0.0.1:*');
    await back.bind('tcp://127.0.0.1:*');
    const proxy = new zmq.Proxy(front, back);
    const running = proxy.run();
    client.connect(front.lastEndpoint);
    worker.connect(back.lastEndpoint);
    await client.send('job');
    const job = await worker.receive();
    assert.equal(job[job.length - 1].toString(), 'job');
    await worker.send([...job.slice(0, -1), 'done']);
    const [reply] = await client.receive();
    assert.equal(reply.toString(), 'done');
    proxy.terminate();
    await running;
  } finally {
    client.close();
    worker.close();
  }
}

const cases = [
  ['CURVE dealer/router tcp', () => curve('tcp://127.0.0.1:*')],
  ['dealer/router tcp', () => dealerRouter('tcp://127.0.0.1:*')],
  ['dealer/router ipc', () => dealerRouter('ipc://*')],
  ['pub/sub tcp', () => pubSub('tcp://127.0.0.1:*')],
  ['pub/sub ipc', () => pubSub('ipc://*')],
  ['a tight send loop lets timers run', () => sendLoopYields()],
  ['stream socket with a raw tcp client', () => streamRaw()],
  ['proxy router/dealer queue', () => proxyQueue()],
];

let passed = 0;
let failed = 0;
for (const [name, fn] of cases) {
  try {
    await withTimeout(fn(), 10000, name);
    passed++;
    console.log(`ok - ${runtime}: ${name}`);
  } catch (err) {
    failed++;
    console.log(`not ok - ${runtime}: ${name}: ${err?.stack ?? err}`);
  }
}
console.log(`${runtime}: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);

// Child process of crash.test.ts, on the compiled journal module:
//
//   node crash-child.mjs <journal.js> <dir> append <fsync> <first id>
//     opens the journal and appends REQUEST records with ids first, first+1, … (8 appends in
//     flight), printing each id once its append has resolved, until it is killed.
//   node crash-child.mjs <journal.js> <dir> lock
//     tries to open the journal; prints "opened" or the error code, and exits.
const [modulePath, dir, mode, fsync, first] = process.argv.slice(2);
const { JournalStore } = await import(modulePath);

if (mode === 'lock') {
  const store = new JournalStore({ dir });
  try {
    await store.open();
    await store.close();
    process.stdout.write('opened\n');
  } catch (err) {
    process.stdout.write(`${err.code}\n${err.message}\n`);
  }
} else {
  const store = new JournalStore({ dir, fsync });
  await store.open();
  process.stdout.write('ready\n');
  const body = new Uint8Array(200).fill(0x42);
  const service = new TextEncoder().encode('crash');
  let next = Number(first);
  async function appender() {
    for (;;) {
      const n = next++;
      const id = new Uint8Array(16);
      new DataView(id.buffer).setUint32(12, n);
      await store.append({ type: 1, id, kind: 'titanic', service, body: [body], client: new Uint8Array(0), dialect: '', createdAt: Date.now() });
      // stdout to a pipe is synchronous on POSIX: once the parent reads the line, the append had resolved
      process.stdout.write(`${n}\n`);
    }
  }
  await Promise.all(Array.from({ length: 8 }, appender));
}

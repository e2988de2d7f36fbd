/**
 * Side-by-side checks against zeromq.js: each case runs once with purezmq and once with the
 * `zeromq` devDependency, through the same code, and the results must agree.
 */
import { afterEach } from 'vitest';
import * as lib from 'zeromq';
import * as pz from '../../src/mod.ts';

export type Lib = typeof pz;

/** Both libraries, named, for describe.each / it.each. */
export const LIBS: [string, Lib][] = [
  ['purezmq', pz],
  ['zeromq.js', lib as unknown as Lib],
];

/** Sockets to close after each test of the file that calls this. */
export function socketTracker(): <T extends { close(): void }>(s: T) => T {
  const open: { close(): void }[] = [];
  afterEach(() => {
    for (const s of open.splice(0)) s.close();
  });
  return (s) => {
    open.push(s);
    return s;
  };
}

/**
 * zeromq.js's `capability`: what this library can do. No pgm/norm/tipc transports (no multicast or
 * TIPC from node:net), no GSSAPI, no draft socket types.
 */
export const capability: Readonly<Partial<Record<'ipc' | 'pgm' | 'tipc' | 'norm' | 'curve' | 'gssapi' | 'draft', boolean>>> = Object.freeze({
  ipc: true,
  pgm: false,
  tipc: false,
  norm: false,
  curve: true,
  gssapi: false,
  draft: false,
});

/**
 * zeromq.js's `version` is the libzmq it was built with. purezmq has none: this is the libzmq
 * release whose wire behaviour it follows and is tested against.
 */
export const version = '4.3.5';

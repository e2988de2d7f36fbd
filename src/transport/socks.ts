import type * as net from 'node:net';
import { isIP } from 'node:net';
import { createError, ErrorCode, type ZmqError } from '../errors.ts';

/**
 * SOCKS5 (RFC 1928) CONNECT without authentication, as libzmq does for ZMQ_SOCKS_PROXY: the TCP
 * connection goes to the proxy, which is asked to connect on to the endpoint; ZMTP then runs
 * through it unchanged.
 */

/** `host:port` or `[v6]:port`, as libzmq takes ZMQ_SOCKS_PROXY; undefined when unusable. */
export function parseSocksProxy(text: string): { host: string; port: number } | undefined {
  const colon = text.lastIndexOf(':');
  if (colon <= 0) return undefined;
  let host = text.slice(0, colon);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  const port = Number(text.slice(colon + 1));
  if (!Number.isInteger(port) || port < 1 || port > 65535 || host === '') return undefined;
  return { host, port };
}

/** RFC 1928 reply codes, as the errors a direct connect would have given. */
const REPLY_CODES: Record<number, ErrorCode> = { 3: ErrorCode.EHOSTUNREACH, 4: ErrorCode.EHOSTUNREACH, 5: ErrorCode.ECONNREFUSED };

/** The 16 bytes of an IPv6 address in text form. */
function ipv6Bytes(text: string): number[] {
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const groups = (s: string | undefined) => (s ? s.split(':') : []);
  const left = groups(head);
  const right = groups(tail);
  const words = [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right].map((g) => parseInt(g, 16));
  return words.flatMap((w) => [w >> 8, w & 0xff]);
}

/** The CONNECT request for `host:port` (an IP address as such, anything else as a domain name). */
function connectRequest(host: string, port: number): Uint8Array {
  const family = isIP(host);
  const address =
    family === 4 ? [0x01, ...host.split('.').map(Number)] :
    family === 6 ? [0x04, ...ipv6Bytes(host)] :
    [0x03, host.length, ...new TextEncoder().encode(host)];
  return Uint8Array.from([0x05, 0x01, 0x00, ...address, port >> 8, port & 0xff]);
}

/**
 * Runs the SOCKS5 exchange on a connected socket. Bytes the proxy relays right behind its reply
 * (the peer's greeting) are put back into the socket, which is left paused for its new reader.
 */
export function socksConnect(socket: net.Socket, host: string, port: number, address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let buffered = new Uint8Array(0);
    let greeted = false;
    const fail = (error: ZmqError) => {
      socket.off('data', onData);
      reject(error);
    };
    const onData = (chunk: Uint8Array) => {
      const joined = new Uint8Array(buffered.length + chunk.length);
      joined.set(buffered);
      joined.set(chunk, buffered.length);
      buffered = joined;
      if (!greeted) {
        if (buffered.length < 2) return;
        if (buffered[0] !== 0x05 || buffered[1] !== 0x00) {
          fail(createError(ErrorCode.ECONNREFUSED, `SOCKS proxy refused the connection without authentication (${address})`, { address }));
          return;
        }
        greeted = true;
        buffered = buffered.subarray(2);
        socket.write(connectRequest(host, port));
      }
      if (buffered.length < 5) return;
      const atyp = buffered[3];
      const size = 4 + (atyp === 0x01 ? 4 : atyp === 0x04 ? 16 : 1 + buffered[4]!) + 2;
      if (buffered.length < size) return;
      socket.off('data', onData);
      socket.pause();
      const reply = buffered[1]!;
      if (buffered[0] !== 0x05 || reply !== 0x00) {
        fail(createError(REPLY_CODES[reply] ?? ErrorCode.ECONNREFUSED, `SOCKS proxy could not connect (reply ${reply}) (${address})`, { address }));
        return;
      }
      if (buffered.length > size) socket.unshift(buffered.subarray(size));
      resolve();
    };
    socket.on('data', onData);
    socket.write(Uint8Array.from([0x05, 0x01, 0x00]));
  });
}

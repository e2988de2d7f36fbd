import { createError, ErrorCode } from '../errors.ts';
import type { ParsedEndpoint } from './transport.ts';

/**
 * Parses `tcp://host:port`, `tcp://[v6]:port`, `tcp://*:*`, `ipc:///path`, `ipc://@abstract`,
 * `inproc://name`. `forBind` allows `*` wildcards, which libzmq accepts only when binding.
 */
export function parseEndpoint(address: string, forBind: boolean): ParsedEndpoint {
  const m = /^([a-z]+):\/\/(.*)$/.exec(address);
  if (!m) throw createError(ErrorCode.EINVAL, `Invalid endpoint '${address}'`, { address });
  const protocol = m[1]!;
  const rest = m[2]!;
  if (protocol === 'tcp') {
    // libzmq's "source;destination" form: ignore the source part
    const target = rest.includes(';') ? rest.slice(rest.lastIndexOf(';') + 1) : rest;
    const colon = target.lastIndexOf(':');
    if (colon <= 0) throw createError(ErrorCode.EINVAL, `Invalid TCP endpoint '${address}': missing port`, { address });
    let host = target.slice(0, colon);
    const portText = target.slice(colon + 1);
    if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
    let port: number | '*';
    if (portText === '*' || (forBind && portText === '0')) {
      if (!forBind) throw createError(ErrorCode.EINVAL, `Invalid TCP endpoint '${address}': wildcard port on connect`, { address });
      port = '*';
    } else {
      port = Number(portText);
      if (!/^\d+$/.test(portText) || port < 1 || port > 65535) {
        throw createError(ErrorCode.EINVAL, `Invalid TCP endpoint '${address}': bad port`, { address });
      }
    }
    if (host === '') throw createError(ErrorCode.EINVAL, `Invalid TCP endpoint '${address}': missing host`, { address });
    if (host === '*' && !forBind) throw createError(ErrorCode.EINVAL, `Invalid TCP endpoint '${address}': wildcard host on connect`, { address });
    return { protocol: 'tcp', host, port, address };
  }
  if (protocol === 'ipc') {
    if (rest === '') throw createError(ErrorCode.EINVAL, `Invalid IPC endpoint '${address}'`, { address });
    return { protocol: 'ipc', path: rest, address };
  }
  if (protocol === 'inproc') {
    if (rest === '') throw createError(ErrorCode.EINVAL, `Invalid inproc endpoint '${address}'`, { address });
    return { protocol: 'inproc', name: rest, address };
  }
  throw createError(ErrorCode.EPROTONOSUPPORT, `Protocol '${protocol}' is not supported`, { address });
}

export function formatTcpEndpoint(host: string, port: number): string {
  return host.includes(':') ? `tcp://[${host}]:${port}` : `tcp://${host}:${port}`;
}

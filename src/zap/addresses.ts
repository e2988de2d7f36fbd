import { createError, ErrorCode } from '../errors.ts';

/** 16 bytes for IPv6, 4 for IPv4; undefined when `text` is not an IP address. */
export function parseIp(text: string): Uint8Array | undefined {
  return parseIpv4(text) ?? parseIpv6(text);
}

function parseIpv4(text: string): Uint8Array | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^\d{1,3}$/.test(p) || (p.length > 1 && p[0] === '0')) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    out[i] = n;
  }
  return out;
}

function parseIpv6(text: string): Uint8Array | undefined {
  const zone = text.indexOf('%'); // fe80::1%eth0: the zone does not take part in matching
  if (zone >= 0) {
    if (!/^[0-9a-zA-Z.:-]+$/.test(text.slice(zone + 1))) return undefined; // the zone id node:net accepts
    text = text.slice(0, zone);
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groups = (s: string): number[] | undefined => {
    if (s === '') return [];
    const out: number[] = [];
    const parts = s.split(':');
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      if (i === parts.length - 1 && p.includes('.')) {
        const v4 = parseIpv4(p); // ::ffff:10.0.0.1
        if (!v4) return undefined;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(p)) return undefined;
        out.push(parseInt(p, 16));
      }
    }
    return out;
  };
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (!head || !tail) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const all = [...head, ...new Array<number>(halves.length === 2 ? missing : 0).fill(0), ...tail];
  const out = new Uint8Array(16);
  all.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}

/** An IPv4-mapped IPv6 address (::ffff:a.b.c.d, as dual-stack sockets report IPv4 peers) as IPv4. */
function unmapped(ip: Uint8Array): Uint8Array {
  if (ip.length !== 16) return ip;
  for (let i = 0; i < 10; i++) if (ip[i] !== 0) return ip;
  if (ip[10] !== 0xff || ip[11] !== 0xff) return ip;
  return ip.subarray(12);
}

interface Range {
  network: Uint8Array;
  prefix: number;
}

function inRange(ip: Uint8Array, r: Range): boolean {
  if (ip.length !== r.network.length) return false;
  const whole = r.prefix >> 3;
  for (let i = 0; i < whole; i++) if (ip[i] !== r.network[i]) return false;
  const bits = r.prefix & 7;
  if (bits === 0) return true;
  const mask = (0xff << (8 - bits)) & 0xff;
  return (ip[whole]! & mask) === (r.network[whole]! & mask);
}

/**
 * The Authenticator's allow and deny lists: exact addresses (any string, as the ZAP request
 * carries it) and CIDR ranges (`10.0.0.0/8`, `fd00::/8`). IPv4 peers seen through a dual-stack
 * socket (`::ffff:10.1.2.3`) match IPv4 entries.
 */
export class AddressList {
  private readonly exact = new Set<string>();
  private readonly ranges: Range[] = [];

  get size(): number {
    return this.exact.size + this.ranges.length;
  }

  /** Adds an address or a CIDR range; EINVAL for an IP address with a malformed prefix. */
  add(entry: string): void {
    const slash = entry.lastIndexOf('/');
    const ip = parseIp(slash < 0 ? entry : entry.slice(0, slash));
    if (!ip || slash < 0) {
      // an address, or something else that only matches itself (an IPC path has slashes too)
      this.exact.add(ip ? key(unmapped(ip)) : entry);
      return;
    }
    const prefixText = entry.slice(slash + 1);
    const prefix = Number(prefixText);
    if (!/^\d{1,3}$/.test(prefixText) || prefix > ip.length * 8) {
      throw createError(ErrorCode.EINVAL, `not an address or CIDR range: '${entry}'`);
    }
    // a range inside ::ffff:0:0/96 is an IPv4 range
    const v4 = ip.length === 16 && prefix >= 96 ? unmapped(ip) : ip;
    this.ranges.push({ network: v4, prefix: prefix - (ip.length - v4.length) * 8 });
  }

  has(address: string): boolean {
    const ip = parseIp(address);
    if (!ip) return this.exact.has(address);
    const v = unmapped(ip);
    if (this.exact.has(key(v))) return true;
    for (const r of this.ranges) if (inRange(v, r)) return true;
    return false;
  }
}

function key(ip: Uint8Array): string {
  return Array.from(ip, (b) => b.toString(16).padStart(2, '0')).join('');
}

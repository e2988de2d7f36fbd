import * as net from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AddressList, parseIp } from '../../src/zap/addresses.ts';
import { Authenticator } from '../../src/mod.ts';

const list = (...entries: string[]): AddressList => {
  const l = new AddressList();
  for (const e of entries) l.add(e);
  return l;
};

describe('zap/addresses: allow/deny entries', () => {
  it('parses IPv4 and IPv6 (compressed, embedded IPv4, zone) and refuses what is not an address', () => {
    expect([...parseIp('10.1.2.3')!]).toEqual([10, 1, 2, 3]);
    expect(parseIp('::1')!.length).toBe(16);
    expect(parseIp('fe80::1%eth0')![0]).toBe(0xfe);
    expect([...parseIp('::ffff:10.0.0.1')!.subarray(10)]).toEqual([0xff, 0xff, 10, 0, 0, 1]);
    for (const bad of ['10.1.2', '10.1.2.256', '01.2.3.4', '1::2::3', '1:2:3:4:5:6:7:8:9', 'host.example', '', '::%eth0%eth0', '::1%']) {
      expect(parseIp(bad)).toBeUndefined();
    }
  });

  it('CIDR ranges match their addresses only, IPv4 and IPv6, at any prefix', () => {
    const l = list('10.0.0.0/8', '192.168.1.128/25', 'fd00::/8', '2001:db8::1/128');
    for (const yes of ['10.0.0.1', '10.255.255.255', '192.168.1.200', 'fd12:3456::1', '2001:db8::1']) expect(l.has(yes)).toBe(true);
    for (const no of ['11.0.0.1', '192.168.1.127', 'fe00::1', '2001:db8::2', '::1']) expect(l.has(no)).toBe(false);
    expect(list('0.0.0.0/0').has('203.0.113.9')).toBe(true);
    expect(list('0.0.0.0/0').has('::1')).toBe(false);
  });

  it('an IPv4 peer seen through a dual-stack socket (::ffff:a.b.c.d) matches IPv4 entries and ranges', () => {
    expect(list('10.0.0.66').has('::ffff:10.0.0.66')).toBe(true);
    expect(list('10.0.0.0/8').has('::ffff:10.9.8.7')).toBe(true);
    expect(list('::ffff:10.0.0.0/104').has('10.1.1.1')).toBe(true);
    expect(list('::ffff:10.0.0.66').has('10.0.0.66')).toBe(true);
  });

  it('non-IP addresses (IPC peers) match exactly; an IP with a malformed prefix is EINVAL', () => {
    expect(list('/tmp/app.sock').has('/tmp/app.sock')).toBe(true);
    expect(list('/tmp/app.sock').has('/tmp/other.sock')).toBe(false);
    for (const bad of ['10.0.0.0/33', '10.0.0.0/', 'fd00::/129', '10.0.0.0/8x']) {
      expect(() => list(bad)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    }
  });

  it('the Authenticator takes ranges in allow and deny, deny first', async () => {
    const auth = new Authenticator({ allow: ['10.0.0.0/8'], deny: ['10.66.0.0/16'] });
    auth.allow('2001:db8::/32');
    const ask = (address: string) => auth.decide({ domain: '', address, identity: '', mechanism: 'NULL' } as never).then((d) => d.status);
    expect(await ask('10.1.2.3')).toBe('200');
    expect(await ask('::ffff:10.1.2.3')).toBe('200');
    expect(await ask('10.66.1.1')).toBe('400');
    expect(await ask('192.0.2.1')).toBe('400');
    expect(await ask('2001:db8:1::5')).toBe('200');
  });

  it('property: an address parses exactly when node:net says it is one (random IPv4/IPv6-shaped text)', () => {
    const token = fc.oneof(
      fc.constantFrom(':', '::', '.', '%eth0', '0', '00', '1', 'ff', 'ffff', 'FFFF', '1234', '12345', '255', '256', '01', 'g'),
      fc.integer({ min: 0, max: 0xffff }).map((n) => n.toString(16)),
      fc.integer({ min: 0, max: 300 }).map(String),
    );
    fc.assert(
      fc.property(fc.array(token, { maxLength: 17 }), (parts) => {
        const text = parts.join('');
        expect(parseIp(text) !== undefined, text).toBe(net.isIP(text) !== 0);
      }),
      { numRuns: 20000 },
    );
  });

  it('property: 16 random bytes written out in full or with the longest zero run as :: parse back to themselves', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.integer({ min: 0, max: 7 }), fc.integer({ min: 0, max: 8 }), (bytes, zeroAt, zeroLen) => {
        const b = Uint8Array.from(bytes);
        b.fill(0, 2 * zeroAt, Math.min(16, 2 * (zeroAt + zeroLen))); // make runs of zero groups likely
        const groups = Array.from({ length: 8 }, (_, i) => ((b[2 * i]! << 8) | b[2 * i + 1]!).toString(16));
        const full = groups.join(':');
        let best = [-1, 0];
        for (let i = 0; i < 8; ) {
          let j = i;
          while (j < 8 && groups[j] === '0') j++;
          if (j - i > best[1]!) best = [i, j - i];
          i = j === i ? i + 1 : j;
        }
        const compressed = best[1]! >= 2 ? `${groups.slice(0, best[0]).join(':')}::${groups.slice(best[0]! + best[1]!).join(':')}` : full;
        expect([...parseIp(full)!]).toEqual([...b]);
        expect([...parseIp(compressed)!], compressed).toEqual([...b]);
      }),
      { numRuns: 500 },
    );
  });
});


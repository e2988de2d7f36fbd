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
    for (const bad of ['10.1.2', '10.1.2.256', '01.2.3.4', '1::2::3', '1:2:3:4:5:6:7:8:9', 'host.example', '']) {
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
});

import { describe, expect, it } from 'vitest';
import { ErrorCode, ProtocolError, type ZmqError } from '../../../src/errors.ts';
import { encodeMetadata, encodeMetadataSize, Metadata, parseMetadata, writeMetadata } from '../../../src/zmtp/metadata.ts';
import { hex, unhex } from '../../_helpers/decode.ts';

const te = new TextEncoder();
const b = (s: string): Uint8Array => te.encode(s);

// libzmq DEALER READY metadata (zmtp.md §6, [obs]): Socket-Type=DEALER, Identity=""
const DEALER_PROPS = '0b536f636b65742d5479706500000006' + '4445414c4552' + '084964656e7469747900000000';

function ok(data: Uint8Array): Metadata {
  const r = parseMetadata(data);
  if (!(r instanceof Metadata)) throw r;
  return r;
}

function expectBadMetadata(result: Metadata | ZmqError, message: string): void {
  expect(result).toBeInstanceOf(ProtocolError);
  expect((result as ZmqError).code).toBe(ErrorCode.BAD_METADATA);
  expect((result as ZmqError).code).toBe('ERR_ZMTP_INVALID_METADATA');
  expect((result as ZmqError).message).toBe(message);
}

describe('zmtp/metadata', () => {
  it('encodes libzmq\'s DEALER properties byte for byte', () => {
    expect(hex(encodeMetadata([['Socket-Type', b('DEALER')], ['Identity', new Uint8Array(0)]]))).toBe(DEALER_PROPS);
  });

  it('parses them back, in wire order, values as views into the input', () => {
    const data = unhex(DEALER_PROPS);
    const md = ok(data);
    expect(md.entries.map(([n]) => n)).toEqual(['Socket-Type', 'Identity']);
    expect(md.toObject()).toEqual({ 'Socket-Type': 'DEALER', Identity: '' });
    expect(md.entries[0]![1].buffer).toBe(data.buffer);
  });

  it('round-trips names of 1 and 255 characters and binary values (including a 70000-byte one)', () => {
    const big = new Uint8Array(70000).map((_, i) => i & 0xff);
    const entries: [string, Uint8Array][] = [
      ['A', new Uint8Array([0, 255, 10])],
      ['X-' + 'n'.repeat(253), new Uint8Array(0)],
      ['Resource', b('system/name-service/test')],
      ['X-Big', big],
      ['a.b_c+d-e', b('ünïcode')],
    ];
    const data = encodeMetadata(entries);
    expect(data.length).toBe(encodeMetadataSize(entries));
    const md = ok(data);
    expect(md.entries.length).toBe(entries.length);
    md.entries.forEach(([n, v], i) => {
      expect(n).toBe(entries[i]![0]);
      expect(hex(v)).toBe(hex(entries[i]![1]));
    });
  });

  it('writeMetadata writes at an offset and returns the end', () => {
    const out = new Uint8Array(3 + encodeMetadataSize([['K', b('v')]]));
    expect(writeMetadata(out, 3, [['K', b('v')]])).toBe(out.length);
    expect(hex(out.subarray(3))).toBe('014b0000000176');
  });

  it('an empty property list is valid', () => {
    expect(ok(new Uint8Array(0)).entries).toEqual([]);
    expect(encodeMetadata([]).length).toBe(0);
  });

  it('get() ignores case (RFC 23 §metadata: names are case-insensitive)', () => {
    const md = ok(unhex(DEALER_PROPS));
    for (const name of ['Socket-Type', 'socket-type', 'SOCKET-TYPE', 'sOcKeT-tYpE']) {
      expect(hex(md.get(name)!)).toBe(hex(b('DEALER')));
    }
    expect(md.get('identity')!.length).toBe(0);
    expect(md.get('Missing')).toBeUndefined();
  });

  it('get() returns the first of duplicate names', () => {
    const md = ok(encodeMetadata([['X-A', b('1')], ['x-a', b('2')]]));
    expect(new TextDecoder().decode(md.get('X-A'))).toBe('1');
  });

  it('empty name → ERR_ZMTP_INVALID_METADATA', () => {
    expectBadMetadata(parseMetadata(unhex('00')), 'metadata property with empty name');
    expectBadMetadata(parseMetadata(unhex('000000000000')), 'metadata property with empty name');
    // a valid property followed by an empty name
    expectBadMetadata(parseMetadata(unhex('014b00000000' + '00')), 'metadata property with empty name');
  });

  it('truncated property (name or value-length cut short) → ERR_ZMTP_INVALID_METADATA', () => {
    const full = unhex('014b00000001' + '76');
    // every cut that leaves the name or the 4-byte length incomplete
    for (let cut = 1; cut < 6; cut++) {
      expectBadMetadata(parseMetadata(full.subarray(0, cut)), 'metadata property truncated');
    }
    expectBadMetadata(parseMetadata(unhex('0b536f636b6574')), 'metadata property truncated');
  });

  it('value length overrunning the command → ERR_ZMTP_INVALID_METADATA naming the property', () => {
    expectBadMetadata(parseMetadata(unhex('014b00000002' + '76')), "metadata value of 'K' overruns the command");
    expectBadMetadata(parseMetadata(unhex('014bffffffff' + '76')), "metadata value of 'K' overruns the command");
    expectBadMetadata(parseMetadata(unhex('014b80000000')), "metadata value of 'K' overruns the command");
    // the full DEALER list with its last value length bumped by one
    const data = unhex(DEALER_PROPS);
    data[data.length - 1] = 1;
    expectBadMetadata(parseMetadata(data), "metadata value of 'Identity' overruns the command");
  });

  it('name characters outside ALPHA DIGIT - _ . + → ERR_ZMTP_INVALID_METADATA', () => {
    for (const bad of [0x20, 0x00, 0x3a, 0x2f, 0x7f, 0x80, 0xff]) {
      const data = unhex('034b4b4b00000000');
      data[2] = bad;
      expectBadMetadata(parseMetadata(data), 'metadata property name has invalid characters');
    }
  });

  it('toObject decodes values as UTF-8 strings', () => {
    expect(new Metadata([['X-U', b('ü')]]).toObject()).toEqual({ 'X-U': 'ü' });
  });
});

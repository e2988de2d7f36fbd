import { describe, expect, it } from 'vitest';
import { ErrorCode, ProtocolError, ZmqError } from '../../../src/errors.ts';
import {
  commandBody,
  encodeCommand,
  encodeError,
  encodePing,
  parseCommand,
  parseErrorReason,
  type ParsedCommand,
} from '../../../src/zmtp/command.ts';
import { hex, unhex } from '../../_helpers/decode.ts';

function expectBadCommand(result: ParsedCommand | ZmqError, message: string): void {
  expect(result).toBeInstanceOf(ProtocolError);
  expect((result as ZmqError).code).toBe(ErrorCode.BAD_COMMAND);
  expect((result as ZmqError).code).toBe('ERR_ZMTP_MALFORMED_COMMAND_UNSPECIFIED');
  expect((result as ZmqError).message).toBe(message);
}

function parsed(body: Uint8Array): ParsedCommand {
  const r = parseCommand(body);
  if (r instanceof ZmqError) throw r;
  return r;
}

describe('zmtp/command parseCommand', () => {
  it('splits name-size, name and data (zmtp.md §5.1: no separator, no padding)', () => {
    const body = unhex('0450494e47001941'); // PING ttl=25 context "A"
    const cmd = parsed(body);
    expect(cmd.name).toBe('PING');
    expect(hex(cmd.data)).toBe('001941');
  });

  it('data is a view into the body, not a copy', () => {
    const body = unhex('054552524f5203343030');
    const cmd = parsed(body);
    expect(cmd.name).toBe('ERROR');
    expect(cmd.data.buffer).toBe(body.buffer);
    expect(cmd.data.byteOffset).toBe(body.byteOffset + 6);
  });

  it('a command with only a name has empty data', () => {
    const cmd = parsed(unhex('04504f4e47'));
    expect(cmd.name).toBe('PONG');
    expect(cmd.data.length).toBe(0);
  });

  it('accepts a 255-character name', () => {
    const name = 'N'.repeat(255);
    const cmd = parsed(encodeCommand(name, unhex('0102')));
    expect(cmd.name).toBe(name);
    expect(hex(cmd.data)).toBe('0102');
  });

  it('empty body → ERR_ZMTP_MALFORMED_COMMAND_UNSPECIFIED', () => {
    expectBadCommand(parseCommand(new Uint8Array(0)), 'empty command frame');
  });

  it('name length 0 → error (RFC: name-size is 1..255)', () => {
    expectBadCommand(parseCommand(unhex('00')), 'command name length overruns the frame');
    expectBadCommand(parseCommand(unhex('0041')), 'command name length overruns the frame');
  });

  it('name length overrunning the body → error, for every overrun amount', () => {
    // "\x05REA" : declared 5, only 3 present
    expectBadCommand(parseCommand(unhex('05524541')), 'command name length overruns the frame');
    for (let declared = 2; declared <= 255; declared++) {
      const body = new Uint8Array(declared); // one byte short of name-size + name
      body[0] = declared;
      body.fill(0x41, 1);
      expectBadCommand(parseCommand(body), 'command name length overruns the frame');
    }
    expectBadCommand(parseCommand(unhex('ff')), 'command name length overruns the frame');
  });

  it('name length exactly filling the body is fine', () => {
    expect(parsed(unhex('0141'))).toMatchObject({ name: 'A' });
  });

  it('non-ASCII or non-printable name bytes → ERR_ZMTP_MALFORMED_COMMAND_UNSPECIFIED', () => {
    for (const bad of [0x00, 0x09, 0x20, 0x7f, 0x80, 0xc3, 0xff]) {
      const body = unhex('05524541445900'); // "READY" + 1 data byte
      body[3] = bad;
      expectBadCommand(parseCommand(body), 'command name is not ASCII');
    }
  });

  it('bytes after the name are data and are not validated', () => {
    const cmd = parsed(unhex('0141ff00c3'));
    expect(cmd.name).toBe('A');
    expect(hex(cmd.data)).toBe('ff00c3');
  });
});

describe('zmtp/command encoders', () => {
  it('encodeCommand: SUBSCRIBE / CANCEL bodies match libzmq byte for byte (zmtp.md §5.2)', () => {
    expect(hex(encodeCommand('SUBSCRIBE'))).toBe('09535542534352494245');
    expect(hex(encodeCommand('SUBSCRIBE', new Uint8Array(0)))).toBe('09535542534352494245');
    expect(hex(encodeCommand('SUBSCRIBE', unhex('4142')))).toBe('095355425343524942454142');
    expect(hex(encodeCommand('CANCEL', unhex('4142')))).toBe('0643414e43454c4142');
  });

  it('encodeCommand copies the data (the caller may reuse its buffer)', () => {
    const data = unhex('0102');
    const body = encodeCommand('X', data);
    data[0] = 9;
    expect(hex(body)).toBe('01580102');
  });

  it('commandBody reserves room for the data after the name', () => {
    const { body, offset } = commandBody('READY', 3);
    expect(body.length).toBe(9);
    expect(offset).toBe(6);
    expect(hex(body.subarray(0, 6))).toBe('055245414459');
  });

  it('encodePing: ttl big-endian in deciseconds, optional context (zmtp.md §5.2)', () => {
    expect(hex(encodePing(25))).toBe('0450494e470019');
    expect(hex(encodePing(0, unhex('4c4f4c')))).toBe('0450494e4700004c4f4c');
    expect(hex(encodePing(655))).toBe('0450494e47028f');
    expect(hex(encodePing(0xffff))).toBe('0450494e47ffff');
    const ctx = unhex('000102030405060708090a0b0c0d0e0f');
    expect(hex(encodePing(1, ctx))).toBe('0450494e470001' + hex(ctx));
  });

  it('encodePing output parses back', () => {
    const cmd = parsed(encodePing(300, unhex('abcd')));
    expect(cmd.name).toBe('PING');
    expect((cmd.data[0]! << 8) | cmd.data[1]!).toBe(300);
    expect(hex(cmd.data.subarray(2))).toBe('abcd');
  });

  it('encodeError: ERROR + reason-len + reason, as libzmq sends after ZAP 400 (zmtp.md §5.2)', () => {
    expect(hex(encodeError('400'))).toBe('054552524f5203343030');
    expect(hex(encodeError(''))).toBe('054552524f5200');
  });

  it('encodeError truncates the reason to 255 bytes (reason-len is one byte)', () => {
    const body = encodeError('x'.repeat(300));
    expect(body.length).toBe(1 + 5 + 1 + 255);
    expect(body[6]).toBe(255);
    expect(parseErrorReason(parsed(body).data)).toBe('x'.repeat(255));
  });

  it('encodeError keeps the reason 7-bit', () => {
    const body = encodeError('é');
    expect(body[7]! & 0x80).toBe(0);
  });

  it('parseErrorReason tolerates missing and overlong length bytes', () => {
    expect(parseErrorReason(new Uint8Array(0))).toBe('');
    expect(parseErrorReason(unhex('03343030'))).toBe('400');
    expect(parseErrorReason(unhex('0934'))).toBe('4');
    expect(parseErrorReason(unhex('00343030'))).toBe('');
  });
});

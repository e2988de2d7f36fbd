import { alloc, asciiString } from '../util/bytes.ts';

/**
 * Map key for a routing id. The 5-byte ids ROUTER and STREAM generate (0x00 + uint32) become
 * numbers, so the common case costs no string per message; any other id is its bytes as a latin1
 * string. A number and a string never collide as Map keys.
 */
export function routingKey(id: Uint8Array): string | number {
  if (id.length === 5 && id[0] === 0) return ((id[1]! << 24) | (id[2]! << 16) | (id[3]! << 8) | id[4]!) >>> 0;
  return asciiString(id);
}

/** Generated routing ids: 5 bytes, 0x00 + a uint32 counter from a random start, as libzmq makes them. */
export class RoutingIdGenerator {
  private next = (Math.random() * 0xffffffff) >>> 0;

  /** A fresh id whose key `taken` does not report in use. */
  generate(taken: (key: string | number) => boolean): Uint8Array {
    let id: Uint8Array;
    do {
      this.next = (this.next + 1) >>> 0;
      id = alloc(5).fill(0);
      id[1] = this.next >>> 24;
      id[2] = (this.next >>> 16) & 0xff;
      id[3] = (this.next >>> 8) & 0xff;
      id[4] = this.next & 0xff;
    } while (taken(routingKey(id)));
    return id;
  }
}

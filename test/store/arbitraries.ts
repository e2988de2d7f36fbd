/**
 * fast-check arbitraries for store records: every record type, with empty and large frames,
 * any Unicode in the strings, and f64 times including the odd ones (-0, NaN, infinities).
 */
import fc from 'fast-check';
import { RecordType, RequestKind, type StoreRecord } from '../../src/mdp/store/records.ts';

export const id = fc.uint8Array({ minLength: 16, maxLength: 16 });

/** Frames around the sizes that matter: empty, small, and large enough to pass through uncopied. */
export const frame = fc.oneof(
  { weight: 2, arbitrary: fc.constant(new Uint8Array(0)) },
  { weight: 6, arbitrary: fc.uint8Array({ maxLength: 40 }) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 4000, maxLength: 70000 }) },
);
export const frames = fc.array(frame, { maxLength: 5 });
export const text = fc.oneof(fc.string({ unit: 'binary', maxLength: 20 }), fc.string({ unit: 'grapheme', maxLength: 20 }), fc.constant(''));
export const time = fc.oneof(fc.integer({ min: 0, max: 2 ** 45 }), fc.double());

export const request = fc.record({
  type: fc.constant(RecordType.REQUEST),
  id,
  kind: fc.constantFrom(RequestKind.PLAIN, RequestKind.TITANIC),
  service: fc.uint8Array({ maxLength: 30 }),
  body: frames,
  client: fc.uint8Array({ maxLength: 20 }),
  dialect: text,
  createdAt: time,
});
export const reply = fc.record({ type: fc.constant(RecordType.REPLY), id, body: frames });
export const done = fc.record({ type: fc.constant(RecordType.DONE), id });
export const attempt = fc.record({ type: fc.constant(RecordType.ATTEMPT), id, attempts: fc.nat({ max: 0xffffffff }), error: text });
export const dead = fc.record({ type: fc.constant(RecordType.DEAD), id, reason: text, error: text, at: time });
export const requeue = fc.record({ type: fc.constant(RecordType.REQUEUE), id, at: time });

export const record: fc.Arbitrary<StoreRecord> = fc.oneof(request, reply, done, attempt, dead, requeue);

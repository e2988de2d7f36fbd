/**
 * What every store implementation shares: the budget rule, and the errors a store gives for it and
 * for use after close, so that the broker sees the same codes and wording whatever backs it.
 */
import { MdpErrorCode, mdpError, type MdpError } from '../errors.ts';
import { RecordType, requestKey, type RequestState, type StoreRecord } from './records.ts';

/**
 * Only a REQUEST for an id the state does not hold can be refused for the budget: every other
 * record is about a request already accepted, and refusing it would strand that request.
 */
export function isNewRequest(state: RequestState, record: StoreRecord): boolean {
  return record.type === RecordType.REQUEST && state.get(requestKey(record.id)) === undefined;
}

export function storeFullError(used: number, size: number, maxBytes: number): MdpError {
  return mdpError(
    MdpErrorCode.STORE_FULL,
    `the request store is full: ${used} of ${maxBytes} bytes in use, no room for a request of ${size} bytes (max_store_bytes)`,
  );
}

export function storeClosedError(): MdpError {
  return mdpError(MdpErrorCode.STORE, 'the request store is closed');
}

import { describe, expect, it } from 'vitest';
import { clickHouseErrorCode, rowsRejected, storeWideFailure } from './errors.js';
import { InsertError } from './inserter.js';

describe('clickHouseErrorCode', () => {
  it('reads the code of a server error or of an embedded error message', () => {
    expect(clickHouseErrorCode(Object.assign(new Error('x'), { code: '41' }))).toBe(41);
    expect(clickHouseErrorCode(Object.assign(new Error('x'), { code: 243 }))).toBe(243);
    expect(clickHouseErrorCode(new Error('Code: 27. DB::Exception: Cannot parse input'))).toBe(27);
    expect(clickHouseErrorCode(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))).toBeUndefined();
  });
});

describe('storeWideFailure', () => {
  // The embedded store answers its ping (an in-process SELECT 1) in all of these: the code must decide.
  it.each([
    [243, 'NOT_ENOUGH_SPACE'],
    [241, 'MEMORY_LIMIT_EXCEEDED'],
    [252, 'TOO_MANY_PARTS'],
    [164, 'READONLY'],
    [159, 'TIMEOUT_EXCEEDED'],
    [209, 'SOCKET_TIMEOUT'],
    [210, 'NETWORK_ERROR'],
    [202, 'TOO_MANY_SIMULTANEOUS_QUERIES'],
    [236, 'ABORTED'],
  ])('code %i is the store being unavailable (%s), not the job', (code, name) => {
    // As the HTTP client reports it (string code), as chdb does (same), as a message, and wrapped by the inserter.
    expect(storeWideFailure(Object.assign(new Error('x'), { code: String(code) }))).toBe(name);
    expect(storeWideFailure(Object.assign(new Error('x'), { code }))).toBe(name);
    expect(storeWideFailure(new Error(`Code: ${code}. DB::Exception: something`))).toBe(name);
    expect(storeWideFailure(new InsertError('insert of 3 rows failed', { cause: Object.assign(new Error('x'), { code: String(code) }) }))).toBe(name);
  });

  it('leaves data errors and unknown failures to the job (and network errors to the ping)', () => {
    expect(storeWideFailure(new InsertError('insert failed', { cause: new Error('Code: 27. DB::Exception: Cannot parse input') }))).toBeUndefined();
    expect(storeWideFailure(Object.assign(new Error('x'), { code: '53' }))).toBeUndefined();
    expect(storeWideFailure(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))).toBeUndefined();
    expect(storeWideFailure(new Error('socket hang up'))).toBeUndefined();
    expect(storeWideFailure(undefined)).toBeUndefined();
  });
});

describe('rowsRejected', () => {
  it('is true for parse and type errors of the rows, also inside an InsertError, and false for store-wide ones', () => {
    expect(rowsRejected(new InsertError('insert failed', { cause: new Error('Code: 27. DB::Exception: Cannot parse input') }))).toBe(true);
    expect(rowsRejected(Object.assign(new Error('x'), { code: '41' }))).toBe(true);
    expect(rowsRejected(Object.assign(new Error('x'), { code: '243' }))).toBe(false);
    expect(rowsRejected(new Error('socket hang up'))).toBe(false);
  });
});

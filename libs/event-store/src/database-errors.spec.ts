import { EventStoreError, EventStoreErrorCode } from './event-store.error';
import { asStoreError, isSilentConnection, isUnavailable } from './database-errors';

describe('database errors from a silent connection', () => {
  it("counts pg's client-side timeouts as the database being unavailable", () => {
    // connectionTimeoutMillis on a connection that hears nothing, and query_timeout on one that went silent.
    for (const message of ['timeout expired', 'Query read timeout']) {
      expect(isUnavailable(new Error(message))).toBe(true);
      expect(asStoreError(new Error(message))).toMatchObject({ code: EventStoreErrorCode.UNAVAILABLE });
    }
    expect(asStoreError(new Error('Query read timeout'))).toBeInstanceOf(EventStoreError);
  });

  it('tells a silent connection (never to be reused) from other failures', () => {
    expect(isSilentConnection(new Error('Query read timeout'))).toBe(true);
    expect(isSilentConnection(new Error('timeout expired'))).toBe(false);
    expect(isSilentConnection(Object.assign(new Error('canceling statement'), { code: '57014' }))).toBe(false);
  });

  it('leaves statement errors alone', () => {
    const syntax = Object.assign(new Error('syntax error at or near "selec"'), { code: '42601' });
    expect(isUnavailable(syntax)).toBe(false);
    expect(asStoreError(syntax)).toBe(syntax);
    expect(isUnavailable(new Error('a timeout expired somewhere in a message'))).toBe(false);
  });
});

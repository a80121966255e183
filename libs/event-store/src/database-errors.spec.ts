import { EventStoreError, EventStoreErrorCode } from './event-store.error';
import { asStoreError, isUnavailable } from './database-errors';

describe('event store errors', () => {
  it("names the database being unavailable UNAVAILABLE, pg's client-side timeouts included", () => {
    // connectionTimeoutMillis on a connection that hears nothing, and query_timeout on one that went silent.
    for (const message of ['timeout expired', 'Query read timeout']) {
      expect(isUnavailable(new Error(message))).toBe(true);
      expect(asStoreError(new Error(message))).toMatchObject({ code: EventStoreErrorCode.UNAVAILABLE });
    }
    expect(asStoreError(new Error('Query read timeout'))).toBeInstanceOf(EventStoreError);
  });

  it('keeps its own errors as they are', () => {
    const unavailable = new EventStoreError(EventStoreErrorCode.UNAVAILABLE, 'down');
    const invalid = new EventStoreError(EventStoreErrorCode.INVALID_ARGUMENT, 'bad');
    expect(isUnavailable(unavailable)).toBe(true);
    expect(isUnavailable(invalid)).toBe(false);
    expect(asStoreError(unavailable)).toBe(unavailable);
    expect(asStoreError(invalid)).toBe(invalid);
  });

  it('leaves statement errors alone', () => {
    const syntax = Object.assign(new Error('syntax error at or near "selec"'), { code: '42601' });
    expect(isUnavailable(syntax)).toBe(false);
    expect(asStoreError(syntax)).toBe(syntax);
    expect(isUnavailable(new Error('a timeout expired somewhere in a message'))).toBe(false);
  });
});

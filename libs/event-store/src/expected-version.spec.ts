import { ConcurrencyError, EventStoreErrorCode } from './event-store.error';
import {
  acceptedVersions,
  assertExpectedVersion,
  isRetriableOnConflict,
  validateExpectedVersion,
} from './expected-version';

describe('expected version', () => {
  it.each([
    ['no_stream', 0, true],
    ['no_stream', 1, false],
    ['stream_exists', 0, false],
    ['stream_exists', 3, true],
    ['any', 0, true],
    ['any', 9, true],
    [0, 0, true],
    [2, 2, true],
    [2, 3, false],
    [2, 1, false],
  ] as const)('%s against a stream at version %i: accepted=%s', (expected, current, accepted) => {
    const { min, max } = acceptedVersions(expected);
    expect(current >= min && current <= max).toBe(accepted);
    const check = (): void => assertExpectedVersion('thing:1', expected, current);
    if (accepted) expect(check).not.toThrow();
    else expect(check).toThrow(new ConcurrencyError('thing:1', expected, current));
  });

  it('names the stream and both versions in the conflict, with the CONCURRENCY code', () => {
    const error = new ConcurrencyError('secret:acme:_:API_KEY', 2, 3);
    expect(error.code).toBe(EventStoreErrorCode.CONCURRENCY);
    expect(error.message).toBe('Stream secret:acme:_:API_KEY was expected at version 2 but is at version 3');
    expect(new ConcurrencyError('s', 'no_stream', 1).message).toBe(
      'Stream s was expected at no stream but is at version 1',
    );
  });

  it('refuses versions that are not non-negative 32-bit integers', () => {
    for (const bad of [-1, 1.5, Number.NaN, 2 ** 31]) {
      expect(() => validateExpectedVersion(bad)).toThrow(
        expect.objectContaining({ code: EventStoreErrorCode.INVALID_ARGUMENT }),
      );
    }
    expect(() => validateExpectedVersion(0)).not.toThrow();
  });

  it('retries a lost race only when the caller did not pin the version', () => {
    expect([isRetriableOnConflict('any'), isRetriableOnConflict('stream_exists')]).toEqual([true, true]);
    expect([isRetriableOnConflict('no_stream'), isRetriableOnConflict(4)]).toEqual([false, false]);
  });
});

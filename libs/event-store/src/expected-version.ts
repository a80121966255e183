import { ConcurrencyError, EventStoreError, EventStoreErrorCode } from './event-store.error';
import type { ExpectedVersion } from './events';

/** Throws `ConcurrencyError` unless a stream at `current` (0 = empty) satisfies `expected`. */
export function assertExpectedVersion(streamId: string, expected: ExpectedVersion, current: number): void {
  if (!matchesExpectedVersion(expected, current)) throw new ConcurrencyError(streamId, expected, current);
}

export function matchesExpectedVersion(expected: ExpectedVersion, current: number): boolean {
  switch (expected) {
    case 'any':
      return true;
    case 'no_stream':
      return current === 0;
    case 'stream_exists':
      return current > 0;
    default:
      return expected === current;
  }
}

export function validateExpectedVersion(expected: ExpectedVersion): void {
  if (typeof expected === 'number' && !(Number.isSafeInteger(expected) && expected >= 0)) {
    throw new EventStoreError(
      EventStoreErrorCode.INVALID_ARGUMENT,
      `Expected version must be a non-negative integer, got ${expected}`,
    );
  }
}

/** A lost race on the next version is only a conflict when the caller pinned the version; otherwise retry. */
export function isRetriableOnConflict(expected: ExpectedVersion): boolean {
  return expected === 'any' || expected === 'stream_exists';
}

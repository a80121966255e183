import { ConcurrencyError, EventStoreError, EventStoreErrorCode } from './event-store.error';
import type { ExpectedVersion } from './events';

/** Throws `ConcurrencyError` unless a stream at `current` (0 = empty) satisfies `expected`. */
export function assertExpectedVersion(streamId: string, expected: ExpectedVersion, current: number): void {
  if (!matchesExpectedVersion(expected, current)) throw new ConcurrencyError(streamId, expected, current);
}

const MAX_VERSION = 2 ** 31 - 1;

/** The stream versions (inclusive) at which an append with `expected` may go ahead. */
export function acceptedVersions(expected: ExpectedVersion): { readonly min: number; readonly max: number } {
  switch (expected) {
    case 'any':
      return { min: 0, max: MAX_VERSION };
    case 'no_stream':
      return { min: 0, max: 0 };
    case 'stream_exists':
      return { min: 1, max: MAX_VERSION };
    default:
      return { min: expected, max: expected };
  }
}

export function matchesExpectedVersion(expected: ExpectedVersion, current: number): boolean {
  const { min, max } = acceptedVersions(expected);
  return current >= min && current <= max;
}

export function validateExpectedVersion(expected: ExpectedVersion): void {
  if (typeof expected === 'number' && !(Number.isInteger(expected) && expected >= 0 && expected <= MAX_VERSION)) {
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

import { CryptoError, CryptoErrorCode } from '@platform/crypto';
import { EventStoreError, EventStoreErrorCode } from '@platform/event-store';
import { type ErrorMapper } from '@platform/messaging';
import { secretsErrorMapper } from './secrets.error';

/** Connection failures of the event store are UNAVAILABLE (safe to retry); every other store error is INTERNAL. */
const eventStoreErrorMapper: ErrorMapper = (error) =>
  error instanceof EventStoreError && error.code === EventStoreErrorCode.UNAVAILABLE
    ? { code: 'UNAVAILABLE', message: 'the secrets database is unavailable; retry later' }
    : undefined;

/** A value whose data key was purged cannot be decrypted: the organization's values are gone. */
const cryptoErrorMapper: ErrorMapper = (error) =>
  error instanceof CryptoError && error.code === CryptoErrorCode.DATA_KEY_NOT_FOUND
    ? { code: 'NOT_FOUND', message: 'the value is no longer recoverable (its organization was purged)' }
    : undefined;

/** Every mapper the secrets service adds to the error edge. */
export const secretsErrorMappers: readonly ErrorMapper[] = [
  secretsErrorMapper,
  eventStoreErrorMapper,
  cryptoErrorMapper,
];

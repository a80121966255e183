import { CodedError } from '@platform/contracts';
import { CryptoError, CryptoErrorCode } from '@platform/crypto';
import { EventStoreError, EventStoreErrorCode } from '@platform/event-store';
import { type ErrorMapper, codedErrorMapper } from '@platform/messaging';

export enum SecretsErrorCode {
  INVALID_KEY = 'INVALID_KEY',
  INVALID_VALUE = 'INVALID_VALUE',
  VALUE_TOO_LARGE = 'VALUE_TOO_LARGE',
  INVALID_ARGUMENT = 'INVALID_ARGUMENT',
  ALREADY_EXISTS = 'ALREADY_EXISTS',
  NOT_FOUND = 'NOT_FOUND',
  VERSION_CONFLICT = 'VERSION_CONFLICT',
  /** A delete without `force` of a key live deployments use; `details` lists them. */
  FAILED_PRECONDITION = 'FAILED_PRECONDITION',
  /** The same Idempotency-Key was sent earlier with a different request. */
  IDEMPOTENCY_KEY_REUSED = 'IDEMPOTENCY_KEY_REUSED',
  PERMISSION_DENIED = 'PERMISSION_DENIED',
  /** Postgres cannot be reached right now; safe to retry. */
  UNAVAILABLE = 'UNAVAILABLE',
  /** A stored ciphertext is not the one its event recorded, or is bound to another place: withheld, logged, counted. */
  INTEGRITY_VIOLATION = 'INTEGRITY_VIOLATION',
  /** A version whose value was destroyed (secrets.v1.destroy) was asked for: pinned, rolled back to, destroyed again. */
  VALUE_DESTROYED = 'VALUE_DESTROYED',
}

/** Every refusal of the secrets module. Messages name keys and scopes, never a value. */
export class SecretsError extends CodedError<SecretsErrorCode> {}

export function secretNotFound(key: string): SecretsError {
  return new SecretsError(SecretsErrorCode.NOT_FOUND, `secret ${JSON.stringify(key)} not found in this scope`, { key });
}

/** The edge mapping of SecretsError onto the wire envelope. */
export const secretsErrorMapper = codedErrorMapper(SecretsError, {
  [SecretsErrorCode.INVALID_KEY]: 'INVALID_ARGUMENT',
  [SecretsErrorCode.INVALID_VALUE]: 'INVALID_ARGUMENT',
  [SecretsErrorCode.INVALID_ARGUMENT]: 'INVALID_ARGUMENT',
  [SecretsErrorCode.IDEMPOTENCY_KEY_REUSED]: 'INVALID_ARGUMENT',
  [SecretsErrorCode.VALUE_TOO_LARGE]: 'PAYLOAD_TOO_LARGE',
  [SecretsErrorCode.ALREADY_EXISTS]: 'ALREADY_EXISTS',
  [SecretsErrorCode.NOT_FOUND]: 'NOT_FOUND',
  [SecretsErrorCode.VERSION_CONFLICT]: 'VERSION_CONFLICT',
  [SecretsErrorCode.FAILED_PRECONDITION]: 'FAILED_PRECONDITION',
  [SecretsErrorCode.VALUE_DESTROYED]: 'FAILED_PRECONDITION',
  [SecretsErrorCode.PERMISSION_DENIED]: 'PERMISSION_DENIED',
  [SecretsErrorCode.UNAVAILABLE]: 'UNAVAILABLE',
  // Not the caller's fault and not retryable: the stored data was changed outside the service.
  [SecretsErrorCode.INTEGRITY_VIOLATION]: 'INTERNAL',
});

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

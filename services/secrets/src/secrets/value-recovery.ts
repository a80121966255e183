import { MAX_SECRET_VERSION } from '@platform/contracts';
import { CryptoError, CryptoErrorCode, type DataKeyRing } from '@platform/crypto';
import { type Scope } from '@platform/messaging';
import { VALUE_EVENT_TYPES } from './secret';
import { type StoredEvent } from './secret-snapshot';
import { type SecretVersionsRepository } from './secret-versions.repository';
import { SecretsError, SecretsErrorCode } from './secrets.error';
import { openStoredValue } from './stored-value';

/** `toVersion` of a rollback: a version number, 1 … 2^31−1. */
export function assertTargetVersion(field: string, version: number): void {
  if (!Number.isInteger(version) || version < 1 || version > MAX_SECRET_VERSION) {
    throw new SecretsError(
      SecretsErrorCode.INVALID_ARGUMENT,
      `${field} must be a version from 1 to ${MAX_SECRET_VERSION}`,
      {
        field,
      },
    );
  }
}

function noSuchVersion(key: string, version: number): SecretsError {
  return new SecretsError(
    SecretsErrorCode.NOT_FOUND,
    `secret ${JSON.stringify(key)} has no version ${version} with a value in this scope`,
    { key, version },
  );
}

function unrecoverable(key: string, version: number): SecretsError {
  return new SecretsError(
    SecretsErrorCode.FAILED_PRECONDITION,
    `secret ${JSON.stringify(key)} version ${version} was destroyed: its value cannot be recovered`,
    { key, version, reason: 'destroyed' },
  );
}

/**
 * Whether opening a value failed because the value is gone for good (its data key was deleted: a shredded scope or a
 * destroyed version), not because of a fault. The one place that tells destroyed from broken.
 */
export function isUnrecoverableValue(error: unknown): boolean {
  return error instanceof CryptoError && error.code === CryptoErrorCode.DATA_KEY_NOT_FOUND;
}

/** The last version of `history` that wrote a value (a deleted secret's value to restore); undefined if none. */
export function lastValueVersion(history: readonly StoredEvent[]): number | undefined {
  const values = history.filter((event) => (VALUE_EVENT_TYPES as readonly string[]).includes(event.type));
  return values.length === 0 ? undefined : values[values.length - 1].streamVersion;
}

/**
 * The plaintext of one earlier version of a secret, for a rollback or restore to seal again at its new place. The
 * version must be one `history` (the stream since its organization's last purge) shows writing a value; it is opened
 * bound to its own place and digest, as resolve opens values. Missing → NOT_FOUND; destroyed → FAILED_PRECONDITION.
 */
export async function recoverValue(
  keyRing: DataKeyRing,
  versions: SecretVersionsRepository,
  scope: Scope,
  key: string,
  streamId: string,
  history: readonly StoredEvent[],
  version: number,
): Promise<string> {
  const listed = history.find((event) => event.streamVersion === version);
  if (!listed || !(VALUE_EVENT_TYPES as readonly string[]).includes(listed.type)) throw noSuchVersion(key, version);
  const stored = await versions.valueEventAt(streamId, version);
  if (!stored) throw noSuchVersion(key, version);
  if (stored.value === undefined) throw unrecoverable(key, version);
  try {
    return await openStoredValue(keyRing, {
      organizationId: scope.organizationId,
      customerId: scope.customerOrganizationId ?? '',
      key,
      version,
      eventId: stored.eventId,
      value: stored.value,
      digest: stored.digest,
    });
  } catch (error) {
    if (isUnrecoverableValue(error)) throw unrecoverable(key, version);
    throw error;
  }
}

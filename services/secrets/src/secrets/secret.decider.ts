import { MAX_SECRET_VERSION } from '@platform/contracts';
import {
  type EventMetadata,
  SECRET_VERSIONS_DESTROYED,
  type SecretEvent,
  type SecretScope,
  type SecretState,
  type SecretVersionsDestroyed,
} from './secret';
import { SecretsError, SecretsErrorCode, secretNotFound } from './secrets.error';
import { expiryOf } from './secret-expiry';
import { valueDestroyed } from './value-destroyed';

export const KEY_PATTERN = /^[A-Za-z][A-Za-z0-9_]*$/;
export const MAX_KEY_LENGTH = 256;
export const MAX_VALUE_BYTES = 64 * 1024;

/** A value already encrypted for its place (stream, version, event); the decider never sees plaintext. */
export interface SealedValue {
  readonly jwe: string;
  readonly dataKeyId: string;
  readonly digest: string;
}

type Command<Type extends string, Data> = Readonly<{ type: Type; data: Readonly<Data>; metadata: EventMetadata }>;

/** `expiresAt`: as requested (RFC 3339); the decider checks it is later than the command's time. */
export type CreateSecret = Command<
  'CreateSecret',
  { key: string; scope: SecretScope; value: SealedValue; expiresAt?: string }
>;
export type UpdateSecretValue = Command<'UpdateSecretValue', { key: string; value: SealedValue; expiresAt?: string }>;
export type DeleteSecret = Command<'DeleteSecret', { key: string }>;
/** `value`: version `fromVersion`'s value, which the caller found and sealed again for the new version's place. */
export type RollBackSecret = Command<
  'RollBackSecret',
  { key: string; fromVersion: number; value: SealedValue; expiresAt?: string }
>;
/** `value`: the deleted secret's last value (of `fromVersion`), sealed again for the new version's place. */
export type RestoreSecret = Command<
  'RestoreSecret',
  { key: string; fromVersion: number; value: SealedValue; expiresAt?: string }
>;

export type DestroySecretVersions = Command<
  'DestroySecretVersions',
  { key: string; scope: SecretScope; versions: readonly number[] }
>;

export type SecretCommand =
  CreateSecret | UpdateSecretValue | DeleteSecret | RollBackSecret | RestoreSecret | DestroySecretVersions;

/** What a command decides: events of the secret's stream, or the destruction of earlier values (its own stream). */
export type SecretDecision = SecretEvent | SecretVersionsDestroyed;

/** Refuses keys outside `^[A-Za-z][A-Za-z0-9_]*$` (≤ 256 chars); the message never quotes a refused key (it may be a pasted value). */
export function assertValidKey(key: string): void {
  if (key.length === 0) throw new SecretsError(SecretsErrorCode.INVALID_KEY, 'key must not be empty');
  if (key.length > MAX_KEY_LENGTH) {
    throw new SecretsError(SecretsErrorCode.INVALID_KEY, `key must be at most ${MAX_KEY_LENGTH} characters`);
  }
  if (!KEY_PATTERN.test(key)) {
    throw new SecretsError(
      SecretsErrorCode.INVALID_KEY,
      'key is invalid: it must start with a letter and contain only letters, digits and underscores',
    );
  }
}

// A lone surrogate cannot be encoded as UTF-8; with the `u` flag a proper pair never matches.
const LONE_SURROGATE = /\p{Cs}/u;

/** Refuses an empty value, one that is not valid UTF-8, or one above 64 KiB; messages never quote the value. */
export function assertValidValue(value: string): void {
  if (value.length === 0) throw new SecretsError(SecretsErrorCode.INVALID_VALUE, 'value must not be empty');
  if (LONE_SURROGATE.test(value)) {
    throw new SecretsError(SecretsErrorCode.INVALID_VALUE, 'value must be valid UTF-8 text');
  }
  const bytes = Buffer.byteLength(value, 'utf8');
  if (bytes > MAX_VALUE_BYTES) {
    throw new SecretsError(SecretsErrorCode.VALUE_TOO_LARGE, `value is ${bytes} bytes, more than ${MAX_VALUE_BYTES}`, {
      sizeBytes: bytes,
      limitBytes: MAX_VALUE_BYTES,
    });
  }
}

/** A sealed value as event data, with its expiry when it has one. */
function valueData(value: SealedValue, expiresAt: string | undefined, occurredAt: string) {
  const expiry = expiryOf(expiresAt, occurredAt);
  return {
    value: value.jwe,
    dataKeyId: value.dataKeyId,
    digest: value.digest,
    ...(expiry === undefined ? {} : { expiresAt: expiry }),
  };
}

export function createSecret(command: CreateSecret, state: SecretState): SecretEvent[] {
  const { key, scope, value, expiresAt } = command.data;
  assertValidKey(key);
  if (state.status === 'Live') {
    throw new SecretsError(
      SecretsErrorCode.ALREADY_EXISTS,
      `secret ${JSON.stringify(key)} already exists in this scope`,
      {
        key,
      },
    );
  }
  return [
    {
      type: 'SecretCreated',
      data: { key, scope, ...valueData(value, expiresAt, command.metadata.occurredAt) },
      metadata: command.metadata,
    },
  ];
}

export function updateSecretValue(command: UpdateSecretValue, state: SecretState): SecretEvent[] {
  if (state.status !== 'Live') throw secretNotFound(command.data.key);
  const { value, expiresAt } = command.data;
  return [
    {
      type: 'SecretValueUpdated',
      data: valueData(value, expiresAt, command.metadata.occurredAt),
      metadata: command.metadata,
    },
  ];
}

/** Only a live secret is rolled back; which versions hold a recoverable value the caller checked when it read one. */
export function rollBackSecret(command: RollBackSecret, state: SecretState): SecretEvent[] {
  if (state.status !== 'Live') throw secretNotFound(command.data.key);
  const { value, expiresAt, fromVersion } = command.data;
  return [
    {
      type: 'SecretRolledBack',
      data: { ...valueData(value, expiresAt, command.metadata.occurredAt), fromVersion },
      metadata: command.metadata,
    },
  ];
}

/** Only a deleted secret is restored: a live one (never deleted, or created again since) is refused. */
export function restoreSecret(command: RestoreSecret, state: SecretState): SecretEvent[] {
  const { key, value, expiresAt, fromVersion } = command.data;
  if (state.status === 'Live') {
    throw new SecretsError(
      SecretsErrorCode.FAILED_PRECONDITION,
      `secret ${JSON.stringify(key)} is live, not deleted (never deleted, or created again since): nothing to restore`,
      { key },
    );
  }
  if (state.status !== 'Deleted') throw secretNotFound(key);
  return [
    {
      type: 'SecretRestored',
      data: { ...valueData(value, expiresAt, command.metadata.occurredAt), fromVersion },
      metadata: command.metadata,
    },
  ];
}

export function deleteSecret(command: DeleteSecret, state: SecretState): SecretEvent[] {
  if (state.status !== 'Live') throw secretNotFound(command.data.key);
  return [{ type: 'SecretDeleted', data: {}, metadata: command.metadata }];
}

function invalidVersions(message: string): SecretsError {
  return new SecretsError(SecretsErrorCode.INVALID_ARGUMENT, message, { field: 'versions' });
}

/**
 * Destroys earlier values of a live or deleted secret: each named version must still hold a value, and the current
 * value of a live secret stays (update or delete it first), so every read of the current value keeps working.
 */
export function destroySecretVersions(command: DestroySecretVersions, state: SecretState): SecretVersionsDestroyed[] {
  const { key, scope } = command.data;
  if (state.status !== 'Live' && state.status !== 'Deleted') throw secretNotFound(key);
  if (command.data.versions.length === 0) throw invalidVersions('versions must name at least one version');
  const versions = [...new Set(command.data.versions)].sort((a, b) => a - b);
  for (const version of versions) {
    if (!Number.isInteger(version) || version < 1 || version > MAX_SECRET_VERSION) {
      throw invalidVersions(`versions must be versions from 1 to ${MAX_SECRET_VERSION}`);
    }
    const fate = state.values.get(version);
    if (fate === 'destroyed') throw valueDestroyed(key, version);
    if (fate === undefined) throw invalidVersions(`secret ${key} has no value at version ${version}`);
    if (state.status === 'Live' && version === state.version) {
      throw new SecretsError(
        SecretsErrorCode.FAILED_PRECONDITION,
        `version ${version} is the current value of secret ${key}; update or delete the secret first`,
        { key, version },
      );
    }
  }
  return [
    {
      type: SECRET_VERSIONS_DESTROYED,
      data: {
        organizationId: scope.organizationId,
        customerOrganizationId: scope.customerOrganizationId,
        key,
        versions,
      },
      metadata: command.metadata,
    },
  ];
}

export function decide(command: SecretCommand, state: SecretState): SecretDecision[] {
  switch (command.type) {
    case 'CreateSecret':
      return createSecret(command, state);
    case 'UpdateSecretValue':
      return updateSecretValue(command, state);
    case 'DeleteSecret':
      return deleteSecret(command, state);
    case 'RollBackSecret':
      return rollBackSecret(command, state);
    case 'RestoreSecret':
      return restoreSecret(command, state);
    case 'DestroySecretVersions':
      return destroySecretVersions(command, state);
    default: {
      const _exhaustive: never = command;
      return _exhaustive;
    }
  }
}

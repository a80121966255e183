import { type EventMetadata, type SecretEvent, type SecretScope, type SecretState } from './secret';
import { SecretsError, SecretsErrorCode, secretNotFound } from './secrets.error';

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

export type CreateSecret = Command<'CreateSecret', { key: string; scope: SecretScope; value: SealedValue }>;
export type UpdateSecretValue = Command<'UpdateSecretValue', { key: string; value: SealedValue }>;
export type DeleteSecret = Command<'DeleteSecret', { key: string }>;

export type SecretCommand = CreateSecret | UpdateSecretValue | DeleteSecret;

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

export function createSecret(command: CreateSecret, state: SecretState): SecretEvent[] {
  const { key, scope, value } = command.data;
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
      data: { key, scope, value: value.jwe, dataKeyId: value.dataKeyId, digest: value.digest },
      metadata: command.metadata,
    },
  ];
}

export function updateSecretValue(command: UpdateSecretValue, state: SecretState): SecretEvent[] {
  if (state.status !== 'Live') throw secretNotFound(command.data.key);
  const { value } = command.data;
  return [
    {
      type: 'SecretValueUpdated',
      data: { value: value.jwe, dataKeyId: value.dataKeyId, digest: value.digest },
      metadata: command.metadata,
    },
  ];
}

export function deleteSecret(command: DeleteSecret, state: SecretState): SecretEvent[] {
  if (state.status !== 'Live') throw secretNotFound(command.data.key);
  return [{ type: 'SecretDeleted', data: {}, metadata: command.metadata }];
}

export function decide(command: SecretCommand, state: SecretState): SecretEvent[] {
  switch (command.type) {
    case 'CreateSecret':
      return createSecret(command, state);
    case 'UpdateSecretValue':
      return updateSecretValue(command, state);
    case 'DeleteSecret':
      return deleteSecret(command, state);
    default: {
      const _exhaustive: never = command;
      return _exhaustive;
    }
  }
}

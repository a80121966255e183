import { type SecretState } from './secret';
import { SecretsError, SecretsErrorCode } from './secrets.error';

/** `secret KEY version N was destroyed` (FAILED_PRECONDITION on the wire): that value is gone for good. */
export function valueDestroyed(key: string, version: number): SecretsError {
  return new SecretsError(SecretsErrorCode.VALUE_DESTROYED, `secret ${key} version ${version} was destroyed`, {
    key,
    version,
  });
}

/** Whether the state says the value of `version` was destroyed (secrets.v1.destroy). */
export function isValueDestroyed(state: SecretState, version: number): boolean {
  return (state.status === 'Live' || state.status === 'Deleted') && state.values.get(version) === 'destroyed';
}

/** Refuses a command that needs the value of `version` (a rollback, a pin) when that value was destroyed. */
export function assertValueNotDestroyed(state: SecretState, key: string, version: number): void {
  if (isValueDestroyed(state, version)) throw valueDestroyed(key, version);
}

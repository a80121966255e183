import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type KeyMaterial } from '@platform/config';

/** deploy/dev/master-keys.json, the master keys a secrets service under test loads when none are configured. */
export const devMasterKeys = JSON.parse(
  readFileSync(join(__dirname, '../../../../deploy/dev/master-keys.json'), 'utf8'),
) as { keys: Array<Record<string, unknown>> };

/** The same keys as configuration hands them over, for SecretsOperations and the idempotency key. */
export const devMasterKeyMaterial: KeyMaterial = { json: devMasterKeys, source: 'test', isDevDefault: true };

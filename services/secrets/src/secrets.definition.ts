import { Module } from '@nestjs/common';
import { type Environment, REPO_ROOT, databaseSettings, keyMaterialSetting, loadServiceConfig } from '@platform/config';
import { type ServiceDefinition } from '@platform/messaging';

@Module({})
class SecretsModule {}

export function secretsService(env: Environment = process.env): ServiceDefinition {
  const config = loadServiceConfig(
    'secrets',
    {
      ...databaseSettings,
      masterKeys: keyMaterialSetting('SECRETS_MASTER_KEYS', 'deploy/dev/master-keys.json', REPO_ROOT),
    },
    env,
  );
  return { name: 'secrets', config, scopes: [], streams: ['SECRETS_EVENTS'], module: () => SecretsModule };
}

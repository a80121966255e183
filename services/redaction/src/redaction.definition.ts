import { Module } from '@nestjs/common';
import { type Environment, integerSetting, loadServiceConfig } from '@platform/config';
import { type ServiceDefinition } from '@platform/messaging';

@Module({})
class RedactionModule {}

export function redactionService(env: Environment = process.env): ServiceDefinition {
  const config = loadServiceConfig(
    'redaction',
    {
      minLength: integerSetting('REDACTION_MIN_LENGTH', { default: 4, min: 1, max: 1024 }),
      logsMaxAgeDays: integerSetting('LOGS_MAX_AGE_DAYS', { default: 30, min: 1, max: 3650 }),
    },
    env,
  );
  return {
    name: 'redaction',
    config,
    scopes: ['secrets:resolve', 'secrets:resolve-all'],
    streams: ['LOGS_RAW', 'LOGS', 'SECRETS_EVENTS'],
    logsMaxAgeDays: config.logsMaxAgeDays,
    module: () => RedactionModule,
  };
}

import { Module } from '@nestjs/common';
import { type Environment, databaseSettings, loadServiceConfig } from '@platform/config';
import { type ServiceDefinition } from '@platform/messaging';

@Module({})
class AuditModule {}

export function auditService(env: Environment = process.env): ServiceDefinition {
  const config = loadServiceConfig('audit', databaseSettings, env);
  return { name: 'audit', config, scopes: [], streams: ['SECRETS_EVENTS'], module: () => AuditModule };
}

import { Module } from '@nestjs/common';
import { type Environment, loadServiceConfig } from '@platform/config';
import { type ServiceDefinition } from '@platform/messaging';

@Module({})
class RenderModule {}

export function renderService(env: Environment = process.env): ServiceDefinition {
  const config = loadServiceConfig('render', {}, env);
  return { name: 'render', config, scopes: ['secrets:resolve'], streams: [], module: () => RenderModule };
}

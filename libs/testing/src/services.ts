import { Writable } from 'node:stream';
import { type Environment } from '@platform/config';
import { type RunningService, type ServiceDefinition, startService } from '@platform/messaging';
import { testInfrastructure } from './infrastructure';

export interface TestService extends RunningService {
  /** Every log line the service wrote (JSON), for assertions and leak scans. */
  readonly logs: string[];
}

/** Boots a service in-process against the test infrastructure with its own subject prefix and database. */
export async function startTestService(
  load: (env: Environment) => ServiceDefinition,
  env: { NATS_SUBJECT_PREFIX: string; DATABASE_URL?: string } & Record<string, string | undefined>,
): Promise<TestService> {
  const infrastructure = testInfrastructure();
  const definition = load({
    NODE_ENV: 'test',
    NATS_URL: infrastructure.natsUrl,
    HTTP_PORT: '0',
    LOG_LEVEL: 'info',
    ...env,
  });
  const logs: string[] = [];
  const logDestination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logs.push(chunk.toString());
      done();
    },
  });
  const running = await startService(definition, { logDestination });
  return Object.assign(running, { logs });
}

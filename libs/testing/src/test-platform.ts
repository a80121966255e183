import { type Environment } from '@platform/config';
import { type ServiceDefinition } from '@platform/messaging';
import { type NatsConnection, connect } from 'nats';
import {
  type TestDatabase,
  createTestDatabase,
  releaseSubjectPrefix,
  testInfrastructure,
  uniqueSubjectPrefix,
} from './infrastructure';
import { TestNatsClient } from './nats-client';
import { type TestService, startTestService } from './services';
import { TestTokens } from './tokens';

export type ServiceLoader = (env: Environment) => ServiceDefinition;

/** Anything a test opens beside the platform that `close()` must end too: a store, a spy connection, a pg client. */
type Closable = { close(): Promise<unknown> } | { end(): Promise<unknown> };

export interface TestPlatformOptions {
  /** Variables every service started here gets beyond the prefix and database (`LOG_LEVEL`, `REDACTION_…`). */
  readonly env?: Record<string, string>;
  /** Whether the services get a fresh database of their own (`DATABASE_URL`); true unless none of them needs one. */
  readonly database?: boolean;
}

/** One test file's services on a subject prefix and database of their own, with an outside client and tokens. */
export interface TestPlatform {
  readonly prefix: string;
  /** The services' own database; a platform started with `database: false` has none. */
  readonly database: TestDatabase;
  /** The services running, in the order they were started. */
  readonly services: readonly TestService[];
  readonly client: TestNatsClient;
  readonly tokens: TestTokens;
  /** Starts another service on this platform's prefix and database; `env` adds to (or overrides) the platform's. */
  start(load: ServiceLoader, env?: Record<string, string>): Promise<TestService>;
  /** Stops one service (to start it again, or to see the others without it); `close()` then leaves it alone. */
  stop(service: TestService): Promise<void>;
  /** A raw connection to the test NATS server (a spy, a silent responder), closed with the platform. */
  connect(name: string): Promise<NatsConnection>;
  /** Closes `resource` with the platform, before its client and services; returns it. */
  adopt<T extends Closable>(resource: T): T;
  /** Ends what the test adopted, the client and every service (last started first), the prefix's streams, the database. */
  close(): Promise<void>;
}

/** Runs every step even when one fails, then throws the first failure. */
async function runAll(steps: ReadonlyArray<() => Promise<unknown>>): Promise<void> {
  let failure: unknown;
  for (const step of steps) {
    try {
      await step();
    } catch (error) {
      failure ??= error;
    }
  }
  if (failure !== undefined) throw failure;
}

/**
 * Boots `services` in order on a fresh subject prefix and (unless `database: false`) a fresh database, then connects an
 * outside client. Either everything starts, or what did is closed again and the error is thrown.
 */
export async function startTestPlatform(
  services?: readonly ServiceLoader[],
  options?: TestPlatformOptions & { readonly database?: true },
): Promise<TestPlatform>;
export async function startTestPlatform(
  services: readonly ServiceLoader[],
  options: TestPlatformOptions & { readonly database: false },
): Promise<Omit<TestPlatform, 'database'>>;
export async function startTestPlatform(
  services: readonly ServiceLoader[] = [],
  options: TestPlatformOptions = {},
): Promise<Omit<TestPlatform, 'database'> & { readonly database?: TestDatabase }> {
  const prefix = uniqueSubjectPrefix();
  const database = options.database === false ? undefined : await createTestDatabase();
  const base = { NATS_SUBJECT_PREFIX: prefix, ...(database ? { DATABASE_URL: database.url } : {}), ...options.env };
  const running: TestService[] = [];
  const adopted: Closable[] = [];
  let client: TestNatsClient | undefined;
  const adopt = <T extends Closable>(resource: T): T => {
    adopted.push(resource);
    return resource;
  };

  const platform = {
    prefix,
    database,
    services: running,
    async start(load: ServiceLoader, env: Record<string, string> = {}): Promise<TestService> {
      const service = await startTestService(load, { ...base, ...env });
      running.push(service);
      return service;
    },
    async stop(service: TestService): Promise<void> {
      const index = running.indexOf(service);
      if (index >= 0) running.splice(index, 1);
      await service.close();
    },
    async connect(name: string): Promise<NatsConnection> {
      return adopt(await connect({ servers: testInfrastructure().natsUrl, name }));
    },
    adopt,
    close: (): Promise<void> =>
      runAll([
        ...adopted
          .splice(0)
          .reverse()
          .map((resource) => () => ('close' in resource ? resource.close() : resource.end())),
        async () => client?.close(),
        ...running
          .splice(0)
          .reverse()
          .map((service) => () => service.close()),
        () => releaseSubjectPrefix(prefix),
        async () => database?.drop(),
      ]),
  };
  try {
    for (const load of services) await platform.start(load);
    client = await TestNatsClient.connect(prefix);
    return { ...platform, client, tokens: await TestTokens.create() };
  } catch (error) {
    await platform.close().catch(() => undefined);
    throw error;
  }
}

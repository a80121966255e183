// Runs once per `jest` run: find Postgres and NATS (env, then local services, then testcontainers) and export their URLs.
import { LOCAL_DATABASE_URL, LOCAL_NATS_URL, TEST_RUN_ID_VARIABLE, isReachable, newTestRunId } from './infrastructure';

interface Stoppable {
  stop(): Promise<unknown>;
}

declare global {
  var __testContainers: Stoppable[] | undefined;
}

export default async function globalSetup(): Promise<void> {
  const containers: Stoppable[] = [];
  // Fresh for every run, never inherited: the teardown deletes whatever carries it.
  process.env[TEST_RUN_ID_VARIABLE] = newTestRunId();
  if (!process.env.DATABASE_URL) {
    if (await isReachable(LOCAL_DATABASE_URL, 5432)) {
      process.env.DATABASE_URL = LOCAL_DATABASE_URL;
    } else {
      const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
      const postgres = await new PostgreSqlContainer('postgres:16-alpine').start();
      containers.push(postgres);
      process.env.DATABASE_URL = postgres.getConnectionUri();
    }
  }
  if (!process.env.NATS_URL) {
    if (await isReachable(LOCAL_NATS_URL, 4222)) {
      process.env.NATS_URL = LOCAL_NATS_URL;
    } else {
      const { GenericContainer, Wait } = await import('testcontainers');
      const nats = await new GenericContainer('nats:2.10-alpine')
        .withCommand(['-js'])
        .withExposedPorts(4222)
        .withWaitStrategy(Wait.forLogMessage(/Server is ready/))
        .start();
      containers.push(nats);
      process.env.NATS_URL = `nats://${nats.getHost()}:${nats.getMappedPort(4222)}`;
    }
  }
  globalThis.__testContainers = containers;
}

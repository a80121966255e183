// Runs once at the end of a `jest` run: what test files left behind under this run's id goes, then the containers.
import { TEST_RUN_ID_VARIABLE, dropRunDatabases, releaseRunStreams } from './infrastructure';

export default async function globalTeardown(): Promise<void> {
  const runId = process.env[TEST_RUN_ID_VARIABLE];
  if (runId) await Promise.all([releaseRunStreams(runId), dropRunDatabases(runId)]);
  await Promise.all((globalThis.__testContainers ?? []).map((container) => container.stop()));
}

import { Client } from 'pg';
import {
  type TestDatabase,
  type TestNatsClient,
  type TestPlatform,
  type TestService,
  eventuallyValue,
  startTestPlatform,
} from '@platform/testing';
import { secretsService } from '../src/secrets.definition';

/** Takes the service's database away (refuses new connections, ends open ones) and gives it back. */
async function setDatabaseReachable(database: TestDatabase, reachable: boolean): Promise<void> {
  const admin = new Client({ connectionString: database.url.replace(/\/[^/]+$/, '/postgres') });
  await admin.connect();
  try {
    await admin.query(`alter database "${database.name}" allow_connections ${reachable}`);
    if (!reachable) {
      await admin.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = $1', [database.name]);
    }
  } finally {
    await admin.end();
  }
}

const POLL = { timeoutMs: 15_000, intervalMs: 200 };

describe('secrets service while Postgres is down', () => {
  let platform: TestPlatform;
  let database: TestDatabase;
  let service: TestService;
  let client: TestNatsClient;
  let admin: string;

  beforeAll(async () => {
    platform = await startTestPlatform([secretsService]);
    ({ database, client } = platform);
    [service] = platform.services;
    admin = await platform.tokens.vendor('downvendor', 'admin');
  });

  afterAll(async () => {
    await setDatabaseReachable(database, true).catch(() => undefined);
    await platform?.close();
  });

  it('answers UNAVAILABLE at once, reports not ready, and recovers when the database is back', async () => {
    expect((await client.request('secrets.v1.create', { key: 'BEFORE', value: 'v1' }, { token: admin })).status).toBe(
      undefined,
    );

    await setDatabaseReachable(database, false);
    const down = await eventuallyValue(
      'a request is answered 503 while the database is down',
      () => client.request('secrets.v1.list', {}, { token: admin }),
      (reply) => reply.status === 503,
      POLL,
    );
    expect(down.status).toBe(503);
    expect(down.body).toEqual({
      error: { code: 'UNAVAILABLE', message: 'the secrets database is unavailable; retry later' },
    });
    // The gate is closed now: further requests are refused without waiting on the connection pool.
    const refused = await client.request('secrets.v1.get', { key: 'BEFORE' }, { token: admin });
    expect(refused.status).toBe(503);
    const readiness = await fetch(`http://127.0.0.1:${service.httpPort}/readyz`);
    expect(readiness.status).toBe(503);
    expect(await readiness.json()).toMatchObject({ ready: false, checks: { postgres: false } });

    await setDatabaseReachable(database, true);
    const back = await eventuallyValue(
      'a request is answered again once the database is back',
      () => client.request('secrets.v1.get', { key: 'BEFORE' }, { token: admin }),
      (reply) => reply.status === undefined,
      POLL,
    );
    expect(back.body).toMatchObject({ key: 'BEFORE', version: 1 });
  });
});

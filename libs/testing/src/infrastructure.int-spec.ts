import { AckPolicy, connect, type NatsConnection } from 'nats';
import { Client } from 'pg';
import { ensureStreams, prefixedStreamName } from '@platform/messaging';
import {
  createTestDatabase,
  dropRunDatabases,
  newTestRunId,
  releaseRunStreams,
  releaseSubjectPrefix,
  testInfrastructure,
  testRunId,
  uniqueSubjectPrefix,
} from './infrastructure';

const ALL_STREAMS = ['SECRETS_EVENTS', 'LOGS_RAW', 'LOGS'] as const;

async function streamNames(connection: NatsConnection, startingWith: string): Promise<string[]> {
  const manager = await connection.jetstreamManager();
  const names: string[] = [];
  for await (const name of manager.streams.names()) if (name.startsWith(startingWith)) names.push(name);
  return names.sort();
}

async function databaseExists(name: string): Promise<boolean> {
  const admin = new Client({ connectionString: testInfrastructure().databaseUrl });
  await admin.connect();
  try {
    return (await admin.query('select 1 from pg_database where datname = $1', [name])).rowCount === 1;
  } finally {
    await admin.end();
  }
}

describe('test infrastructure', () => {
  it('gives each caller its own database and drops it afterwards', async () => {
    const [a, b] = await Promise.all([createTestDatabase(), createTestDatabase()]);
    expect(a.name).not.toEqual(b.name);
    expect(a.name.startsWith(`test_${testRunId()}`)).toBe(true);
    const client = new Client({ connectionString: a.url });
    await client.connect();
    const { rows } = await client.query<{ db: string }>('select current_database() as db');
    await client.end();
    expect(rows[0].db).toEqual(a.name);
    await Promise.all([a.drop(), b.drop()]);
    const again = new Client({ connectionString: a.url });
    await expect(again.connect()).rejects.toThrow(/does not exist/);
  });

  it('gives each caller its own subject prefix, marked with the run', () => {
    expect(process.env.TEST_RUN_ID).toMatch(/^[0-9a-f]{10}$/);
    const prefixes = new Set(Array.from({ length: 100 }, () => uniqueSubjectPrefix()));
    expect(prefixes.size).toBe(100);
    for (const prefix of prefixes) expect(prefix).toMatch(new RegExp(`^t${testRunId()}[a-z0-9]+\\.$`));
  });

  describe('JetStream streams', () => {
    let connection: NatsConnection;
    const foreign = `foreign${newTestRunId()}_LOGS`;

    beforeAll(async () => {
      connection = await connect({ servers: testInfrastructure().natsUrl });
      const manager = await connection.jetstreamManager();
      // A stream no test run made (another user of the server): nothing here may delete it.
      await manager.streams.add({ name: foreign, subjects: [`${foreign}.>`] });
    });

    afterAll(async () => {
      const manager = await connection.jetstreamManager();
      await manager.streams.delete(foreign).catch(() => undefined);
      await connection.close();
    });

    async function streamsOf(prefix: string): Promise<void> {
      await ensureStreams(connection, ALL_STREAMS, { subjectPrefix: prefix, replicas: 1 });
      const manager = await connection.jetstreamManager();
      await manager.consumers.add(prefixedStreamName(prefix, 'LOGS_RAW'), {
        durable_name: 'redaction',
        ack_policy: AckPolicy.Explicit,
      });
    }

    it('deletes a prefix’s streams and consumers when its file releases it, and no other prefix’s', async () => {
      const released = uniqueSubjectPrefix();
      const kept = uniqueSubjectPrefix();
      await Promise.all([streamsOf(released), streamsOf(kept)]);
      const releasedStreams = ALL_STREAMS.map((name) => prefixedStreamName(released, name)).sort();
      expect(await streamNames(connection, released.replace('.', '_'))).toEqual(releasedStreams);

      expect((await releaseSubjectPrefix(released)).sort()).toEqual(releasedStreams);

      expect(await streamNames(connection, released.replace('.', '_'))).toEqual([]);
      expect(await streamNames(connection, kept.replace('.', '_'))).toHaveLength(3);
      expect(await streamNames(connection, foreign)).toEqual([foreign]);
      await releaseSubjectPrefix(kept);
      expect(await streamNames(connection, kept.replace('.', '_'))).toEqual([]);
    });

    it('refuses to release a prefix it did not issue (an empty one would match every stream)', async () => {
      await expect(releaseSubjectPrefix('')).rejects.toThrow(/did not issue/);
      await expect(releaseSubjectPrefix('prod.')).rejects.toThrow(/did not issue/);
      expect(await streamNames(connection, foreign)).toEqual([foreign]);
    });

    it('sweeps every stream of one run at its end, and none of another run or of no run', async () => {
      // Stand-in runs, so the sweep cannot touch streams of the files running beside this one.
      const [thisRun, otherRun] = [newTestRunId(), newTestRunId()];
      const ofThisRun = [`t${thisRun}a1b2.`, `t${thisRun}c3d4.`];
      const ofOtherRun = `t${otherRun}a1b2.`;
      for (const prefix of [...ofThisRun, ofOtherRun]) await streamsOf(prefix);

      expect(await releaseRunStreams(thisRun)).toHaveLength(6);

      expect(await streamNames(connection, `t${thisRun}`)).toEqual([]);
      expect(await streamNames(connection, `t${otherRun}`)).toHaveLength(3);
      expect(await streamNames(connection, foreign)).toEqual([foreign]);
      await releaseRunStreams(otherRun);
      await expect(releaseRunStreams('')).rejects.toThrow(/run id/);
    });
  });

  it('drops every database of one run at its end, and none of another run', async () => {
    const [thisRun, otherRun] = [newTestRunId(), newTestRunId()];
    const admin = new Client({ connectionString: testInfrastructure().databaseUrl });
    await admin.connect();
    try {
      for (const name of [`test_${thisRun}x1`, `test_${thisRun}x2`, `test_${otherRun}x1`]) {
        await admin.query(`CREATE DATABASE "${name}"`);
      }
    } finally {
      await admin.end();
    }
    expect((await dropRunDatabases(thisRun)).sort()).toEqual([`test_${thisRun}x1`, `test_${thisRun}x2`]);
    expect(await databaseExists(`test_${thisRun}x1`)).toBe(false);
    expect(await databaseExists(`test_${otherRun}x1`)).toBe(true);
    await dropRunDatabases(otherRun);
    expect(await databaseExists(`test_${otherRun}x1`)).toBe(false);
  });
});

describe('global teardown', () => {
  it('deletes the streams and databases of the run named in TEST_RUN_ID', async () => {
    const { default: globalTeardown } = await import('./global-teardown');
    const ownRun = process.env.TEST_RUN_ID;
    const standIn = newTestRunId();
    const connection = await connect({ servers: testInfrastructure().natsUrl });
    try {
      await ensureStreams(connection, ALL_STREAMS, { subjectPrefix: `t${standIn}a1.`, replicas: 1 });
      const database = await createTestDatabase();
      const admin = new Client({ connectionString: testInfrastructure().databaseUrl });
      await admin.connect();
      await admin.query(`CREATE DATABASE "test_${standIn}zz"`);
      await admin.end();
      process.env.TEST_RUN_ID = standIn;
      await globalTeardown();
      expect(await streamNames(connection, `t${standIn}`)).toEqual([]);
      expect(await databaseExists(`test_${standIn}zz`)).toBe(false);
      // A database of the real run is left to its own teardown.
      expect(await databaseExists(database.name)).toBe(true);
      await database.drop();
    } finally {
      process.env.TEST_RUN_ID = ownRun;
      await connection.close();
    }
  });
});

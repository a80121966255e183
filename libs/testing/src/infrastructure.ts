import { randomBytes } from 'node:crypto';
import { createConnection } from 'node:net';
import { connect } from 'nats';
import { Client } from 'pg';

export const LOCAL_DATABASE_URL = 'postgresql://postgres@127.0.0.1:5432/postgres';
export const LOCAL_NATS_URL = 'nats://127.0.0.1:4222';

/** True when something accepts TCP connections at the URL's host and port. */
export function isReachable(url: string, defaultPort: number, timeoutMs = 1000): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = createConnection({ host: hostname, port: Number(port || defaultPort) });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** The infrastructure this test run talks to; set by the global setup in `process.env`. */
export function testInfrastructure(): { databaseUrl: string; natsUrl: string } {
  return {
    databaseUrl: process.env.DATABASE_URL ?? LOCAL_DATABASE_URL,
    natsUrl: process.env.NATS_URL ?? LOCAL_NATS_URL,
  };
}

/** Set by the global setup and inherited by every jest worker: what each name this run creates starts with. */
export const TEST_RUN_ID_VARIABLE = 'TEST_RUN_ID';
const RUN_ID_LENGTH = 10;

/** A fresh run id: fixed-length hex, so no other run's names can start with this run's. */
export function newTestRunId(): string {
  return randomBytes(RUN_ID_LENGTH / 2).toString('hex');
}

let processRunId: string | undefined;

/** This run's id: the global setup's, or (outside jest, e.g. a benchmark) one of this process's own. */
export function testRunId(): string {
  const fromSetup = process.env[TEST_RUN_ID_VARIABLE];
  if (fromSetup && new RegExp(`^[0-9a-f]{${RUN_ID_LENGTH}}$`).test(fromSetup)) return fromSetup;
  processRunId ??= newTestRunId();
  return processRunId;
}

function uniqueSuffix(): string {
  return `${testRunId()}${process.pid.toString(36)}${randomBytes(4).toString('hex')}`;
}

/** A subject prefix of its own, so parallel test files sharing one NATS server never see each other's traffic. */
export function uniqueSubjectPrefix(): string {
  return `t${uniqueSuffix()}.`;
}

/** Stream names cannot contain dots: the stream form of a subject prefix (`t42.` → `t42_`), as libs/messaging names them. */
function streamNamePrefix(subjectPrefix: string): string {
  return subjectPrefix.replace(/\./g, '_');
}

/** Deletes every JetStream stream (and so its consumers) whose name starts with `namePrefix`; returns their names. */
async function deleteStreamsStartingWith(namePrefix: string): Promise<string[]> {
  const connection = await connect({ servers: testInfrastructure().natsUrl, name: 'test-stream-cleanup' });
  try {
    const manager = await connection.jetstreamManager();
    const names: string[] = [];
    for await (const name of manager.streams.names()) if (name.startsWith(namePrefix)) names.push(name);
    for (const name of names) await manager.streams.delete(name);
    return names;
  } finally {
    await connection.close();
  }
}

/**
 * Gives a prefix back at the end of its test file: its streams (`t…_SECRETS_EVENTS`, `t…_LOGS_RAW`, `t…_LOGS`) and
 * their consumers are deleted. Only a prefix this harness issued (`t….`, one token) is accepted, so nothing else goes.
 */
export async function releaseSubjectPrefix(subjectPrefix: string): Promise<string[]> {
  if (!/^t[a-z0-9]+\.$/.test(subjectPrefix)) throw new Error('refusing to release a prefix this harness did not issue');
  return deleteStreamsStartingWith(streamNamePrefix(subjectPrefix));
}

/** The global teardown's sweep: every stream of this run's prefixes that a test file did not release itself. */
export async function releaseRunStreams(runId: string): Promise<string[]> {
  if (!new RegExp(`^[0-9a-f]{${RUN_ID_LENGTH}}$`).test(runId)) throw new Error('refusing to sweep without a run id');
  return deleteStreamsStartingWith(`t${runId}`);
}

/** The global teardown's sweep of databases: every one this run created and did not drop. */
export async function dropRunDatabases(runId: string): Promise<string[]> {
  if (!new RegExp(`^[0-9a-f]{${RUN_ID_LENGTH}}$`).test(runId)) throw new Error('refusing to sweep without a run id');
  const admin = new Client({ connectionString: withDatabase(testInfrastructure().databaseUrl, 'postgres') });
  await admin.connect();
  try {
    const { rows } = await admin.query<{ name: string }>(
      'select datname as name from pg_database where starts_with(datname, $1)',
      [`test_${runId}`],
    );
    for (const { name } of rows) await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    return rows.map((row) => row.name);
  } finally {
    await admin.end();
  }
}

export interface TestDatabase {
  readonly url: string;
  readonly name: string;
  drop(): Promise<void>;
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/** Creates a fresh, empty database for one test file; `drop()` removes it (terminating leftover sessions). */
export async function createTestDatabase(): Promise<TestDatabase> {
  const adminUrl = withDatabase(testInfrastructure().databaseUrl, 'postgres');
  const name = `test_${uniqueSuffix()}`;
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  return {
    name,
    url: withDatabase(adminUrl, name),
    async drop(): Promise<void> {
      const client = new Client({ connectionString: adminUrl });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

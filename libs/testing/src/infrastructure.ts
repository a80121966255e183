import { randomBytes } from 'node:crypto';
import { createConnection } from 'node:net';
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

function uniqueSuffix(): string {
  return `${process.pid.toString(36)}${randomBytes(4).toString('hex')}`;
}

/** A subject prefix of its own, so parallel test files sharing one NATS server never see each other's traffic. */
export function uniqueSubjectPrefix(): string {
  return `t${uniqueSuffix()}.`;
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

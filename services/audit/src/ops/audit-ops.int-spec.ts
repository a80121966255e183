// `audit rebuild` as ops runs it: the compose NATS configuration (deploy/nats/nats-server.conf, user `ops`) on a
// private nats-server, and the real process for the refusal's exit code and message.
import { ensureStreams, natsCredentials } from '@platform/messaging';
import {
  type ConfiguredNatsServer,
  type TestDatabase,
  createTestDatabase,
  eventually,
  startConfiguredNatsServer,
} from '@platform/testing';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { type NatsConnection, connect } from 'nats';
import { Client } from 'pg';
import pino from 'pino';
import { migrateAuditDatabase } from '../database/audit-migrations';
import { AuditStore } from '../records/audit-store.repository';
import { AuditEventConsumer } from '../stream/audit-consumer';
import { AUDIT_CONSUMER } from '../stream/audit-stream';
import { publishSecretEvents, secretEvent } from '../testing/secret-events';
import { main } from './audit-ops';

jest.setTimeout(90_000);

const ROOT = join(__dirname, '../../../..');
const NATS_SERVER = process.env.NATS_SERVER_BIN ?? '/usr/sbin/nats-server';
const NATS_CONF = join(ROOT, 'deploy/nats/nats-server.conf');

describe('npm run audit -- rebuild against the compose NATS permissions', () => {
  let server: ConfiguredNatsServer | undefined;
  let natsUrl: string;
  let secrets: NatsConnection;
  let database: TestDatabase;
  let sql: Client;

  const as = (user: string) =>
    connect({ servers: natsUrl, ...natsCredentials(user, `dev-${user}-password`), maxReconnectAttempts: 0 });
  const opsEnv = () => ({
    NATS_URL: natsUrl,
    NATS_USER: 'ops',
    NATS_PASSWORD: 'dev-ops-password',
    NATS_SUBJECT_PREFIX: '',
    DATABASE_URL: database.url,
  });
  const recordCount = async () => Number((await sql.query('select count(*) from audit.records')).rows[0].count);

  beforeAll(async () => {
    // The compose configuration on a private port and store directory.
    server = await startConfiguredNatsServer(NATS_CONF, {
      binary: NATS_SERVER,
      probeUser: 'secrets',
      probePassword: 'dev-secrets-password',
    });
    natsUrl = server.url;
    secrets = await as('secrets');
    // The secrets service creates SECRETS_EVENTS and its outbox publishes; ops only reads it.
    await ensureStreams(secrets, ['SECRETS_EVENTS'], { subjectPrefix: '', replicas: 1 });
    await publishSecretEvents(
      secrets,
      '',
      Array.from({ length: 120 }, (_, i) => secretEvent({ key: `KEY_${i}` })),
    );
    database = await createTestDatabase();
    await migrateAuditDatabase(database.url);
    sql = new Client({ connectionString: database.url });
    await sql.connect();
  });

  afterAll(async () => {
    await secrets?.close();
    await sql?.end();
    await database?.drop();
    await server?.stop();
  });

  it('rebuilds as the ops user, which may read the stream but not create or update it', async () => {
    const ops = await as('ops');
    try {
      const manager = await ops.jetstreamManager();
      await expect(manager.streams.update('SECRETS_EVENTS', { description: 'changed by ops' })).rejects.toThrow(
        /permissions violation|timeout/i,
      );
    } finally {
      await ops.close();
    }
    const written = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      await main('rebuild', opsEnv());
    } finally {
      jest.restoreAllMocks();
    }
    expect(String(written.mock.calls.at(-1)?.[0])).toMatch(
      /^rebuilt the audit trail: 120 events, 120 records, 0 malformed skipped, 0 sequences missing from the stream \(recorded in audit.stream_gaps\), through stream sequence 120, in [\d.]+ s; the durable consumer continues at 121\n$/,
    );
    expect(await recordCount()).toBe(120);
    // Read as the audit user, whose durable it is (the secrets user may no longer look at consumers).
    const audit = await as('audit');
    try {
      const durable = await (await audit.jetstreamManager()).consumers.info('SECRETS_EVENTS', AUDIT_CONSUMER);
      expect(durable.config.opt_start_seq).toBe(121);
    } finally {
      await audit.close();
    }
  });

  it('exits 1 with one line on stderr while an audit instance holds the applier lease', async () => {
    const store = AuditStore.open(database.url);
    const audit = await as('audit');
    const running = new AuditEventConsumer({
      nats: audit,
      subjectPrefix: '',
      store,
      logger: pino({ level: 'silent' }),
    });
    await running.start();
    try {
      await eventually('the instance holds the applier lease', async () => running.isApplier);
      const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>(
        (resolve) => {
          const child = execFile(
            process.execPath,
            [
              require.resolve('ts-node/dist/bin'),
              '-T',
              '-r',
              'tsconfig-paths/register',
              'services/audit/src/ops/audit-ops.ts',
              'rebuild',
            ],
            { cwd: ROOT, env: { ...process.env, ...opsEnv() } },
            (_error, out, err) => resolve({ code: child.exitCode, stdout: out, stderr: err }),
          );
        },
      );
      expect({ code, stdout, stderr }).toEqual({
        code: 1,
        stdout: '',
        stderr:
          'the audit service is running (an instance holds the applier lease): stop every audit instance, then run rebuild again\n',
      });
      expect(await recordCount()).toBe(120);
    } finally {
      await running.stop();
      await audit.close();
      await store.close();
    }
  });
});

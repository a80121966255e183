// A database restored (logically) into a cluster whose transaction ids are lower than the old one's: the saved outbox
// checkpoint is ahead of every new event. The secrets service must refuse to publish and say so (not ready, a metric,
// an error naming the fix, writes UNAVAILABLE) instead of acknowledging writes that audit and redaction never see;
// `secrets outbox rebase` puts it right.
import { type NatsConnection, connect } from 'nats';
import { Client } from 'pg';
import { prefixedStreamName } from '@platform/messaging';
import {
  PlaintextValues,
  type TestDatabase,
  TestNatsClient,
  type TestService,
  TestTokens,
  createTestDatabase,
  eventually,
  releaseSubjectPrefix,
  startTestService,
  testInfrastructure,
  testTenants,
  uniqueSubjectPrefix,
} from '@platform/testing';
import { SecretsOperations } from '../../services/secrets/src/ops/secrets-operations';
import { secretsService } from '../../services/secrets/src/secrets.definition';
import { SecretsRuntime } from '../../services/secrets/src/secrets-runtime';
import { devMasterKeyMaterial } from '../../services/secrets/test/support/dev-master-keys';

const { vendor } = testTenants();
const plaintexts = new PlaintextValues();
/** An old cluster's transaction ids, far above the ids the restored-into cluster hands out. */
const RESTORED_AHEAD_BY = '1000000000';

describe('insider: a restored database with an older transaction horizon', () => {
  const prefix = uniqueSubjectPrefix();
  let database: TestDatabase;
  let service: TestService | undefined;
  let client: TestNatsClient;
  let nats: NatsConnection;
  let admin: string;

  const start = async () => {
    service = await startTestService(secretsService, {
      NATS_SUBJECT_PREFIX: prefix,
      DATABASE_URL: database.url,
      SECRETS_PUBLISH_WAIT_MS: '1000',
    });
    return service;
  };
  const readyz = async () => {
    const response = await fetch(`http://127.0.0.1:${service!.httpPort}/readyz`);
    return { status: response.status, body: (await response.json()) as { checks: Record<string, boolean> } };
  };
  const aheadGauge = async () => {
    const metrics = await (await fetch(`http://127.0.0.1:${service!.httpPort}/metrics`)).text();
    const line = metrics.split('\n').find((l) => l.startsWith('secrets_outbox_checkpoint_ahead'));
    return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
  };
  const streamMessages = async () =>
    (await (await nats.jetstreamManager()).streams.info(prefixedStreamName(prefix, 'SECRETS_EVENTS'))).state.messages;
  const create = (key: string, value: string, idempotencyKey: string) =>
    client.request(
      'secrets.v1.create',
      { key, value },
      { token: admin, headers: { 'Idempotency-Key': idempotencyKey } },
    );

  beforeAll(async () => {
    database = await createTestDatabase();
    client = await TestNatsClient.connect(prefix);
    nats = await connect({ servers: testInfrastructure().natsUrl });
    admin = await (await TestTokens.create()).vendor(vendor, 'admin');
  });

  afterAll(async () => {
    await service?.close();
    await client?.close();
    await nats?.close();
    await releaseSubjectPrefix(prefix);
    await database?.drop();
  });

  it('refuses to publish, is not ready and says why, until `outbox rebase`; then publishes what was held', async () => {
    await start();
    await eventually('the outbox publishes', () => service!.app.get(SecretsRuntime).outbox.isPublishing);
    expect((await create('BEFORE_RESTORE', plaintexts.next('before'), 'k-before')).status).toBeUndefined();
    expect(await streamMessages()).toBe(1);
    await service!.close();
    service = undefined;

    // The restore: the same rows, with the old cluster's (higher) transaction ids.
    const sql = new Client({ connectionString: database.url });
    await sql.connect();
    try {
      await sql.query(
        `update secrets.events set transaction_id = (transaction_id::text::numeric + ${RESTORED_AHEAD_BY})::text::xid8;
         update secrets.outbox_checkpoints
         set last_transaction_id = (last_transaction_id::text::numeric + ${RESTORED_AHEAD_BY})::text::xid8`,
      );
    } finally {
      await sql.end();
    }

    await start();
    await eventually('the instance is not ready', async () => (await readyz()).status === 503);
    expect((await readyz()).body.checks).toMatchObject({ outbox: false, postgres: true, nats: true });
    expect(await aheadGauge()).toBe(1);
    expect(service!.logs.join('')).toMatch(
      /Outbox secrets-events: its checkpoint \(transaction \d+, position 1\) is ahead of the database's next transaction id \d+, as after a logical restore: new events would never be published\. Run `secrets outbox rebase`/,
    );

    // Before the fix this write was acknowledged at once and never reached SECRETS_EVENTS.
    const secret = plaintexts.next('after');
    const refused = await create('AFTER_RESTORE', secret, 'k-after');
    expect(refused.status).toBe(503);
    expect(refused.body).toMatchObject({ error: { code: 'UNAVAILABLE' } });
    expect(await streamMessages()).toBe(1);
    expect(service!.app.get(SecretsRuntime).outbox.checkpointAhead).toBeDefined();

    const ops = await SecretsOperations.open({ databaseUrl: database.url, masterKeys: devMasterKeyMaterial });
    try {
      expect(await ops.rebaseOutbox()).toMatchObject({
        after: { transactionId: '1', position: '1' },
        published: 1,
        queued: 0,
      });
    } finally {
      await ops.close();
    }

    await eventually('the instance is ready again', async () => (await readyz()).status === 200);
    await eventually('the outbox publishes again', () => service!.app.get(SecretsRuntime).outbox.isPublishing);
    await eventually('the held write is published', async () => (await streamMessages()) === 2);
    expect(await aheadGauge()).toBe(0);
    // The stored write, as its Idempotency-Key retry returns it; later writes are acknowledged as usual.
    expect((await create('AFTER_RESTORE', secret, 'k-after')).body).toMatchObject({ key: 'AFTER_RESTORE', version: 1 });
    expect((await create('LATER', plaintexts.next('later'), 'k-later')).status).toBeUndefined();
    expect(await streamMessages()).toBe(3);
    expect(service!.logs.join('')).not.toContain(secret);
  });
});

import { type TestDatabase, createTestDatabase, testInfrastructure, uniqueSubjectPrefix } from '@platform/testing';
import { type NatsConnection, connect } from 'nats';
import { Client } from 'pg';
import pino from 'pino';
import { migrateAuditDatabase } from '../database/audit-migrations';
import { AuditStore } from '../records/audit-store';
import {
  createSecretsEventsStream,
  eventually,
  publishSecretEvents,
  secretEvent,
  valuesResolvedEvent,
} from '../testing/secret-events';
import { AuditEventConsumer } from './audit-consumer';
import { rebuildAuditTrail } from './audit-rebuild';
import { AUDIT_CONSUMER, secretsEventsStream } from './audit-stream';

jest.setTimeout(60_000);

describe('rebuildAuditTrail', () => {
  let database: TestDatabase;
  let nats: NatsConnection;
  let sql: Client;
  let store: AuditStore;
  let prefix: string;

  beforeAll(async () => {
    database = await createTestDatabase();
    await migrateAuditDatabase(database.url);
    store = AuditStore.open(database.url);
    sql = new Client({ connectionString: database.url });
    await sql.connect();
    nats = await connect({ servers: testInfrastructure().natsUrl });
    prefix = uniqueSubjectPrefix();
    await createSecretsEventsStream(nats, prefix);
  });

  afterAll(async () => {
    await (await nats.jetstreamManager()).streams.delete(secretsEventsStream(prefix));
    await nats.close();
    await sql.end();
    await store.close();
    await database.drop();
  });

  const trail = async () => (await sql.query('select * from audit.records order by sequence')).rows;
  const heads = async () => (await sql.query('select * from audit.chain_heads order by organization_id')).rows;

  it('reproduces identical records and hashes, and the live consumer continues after it', async () => {
    const orgs = ['acme', 'initech'];
    const events = Array.from({ length: 600 }, (_, i) =>
      i % 7 === 0
        ? valuesResolvedEvent([{ key: `K${i}`, version: 1, scope: 'vendor' }], { organizationId: orgs[i % 2] })
        : secretEvent({ organizationId: orgs[i % 2], key: `K${i}`, customerOrganizationId: i % 3 ? null : 'globex' }),
    );
    const duplicate = events[10];
    await publishSecretEvents(nats, prefix, [...events, duplicate], {
      messageId: (i) => (i === events.length ? 'republished' : events[i].eventId),
    });
    const consumer = new AuditEventConsumer({ nats, subjectPrefix: prefix, store, logger: pino({ level: 'silent' }) });
    await consumer.start();
    await eventually('the live trail is complete', async () => (await store.appliedPosition()) === 601);
    await consumer.stop();
    const [recordsBefore, headsBefore] = [await trail(), await heads()];
    expect(recordsBefore).toHaveLength(600);

    const progress: number[] = [];
    const summary = await rebuildAuditTrail({
      nats,
      subjectPrefix: prefix,
      store,
      batchSize: 128,
      onProgress: ({ applied }) => progress.push(applied),
    });

    expect(summary).toMatchObject({ events: 601, records: 600, rejected: 0, lastSequence: 601 });
    expect(await trail()).toEqual(recordsBefore);
    expect(await heads()).toEqual(headsBefore);
    expect(progress[progress.length - 1]).toBe(601);
    for (const org of orgs) expect((await store.verifyChain(org)).ok).toBe(true);

    const manager = await nats.jetstreamManager();
    const durable = await manager.consumers.info(secretsEventsStream(prefix), AUDIT_CONSUMER);
    expect(durable.config.opt_start_seq).toBe(602);
    await publishSecretEvents(nats, prefix, [secretEvent({ key: 'AFTER_REBUILD' })]);
    const resumed = new AuditEventConsumer({ nats, subjectPrefix: prefix, store, logger: pino({ level: 'silent' }) });
    await resumed.start();
    await eventually(
      'the durable consumer continues after the rebuild',
      async () => (await store.appliedPosition()) === 602,
    );
    await resumed.stop();
    expect(await trail()).toHaveLength(601);
    expect((await store.verifyChain('acme')).ok).toBe(true);
  });
});

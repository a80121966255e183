import { eventually, uniqueSubjectPrefix } from '@platform/testing';
import { type NatsConnection } from 'nats';
import { type Client } from 'pg';
import pino from 'pino';
import { AuditError, AuditErrorCode } from '../audit.error';
import { type AuditStore } from '../records/audit-store.repository';
import { type AuditTestbed, openAuditTestbed } from '../testing/audit-testbed';
import {
  createSecretsEventsStream,
  publishSecretEvents,
  secretEvent,
  valuesResolvedEvent,
} from '../testing/secret-events';
import { AuditEventConsumer } from './audit-consumer';
import { rebuildAuditTrail } from './audit-rebuild';
import { AUDIT_CONSUMER, secretsEventsStream } from './audit-stream';

jest.setTimeout(60_000);

describe('rebuildAuditTrail', () => {
  let testbed: AuditTestbed;
  let nats: NatsConnection;
  let sql: Client;
  let store: AuditStore;
  let prefix: string;

  beforeAll(async () => {
    testbed = await openAuditTestbed();
    ({ store, sql, nats, prefix } = testbed);
    await createSecretsEventsStream(nats, prefix);
  });

  afterAll(() => testbed?.close());

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

  async function refusal(attempt: Promise<unknown>): Promise<AuditError> {
    const error = await attempt.then(
      () => undefined,
      (reason: unknown) => reason,
    );
    expect(error).toBeInstanceOf(AuditError);
    expect((error as AuditError).code).toBe(AuditErrorCode.REBUILD_REFUSED);
    return error as AuditError;
  }

  it('refuses while an audit instance applies, and leaves the trail and the durable consumer as they were', async () => {
    const manager = await nats.jetstreamManager();
    const durableBefore = await manager.consumers.info(secretsEventsStream(prefix), AUDIT_CONSUMER);
    const recordsBefore = await trail();
    const running = new AuditEventConsumer({ nats, subjectPrefix: prefix, store, logger: pino({ level: 'silent' }) });
    await running.start();
    try {
      await eventually('the instance holds the applier lease', async () => running.isApplier);
      const error = await refusal(rebuildAuditTrail({ nats, subjectPrefix: prefix, store }));
      expect(error.message).toBe(
        'the audit service is running (an instance holds the applier lease): stop every audit instance, then run rebuild again',
      );
      expect(await trail()).toEqual(recordsBefore);
      const durableAfter = await manager.consumers.info(secretsEventsStream(prefix), AUDIT_CONSUMER);
      expect(durableAfter.created).toBe(durableBefore.created);
    } finally {
      await running.stop();
    }
    // With the service stopped, the same rebuild runs.
    expect(await rebuildAuditTrail({ nats, subjectPrefix: prefix, store })).toMatchObject({ lastSequence: 602 });
    expect(await trail()).toEqual(recordsBefore);
  });

  it('keeps every audit instance from applying while it runs', async () => {
    // An instance started once the rebuild is under way asks for the lease every 5 ms.
    const instance = new AuditEventConsumer({
      nats,
      subjectPrefix: prefix,
      store,
      logger: pino({ level: 'silent' }),
      leasePollMs: 5,
    });
    const applierDuringRebuild: boolean[] = [];
    const summary = await rebuildAuditTrail({
      nats,
      subjectPrefix: prefix,
      store,
      batchSize: 20,
      onProgress: ({ applied }) => {
        if (applied === 0) void instance.start();
        else applierDuringRebuild.push(instance.isApplier);
      },
    });
    expect(summary.lastSequence).toBe(602);
    expect(applierDuringRebuild.length).toBeGreaterThan(10);
    expect(applierDuringRebuild.every((applier) => !applier)).toBe(true);
    await eventually('the instance applies once the rebuild is done', async () => instance.isApplier);
    await instance.stop();
    expect(await trail()).toHaveLength(601);
  });

  it('reads SECRETS_EVENTS only: a prefix without the stream is refused, and nothing is created or emptied', async () => {
    const elsewhere = uniqueSubjectPrefix();
    const recordsBefore = await trail();
    const error = await refusal(rebuildAuditTrail({ nats, subjectPrefix: elsewhere, store }));
    expect(error.message).toBe(
      `stream ${secretsEventsStream(elsewhere)} does not exist on this NATS server: nothing to rebuild from (check NATS_URL and NATS_SUBJECT_PREFIX)`,
    );
    const manager = await nats.jetstreamManager();
    await expect(manager.streams.info(secretsEventsStream(elsewhere))).rejects.toThrow('stream not found');
    expect(await trail()).toEqual(recordsBefore);
  });
});

describe('rebuildAuditTrail over sequences deleted from the stream', () => {
  it('passes them, counts them, and records them as gaps acknowledged by the rebuild', async () => {
    const { store, sql, nats, prefix, close } = await openAuditTestbed();
    try {
      await createSecretsEventsStream(nats, prefix, { allowDeletes: true });
      await publishSecretEvents(
        nats,
        prefix,
        Array.from({ length: 5 }, (_, i) => secretEvent({ key: `K${i}` })),
      );
      const manager = await nats.jetstreamManager();
      for (const sequence of [2, 3]) await manager.streams.deleteMessage(secretsEventsStream(prefix), sequence);

      const summary = await rebuildAuditTrail({ nats, subjectPrefix: prefix, store });

      expect(summary).toMatchObject({ events: 3, missing: 2, records: 3, lastSequence: 5 });
      expect(await store.openStreamGaps()).toEqual([]);
      const { rows } = await sql.query(
        'select from_sequence, to_sequence, acknowledged_by, acknowledged_at is not null as acknowledged from audit.stream_gaps',
      );
      expect(rows).toEqual([
        { from_sequence: '2', to_sequence: '3', acknowledged_by: 'audit rebuild', acknowledged: true },
      ]);
    } finally {
      await close();
    }
  });
});

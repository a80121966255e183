import { createTestDatabase, eventually, testInfrastructure } from '@platform/testing';
import { AckPolicy, type NatsConnection, connect } from 'nats';
import { type Client } from 'pg';
import pino from 'pino';
import { Registry } from 'prom-client';
import { AuditLag } from '../audit-lag';
import { AuditMetrics } from '../audit-metrics';
import { AuditError, AuditErrorCode } from '../audit.error';
import { parseAuditEvent } from '../records/audit-event';
import { migrateAuditDatabase } from '../database/audit-migrations';
import { AuditStore } from '../records/audit-store.repository';
import { type AuditTestbed, openAuditTestbed } from '../testing/audit-testbed';
import {
  createSecretsEventsStream,
  publishSecretEvents,
  secretEvent,
  valuesResolvedEvent,
} from '../testing/secret-events';
import { AuditEventConsumer } from './audit-consumer';
import { AUDIT_CONSUMER, auditLagSources, secretsEventsStream } from './audit-stream';

jest.setTimeout(60_000);

const logger = pino({ level: process.env.AUDIT_TEST_LOG ?? 'silent' });

describe('AuditEventConsumer', () => {
  let testbed: AuditTestbed;
  let nats: NatsConnection;
  let sql: Client;
  let store: AuditStore;
  let prefix: string;
  const running: AuditEventConsumer[] = [];

  async function startConsumer(
    options: { store?: AuditStore; maxBatch?: number; logger?: pino.Logger; metrics?: AuditMetrics } = {},
  ): Promise<AuditEventConsumer> {
    const consumer = new AuditEventConsumer({
      nats,
      subjectPrefix: prefix,
      store: options.store ?? store,
      logger: options.logger ?? logger,
      maxBatch: options.maxBatch,
      metrics: options.metrics,
    });
    await consumer.start();
    running.push(consumer);
    return consumer;
  }

  async function stopAll(): Promise<void> {
    await Promise.all(running.splice(0).map((consumer) => consumer.stop()));
  }

  async function recordCount(): Promise<number> {
    return Number((await sql.query('select count(*) from audit.records')).rows[0].count);
  }

  beforeEach(async () => {
    testbed = await openAuditTestbed();
    ({ store, sql, nats, prefix } = testbed);
    await createSecretsEventsStream(nats, prefix);
  });

  afterEach(async () => {
    await stopAll();
    await testbed.close();
  });

  it('writes one record per event, carrying the contract fields and nothing else', async () => {
    await startConsumer();
    const created = secretEvent({ key: 'API_TOKEN', customerOrganizationId: 'globex' });
    const leaky = { ...secretEvent({ type: 'SecretValueUpdated', version: 2 }), value: 'hunter2-plaintext' };
    const withCiphertext = { ...secretEvent(), ciphertext: 'eyJhbGciOiJkaXIifQ..leaked-ciphertext' };
    const access = valuesResolvedEvent([{ key: 'API_TOKEN', version: 1, scope: 'customer' }], {
      customerOrganizationId: 'globex',
    });
    await publishSecretEvents(nats, prefix, [created, leaky, withCiphertext, access]);
    await eventually('four records exist', async () => (await recordCount()) === 4);

    const { rows } = await sql.query('select * from audit.records order by sequence');
    expect(rows[0]).toMatchObject({
      sequence: '1',
      event_id: created.eventId,
      type: 'SecretCreated',
      organization_id: 'acme',
      customer_organization_id: 'globex',
      key: 'API_TOKEN',
      version: 1,
      actor_sub: 'admin@acme',
      actor_org: 'acme',
      actor_role: 'admin',
      occurred_at: new Date(created.occurredAt),
      resolved: [],
    });
    expect(rows[3]).toMatchObject({
      type: 'SecretValuesResolved',
      key: null,
      actor_sub: 'service:render',
      resolved: [{ key: 'API_TOKEN', version: 1, scope: 'customer' }],
    });
    for (const table of ['records', 'chain_heads', 'applied_position']) {
      const leaks = await sql.query(
        `select count(*) from audit.${table} t where t::text like '%hunter2%' or t::text like '%leaked-ciphertext%'`,
      );
      expect(Number(leaks.rows[0].count)).toBe(0);
    }
    expect(await store.verifyChain('acme')).toEqual({ ok: true, checked: 4 });
  });

  it('never duplicates an event that reaches the stream twice under different message ids', async () => {
    await startConsumer();
    const event = secretEvent();
    await publishSecretEvents(nats, prefix, [event, event, event], { messageId: (i) => `${event.eventId}-${i}` });
    await publishSecretEvents(nats, prefix, [secretEvent({ key: 'AFTER' })]);
    await eventually('the position passes all four messages', async () => (await store.appliedPosition()) === 4);
    expect(await recordCount()).toBe(2);
    const { rows } = await sql.query('select sequence, key from audit.records order by sequence');
    expect(rows).toEqual([
      { sequence: '1', key: 'DB_PASSWORD' },
      { sequence: '4', key: 'AFTER' },
    ]);
    expect((await store.verifyChain('acme')).ok).toBe(true);
  });

  it('applies messages redelivered after a crash between commit and ack exactly once', async () => {
    // The first instance commits every batch, then its process dies before any ack reaches the server.
    const crashedConnection = await connect({ servers: testInfrastructure().natsUrl });
    const lostAcks = Object.create(store) as AuditStore;
    lostAcks.apply = async (events, options) => {
      await store.apply(events, options);
      throw new Error('connection lost before the ack');
    };
    const crashing = new AuditEventConsumer({
      nats: crashedConnection,
      subjectPrefix: prefix,
      store: lostAcks,
      logger,
      ackWaitMs: 1_000,
    });
    await crashing.start();
    const events = Array.from({ length: 200 }, (_, i) => secretEvent({ key: `KEY_${i}` }));
    await publishSecretEvents(nats, prefix, events);
    await eventually('the first instance committed everything', async () => (await store.appliedPosition()) === 200);
    await crashedConnection.close();
    await crashing.stop();

    const delivered = new Set<number>();
    const watching = Object.create(store) as AuditStore;
    watching.apply = (batch, options) => {
      for (const event of batch) delivered.add(event.sequence);
      return store.apply(batch, options);
    };
    await startConsumer({ store: watching });
    const manager = await nats.jetstreamManager();
    await eventually('the server saw every message acknowledged', async () => {
      const info = await manager.consumers.info(secretsEventsStream(prefix), AUDIT_CONSUMER);
      return info.num_ack_pending === 0 && info.num_pending === 0 && info.ack_floor.stream_seq === 200;
    });
    expect(delivered.size).toBeGreaterThan(0);
    expect(Math.max(...delivered)).toBeLessThanOrEqual(200);
    expect(await recordCount()).toBe(200);
    expect(await store.verifyChain('acme')).toEqual({ ok: true, checked: 200 });
  });

  it('replaces a per-message-ack consumer left by an earlier release, continuing after the applied position', async () => {
    const events = Array.from({ length: 300 }, (_, i) => secretEvent({ key: `KEY_${i}` }));
    const sequences = await publishSecretEvents(nats, prefix, events);
    const manager = await nats.jetstreamManager();
    const stream = secretsEventsStream(prefix);
    await manager.consumers.add(stream, { durable_name: AUDIT_CONSUMER, ack_policy: AckPolicy.Explicit });
    // The earlier release applied the first 200 events before it was stopped.
    const encoder = new TextEncoder();
    await store.apply(
      events.slice(0, 200).map((event, i) => ({
        sequence: sequences[i],
        recordedAt: new Date(),
        event: parseAuditEvent(encoder.encode(JSON.stringify(event))),
      })),
    );

    const delivered: number[] = [];
    const watching = Object.create(store) as AuditStore;
    watching.apply = (batch, options) => {
      delivered.push(...batch.map((event) => event.sequence));
      return store.apply(batch, options);
    };
    await startConsumer({ store: watching });
    await eventually('the rest is applied', async () => (await store.appliedPosition()) === 300);

    const info = await manager.consumers.info(stream, AUDIT_CONSUMER);
    expect(info.config.ack_policy).toBe(AckPolicy.All);
    expect(info.config.opt_start_seq).toBe(201);
    expect(Math.min(...delivered)).toBe(201);
    await eventually('the server saw every message acknowledged', async () => {
      const now = await manager.consumers.info(stream, AUDIT_CONSUMER);
      return now.num_ack_pending === 0 && now.ack_floor.stream_seq === 300;
    });
    expect(await recordCount()).toBe(300);
    expect(await store.verifyChain('acme')).toEqual({ ok: true, checked: 300 });
  });

  it('applies through one instance at a time and fails over, every chain in stream order', async () => {
    const instances = await Promise.all([
      startConsumer({ maxBatch: 100 }),
      startConsumer({ maxBatch: 100 }),
      startConsumer({ maxBatch: 100 }),
    ]);
    const orgs = ['acme', 'initech', 'umbrella'];
    const batchOf = (from: number) =>
      Array.from({ length: 1_500 }, (_, i) => secretEvent({ organizationId: orgs[i % 3], key: `K${from + i}` }));
    await publishSecretEvents(nats, prefix, batchOf(0));
    await eventually('the first 1,500 are applied', async () => (await store.appliedPosition()) === 1_500);
    expect(instances.filter((instance) => instance.isApplier)).toHaveLength(1);

    const applier = instances.find((instance) => instance.isApplier);
    await applier?.stop();
    await publishSecretEvents(nats, prefix, batchOf(1_500));
    await eventually('a standby applied the rest', async () => (await store.appliedPosition()) === 3_000);
    expect(instances.filter((instance) => instance.isApplier)).toHaveLength(1);

    expect(await recordCount()).toBe(3_000);
    for (const org of orgs) expect(await store.verifyChain(org)).toEqual({ ok: true, checked: 1_000 });
    const backwardLinks = await sql.query(
      `select count(*) from audit.records r
         join audit.records prev on prev.hash = r.prev_hash
        where prev.sequence >= r.sequence or prev.organization_id <> r.organization_id`,
    );
    expect(Number(backwardLinks.rows[0].count)).toBe(0);
  });

  it('skips a message that breaks the contract, and stops at sequences deleted from the stream until ops acknowledge them', async () => {
    await stopAll();
    const manager = await nats.jetstreamManager();
    await manager.streams.delete(secretsEventsStream(prefix));
    await createSecretsEventsStream(nats, prefix, { allowDeletes: true });
    await publishSecretEvents(nats, prefix, [
      secretEvent({ key: 'FIRST' }),
      { subjectOrg: 'acme', type: 'SecretCreated', raw: '{"eventId": "no-other-fields", "value": "hunter2"}' },
      secretEvent({ key: 'DELETED' }),
      secretEvent({ key: 'LAST' }),
    ]);
    await manager.streams.deleteMessage(secretsEventsStream(prefix), 3);
    const { logger: recording, lines } = recordingLogger();
    const registry = new Registry();
    const metrics = new AuditMetrics(registry);
    const metricValue = async (name: string) => (await registry.getSingleMetric(name)?.get())?.values[0]?.value;
    await startConsumer({ logger: recording, metrics });

    await eventually('the applier stopped at the deleted sequence, loudly', async () =>
      lines.some((line) => line.level === 50 && /^SECRETS_EVENTS sequences were deleted/.test(line.msg)),
    );
    expect(await store.appliedPosition()).toBe(2);
    expect(await store.openStreamGaps()).toEqual([{ fromSequence: 3, toSequence: 3, detectedAt: expect.any(Date) }]);
    expect(await metricValue('audit_stream_gap_missing_sequences')).toBe(1);
    expect(await metricValue('audit_stream_gaps_total')).toBe(1);

    await expect(store.acknowledgeStreamGap(3, 4, 'ops@acme')).rejects.toThrow(
      'no gap 3-4 was recorded in SECRETS_EVENTS',
    );
    await store.acknowledgeStreamGap(3, 3, 'ops@acme');
    await eventually('the applier moved past the acknowledged gap', async () => (await store.appliedPosition()) === 4);
    const { rows } = await sql.query('select sequence, key from audit.records order by sequence');
    expect(rows).toEqual([
      { sequence: '1', key: 'FIRST' },
      { sequence: '4', key: 'LAST' },
    ]);
    expect(await store.verifyChain('acme')).toEqual({ ok: true, checked: 2 });
    expect(await store.openStreamGaps()).toEqual([]);
    expect(await metricValue('audit_stream_gap_missing_sequences')).toBe(0);
    expect(lines.some((line) => /moving past SECRETS_EVENTS sequences deleted/.test(line.msg))).toBe(true);
    expect(JSON.stringify(lines)).not.toContain('hunter2');
  });

  /** A logger that keeps its lines, to see what the consumer told ops. */
  function recordingLogger(): { logger: pino.Logger; lines: Array<{ level: number; msg: string }> } {
    const lines: Array<{ level: number; msg: string }> = [];
    return { logger: pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) }), lines };
  }

  const REWOUND = /^the audit consumer had acknowledged events the audit database does not hold/;

  /** The audit tables as a backup taken after `sequence` left them: later records gone, heads and position back. */
  async function restoreTrailTo(sequence: number): Promise<void> {
    await sql.query('begin');
    await sql.query('delete from audit.records where sequence > $1', [sequence]);
    await sql.query('delete from audit.chain_heads');
    await sql.query(
      `insert into audit.chain_heads (organization_id, last_sequence, last_hash, record_count)
       select distinct on (organization_id) organization_id, sequence, hash,
              count(*) over (partition by organization_id)
         from audit.records order by organization_id, sequence desc`,
    );
    await sql.query('update audit.applied_position set stream_sequence = $1 where id = 1', [sequence]);
    await sql.query('commit');
  }

  it('catches up completely after its database was restored to an earlier state, the durable consumer being ahead', async () => {
    await startConsumer();
    const sequences = await publishSecretEvents(
      nats,
      prefix,
      Array.from({ length: 300 }, (_, i) => secretEvent({ key: `KEY_${i}` })),
    );
    await eventually('all 300 are applied', async () => (await store.appliedPosition()) === 300);
    await stopAll();
    const before = (await sql.query('select * from audit.records order by sequence')).rows;
    await restoreTrailTo(sequences[99]);
    expect(await recordCount()).toBe(100);
    await publishSecretEvents(nats, prefix, [secretEvent({ key: 'AFTER_RESTORE' })]);

    const { logger: recording, lines } = recordingLogger();
    await startConsumer({ logger: recording });
    await eventually('the trail is whole again', async () => (await store.appliedPosition()) === 301);
    expect(await recordCount()).toBe(301);
    expect((await sql.query('select * from audit.records where sequence <= 300 order by sequence')).rows).toEqual(
      before,
    );
    expect(await store.verifyChain('acme')).toEqual({ ok: true, checked: 301 });
    expect(lines.filter((line) => line.level === 40 && REWOUND.test(line.msg))).toHaveLength(1);
  });

  it('fills a new, empty database pointed at the same stream, with no new event to deliver', async () => {
    await startConsumer();
    await publishSecretEvents(
      nats,
      prefix,
      Array.from({ length: 200 }, (_, i) => secretEvent({ key: `KEY_${i}` })),
    );
    await eventually('all 200 are applied', async () => (await store.appliedPosition()) === 200);
    await stopAll();

    const fresh = await createTestDatabase();
    await migrateAuditDatabase(fresh.url);
    const freshStore = AuditStore.open(fresh.url);
    try {
      await startConsumer({ store: freshStore });
      await eventually(
        'the new database holds the whole trail',
        async () => (await freshStore.appliedPosition()) === 200,
      );
      expect(await freshStore.verifyChain('acme')).toEqual({ ok: true, checked: 200 });
      await stopAll();
    } finally {
      await freshStore.close();
      await fresh.drop();
    }
  });

  it('recovers when its tables are emptied while it runs', async () => {
    const { logger: recording, lines } = recordingLogger();
    await startConsumer({ logger: recording });
    await publishSecretEvents(
      nats,
      prefix,
      Array.from({ length: 150 }, (_, i) => secretEvent({ key: `KEY_${i}` })),
    );
    await eventually('all 150 are applied', async () => (await store.appliedPosition()) === 150);
    await restoreTrailTo(0);
    await publishSecretEvents(nats, prefix, [secretEvent({ key: 'AFTER_EMPTYING' })]);
    await eventually('the trail is whole again', async () => (await store.appliedPosition()) === 151);
    expect(await recordCount()).toBe(151);
    expect(await store.verifyChain('acme')).toEqual({ ok: true, checked: 151 });
    expect(lines.some((line) => line.level === 40 && REWOUND.test(line.msg))).toBe(true);
  });

  it('reports a lag that grows while applying is paused or the database is down, and 0 once caught up', async () => {
    let resume: () => void = () => undefined;
    const paused = new Promise<void>((resolve) => (resume = resolve));
    let databaseDown = false;
    const unavailable = () => new AuditError(AuditErrorCode.STORE_UNAVAILABLE, 'the audit database is unavailable');
    const troubled = Object.create(store) as AuditStore;
    troubled.apply = async (events, options) => {
      await paused;
      if (databaseDown) throw unavailable();
      return store.apply(events, options);
    };
    troubled.appliedPosition = async () => {
      if (databaseDown) throw unavailable();
      return store.appliedPosition();
    };
    const registry = new Registry();
    const metrics = new AuditMetrics(registry, new AuditLag(auditLagSources(nats, prefix, troubled)));
    const lag = async () => {
      const text = await registry.getSingleMetricAsString('audit_lag_seconds');
      return Number(/^audit_lag_seconds (\S+)$/m.exec(text)?.[1]);
    };
    await startConsumer({ store: troubled, metrics });
    expect(await lag()).toBe(0);

    // The applier is paused: events wait.
    await publishSecretEvents(
      nats,
      prefix,
      Array.from({ length: 10 }, (_, i) => secretEvent({ key: `PAUSED_${i}` })),
    );
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    const waiting = await lag();
    expect(waiting).toBeGreaterThanOrEqual(1);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(await lag()).toBeGreaterThanOrEqual(waiting + 0.9);
    resume();
    await eventually('the lag is back to 0', async () => (await lag()) === 0);
    expect(await store.appliedPosition()).toBe(10);

    // The database stops answering: neither applies nor position reads work.
    databaseDown = true;
    await publishSecretEvents(
      nats,
      prefix,
      Array.from({ length: 5 }, (_, i) => secretEvent({ key: `OUTAGE_${i}` })),
    );
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    const duringOutage = await lag();
    expect(duringOutage).toBeGreaterThanOrEqual(1);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(await lag()).toBeGreaterThanOrEqual(duringOutage + 0.9);
    databaseDown = false;
    await eventually('the lag is back to 0 after the outage', async () => (await lag()) === 0);
    expect(await store.appliedPosition()).toBe(15);
    expect(await recordCount()).toBe(15);
  });
});

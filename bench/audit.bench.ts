// `npm run bench -- audit`: records/s the audit consumer applies from SECRETS_EVENTS (100k-event backlog), rebuild
// events/s over the same 100k, and write-to-queryable lag (PubAck → record visible) under a steady publish load.
// Runs against a fresh database and subject prefix, and removes both at the end.
import { createTestDatabase, testInfrastructure, uniqueSubjectPrefix } from '@platform/testing';
import { connect } from 'nats';
import { loadavg } from 'node:os';
import { Client } from 'pg';
import pino from 'pino';
import { migrateAuditDatabase } from '../services/audit/src/database/audit-migrations';
import { AuditStore } from '../services/audit/src/records/audit-store.repository';
import { AuditEventConsumer } from '../services/audit/src/stream/audit-consumer';
import { rebuildAuditTrail } from '../services/audit/src/stream/audit-rebuild';
import { secretsEventsStream } from '../services/audit/src/stream/audit-stream';
import {
  type SecretEventJson,
  createSecretsEventsStream,
  publishSecretEvents,
  secretEvent,
  valuesResolvedEvent,
} from '../services/audit/src/testing/secret-events';
import { type BenchFigure, percentile, renderTable } from './report';

const BACKLOG_EVENTS = 100_000;
const ORGANIZATIONS = 10;
const TARGET_PER_SECOND = 20_000;
const LOAD_PER_SECOND = 2_000;
const LOAD_SECONDS = 6;
const POLL_MS = 2;

function event(i: number): SecretEventJson {
  const organizationId = `vendor${i % ORGANIZATIONS}`;
  return i % 10 === 9
    ? valuesResolvedEvent(
        [
          { key: `KEY_${i % 500}`, version: 1, scope: 'vendor' },
          { key: 'DB_PASSWORD', version: 3, scope: 'customer' },
        ],
        { organizationId, customerOrganizationId: `customer${i % 37}` },
      )
    : secretEvent({ organizationId, key: `KEY_${i % 500}`, version: 1 + (i % 5) });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function run(): Promise<string> {
  const loadBefore = loadavg()[0];
  const database = await createTestDatabase();
  const prefix = uniqueSubjectPrefix();
  const nats = await connect({ servers: testInfrastructure().natsUrl, name: 'audit-bench' });
  const sql = new Client({ connectionString: database.url });
  const logger = pino({ level: 'silent' });
  let store: AuditStore | undefined;
  try {
    await migrateAuditDatabase(database.url);
    store = AuditStore.open(database.url);
    await sql.connect();
    await createSecretsEventsStream(nats, prefix);
    const position = async () =>
      Number((await sql.query('select stream_sequence from audit.applied_position')).rows[0].stream_sequence);

    // 1. A backlog of 100k events, applied by the live consumer.
    const publishStarted = performance.now();
    await publishSecretEvents(
      nats,
      prefix,
      Array.from({ length: BACKLOG_EVENTS }, (_, i) => event(i)),
      { window: 2_000 },
    );
    const publishPerSecond = BACKLOG_EVENTS / ((performance.now() - publishStarted) / 1000);
    const consumer = new AuditEventConsumer({ nats, subjectPrefix: prefix, store, logger });
    const applyStarted = performance.now();
    await consumer.start();
    while ((await position()) < BACKLOG_EVENTS) await sleep(5);
    const appliedPerSecond = BACKLOG_EVENTS / ((performance.now() - applyStarted) / 1000);
    await consumer.stop();

    // 2. Rebuild the same 100k from sequence 1.
    const rebuild = await rebuildAuditTrail({ nats, subjectPrefix: prefix, store });
    const rebuildPerSecond = rebuild.events / rebuild.seconds;

    // 3. Lag from PubAck to queryable while events arrive at a steady rate.
    const live = new AuditEventConsumer({ nats, subjectPrefix: prefix, store, logger });
    await live.start();
    const ackedAt = new Map<number, number>();
    const visibleAt = new Map<number, number>();
    let polling = true;
    const poller = (async () => {
      let seen = await position();
      while (polling) {
        const now = await position();
        const at = performance.now();
        for (let seq = seen + 1; seq <= now; seq++) visibleAt.set(seq, at);
        seen = now;
        await sleep(POLL_MS);
      }
    })();
    const js = nats.jetstream();
    const encoder = new TextEncoder();
    const tick = 50;
    const perTick = (LOAD_PER_SECOND * tick) / 1000;
    const loadStarted = performance.now();
    const pending: Promise<void>[] = [];
    for (let t = 0; t < (LOAD_SECONDS * 1000) / tick; t++) {
      for (let i = 0; i < perTick; i++) {
        const e = event(t * perTick + i);
        pending.push(
          js
            .publish(`${prefix}secrets.events.${e.organizationId}.${e.type}`, encoder.encode(JSON.stringify(e)), {
              msgID: e.eventId,
            })
            .then((ack) => void ackedAt.set(ack.seq, performance.now())),
        );
      }
      const next = loadStarted + (t + 1) * tick;
      await sleep(Math.max(0, next - performance.now()));
    }
    await Promise.all(pending);
    const lastSequence = Math.max(...ackedAt.keys());
    while ((await position()) < lastSequence) await sleep(5);
    await sleep(POLL_MS * 3);
    polling = false;
    await poller;
    await live.stop();
    const lags = [...ackedAt]
      .map(([seq, acked]) => Math.max(0, (visibleAt.get(seq) ?? acked) - acked))
      .sort((a, b) => a - b);

    const target = { label: 'target', value: TARGET_PER_SECOND };
    const figures: BenchFigure[] = [
      {
        name: `records applied from the stream (${BACKLOG_EVENTS.toLocaleString('en-US')} backlog)`,
        value: appliedPerSecond,
        unit: 'records/s',
        baseline: target,
      },
      {
        name: `rebuild over ${rebuild.events.toLocaleString('en-US')} events`,
        value: rebuildPerSecond,
        unit: 'events/s',
        baseline: target,
      },
      {
        name: `write-to-queryable lag p50 at ${LOAD_PER_SECOND.toLocaleString('en-US')} events/s`,
        value: percentile(lags, 50),
        unit: 'ms',
      },
      {
        name: `write-to-queryable lag p99 at ${LOAD_PER_SECOND.toLocaleString('en-US')} events/s`,
        value: percentile(lags, 99),
        unit: 'ms',
      },
      { name: 'publish rate used to build the backlog (for context)', value: publishPerSecond, unit: 'events/s' },
      // Other work on this 2-core machine moves every figure above: read them next to the load they ran under.
      { name: 'machine load, 1-minute average, at the start', value: loadBefore, unit: '' },
      { name: 'machine load, 1-minute average, at the end', value: loadavg()[0], unit: '' },
    ];
    return renderTable('audit: apply, rebuild and lag', figures);
  } finally {
    await (await nats.jetstreamManager()).streams.delete(secretsEventsStream(prefix)).catch(() => undefined);
    await nats.close();
    await sql.end().catch(() => undefined);
    await store?.close();
    await database.drop();
  }
}

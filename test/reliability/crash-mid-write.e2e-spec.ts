// Crash mid-write (issue 9): concurrent writers (at full size 16, doing 2,000 updates in total across them) keep
// updating secrets while the secrets service is killed with SIGKILL and started again, twice. Every write is retried
// with its own Idempotency-Key until it is acknowledged. Afterwards every acknowledged write is in the event store,
// in SECRETS_EVENTS exactly once and in the audit store exactly once, no retried write was applied twice, and the
// read model equals a rebuild.
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { prefixedStreamName } from '@platform/messaging';
import {
  ResolveCaller,
  type TestDatabase,
  TestTokens,
  createTestDatabase,
  testInfrastructure,
  uniqueSubjectPrefix,
} from '@platform/testing';
import { SecretsOperations } from '../../services/secrets/src/ops/secrets-operations';
import { loadSecretsConfig } from '../../services/secrets/src/secrets.definition';
import { auditedEventIds } from './support/audit-records';
import { Cleanup } from './support/cleanup';
import { deleteStreamsOf, publishedEventIds } from './support/jetstream-messages';
import { type CallOutcome, PlatformClient, describeOutcome } from './support/platform-client';
import { sized } from './support/reliability-size';
import { ServiceProcess } from './support/service-process';
import { until } from './support/wait';

const WRITERS = sized(4, 16);
/** In total across all writers (the "16 concurrent writers doing 2,000 updates"), not per writer. */
const UPDATES = sized(400, 2_000);
const UPDATES_PER_WRITER = UPDATES / WRITERS;
const KILLS = 2;
const ORG = 'crashco';
/** Long enough for a healthy reply on a loaded machine; a request cut off by the kill ends here and is retried. */
const REQUEST_TIMEOUT_MS = 3_000;

/** One logical write: the value it sets and, once acknowledged, the version the service answered with. */
interface LedgerEntry {
  readonly key: string;
  readonly subject: 'secrets.v1.create' | 'secrets.v1.update';
  readonly idempotencyKey: string;
  readonly value: string;
  /** 1 for the create, i + 1 for the i-th update: each writer's writes are sequential. */
  readonly expectedVersion: number;
  acknowledgedVersion?: number;
  failures: readonly CallOutcome[];
}

interface EventRow {
  readonly event_id: string;
  readonly stream_id: string;
  readonly stream_version: number;
  readonly type: string;
}

describe('crash mid-write', () => {
  const cleanup = new Cleanup();
  const prefix = uniqueSubjectPrefix();
  const run = randomBytes(4).toString('hex');
  let database: TestDatabase;
  let secrets: ServiceProcess;
  let audit: ServiceProcess;
  let client: PlatformClient;
  let sql: Client;
  let tokens: TestTokens;

  beforeAll(async () => {
    const { natsUrl } = testInfrastructure();
    database = await createTestDatabase();
    cleanup.add('drop the database', () => database.drop());
    client = await PlatformClient.connect(natsUrl, prefix);
    cleanup.add('close the NATS client', () => client.close());
    cleanup.add('delete the streams', () => deleteStreamsOf(client.connection, prefix));
    const env = { NATS_URL: natsUrl, NATS_SUBJECT_PREFIX: prefix, DATABASE_URL: database.url };
    // Secrets first: it migrates the database; the audit service then creates its own schema beside it.
    secrets = await ServiceProcess.start('secrets', env);
    cleanup.add('stop secrets', () => secrets.stop());
    audit = await ServiceProcess.start('audit', env);
    cleanup.add('stop audit', () => audit.stop());
    sql = new Client({ connectionString: database.url });
    await sql.connect();
    cleanup.add('close the SQL client', () => sql.end());
    tokens = await TestTokens.create();
  }, 120_000);

  afterAll(() => cleanup.run(), 60_000);

  it(`keeps ${UPDATES} updates in total across ${WRITERS} writers exactly once through ${KILLS} SIGKILLs of the secrets service`, async () => {
    const vendorAdmin = await tokens.mint(
      { sub: 'writer@crashco', org: ORG, org_type: 'vendor', role: 'admin' },
      { expiresInSeconds: 3_600 },
    );
    const ledger: LedgerEntry[][] = Array.from({ length: WRITERS }, (_, writer) =>
      Array.from({ length: UPDATES_PER_WRITER + 1 }, (_, i) => ({
        key: `W${writer}`,
        subject: i === 0 ? 'secrets.v1.create' : 'secrets.v1.update',
        idempotencyKey: `${run}-w${writer}-${i}`,
        value: `crash-${run}-w${writer}-v${i + 1}-${randomBytes(6).toString('hex')}`,
        expectedVersion: i + 1,
        failures: [],
      })),
    );
    let acknowledged = 0;
    let inFlight = 0;

    async function writer(entries: LedgerEntry[]): Promise<void> {
      for (const entry of entries) {
        inFlight++;
        try {
          const { body, failures } = await client.writeUntilAcknowledged(
            entry.subject,
            { key: entry.key, value: entry.value },
            { token: vendorAdmin, idempotencyKey: entry.idempotencyKey, timeoutMs: REQUEST_TIMEOUT_MS },
          );
          entry.acknowledgedVersion = body.version as number;
          entry.failures = failures;
          acknowledged++;
        } finally {
          inFlight--;
        }
      }
    }

    const writing = Promise.all(ledger.map(writer));
    const inFlightAtKill: number[] = [];
    for (let kill = 1; kill <= KILLS; kill++) {
      const threshold = Math.floor((kill * UPDATES) / (KILLS + 1));
      await until(() => acknowledged >= threshold && inFlight > 0, `${threshold} acknowledged writes`);
      inFlightAtKill.push(inFlight);
      await secrets.kill();
      await secrets.restart();
    }
    await writing;
    const entries = ledger.flat();

    // The kills cut writes off mid-flight, and the clients had to retry.
    expect(inFlightAtKill.every((count) => count > 0)).toBe(true);
    const failures = entries.flatMap((entry) => entry.failures);
    expect(failures.length).toBeGreaterThan(0);
    // What a client sees of a crash: a lost reply, nobody answering, or a refusal that is safe to retry.
    const unexpected = failures.filter(
      (outcome) =>
        outcome.kind !== 'timeout' &&
        outcome.kind !== 'no-responders' &&
        !(outcome.kind === 'error' && outcome.code === 'UNAVAILABLE'),
    );
    expect(unexpected.map(describeOutcome)).toEqual([]);

    // Each acknowledgement names the version its write created: writes are sequential per writer.
    expect(entries.filter((entry) => entry.acknowledgedVersion !== entry.expectedVersion)).toEqual([]);

    // The event store: each writer's stream holds exactly one event per logical write, each acknowledged write's
    // event is the one its Idempotency-Key reserved, and nothing else was appended.
    const { rows: events } = await sql.query<EventRow>(
      'select event_id::text, stream_id, stream_version, type from secrets.events order by position',
    );
    expect(events).toHaveLength(WRITERS * (UPDATES_PER_WRITER + 1));
    const { rows: reservations } = await sql.query<{ idempotency_key: string; event_id: string }>(
      'select idempotency_key, event_id::text from secrets.idempotency_key',
    );
    const reservedEvent = new Map(reservations.map((row) => [row.idempotency_key, row.event_id]));
    const storedAt = new Map(events.map((event) => [event.event_id, `${event.stream_id}@${event.stream_version}`]));
    const misplaced = entries.filter(
      (entry) =>
        storedAt.get(reservedEvent.get(entry.idempotencyKey) ?? '') !==
        `secret:${ORG}:_:${entry.key}@${entry.expectedVersion}`,
    );
    expect(misplaced.map((entry) => entry.idempotencyKey)).toEqual([]);
    const eventIds = events.map((event) => event.event_id).sort();

    // SECRETS_EVENTS: once the outbox caught up, each event id exactly once.
    const stream = prefixedStreamName(prefix, 'SECRETS_EVENTS');
    const published = await publishedEventIds(client.connection, stream, events.length);
    expect(published.sort()).toEqual(eventIds);

    // The audit store: each event exactly once.
    expect((await auditedEventIds(sql, events.length)).sort()).toEqual(eventIds);

    // The read model equals a rebuild from the events.
    const viewRows = () => sql.query('select * from secrets.secret_view order by stream_id').then((r) => r.rows);
    const before = await viewRows();
    expect(before.map((row: { key: string; version: number }) => `${row.key}@${row.version}`).sort()).toEqual(
      ledger.map((writes) => `${writes[0].key}@${UPDATES_PER_WRITER + 1}`).sort(),
    );
    const operations = await SecretsOperations.open({
      databaseUrl: database.url,
      masterKeys: loadSecretsConfig({ NODE_ENV: 'test', DATABASE_URL: database.url }).masterKeys,
    });
    try {
      await operations.rebuildProjections();
    } finally {
      await operations.close();
    }
    expect(await viewRows()).toEqual(before);

    // Every version holds the value of the one write that created it: no write's effect appears twice or goes missing.
    const resolver = await ResolveCaller.create(tokens, 'log-masker', ['secrets:resolve-all']);
    const request = resolver.request({ organizationId: ORG, includeHistory: true });
    const resolved = await client.call('secrets.v1.resolve', request, { token: resolver.token });
    if (resolved.kind !== 'reply') throw new Error(`resolve failed: ${describeOutcome(resolved)}`);
    const opened = (await resolver.open(request, resolved.body)) as {
      values: Record<string, { value: string; version: number }>;
      history: Array<{ key: string; value: string; version: number }>;
    };
    const stored = [
      ...Object.entries(opened.values).map(([key, { value, version }]) => ({ key, value, version })),
      ...opened.history,
    ].map(({ key, value, version }) => `${key}@${version}=${value}`);
    expect(stored.sort()).toEqual(
      entries.map((entry) => `${entry.key}@${entry.expectedVersion}=${entry.value}`).sort(),
    );

    // Whatever the crashes made them log, no value is in the services' output.
    const output = [...secrets.output, ...audit.output].join('\n');
    expect(entries.filter((entry) => output.includes(entry.value)).length).toBe(0);
  }, 300_000);
});

// Broker outage (issue 9): the secrets, audit and redaction services run against a nats-server of this test's own,
// which is stopped for a while during writes and log traffic and then started again on the same port and store.
// The services reconnect without a restart, readiness reports the outage, the outbox publishes what was committed
// meanwhile, the audit and redaction consumers resume, nothing is lost and nothing unredacted reaches LOGS.
import { randomBytes } from 'node:crypto';
import { type JetStreamClient } from 'nats';
import { Client } from 'pg';
import { prefixedStreamName } from '@platform/messaging';
import { type TestDatabase, TestTokens, createTestDatabase, uniqueSubjectPrefix } from '@platform/testing';
import { SecretsOperations } from '../../services/secrets/src/ops/secrets-operations';
import { loadSecretsConfig } from '../../services/secrets/src/secrets.definition';
import { auditedEventIds } from './support/audit-records';
import { Cleanup } from './support/cleanup';
import { publishedEventIds, readStream, streamMessageCount } from './support/jetstream-messages';
import { PlatformClient } from './support/platform-client';
import { PrivateNatsServer } from './support/private-nats-server';
import { sized } from './support/reliability-size';
import { ServiceProcess } from './support/service-process';
import { sleep, until } from './support/wait';

const OUTAGE_MS = sized(3_000, 10_000);
const LINES = sized(1_500, 20_000);
/** Lines are shipped over this long, the outage in the middle. */
const SHIPPING_MS = OUTAGE_MS + sized(3_000, 10_000);
const SHIP_EVERY_MS = 50;
const ORG = 'brokerco';
const CUSTOMER = 'globex';
const SCRATCH_ORG = 'scratchco';
const SOURCE = `logs.raw.${ORG}.${CUSTOMER}.web-1`;
const MASK = '********';
const REQUEST_TIMEOUT_MS = 2_000;
const LOGS_CATCH_UP_TIMEOUT_MS = 180_000;

describe('broker outage', () => {
  const cleanup = new Cleanup();
  const prefix = uniqueSubjectPrefix();
  const run = randomBytes(4).toString('hex');
  let nats: PrivateNatsServer;
  let database: TestDatabase;
  let services: ServiceProcess[];
  let client: PlatformClient;
  let sql: Client;
  let tokens: TestTokens;
  let vendorAdmin: string;

  beforeAll(async () => {
    nats = await PrivateNatsServer.start();
    cleanup.add('stop the private nats-server and delete its store', () => nats.dispose());
    database = await createTestDatabase();
    cleanup.add('drop the database', () => database.drop());
    const env = { NATS_URL: nats.url, NATS_SUBJECT_PREFIX: prefix, DATABASE_URL: database.url };
    const secrets = await ServiceProcess.start('secrets', env);
    cleanup.add('stop secrets', () => secrets.stop());
    const [audit, redaction] = await Promise.all([
      ServiceProcess.start('audit', env),
      ServiceProcess.start('redaction', env),
    ]);
    cleanup.add('stop audit', () => audit.stop());
    cleanup.add('stop redaction', () => redaction.stop());
    services = [secrets, audit, redaction];
    client = await PlatformClient.connect(nats.url, prefix);
    cleanup.add('close the NATS client', () => client.close());
    sql = new Client({ connectionString: database.url });
    await sql.connect();
    cleanup.add('close the SQL client', () => sql.end());
    tokens = await TestTokens.create();
    vendorAdmin = await tokens.mint(
      { sub: 'admin@brokerco', org: ORG, org_type: 'vendor', role: 'admin' },
      { expiresInSeconds: 3_600 },
    );
  }, 120_000);

  afterAll(() => cleanup.run(), 60_000);

  const secretValue = (label: string) => `broker-${run}-${label}-${randomBytes(8).toString('hex')}`;

  async function write(subject: string, body: Record<string, unknown>, idempotencyKey: string, token = vendorAdmin) {
    const { body: reply } = await client.writeUntilAcknowledged(subject, body, {
      token,
      idempotencyKey,
      timeoutMs: REQUEST_TIMEOUT_MS,
    });
    return reply as { version: number };
  }

  /** Whether the redaction service masks `value` in the lines' scope now (its matcher holds it). */
  async function redactionMasks(value: string): Promise<boolean> {
    const outcome = await client.call(
      'redaction.v1.redact',
      { customerOrganizationId: CUSTOMER, text: value },
      { token: vendorAdmin, timeoutMs: REQUEST_TIMEOUT_MS },
    );
    return outcome.kind === 'reply' && outcome.body.text === MASK;
  }

  /** Ships one raw line, retrying with the same message id until LOGS_RAW confirms it (deduplicated). */
  async function ship(js: JetStreamClient, messageId: string, text: string): Promise<void> {
    for (;;) {
      try {
        await js.publish(prefix + SOURCE, Buffer.from(text), { msgID: messageId, timeout: REQUEST_TIMEOUT_MS });
        return;
      } catch {
        await sleep(100);
      }
    }
  }

  it(`loses nothing and leaks nothing through a ${OUTAGE_MS} ms broker outage`, async () => {
    const api = secretValue('api');
    const signing = secretValue('signing');
    await write('secrets.v1.create', { key: 'API_TOKEN', value: api, customerOrganizationId: CUSTOMER }, `${run}-api`);
    await write('secrets.v1.create', { key: 'SIGNING_KEY', value: signing }, `${run}-signing`);
    const scratchAdmin = await tokens.vendor(SCRATCH_ORG, 'admin');
    await write('secrets.v1.create', { key: 'DOOMED', value: secretValue('doomed') }, `${run}-doomed`, scratchAdmin);
    const pids = services.map((service) => service.pid);

    // Writes go on all along: a rotating secret, each update retried with its Idempotency-Key through the outage.
    const rotating: string[] = [];
    let known = '';
    let writing = true;
    let restarted = false;
    let rotatedAfterOutage!: () => void;
    const rotationAfterOutage = new Promise<void>((resolve) => (rotatedAfterOutage = resolve));
    const writtenAfterOutage = new Set<string>();
    const writer = (async () => {
      for (let i = 0; writing || rotating.length < 2; i++) {
        const value = secretValue(`rotating-${i}`);
        const { version } = await write(
          i === 0 ? 'secrets.v1.create' : 'secrets.v1.update',
          { key: 'ROTATING', value, customerOrganizationId: CUSTOMER },
          `${run}-rotating-${i}`,
        );
        expect(version).toBe(i + 1);
        rotating.push(value);
        const afterOutage = restarted;
        // Lines carry a rotated value once the redaction service masks it (it learns of changes from SECRETS_EVENTS).
        await until(() => redactionMasks(value), `the redaction service to mask rotation ${i}`);
        known = value;
        if (afterOutage) {
          writtenAfterOutage.add(value);
          rotatedAfterOutage();
        }
        await sleep(100);
      }
    })();
    await until(() => known !== '', 'the first rotation');

    const lineText = (i: number, rotated: string, masked = false) =>
      `line-${i} api=${masked ? MASK : api} signing=${masked ? MASK : signing} rotating=${masked ? MASK : rotated} done`;
    const js = client.connection.jetstream();
    const carried: string[] = [];
    let shipped = 0;
    const perShipment = Math.ceil(LINES / (SHIPPING_MS / SHIP_EVERY_MS));
    const shipper = (async () => {
      const started = Date.now();
      while (shipped < LINES) {
        // The last third carries a value written after the outage, once the redaction service masks it.
        if (shipped >= (2 * LINES) / 3) await rotationAfterOutage;
        const batch: Array<Promise<void>> = [];
        for (const end = Math.min(LINES, shipped + perShipment); shipped < end; shipped++) {
          carried[shipped] = known;
          batch.push(ship(js, `${run}-line-${shipped}`, lineText(shipped, known)));
        }
        await Promise.all(batch);
        const due = started + (shipped / perShipment) * SHIP_EVERY_MS - Date.now();
        if (due > 0) await sleep(due);
      }
    })();

    await until(() => shipped >= LINES / 3, 'a third of the lines shipped');
    await nats.stop();
    const outageEnds = Date.now() + OUTAGE_MS;
    // Committed while the broker is down: the outbox must publish it once the broker is back.
    const operations = await SecretsOperations.open({
      databaseUrl: database.url,
      masterKeys: loadSecretsConfig({ NODE_ENV: 'test', DATABASE_URL: database.url }).masterKeys,
    });
    try {
      await operations.purgeOrganization(SCRATCH_ORG);
    } finally {
      await operations.close();
    }
    const notReady = new Set<string>();
    while (Date.now() < outageEnds) {
      for (const service of services) if ((await service.readiness()).status === 503) notReady.add(service.name);
      await sleep(100);
    }
    await nats.restart();
    restarted = true;

    // Every service noticed, and recovers on its own: same processes, ready again.
    expect([...notReady].sort()).toEqual(['audit', 'redaction', 'secrets']);
    await until(
      async () => (await Promise.all(services.map((service) => service.readiness()))).every((r) => r.status === 200),
      'every service to be ready again',
    );
    expect(services.map((service) => service.pid)).toEqual(pids);
    await shipper;
    const rotationsBeforeEnd = rotating.length;
    await until(() => rotating.length >= rotationsBeforeEnd + 2, 'rotations after the outage');
    writing = false;
    await writer;

    // Nothing lost from the event store: every event, including the purge committed during the outage, is in
    // SECRETS_EVENTS once and in the audit trail once; the rotating secret has exactly one version per write.
    const { rows: events } = await sql.query<{ event_id: string; stream_id: string; type: string }>(
      'select event_id::text, stream_id, type from secrets.events order by position',
    );
    expect(events.filter((event) => event.stream_id === `secret:${ORG}:${CUSTOMER}:ROTATING`)).toHaveLength(
      rotating.length,
    );
    expect(events.map((event) => event.type)).toContain('OrganizationPurged');
    const eventIds = events.map((event) => event.event_id).sort();
    const stream = prefixedStreamName(prefix, 'SECRETS_EVENTS');
    expect((await publishedEventIds(client.connection, stream, events.length)).sort()).toEqual(eventIds);
    expect((await auditedEventIds(sql, events.length)).sort()).toEqual(eventIds);

    // Nothing lost or leaked from the logs: every line once in LOGS, exactly as shipped with its values masked.
    const logs = prefixedStreamName(prefix, 'LOGS');
    // Lines the server had handed to the redaction service as the broker stopped come back after the consumer's ack
    // wait (60 s), so this wait is bounded well above it.
    await until(
      async () => (await streamMessageCount(client.connection, logs)) >= LINES,
      `${LINES} lines in LOGS`,
      LOGS_CATCH_UP_TIMEOUT_MS,
    );
    const stored = (await readStream(client.connection, logs)).map((message) => Buffer.from(message.data).toString());
    expect(stored).toHaveLength(LINES);
    const expected = new Set(carried.map((_, i) => lineText(i, '', true)));
    const unexpected = stored.filter((text) => !expected.has(text));
    // Reported without the values themselves.
    const values = [api, signing, ...rotating];
    expect(
      unexpected.map((text) => values.reduce((line, value, i) => line.split(value).join(`<value ${i}>`), text)),
    ).toEqual([]);
    expect(new Set(stored).size).toBe(LINES);
    // Nor in what the services logged while reconnecting.
    const output = services.flatMap((service) => service.output).join('\n');
    expect(values.filter((value) => output.includes(value)).length).toBe(0);
    // The outage fell in the middle of the traffic: lines carried values rotated before it and after it.
    expect(new Set(carried).size).toBeGreaterThanOrEqual(2);
    expect(writtenAfterOutage.has(carried[LINES - 1])).toBe(true);
  }, 300_000);
});

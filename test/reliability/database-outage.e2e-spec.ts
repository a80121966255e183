// Database outage (issue 9): Postgres becomes unreachable for the secrets and audit services (a proxy in front of the
// shared server cuts their connections and refuses new ones; nobody else is disturbed). While it lasts every request
// is answered UNAVAILABLE — not left to time out — and readiness is false; afterwards both recover on their own:
// writes succeed, readiness is true, the outbox and the audit consumer carry on, and no refused write was applied.
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { generateReplyKeyPair } from '@platform/crypto';
import { prefixedStreamName } from '@platform/messaging';
import {
  type TestDatabase,
  TestTokens,
  createTestDatabase,
  testInfrastructure,
  uniqueSubjectPrefix,
} from '@platform/testing';
import { Cleanup } from './support/cleanup';
import { deleteStreamsOf, readStream, streamMessageCount } from './support/jetstream-messages';
import { PausableTcpProxy } from './support/pausable-tcp-proxy';
import { type CallOutcome, PlatformClient, describeOutcome } from './support/platform-client';
import { sized } from './support/reliability-size';
import { ServiceProcess } from './support/service-process';
import { sleep, until } from './support/wait';

const OUTAGE_MS = sized(3_000, 10_000);
const ORG = 'outageco';
/** The bound on hanging: an answer must come well before this, whatever the database does. */
const REQUEST_TIMEOUT_MS = 10_000;

/** A crash is the one failure a readiness probe cannot report; say so plainly, with the service's last words. */
function assertStillRunning(...services: ServiceProcess[]): void {
  for (const service of services) {
    if (!service.isRunning) throw new Error(`${service.name} exited during the outage:\n${service.tail()}`);
  }
}

describe('database outage', () => {
  const cleanup = new Cleanup();
  const prefix = uniqueSubjectPrefix();
  const run = randomBytes(4).toString('hex');
  let database: TestDatabase;
  let proxy: PausableTcpProxy;
  let secrets: ServiceProcess;
  let audit: ServiceProcess;
  let client: PlatformClient;
  let sql: Client;
  let tokens: TestTokens;
  let vendorAdmin: string;

  beforeAll(async () => {
    const { natsUrl, databaseUrl } = testInfrastructure();
    database = await createTestDatabase();
    cleanup.add('drop the database', () => database.drop());
    const target = new URL(databaseUrl);
    proxy = await PausableTcpProxy.start({ host: target.hostname, port: Number(target.port || 5432) });
    cleanup.add('close the proxy', () => proxy.close());
    client = await PlatformClient.connect(natsUrl, prefix);
    cleanup.add('close the NATS client', () => client.close());
    cleanup.add('delete the streams', () => deleteStreamsOf(client.connection, prefix));
    const env = { NATS_URL: natsUrl, NATS_SUBJECT_PREFIX: prefix, DATABASE_URL: proxy.proxiedUrl(database.url) };
    secrets = await ServiceProcess.start('secrets', env);
    cleanup.add('stop secrets', () => secrets.stop());
    audit = await ServiceProcess.start('audit', env);
    cleanup.add('stop audit', () => audit.stop());
    // The test's own view of the database goes around the proxy.
    sql = new Client({ connectionString: database.url });
    await sql.connect();
    cleanup.add('close the SQL client', () => sql.end());
    tokens = await TestTokens.create();
    vendorAdmin = await tokens.mint(
      { sub: 'admin@outageco', org: ORG, org_type: 'vendor', role: 'admin' },
      { expiresInSeconds: 3_600 },
    );
  }, 120_000);

  afterAll(() => cleanup.run(), 60_000);

  const value = (label: string) => `outage-${run}-${label}-${randomBytes(6).toString('hex')}`;

  async function acknowledged(subject: string, body: Record<string, unknown>, idempotencyKey: string) {
    const { body: reply } = await client.writeUntilAcknowledged(subject, body, {
      token: vendorAdmin,
      idempotencyKey,
      timeoutMs: REQUEST_TIMEOUT_MS,
    });
    return reply;
  }

  /** One of each kind of request the two services answer from Postgres. */
  async function requestsDuringOutage(round: number): Promise<Array<[string, CallOutcome]>> {
    const options = { token: vendorAdmin, timeoutMs: REQUEST_TIMEOUT_MS };
    const resolver = await tokens.service('render', ['secrets:resolve']);
    const { publicJwk } = await generateReplyKeyPair();
    return [
      ['create', await client.call('secrets.v1.create', { key: `DURING_${round}`, value: value('refused') }, options)],
      ['update', await client.call('secrets.v1.update', { key: 'API_KEY', value: value('refused') }, options)],
      ['get', await client.call('secrets.v1.get', { key: 'API_KEY' }, options)],
      ['list', await client.call('secrets.v1.list', {}, options)],
      ['history', await client.call('secrets.v1.history', { key: 'API_KEY' }, options)],
      [
        'resolve',
        await client.call(
          'secrets.v1.resolve',
          { organizationId: ORG, keys: ['API_KEY'], replyKey: publicJwk },
          { token: resolver, timeoutMs: REQUEST_TIMEOUT_MS },
        ),
      ],
      ['audit query', await client.call('audit.v1.query', {}, options)],
    ];
  }

  it(`answers UNAVAILABLE and reports not ready for a ${OUTAGE_MS} ms outage, then recovers by itself`, async () => {
    await acknowledged('secrets.v1.create', { key: 'API_KEY', value: value('v1') }, `${run}-create`);
    await acknowledged('secrets.v1.update', { key: 'API_KEY', value: value('v2') }, `${run}-before`);
    expect((await secrets.readiness()).status).toBe(200);
    expect((await audit.readiness()).status).toBe(200);

    proxy.pause();
    const outageEnds = Date.now() + OUTAGE_MS;
    const outcomes: Array<[string, CallOutcome]> = [];
    for (let round = 0; round === 0 || Date.now() < outageEnds; round++) {
      outcomes.push(...(await requestsDuringOutage(round)));
      await sleep(100);
    }
    await until(async () => {
      assertStillRunning(secrets, audit);
      return (await secrets.readiness()).status === 503 && (await audit.readiness()).status === 503;
    }, 'readiness to go false');
    expect((await secrets.readiness()).body.checks).toMatchObject({ postgres: false, nats: true });
    expect((await audit.readiness()).body.checks).toMatchObject({ postgres: false });
    const remaining = outageEnds - Date.now();
    if (remaining > 0) await sleep(remaining);
    proxy.resume();

    assertStillRunning(secrets, audit);
    // Every request was answered, each with UNAVAILABLE: none hung to its timeout, none failed another way.
    const notUnavailable = outcomes.filter(
      ([, outcome]) => !(outcome.kind === 'error' && outcome.code === 'UNAVAILABLE'),
    );
    expect(notUnavailable.map(([request, outcome]) => `${request}: ${describeOutcome(outcome)}`)).toEqual([]);
    expect(outcomes.every(([, outcome]) => outcome.kind === 'error' && outcome.status === 503)).toBe(true);
    expect(proxy.refusedConnections).toBeGreaterThan(0);

    // Recovery without a restart: the same processes become ready and accept writes again.
    const [secretsPid, auditPid] = [secrets.pid, audit.pid];
    await until(
      async () => (await secrets.readiness()).status === 200 && (await audit.readiness()).status === 200,
      'readiness to come back',
    );
    const after = await acknowledged('secrets.v1.update', { key: 'API_KEY', value: value('v3') }, `${run}-after`);
    expect(after.version).toBe(3);
    expect([secrets.pid, audit.pid]).toEqual([secretsPid, auditPid]);

    // No write refused during the outage was applied: the store holds exactly the three acknowledged ones.
    const { rows: events } = await sql.query<{ event_id: string; stream_id: string }>(
      'select event_id::text, stream_id from secrets.events order by position',
    );
    const secretEvents = events.filter((event) => event.stream_id.startsWith('secret:'));
    expect(secretEvents.map((event) => event.stream_id)).toEqual(Array(3).fill(`secret:${ORG}:_:API_KEY`));

    // The outbox and the audit consumer resumed: every event is published and audited once.
    const stream = prefixedStreamName(prefix, 'SECRETS_EVENTS');
    await until(
      async () => (await streamMessageCount(client.connection, stream)) >= events.length,
      'the outbox to publish every event',
    );
    const published = (await readStream(client.connection, stream)).map(
      (message) => (JSON.parse(Buffer.from(message.data).toString('utf8')) as { eventId: string }).eventId,
    );
    const eventIds = events.map((event) => event.event_id).sort();
    expect(published.sort()).toEqual(eventIds);
    await until(
      async () => (await sql.query('select 1 from audit.records')).rowCount! >= events.length,
      'the audit service to record every event',
    );
    const { rows: audited } = await sql.query<{ event_id: string }>('select event_id from audit.records');
    expect(audited.map((row) => row.event_id).sort()).toEqual(eventIds);
  }, 180_000);
});

// Database outage (issue 9): Postgres becomes unreachable for the secrets and audit services (a proxy in front of the
// shared server stages it for them alone), twice: once as resets (connections cut, new ones refused) and once as
// silence (nothing forwarded, no RST: a partition or a frozen server, which only the clients' own timeouts reveal).
// While it lasts every request is answered UNAVAILABLE — once readiness is false, within FAIL_FAST_MS — and
// readiness is false; afterwards both recover on their own: writes succeed, readiness is true, the outbox and the
// audit consumer carry on, and no refused write was applied.
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
import { auditedEventIds } from './support/audit-records';
import { Cleanup } from './support/cleanup';
import { deleteStreamsOf, publishedEventIds } from './support/jetstream-messages';
import { type OutageMode, PausableTcpProxy } from './support/pausable-tcp-proxy';
import { type CallOutcome, PlatformClient, describeOutcome } from './support/platform-client';
import { sized } from './support/reliability-size';
import { ServiceProcess } from './support/service-process';
import { sleep, until } from './support/wait';

const OUTAGE_MS = sized(3_000, 10_000);
const ORG = 'outageco';
/** The bound on hanging: an answer must come well before this, whatever the database does. */
const REQUEST_TIMEOUT_MS = 10_000;
/**
 * Fail fast, measured: once both services report not ready, each request is answered within this. The secrets
 * service refuses from its availability gate (closed by the probe that also feeds readiness) without touching
 * Postgres, so its refusals take milliseconds; the audit service's queries give up on a silent connection after
 * its pool's connect and query timeouts (1 s each, services/audit/src/records/audit-store.repository.ts). 2 s leaves one
 * timeout of slack on a loaded machine and is still a fifth of the outage's length.
 */
const FAIL_FAST_MS = 2_000;
/** Requests in one round of requestsDuringOutage: one of each kind. */
const ROUND_SIZE = 7;
/** How much longer than OUTAGE_MS the outage may last while waiting for readiness to report it. */
const MAX_OUTAGE_EXTENSION_MS = 60_000;

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

  interface TimedOutcome {
    readonly request: string;
    readonly outcome: CallOutcome;
    readonly startedAt: number;
    readonly tookMs: number;
  }

  /** One of each kind of request the two services answer from Postgres, each timed. */
  async function requestsDuringOutage(key: string, round: number): Promise<TimedOutcome[]> {
    const options = { token: vendorAdmin, timeoutMs: REQUEST_TIMEOUT_MS };
    const resolver = await ResolveCaller.create(tokens, 'deployer', ['secrets:resolve']);
    const requests: Array<[string, () => Promise<CallOutcome>]> = [
      ['create', () => client.call('secrets.v1.create', { key: `${key}_DURING_${round}`, value: value('x') }, options)],
      ['update', () => client.call('secrets.v1.update', { key, value: value('refused') }, options)],
      ['get', () => client.call('secrets.v1.get', { key }, options)],
      ['list', () => client.call('secrets.v1.list', {}, options)],
      ['history', () => client.call('secrets.v1.history', { key }, options)],
      [
        'resolve',
        () =>
          client.call('secrets.v1.resolve', resolver.request({ organizationId: ORG, keys: [key] }), {
            token: resolver.token,
            timeoutMs: REQUEST_TIMEOUT_MS,
          }),
      ],
      ['audit query', () => client.call('audit.v1.query', {}, options)],
    ];
    const timed: TimedOutcome[] = [];
    for (const [request, call] of requests) {
      const startedAt = Date.now();
      const outcome = await call();
      timed.push({ request, outcome, startedAt, tookMs: Date.now() - startedAt });
    }
    return timed;
  }

  /** Polls both services' readiness until stopped; remembers when both first reported not ready. */
  function watchReadiness(): { notReadySince: () => number | undefined; stop: () => Promise<void> } {
    let since: number | undefined;
    let stopped = false;
    const polling = (async () => {
      while (!stopped && since === undefined) {
        const [a, b] = await Promise.all([secrets.readiness(), audit.readiness()]);
        if (a.status === 503 && b.status === 503) since = Date.now();
        else await sleep(50);
      }
    })();
    return {
      notReadySince: () => since,
      stop: async () => {
        stopped = true;
        await polling;
      },
    };
  }

  it.each<OutageMode>(['reset', 'drop'])(
    `answers UNAVAILABLE fast and reports not ready for a ${OUTAGE_MS} ms outage (%s), then recovers by itself`,
    async (mode) => {
      const key = `API_KEY_${mode.toUpperCase()}`;
      await acknowledged('secrets.v1.create', { key, value: value('v1') }, `${run}-${mode}-create`);
      await acknowledged('secrets.v1.update', { key, value: value('v2') }, `${run}-${mode}-before`);
      await until(
        async () => (await secrets.readiness()).status === 200 && (await audit.readiness()).status === 200,
        'both services to be ready before the outage',
      );

      proxy.pause(mode);
      const outageEnds = Date.now() + OUTAGE_MS;
      const readiness = watchReadiness();
      const outcomes: TimedOutcome[] = [];
      // The outage lasts at least OUTAGE_MS and until one whole round of requests started after readiness went
      // false: on a loaded machine readiness may take most of OUTAGE_MS to notice, and the fail-fast check below
      // needs requests from after that moment, however few rounds fit.
      const roundsAfterNotReady = () => {
        const since = readiness.notReadySince();
        return since === undefined ? 0 : outcomes.filter(({ startedAt }) => startedAt >= since).length;
      };
      try {
        for (let round = 0; Date.now() < outageEnds || roundsAfterNotReady() < ROUND_SIZE; round++) {
          assertStillRunning(secrets, audit);
          if (Date.now() > outageEnds + MAX_OUTAGE_EXTENSION_MS) {
            throw new Error(`readiness did not go false within ${OUTAGE_MS + MAX_OUTAGE_EXTENSION_MS} ms of outage`);
          }
          outcomes.push(...(await requestsDuringOutage(key, round)));
          await sleep(100);
        }
      } finally {
        await readiness.stop();
      }
      expect((await secrets.readiness()).body.checks).toMatchObject({ postgres: false, nats: true });
      expect((await audit.readiness()).body.checks).toMatchObject({ postgres: false });
      proxy.resume();

      assertStillRunning(secrets, audit);
      // Every request was answered, each with UNAVAILABLE: none hung to its timeout, none failed another way.
      const notUnavailable = outcomes.filter(
        ({ outcome }) => !(outcome.kind === 'error' && outcome.code === 'UNAVAILABLE' && outcome.status === 503),
      );
      expect(notUnavailable.map(({ request, outcome }) => `${request}: ${describeOutcome(outcome)}`)).toEqual([]);
      // Fast: once readiness said so, no request waited on the database.
      const notReadySince = readiness.notReadySince()!;
      const afterNotReady = outcomes.filter(({ startedAt }) => startedAt >= notReadySince);
      expect(afterNotReady.length).toBeGreaterThanOrEqual(ROUND_SIZE);
      const slow = afterNotReady.filter(({ tookMs }) => tookMs >= FAIL_FAST_MS);
      expect(slow.map(({ request, tookMs }) => `${request} took ${tookMs} ms`)).toEqual([]);
      if (mode === 'reset') expect(proxy.refusedConnections).toBeGreaterThan(0);
      else expect(proxy.stalledConnections).toBeGreaterThan(0);

      // Recovery without a restart: the same processes become ready and accept writes again.
      const [secretsPid, auditPid] = [secrets.pid, audit.pid];
      await until(
        async () => (await secrets.readiness()).status === 200 && (await audit.readiness()).status === 200,
        'readiness to come back',
      );
      const after = await acknowledged('secrets.v1.update', { key, value: value('v3') }, `${run}-${mode}-after`);
      expect(after.version).toBe(3);
      expect([secrets.pid, audit.pid]).toEqual([secretsPid, auditPid]);
      const query = await client.call('audit.v1.query', {}, { token: vendorAdmin, timeoutMs: REQUEST_TIMEOUT_MS });
      expect(describeOutcome(query)).toBe('success');

      // No write refused during the outage was applied: the store holds exactly the three acknowledged ones.
      const { rows: events } = await sql.query<{ event_id: string; stream_id: string }>(
        'select event_id::text, stream_id from secrets.events order by position',
      );
      const secretEvents = events.filter((event) => event.stream_id.startsWith(`secret:${ORG}:_:${key}`));
      expect(secretEvents.map((event) => event.stream_id)).toEqual(Array(3).fill(`secret:${ORG}:_:${key}`));

      // The outbox and the audit consumer resumed: every event is published and audited once.
      const stream = prefixedStreamName(prefix, 'SECRETS_EVENTS');
      const published = await publishedEventIds(client.connection, stream, events.length);
      const eventIds = events.map((event) => event.event_id).sort();
      expect(published.sort()).toEqual(eventIds);
      expect((await auditedEventIds(sql, events.length)).sort()).toEqual(eventIds);
    },
    180_000,
  );
});

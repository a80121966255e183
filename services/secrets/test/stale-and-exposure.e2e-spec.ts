// Issue 18 §6 and §7 over plain JSON NATS: an update of a key a deployment runs publishes a stale notification on
// DEPLOYMENTS_EVENTS naming it (per customer subject); a re-render makes it current; a log line showing a value on the
// deployment's log subject becomes a SecretExposed record (audit) and `exposed` on get; a rebuild reproduces the
// deployment index and the exposure rows; only redaction's own token may report an exposure.
import { type PostgresEventStore } from '@platform/event-store';
import { prefixedStreamName } from '@platform/messaging';
import {
  PlaintextValues,
  resolveAs,
  type TestDatabase,
  type TestNatsClient,
  type TestPlatform,
  type TestService,
  type TestTokens,
  eventuallyValue,
  startTestPlatform,
  testTenants,
} from '@platform/testing';
import { auditService } from '../../audit/src/audit.definition';
import { redactionService } from '../../redaction/src/redaction.definition';
import { SecretsOperations } from '../src/ops/secrets-operations';
import { secretsService } from '../src/secrets.definition';
import { openSecretsStore } from '../src/secrets.migrations';
import { devMasterKeyMaterial } from './support/dev-master-keys';

interface StaleJson {
  eventId: string;
  organizationId: string;
  customerOrganizationId: string | null;
  key: string;
  scope: string;
  version: number;
  deleted: boolean;
  deployments: Array<{ deploymentId: string; receivedVersion: number; lastRenderedAt: string }>;
  part: number;
  parts: number;
}
interface ExposureJson {
  version: number;
  firstSeenAt: string;
  lastSeenAt: string;
  lineCount: number;
}
interface SecretJson {
  key: string;
  version: number;
  exposed?: boolean;
  exposure?: ExposureJson;
}
interface AuditRecordJson {
  type: string;
  key: string | null;
  customerOrganizationId: string | null;
  deploymentId?: string;
  actor: { sub: string };
  resolved: Array<{ key: string; version: number; scope: string }>;
}
interface ErrorJson {
  error: { code: string; message: string };
}

const { vendor, customer, otherCustomer } = testTenants();
const plaintexts = new PlaintextValues();
const POLL = { timeoutMs: 30_000, intervalMs: 100 };

describe('stale notifications and exposures (plain JSON over NATS)', () => {
  let platform: TestPlatform;
  let database: TestDatabase;
  let secrets: TestService;
  let client: TestNatsClient;
  let tokens: TestTokens;
  let store: PostgresEventStore;
  let prefix: string;
  let admin: string;
  let customerAdmin: string;
  let otherCustomerAdmin: string;
  let renderToken: string;
  const values = new Map<string, string>();

  const call = <T>(subject: string, body: unknown, token = admin) => client.request<T>(subject, body, { token });
  const succeed = async <T>(subject: string, body: Record<string, unknown>, token = admin) => {
    const reply = await call<T>(subject, body, token);
    expect(reply.body).not.toHaveProperty('error');
    expect(reply.status).toBeUndefined();
    return reply.body;
  };
  const refused = async (subject: string, body: unknown, token: string, status: number, code: string) => {
    const reply = await call<ErrorJson>(subject, body, token);
    expect([reply.status, reply.body.error?.code]).toEqual([status, code]);
    return reply.body.error;
  };

  /** As render resolves for a deployment: a bound service token, a fresh reply key and nonce, the reply checked. */
  async function resolveFor(deploymentId: string, request: Record<string, unknown>) {
    const { reply, opened } = await resolveAs(client, tokens, renderToken, {
      organizationId: vendor,
      deploymentId,
      ...request,
    });
    expect(reply.status).toBeUndefined();
    return opened as { values: Record<string, { value: string; version: number }> };
  }

  /** The newest stale notification stored on a customer's (or `_`) subject of DEPLOYMENTS_EVENTS, if any. */
  async function lastStale(customerToken: string): Promise<StaleJson | undefined> {
    const manager = await client.connection.jetstreamManager();
    try {
      const message = await manager.streams.getMessage(prefixedStreamName(prefix, 'DEPLOYMENTS_EVENTS'), {
        last_by_subj: `${prefix}deployments.events.${vendor}.${customerToken}.stale`,
      });
      expect(message.string()).not.toMatch(/-[0-9a-f]{24}/);
      return message.json<StaleJson>();
    } catch (error) {
      if (/no message found/i.test(String((error as Error).message))) return undefined;
      throw error;
    }
  }

  const staleAt = (customerToken: string, key: string, version: number) =>
    eventuallyValue(
      `a stale notification for ${key} v${version} on ${customerToken}`,
      () => lastStale(customerToken),
      (found) => found?.key === key && found.version === version,
      POLL,
    ) as Promise<StaleJson>;

  const create = async (key: string, label: string, customerOrganizationId?: string) => {
    const value = plaintexts.next(label);
    values.set(`${customerOrganizationId ?? '_'}/${key}`, value);
    await succeed('secrets.v1.create', { key, value, customerOrganizationId });
  };

  beforeAll(async () => {
    platform = await startTestPlatform([secretsService, auditService]);
    ({ database, prefix, client, tokens } = platform);
    [secrets] = platform.services;
    await platform.start(redactionService, { REDACTION_EXPOSURE_WINDOW_SECONDS: '1', REDACTION_SETTLE_MS: '500' });
    store = platform.adopt(
      await openSecretsStore(database.url, { poolSize: 2, applicationName: 'stale-exposure-spec' }),
    );
    [admin, customerAdmin, otherCustomerAdmin, renderToken] = await Promise.all([
      tokens.vendor(vendor, 'admin'),
      tokens.customer(vendor, customer, 'read_write'),
      tokens.customer(vendor, otherCustomer, 'admin'),
      tokens.service('deployer', ['secrets:resolve']),
    ]);
    await create('DB_PASSWORD', 'db');
    await create('API_KEY', 'api-globex', customer);
    await create('API_KEY', 'api-hooli', otherCustomer);
    // web: vendor-level; shop of customer: the vendor DB_PASSWORD and its own API_KEY; shop of otherCustomer: both too.
    await resolveFor('web', { keys: ['DB_PASSWORD'] });
    await resolveFor('shop', { customerOrganizationId: customer, keys: ['DB_PASSWORD', 'API_KEY'] });
    await resolveFor('shop', { customerOrganizationId: otherCustomer, keys: ['DB_PASSWORD', 'API_KEY'] });
  }, 120_000);

  afterAll(() => platform?.close());

  it('publishes, after an update, one replayable stale notification per customer subject naming its deployments', async () => {
    const updated = await succeed<{ affectedDeployments: { count: number } }>('secrets.v1.update', {
      key: 'DB_PASSWORD',
      value: plaintexts.next('db2'),
    });
    expect(updated.affectedDeployments.count).toBe(3);

    const vendorLevel = await staleAt('_', 'DB_PASSWORD', 2);
    expect(vendorLevel).toMatchObject({ organizationId: vendor, customerOrganizationId: null, scope: 'vendor' });
    expect(vendorLevel.deployments.map((d) => [d.deploymentId, d.receivedVersion])).toEqual([['web', 1]]);
    // A customer's subject names only that customer's deployments: a subscriber to it sees its own and nothing else.
    const own = await staleAt(customer, 'DB_PASSWORD', 2);
    expect(own).toMatchObject({ customerOrganizationId: customer, deleted: false, part: 1, parts: 1 });
    expect(own.deployments.map((d) => d.deploymentId)).toEqual(['shop']);
    const other = await staleAt(otherCustomer, 'DB_PASSWORD', 2);
    expect(other.customerOrganizationId).toBe(otherCustomer);
    expect(other.deployments.map((d) => d.deploymentId)).toEqual(['shop']);
    expect(new Set([vendorLevel.eventId, own.eventId, other.eventId]).size).toBe(1);

    // A customer key's change reaches that customer's subject only.
    await succeed('secrets.v1.update', { key: 'API_KEY', value: plaintexts.next('api-globex2') }, customerAdmin);
    expect((await staleAt(customer, 'API_KEY', 2)).scope).toBe('customer');
    expect((await lastStale(otherCustomer))?.key).toBe('DB_PASSWORD');
  });

  it('stops listing a re-rendered deployment as stale', async () => {
    const staleOnly = async (token: string) =>
      (
        await succeed<{ deployments: Array<{ deploymentId: string; customerOrganizationId: string | null }> }>(
          'secrets.v1.deployments',
          { staleOnly: true },
          token,
        )
      ).deployments.map((d) => d.deploymentId);
    expect(await staleOnly(customerAdmin)).toEqual(['shop']);
    await resolveFor('shop', { customerOrganizationId: customer, keys: ['DB_PASSWORD', 'API_KEY'] });
    expect(await staleOnly(customerAdmin)).toEqual([]);
    // The other customer's shop still runs the old DB_PASSWORD: its own listing says so, and it sees only its own.
    expect(await staleOnly(otherCustomerAdmin)).toEqual(['shop']);
  });

  it('records a SecretExposed when a deployment logs a value, and shows it on get and list, to its scope only', async () => {
    const dbValue = await resolveFor('shop', { customerOrganizationId: customer, keys: ['DB_PASSWORD', 'API_KEY'] });
    const js = client.connection.jetstream();
    const line = `connecting with password=${dbValue.values.DB_PASSWORD.value} token=${dbValue.values.API_KEY.value}`;
    await js.publish(`${prefix}logs.raw.${vendor}.${customer}.shop`, Buffer.from(line));
    await js.publish(`${prefix}logs.raw.${vendor}.${customer}.shop`, Buffer.from(`again ${line}`));

    const exposed = await eventuallyValue(
      'DB_PASSWORD exposed on get',
      async () => (await call<SecretJson>('secrets.v1.get', { key: 'DB_PASSWORD' })).body,
      (secret) => secret.exposed === true,
      POLL,
    );
    expect(exposed.exposure).toMatchObject({ version: 2, lineCount: expect.any(Number) as number });
    expect(exposed.exposure!.lineCount).toBeGreaterThanOrEqual(1);
    expect(Date.parse(exposed.exposure!.lastSeenAt)).toBeGreaterThanOrEqual(Date.parse(exposed.exposure!.firstSeenAt));

    // The customer's own key, for its own user; the other customer's key of the same name was never shown.
    const ownKey = await eventuallyValue(
      'API_KEY exposed for its customer',
      async () => (await call<SecretJson>('secrets.v1.get', { key: 'API_KEY' }, customerAdmin)).body,
      (secret) => secret.exposed === true,
      POLL,
    );
    expect(ownKey.exposure?.version).toBe(2);
    const othersKey = (await call<SecretJson>('secrets.v1.get', { key: 'API_KEY' }, otherCustomerAdmin)).body;
    expect(othersKey.key).toBe('API_KEY');
    expect(othersKey.exposed).toBeUndefined();
    expect(othersKey.exposure).toBeUndefined();
    const listed = await succeed<{ secrets: SecretJson[] }>('secrets.v1.list', {});
    expect(listed.secrets.find((s) => s.key === 'DB_PASSWORD' && s.version === 2)?.exposed).toBe(true);

    // Audit: metadata only, by deployment, actor redaction; the other customer sees none of it.
    const records = await eventuallyValue(
      'SecretExposed in audit',
      async () =>
        (
          await call<{ records: AuditRecordJson[] }>(
            'audit.v1.query',
            { types: ['SecretExposed'], deploymentId: 'shop' },
            customerAdmin,
          )
        ).body.records ?? [],
      (found) => found.some((r) => r.key === 'DB_PASSWORD') && found.some((r) => r.key === 'API_KEY'),
      POLL,
    );
    const db = records.find((r) => r.key === 'DB_PASSWORD')!;
    expect(db).toMatchObject({
      type: 'SecretExposed',
      customerOrganizationId: customer,
      deploymentId: 'shop',
      actor: { sub: 'service:redaction' },
      resolved: [{ key: 'DB_PASSWORD', version: 2, scope: 'vendor' }],
    });
    expect(JSON.stringify(records)).not.toContain(dbValue.values.DB_PASSWORD.value);
    const othersAudit = await succeed<{ records?: AuditRecordJson[] }>(
      'audit.v1.query',
      { types: ['SecretExposed'] },
      otherCustomerAdmin,
    );
    expect(othersAudit.records ?? []).toEqual([]);
    const metrics = await (await fetch(`http://127.0.0.1:${secrets.httpPort}/metrics`)).text();
    expect(metrics).toMatch(/^secrets_exposures_total\{scope="vendor"[^}]*\} [1-9]/m);
  });

  it('takes exposure reports from redaction’s own token only, and lets that token do nothing else', async () => {
    const report = {
      organizationId: vendor,
      customerOrganizationId: customer,
      deploymentId: 'shop',
      key: 'DB_PASSWORD',
      scope: 'vendor',
      version: 1,
      lineCount: 1,
      firstSeenAt: new Date(Date.now() - 1000).toISOString(),
      lastSeenAt: new Date().toISOString(),
    };
    const redactionToken = () => tokens.platformService('redaction', 'secrets', ['secrets:report-exposure']);
    // The clients key cannot sign redaction's name, and its scope alone does not make a token redaction's.
    const forged = await refused(
      'secrets.v1.reportexposure',
      report,
      await tokens.mint({
        sub: 'service:redaction',
        org: 'redaction',
        org_type: 'service',
        scope: 'secrets:report-exposure',
      }),
      401,
      'UNAUTHENTICATED',
    );
    expect(forged.message).toContain('token key may not sign a platform service');
    await refused(
      'secrets.v1.reportexposure',
      report,
      await tokens.service('ci', ['secrets:report-exposure']),
      403,
      'PERMISSION_DENIED',
    );
    await refused('secrets.v1.reportexposure', report, admin, 403, 'PERMISSION_DENIED');
    await refused('secrets.v1.reportexposure', report, customerAdmin, 403, 'PERMISSION_DENIED');
    // Redaction's own key may not sign scopes beyond its own.
    await refused(
      'secrets.v1.reportexposure',
      report,
      await tokens.platformService('redaction', 'secrets', ['secrets:report-exposure', 'render:any']),
      401,
      'UNAUTHENTICATED',
    );
    // With redaction's token: only well-formed reports of versions that exist; nothing but reports.
    await refused('secrets.v1.reportexposure', { ...report, version: 9 }, await redactionToken(), 404, 'NOT_FOUND');
    await refused(
      'secrets.v1.reportexposure',
      { ...report, scope: 'everyone' },
      await redactionToken(),
      400,
      'INVALID_ARGUMENT',
    );
    await refused(
      'secrets.v1.reportexposure',
      { ...report, value: 'x' },
      await redactionToken(),
      400,
      'INVALID_ARGUMENT',
    );
    await refused(
      'secrets.v1.update',
      { key: 'DB_PASSWORD', value: 'x-y-z-w' },
      await redactionToken(),
      403,
      'PERMISSION_DENIED',
    );
    await refused('secrets.v1.deployments', {}, await redactionToken(), 403, 'PERMISSION_DENIED');
    const accepted = await succeed<{ eventId: string }>('secrets.v1.reportexposure', report, await redactionToken());
    expect(accepted.eventId).toMatch(/^[0-9a-f-]{36}$/);
    // An older version's report leaves the secret's latest exposure as it was.
    expect((await succeed<SecretJson>('secrets.v1.get', { key: 'DB_PASSWORD' })).exposure?.version).toBe(2);
  });

  it('rebuilds the deployment index and the exposure rows row for row', async () => {
    const rows = async () => ({
      index: await store.query(
        `select organization_id, customer_id, deployment_id, last_rendered_at, requested_by, refs
         from deployment_index order by organization_id, customer_id, deployment_id`,
      ),
      exposure: await store.query(
        `select organization_id, customer_id, key, version, first_seen_at, last_seen_at, line_count
         from secret_exposure order by organization_id, customer_id, key`,
      ),
    });
    const before = await rows();
    expect(before.index.length).toBe(3);
    expect(before.exposure.length).toBe(2);
    await store.query(`update deployment_index set refs = '[]'::jsonb`);
    await store.query(`update secret_exposure set line_count = 0, version = 0`);
    const ops = await SecretsOperations.open({ databaseUrl: database.url, masterKeys: devMasterKeyMaterial });
    try {
      const report = await ops.rebuildProjections();
      expect(report.secretExposure.events).toBeGreaterThanOrEqual(2);
    } finally {
      await ops.close();
    }
    expect(await rows()).toEqual(before);
  });

  it("drops a purged customer's exposure rows, live and on rebuild, and keeps the vendor's", async () => {
    const exposures = () =>
      store.query<{ customer_id: string; key: string }>(
        `select customer_id, key from secret_exposure where organization_id = $1 order by customer_id, key`,
        [vendor],
      );
    expect(await exposures()).toEqual([
      { customer_id: '', key: 'DB_PASSWORD' },
      { customer_id: customer, key: 'API_KEY' },
    ]);
    const ops = await SecretsOperations.open({ databaseUrl: database.url, masterKeys: devMasterKeyMaterial });
    try {
      await ops.purgeCustomer(vendor, customer);
      expect(await exposures()).toEqual([{ customer_id: '', key: 'DB_PASSWORD' }]);
      await ops.rebuildProjections();
    } finally {
      await ops.close();
    }
    expect(await exposures()).toEqual([{ customer_id: '', key: 'DB_PASSWORD' }]);
  });
});

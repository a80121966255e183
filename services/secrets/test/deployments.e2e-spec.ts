import { randomUUID } from 'node:crypto';
import {
  PlaintextValues,
  ResolveCaller,
  resolveAs,
  type TestDatabase,
  type TestNatsClient,
  type TestPlatform,
  type TestTokens,
  eventually,
  startTestPlatform,
  testTenants,
} from '@platform/testing';
import { type InlineProjection, type PostgresEventStore } from '@platform/event-store';
import { type NatsConnection } from 'nats';
import { auditService } from '../../audit/src/audit.definition';
import { SecretsOperations } from '../src/ops/secrets-operations';
import { DeploymentIndexProjection } from '../src/secrets/deployment-index.projection';
import { secretsService } from '../src/secrets.definition';
import { openSecretsStore } from '../src/secrets.migrations';
import { devMasterKeyMaterial } from './support/dev-master-keys';

interface ReferenceJson {
  key: string;
  version: number;
  scope: string;
  latestVersion: number;
  deleted: boolean;
}
interface DeploymentJson {
  deploymentId: string;
  customerOrganizationId: string | null;
  lastRenderedAt: string;
  requestedBy: { sub: string; org: string; role: string };
  references: ReferenceJson[];
  stale: boolean;
}
interface PageJson {
  deployments: DeploymentJson[];
  nextPageToken?: string;
}
interface ErrorJson {
  error: { code: string; message: string; details?: Record<string, unknown> };
}

const { vendor, otherVendor, customer, otherCustomer } = testTenants();
const plaintexts = new PlaintextValues();

describe('secrets.v1.deployments and secrets.v1.forgetdeployment over NATS (plain JSON)', () => {
  let platform: TestPlatform;
  let database: TestDatabase;
  let client: TestNatsClient;
  let tokens: TestTokens;
  let store: PostgresEventStore;
  let spy: NatsConnection;
  let prefix: string;
  let admin: string;
  let readOnly: string;
  let customerAdmin: string;
  let otherCustomerAdmin: string;
  let otherVendorAdmin: string;
  let renderToken: string;

  const call = <T>(subject: string, body: unknown, token: string) => client.request<T>(subject, body, { token });
  const refusal = (reply: { body: unknown }) => (reply.body as ErrorJson).error;
  const deployments = async (body: Record<string, unknown>, token = admin) => {
    const reply = await call<PageJson>('secrets.v1.deployments', body, token);
    expect(reply.status).toBeUndefined();
    return reply.body;
  };
  const write = async (subject: string, body: Record<string, unknown>) => {
    const reply = await call(subject, body, admin);
    expect(reply.status).toBeUndefined();
  };

  /** As render resolves for a deployment: a bound service token, a fresh reply key and nonce, the reply checked. */
  async function resolveFor(deploymentId: string, request: Record<string, unknown>) {
    const { reply, opened } = await resolveAs(client, tokens, renderToken, {
      organizationId: vendor,
      deploymentId,
      ...request,
    });
    expect(reply.status).toBeUndefined();
    return opened;
  }

  const indexRows = () =>
    store.query(
      `select organization_id, customer_id, deployment_id, last_rendered_at, requested_by, refs
       from deployment_index order by organization_id, customer_id, deployment_id`,
    );

  beforeAll(async () => {
    platform = await startTestPlatform([secretsService, auditService]);
    ({ database, prefix, client, tokens } = platform);
    store = platform.adopt(await openSecretsStore(database.url, { poolSize: 2, applicationName: 'deployments-spec' }));
    spy = await platform.connect('deployments-spy');
    [admin, readOnly, customerAdmin, otherCustomerAdmin, otherVendorAdmin, renderToken] = await Promise.all([
      tokens.vendor(vendor, 'admin'),
      tokens.vendor(vendor, 'read_only'),
      tokens.customer(vendor, customer, 'read_write'),
      tokens.customer(vendor, otherCustomer, 'admin'),
      tokens.vendor(otherVendor, 'admin'),
      tokens.service('deployer', ['secrets:resolve']),
    ]);
    await write('secrets.v1.create', { key: 'DB_PASSWORD', value: plaintexts.next('db') });
    await write('secrets.v1.create', { key: 'API_KEY', value: plaintexts.next('api-vendor') });
    await write('secrets.v1.create', {
      key: 'API_KEY',
      value: plaintexts.next('api-customer'),
      customerOrganizationId: customer,
    });
  });

  afterAll(() => platform?.close());

  it('lists a deployment with what it received, marks it stale after an update, and fresh after a re-render', async () => {
    await resolveFor('web', { customerOrganizationId: customer, keys: ['DB_PASSWORD', 'API_KEY'] });

    const listed = await deployments({ deploymentId: 'web' });
    expect(listed).toEqual({
      deployments: [
        {
          deploymentId: 'web',
          customerOrganizationId: customer,
          lastRenderedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
          requestedBy: { sub: 'service:deployer', org: 'deployer', role: '' },
          references: expect.arrayContaining([
            { key: 'DB_PASSWORD', version: 1, scope: 'vendor', latestVersion: 1, deleted: false },
            { key: 'API_KEY', version: 1, scope: 'customer', latestVersion: 1, deleted: false },
          ]),
          stale: false,
        },
      ],
    });
    expect(listed.deployments[0].references).toHaveLength(2);
    expect((await deployments({ staleOnly: true })).deployments).toEqual([]);

    await write('secrets.v1.update', { key: 'DB_PASSWORD', value: plaintexts.next('db2') });
    const stale = await deployments({ staleOnly: true });
    expect(stale.deployments.map((d) => d.deploymentId)).toEqual(['web']);
    expect(stale.deployments[0].stale).toBe(true);
    expect(stale.deployments[0].references).toContainEqual({
      key: 'DB_PASSWORD',
      version: 1,
      scope: 'vendor',
      latestVersion: 2,
      deleted: false,
    });
    // The customer's own API_KEY overrides the vendor's: a vendor-level update of API_KEY does not make it stale.
    await write('secrets.v1.update', { key: 'API_KEY', value: plaintexts.next('api-vendor2') });
    expect((await deployments({ deploymentId: 'web' })).deployments[0].references).toContainEqual({
      key: 'API_KEY',
      version: 1,
      scope: 'customer',
      latestVersion: 1,
      deleted: false,
    });

    await resolveFor('web', { customerOrganizationId: customer, keys: ['DB_PASSWORD', 'API_KEY'] });
    expect((await deployments({ staleOnly: true })).deployments).toEqual([]);
    const fresh = await deployments({ deploymentId: 'web' });
    expect(fresh.deployments[0]).toMatchObject({ stale: false });
    expect(fresh.deployments[0].references).toContainEqual({
      key: 'DB_PASSWORD',
      version: 2,
      scope: 'vendor',
      latestVersion: 2,
      deleted: false,
    });
  });

  it('filters by key and customer, and marks a deployment of a deleted key stale', async () => {
    await write('secrets.v1.create', { key: 'TEMP_TOKEN', value: plaintexts.next('temp') });
    await resolveFor('batch', { keys: ['TEMP_TOKEN'] });
    expect((await deployments({ key: 'TEMP_TOKEN' })).deployments.map((d) => d.deploymentId)).toEqual(['batch']);
    expect((await deployments({ key: 'NEVER_USED' })).deployments).toEqual([]);
    // A vendor-level deployment has no customer; naming a customer lists that customer's only.
    expect((await deployments({ deploymentId: 'batch' })).deployments[0].customerOrganizationId).toBeNull();
    expect((await deployments({ customerOrganizationId: customer, key: 'TEMP_TOKEN' })).deployments).toEqual([]);

    // batch still uses it: only a forced delete goes through (affected-deployments.e2e-spec.ts tests the refusal).
    await write('secrets.v1.delete', { key: 'TEMP_TOKEN', force: true });
    const [deleted] = (await deployments({ staleOnly: true, key: 'TEMP_TOKEN' })).deployments;
    expect(deleted).toMatchObject({ deploymentId: 'batch', stale: true });
    expect(deleted.references).toEqual([
      { key: 'TEMP_TOKEN', version: 1, scope: 'vendor', latestVersion: 2, deleted: true },
    ]);
  });

  it('shows a customer user its own deployments only', async () => {
    await resolveFor('web', { customerOrganizationId: otherCustomer, keys: ['DB_PASSWORD'] });
    const own = await deployments({}, customerAdmin);
    expect(own.deployments.map((d) => [d.customerOrganizationId, d.deploymentId])).toEqual([[customer, 'web']]);
    const others = await deployments({}, otherCustomerAdmin);
    expect(others.deployments.map((d) => [d.customerOrganizationId, d.deploymentId])).toEqual([[otherCustomer, 'web']]);
    expect((await deployments({ customerOrganizationId: customer }, customerAdmin)).deployments).toHaveLength(1);

    const crossing = await call('secrets.v1.deployments', { customerOrganizationId: otherCustomer }, customerAdmin);
    expect(crossing.status).toBe(403);
    expect(refusal(crossing)).toEqual({
      code: 'PERMISSION_DENIED',
      message: 'a customer can only address its own secrets',
    });
    // Another vendor sees none of this organization's deployments; the vendor sees all, vendor-level first.
    expect((await deployments({}, otherVendorAdmin)).deployments).toEqual([]);
    // testTenants: the customer (globex…) sorts before the other customer (hooli…).
    expect(
      (await deployments({}, readOnly)).deployments.map((d) => [d.customerOrganizationId, d.deploymentId]),
    ).toEqual([
      [null, 'batch'],
      [customer, 'web'],
      [otherCustomer, 'web'],
    ]);
    const forgetOther = await call(
      'secrets.v1.forgetdeployment',
      { deploymentId: 'web', customerOrganizationId: otherCustomer },
      customerAdmin,
    );
    expect(forgetOther.status).toBe(403);
    expect(refusal(forgetOther).code).toBe('PERMISSION_DENIED');
  });

  it('pages through deployments in a stable order', async () => {
    for (const id of ['page-a', 'page-b', 'page-c']) {
      await resolveFor(id, { customerOrganizationId: customer, keys: ['API_KEY'] });
    }
    const seen: string[] = [];
    let pageToken: string | undefined;
    do {
      const page = await deployments({ customerOrganizationId: customer, pageSize: 2, pageToken }, customerAdmin);
      expect(page.deployments.length).toBeLessThanOrEqual(2);
      seen.push(...page.deployments.map((d) => d.deploymentId));
      pageToken = page.nextPageToken;
    } while (pageToken);
    expect(seen).toEqual(['page-a', 'page-b', 'page-c', 'web']);
  });

  it('forgets a deployment: the event is published, and the deployment is no longer listed', async () => {
    await resolveFor('gone', { customerOrganizationId: customer, keys: ['API_KEY'] });
    const events = spy.subscribe(`${prefix}secrets.events.${vendor}.DeploymentForgotten`, { max: 1 });
    await spy.flush();
    const published = (async () => {
      for await (const message of events) return JSON.parse(new TextDecoder().decode(message.data)) as object;
      return undefined;
    })();

    const readOnlyForget = await call('secrets.v1.forgetdeployment', { deploymentId: 'gone' }, readOnly);
    expect(readOnlyForget.status).toBe(403);
    expect(refusal(readOnlyForget)).toEqual({
      code: 'PERMISSION_DENIED',
      message: 'forgetting a deployment needs the read_write or admin role',
    });
    // Without a customer the vendor-level deployment is meant, and there is none called "gone".
    const vendorLevel = await call('secrets.v1.forgetdeployment', { deploymentId: 'gone' }, admin);
    expect(vendorLevel.status).toBe(404);
    expect(refusal(vendorLevel)).toEqual({
      code: 'NOT_FOUND',
      message: 'deployment "gone" not found in this scope',
      details: { deploymentId: 'gone' },
    });

    const forgotten = await call<{ deploymentId: string; customerOrganizationId: string; forgottenAt: string }>(
      'secrets.v1.forgetdeployment',
      { deploymentId: 'gone' },
      customerAdmin,
    );
    expect(forgotten.status).toBeUndefined();
    expect(forgotten.body).toEqual({
      deploymentId: 'gone',
      customerOrganizationId: customer,
      forgottenAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    expect((await deployments({ deploymentId: 'gone', customerOrganizationId: customer })).deployments).toEqual([]);
    expect(await published).toMatchObject({
      type: 'DeploymentForgotten',
      organizationId: vendor,
      customerOrganizationId: customer,
      key: null,
      actor: { sub: expect.stringContaining(customer), org: customer, role: 'read_write' },
    });
    // Audit records it in the customer's scope, as it records every event type.
    const audited = async () =>
      (
        await call<{ records: Array<{ type: string; customerOrganizationId: string | null; actor: { sub: string } }> }>(
          'audit.v1.query',
          { types: ['DeploymentForgotten'] },
          customerAdmin,
        )
      ).body.records ?? [];
    await eventually('the forget is in the audit trail', async () => (await audited()).length === 1);
    expect(await audited()).toEqual([
      expect.objectContaining({ type: 'DeploymentForgotten', customerOrganizationId: customer }),
    ]);

    const again = await call('secrets.v1.forgetdeployment', { deploymentId: 'gone' }, customerAdmin);
    expect(refusal(again).code).toBe('NOT_FOUND');

    // A new render brings it back.
    await resolveFor('gone', { customerOrganizationId: customer, keys: ['API_KEY'] });
    expect((await deployments({ deploymentId: 'gone', customerOrganizationId: customer })).deployments).toHaveLength(1);

    // One that stays forgotten, for the rebuild below: its render and its forget may land in one replay batch.
    await resolveFor('retired', { keys: ['DB_PASSWORD'] });
    const retired = await call('secrets.v1.forgetdeployment', { deploymentId: 'retired' }, admin);
    expect(retired.status).toBeUndefined();
    expect((await deployments({ deploymentId: 'retired' })).deployments).toEqual([]);
  });

  it.each([
    ['secrets.v1.deployments', { key: '1BAD' }, undefined],
    ['secrets.v1.deployments', { deploymentId: 'no spaces' }, 'deploymentId'],
    ['secrets.v1.deployments', { customerOrganizationId: '-x' }, 'customerOrganizationId'],
    ['secrets.v1.deployments', { pageToken: 'bm90IGEgdG9rZW4' }, 'pageToken'],
    ['secrets.v1.deployments', { staleOnly: 'yes' }, undefined],
    ['secrets.v1.forgetdeployment', { deploymentId: '' }, 'deploymentId'],
    ['secrets.v1.forgetdeployment', { deploymentId: 'x', extra: 1 }, undefined],
  ])('refuses %s %j as INVALID_ARGUMENT', async (subject, body, field) => {
    const reply = await call(subject, body, admin);
    expect(reply.status).toBe(400);
    expect(refusal(reply).code).toBe('INVALID_ARGUMENT');
    if (field !== undefined) expect(refusal(reply).details).toMatchObject({ field });
  });

  it('names the rule a bad key filter breaks', async () => {
    const reply = await call('secrets.v1.deployments', { key: '1BAD' }, admin);
    expect(refusal(reply)).toEqual({
      code: 'INVALID_ARGUMENT',
      message: 'key is invalid: it must start with a letter and contain only letters, digits and underscores',
    });
  });

  it('refuses a resolve naming a deploymentId that is not an identifier', async () => {
    const caller = await ResolveCaller.bindToken(tokens, renderToken);
    const body = caller.request({ organizationId: vendor, deploymentId: 'a.b', keys: ['API_KEY'] });
    const reply = await call('secrets.v1.resolve', body, caller.token);
    expect(reply.status).toBe(400);
    expect(refusal(reply)).toMatchObject({ code: 'INVALID_ARGUMENT', details: { field: 'deploymentId' } });
  });

  it('refuses service tokens and missing tokens on both subjects', async () => {
    for (const subject of ['secrets.v1.deployments', 'secrets.v1.forgetdeployment']) {
      const asService = await call(subject, { deploymentId: 'web' }, renderToken);
      expect(refusal(asService)).toEqual({ code: 'PERMISSION_DENIED', message: 'this subject is for users' });
      const anonymous = await client.request(subject, { deploymentId: 'web' });
      expect(refusal(anonymous).code).toBe('UNAUTHENTICATED');
    }
  });

  it('takes who asked from requestedBy when the event names one, the last event of an append winning', async () => {
    const org = `idx${randomUUID().slice(0, 8)}`;
    const event = (deploymentId: string, sub: string, version: number) => ({
      type: 'SecretValuesResolved',
      data: {
        organizationId: org,
        customerOrganizationId: null,
        resolved: [{ key: 'K', version, scope: 'vendor' }],
        historyValues: 0,
        deploymentId,
        requestedBy: { sub, org, role: 'admin' },
      },
      metadata: {
        actor: { sub: 'service:render', org: 'render', role: 'service' },
        occurredAt: new Date().toISOString(),
      },
    });
    await store.appendToStream(
      `access:${org}:${randomUUID()}`,
      [event('d1', 'first@x', 1), event('d1', 'second@x', 2)],
      {
        expectedVersion: 'no_stream',
      },
    );
    const [row] = await store.query<{ requested_by: unknown; refs: unknown }>(
      `select requested_by, refs from deployment_index where organization_id = $1`,
      [org],
    );
    expect(row).toEqual({
      requested_by: { sub: 'second@x', org, role: 'admin' },
      refs: [{ key: 'K', version: 2, scope: 'vendor' }],
    });
  });

  it('is rebuilt from the events row for row, purges and forgets included, in any batch size', async () => {
    const purged = `purged${randomUUID().slice(0, 8)}`;
    await store.appendToStream(
      `access:${purged}:${randomUUID()}`,
      [
        {
          type: 'SecretValuesResolved',
          data: {
            organizationId: purged,
            customerOrganizationId: null,
            resolved: [],
            historyValues: 0,
            deploymentId: 'd',
          },
          metadata: {
            actor: { sub: 'service:render', org: 'render', role: 'service' },
            occurredAt: new Date().toISOString(),
          },
        },
      ],
      { expectedVersion: 'no_stream' },
    );
    const ops = await SecretsOperations.open({ databaseUrl: database.url, masterKeys: devMasterKeyMaterial });
    try {
      await ops.purgeOrganization(purged);
      const before = await indexRows();
      expect(before.some((row) => (row as { organization_id: string }).organization_id === purged)).toBe(false);
      expect(before.length).toBeGreaterThanOrEqual(7);

      await store.query(`update deployment_index set refs = '[]'::jsonb`);
      const report = await ops.rebuildProjections();
      expect(report.deploymentIndex.events).toBeGreaterThan(0);
      expect(await indexRows()).toEqual(before);

      // In Postgres by batch (rebuildBatch), and through `handle` as appends that need it run: the same rows.
      const projection = new DeploymentIndexProjection();
      const handleOnly: InlineProjection = {
        name: projection.name,
        eventTypes: projection.eventTypes,
        handle: (batch, context) => projection.handle(batch, context),
        truncate: (context) => projection.truncate(context),
      };
      for (const [rebuilt, batchSize] of [
        [projection, 1],
        [projection, 3],
        [handleOnly, 1],
        [handleOnly, 3],
        [handleOnly, 10_000],
      ] as const) {
        await store.query(`delete from deployment_index`);
        await store.rebuildProjection(rebuilt, { batchSize });
        expect(await indexRows()).toEqual(before);
      }
    } finally {
      await ops.close();
    }
  });
});

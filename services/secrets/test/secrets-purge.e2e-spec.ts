import {
  ResolveCaller,
  type TestDatabase,
  type TestNatsClient,
  type TestPlatform,
  type TestTokens,
  eventually,
  startTestPlatform,
  PlaintextValues,
  testTenants,
} from '@platform/testing';
import { SecretsOperations } from '../src/ops/secrets-operations';
import { secretsService } from '../src/secrets.definition';
import { SecretsRuntime } from '../src/secrets-runtime';
import { devMasterKeyMaterial } from './support/dev-master-keys';

interface ErrorJson {
  error: { code: string };
}

const { vendor, customer, otherCustomer, otherVendor } = testTenants();
const plaintexts = new PlaintextValues();
const value = (label: string): string => plaintexts.next(label);

/** `secrets org purge` run as a separate process would: its own pool and key ring, beside the running service. */
describe('secrets: an organization purged while the service runs', () => {
  let platform: TestPlatform;
  let database: TestDatabase;
  let runtime: SecretsRuntime;
  let client: TestNatsClient;
  let tokens: TestTokens;
  let admin: string;
  let customerAdmin: string;
  let render: string;

  const call = <T = Record<string, unknown>>(subject: string, body: unknown, token: string) =>
    client.request<T>(subject, body, { token });
  const codeOf = (reply: { body: unknown }) => (reply.body as ErrorJson).error?.code;

  async function resolve(keys: string[], customerOrganizationId?: string) {
    const caller = await ResolveCaller.bindToken(tokens, render);
    const body = caller.request({ organizationId: vendor, customerOrganizationId, keys });
    const reply = await call<{ ciphertext: string; signature: string; missing: string[] }>(
      'secrets.v1.resolve',
      body,
      caller.token,
    );
    expect(reply.status).toBeUndefined();
    const opened = (await caller.open(body, reply.body)) as {
      values: Record<string, { value: string; version: number }>;
    };
    return { values: opened.values, missing: reply.body.missing };
  }

  beforeAll(async () => {
    platform = await startTestPlatform([secretsService]);
    ({ database, client, tokens } = platform);
    runtime = platform.services[0].app.get(SecretsRuntime);
    [admin, customerAdmin, render] = await Promise.all([
      tokens.vendor(vendor, 'admin'),
      tokens.customer(vendor, customer, 'read_write'),
      tokens.service('deployer', ['secrets:resolve']),
    ]);
  });

  afterAll(() => platform?.close());

  it('drops cached keys and values at once, writes after it decrypt, old keys are gone and can be re-created', async () => {
    const old = { api: value('old-api'), api2: value('old-api-2'), db: value('old-db'), cust: value('old-cust') };
    expect((await call('secrets.v1.create', { key: 'API_KEY', value: old.api }, admin)).status).toBeUndefined();
    expect((await call('secrets.v1.update', { key: 'API_KEY', value: old.api2 }, admin)).status).toBeUndefined();
    expect((await call('secrets.v1.create', { key: 'DB_PASSWORD', value: old.db }, admin)).status).toBeUndefined();
    expect((await call('secrets.v1.create', { key: 'CUST_KEY', value: old.cust }, customerAdmin)).status).toBe(
      undefined,
    );
    // The running service now caches the organization's data key and the decrypted values.
    expect((await resolve(['API_KEY', 'DB_PASSWORD'])).values).toMatchObject({
      API_KEY: { value: old.api2, version: 2 },
      DB_PASSWORD: { value: old.db, version: 1 },
    });
    expect(runtime.keyRing.holdsKeysOf(vendor)).toBe(true);
    expect(runtime.values.size).toBeGreaterThan(0);

    const ops = await SecretsOperations.open({ databaseUrl: database.url, masterKeys: devMasterKeyMaterial });
    try {
      // The vendor level's key and the customer's.
      expect(await ops.purgeOrganization(vendor)).toEqual({ dataKeysDeleted: 2, secretsRemoved: 3 });
    } finally {
      await ops.close();
    }
    // OrganizationPurged reaches the running instance through SECRETS_EVENTS well before the caches' TTLs.
    await eventually(
      'the running service dropped the keys and values of the purged organization',
      () => !runtime.keyRing.holdsKeysOf(vendor) && runtime.values.size === 0,
      { timeoutMs: 5_000, intervalMs: 20 },
    );

    for (const [subject, body] of [
      ['secrets.v1.get', { key: 'API_KEY' }],
      ['secrets.v1.history', { key: 'API_KEY' }],
      ['secrets.v1.update', { key: 'API_KEY', value: value('refused') }],
      ['secrets.v1.delete', { key: 'DB_PASSWORD' }],
    ] as const) {
      expect([subject, codeOf(await call(subject, body, admin))]).toEqual([subject, 'NOT_FOUND']);
    }
    expect(codeOf(await call('secrets.v1.get', { key: 'CUST_KEY' }, customerAdmin))).toBe('NOT_FOUND');
    expect(await resolve(['API_KEY', 'DB_PASSWORD'])).toEqual({ values: {}, missing: ['API_KEY', 'DB_PASSWORD'] });

    const fresh = { api: value('new-api'), api2: value('new-api-2'), other: value('new-other') };
    const recreated = await call('secrets.v1.create', { key: 'API_KEY', value: fresh.api }, admin);
    expect(recreated.body).toMatchObject({ key: 'API_KEY', version: 3 });
    const updated = await call('secrets.v1.update', { key: 'API_KEY', value: fresh.api2, expectedVersion: 3 }, admin);
    expect(updated.body).toMatchObject({ key: 'API_KEY', version: 4 });
    expect((await call('secrets.v1.create', { key: 'OTHER', value: fresh.other }, admin)).body).toMatchObject({
      version: 1,
    });
    expect((await call('secrets.v1.get', { key: 'API_KEY' }, admin)).body).toMatchObject({ version: 4 });
    expect(await resolve(['API_KEY', 'OTHER', 'DB_PASSWORD'])).toEqual({
      values: {
        API_KEY: { value: fresh.api2, version: 4, scope: 'vendor' },
        OTHER: { value: fresh.other, version: 1, scope: 'vendor' },
      },
      missing: ['DB_PASSWORD'],
    });
    // Under a new data key: the purged one stays deleted.
    const keys = await runtime.store.query<{ id: string }>('select id from data_key where organization_id = $1', [
      vendor,
    ]);
    const used = await runtime.store.query<{ data_key_id: string }>(
      `select distinct data->>'dataKeyId' as data_key_id from events
       where stream_id like $1 and data->>'dataKeyId' is not null`,
      [`secret:${vendor}:%`],
    );
    expect(keys).toHaveLength(1);
    expect(used.map((row) => row.data_key_id)).toContain(keys[0].id);
    // The purged vendor-level and customer keys, and the new vendor-level one.
    expect(used).toHaveLength(3);
  });

  it('seals again under a new key when its cached key was purged before the notice arrived', async () => {
    const vendorKey = 'SILENT_KEY';
    expect((await call('secrets.v1.create', { key: vendorKey, value: value('v1') }, admin)).status).toBeUndefined();
    expect(runtime.keyRing.holdsKeysOf(vendor)).toBe(true);
    // The purge's notice is held back: the instance still trusts its cached key when the next write comes.
    const listener = (runtime as unknown as { purgeListener: { stop(): void; start(): Promise<void> } }).purgeListener;
    listener.stop();
    try {
      const ops = await SecretsOperations.open({ databaseUrl: database.url, masterKeys: devMasterKeyMaterial });
      try {
        await ops.purgeOrganization(vendor);
      } finally {
        await ops.close();
      }
      expect(runtime.keyRing.holdsKeysOf(vendor)).toBe(true);
      const next = value('after-silent-purge');
      const created = await call('secrets.v1.create', { key: vendorKey, value: next }, admin);
      expect(created.body).toMatchObject({ key: vendorKey, version: 2 });
      expect((await resolve([vendorKey])).values).toEqual({
        [vendorKey]: { value: next, version: 2, scope: 'vendor' },
      });
    } finally {
      await listener.start();
    }
  });

  it("deletes on a customer purge every idempotency record of that customer's scope, vendor users' included", async () => {
    const otherVendorAdmin = await tokens.vendor(otherVendor, 'admin');
    const create = async (idempotencyKey: string, token: string, customerOrganizationId?: string) => {
      const key = idempotencyKey.toUpperCase().replaceAll('-', '_');
      const body = { key, value: value(idempotencyKey), customerOrganizationId };
      const reply = await client.request('secrets.v1.create', body, {
        token,
        headers: { 'Idempotency-Key': idempotencyKey },
      });
      expect([idempotencyKey, reply.status]).toEqual([idempotencyKey, undefined]);
    };
    await create('vendor-level', admin);
    await create('vendor-in-customer', admin, customer);
    await create('vendor-in-other-customer', admin, otherCustomer);
    await create('customer-user', customerAdmin);
    // Another organization's customer of the same name is another scope.
    await create('other-vendor-in-customer', otherVendorAdmin, customer);
    const records = async () =>
      (
        await runtime.store.query<{ idempotency_key: string; organization_id: string; customer_id: string }>(
          'select idempotency_key, organization_id, customer_id from idempotency_key',
        )
      )
        .map((row) => [row.idempotency_key, row.organization_id, row.customer_id])
        .sort((a, b) => a[0].localeCompare(b[0]));
    expect(await records()).toEqual([
      ['customer-user', vendor, customer],
      ['other-vendor-in-customer', otherVendor, customer],
      ['vendor-in-customer', vendor, customer],
      ['vendor-in-other-customer', vendor, otherCustomer],
      ['vendor-level', vendor, ''],
    ]);

    const ops = await SecretsOperations.open({ databaseUrl: database.url, masterKeys: devMasterKeyMaterial });
    try {
      await ops.purgeCustomer(vendor, customer);
    } finally {
      await ops.close();
    }

    expect(await records()).toEqual([
      ['other-vendor-in-customer', otherVendor, customer],
      ['vendor-in-other-customer', vendor, otherCustomer],
      ['vendor-level', vendor, ''],
    ]);
  });
});

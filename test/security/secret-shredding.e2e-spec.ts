// Issue 21: destroying versions and shredding one customer. Who may do either, what each refuses, and what a caller
// notices afterwards: pinned renders fail clearly, redaction stops masking what is gone, every other scope keeps
// rendering and masking.
import { PlaintextValues, type Reply, eventually, eventuallyValue, testTenants } from '@platform/testing';
import { SecretsOperations } from '../../services/secrets/src/ops/secrets-operations';
import { SecretsRuntime } from '../../services/secrets/src/secrets-runtime';
import { devMasterKeyMaterial } from '../../services/secrets/test/support/dev-master-keys';
import { type PlatformUnderTest, startPlatform } from '../reliability/fixtures/platform';

const MASK = '********';
const { vendor, customer, otherCustomer } = testTenants();
const plaintexts = new PlaintextValues();
const value = (label: string) => plaintexts.next(label);

interface ErrorJson {
  error: { code: string; message: string; details?: Record<string, unknown> };
}
const refusal = (reply: Reply<unknown>) => {
  const { code, message } = (reply.body as ErrorJson).error ?? {};
  return { code, message };
};

describe('destroying versions and purging one customer', () => {
  let platform: PlatformUnderTest;
  let tokens: Record<'admin' | 'writer' | 'reader' | 'customerAdmin' | 'customerWriter' | 'otherAdmin', string>;

  const call = <T = Record<string, unknown>>(subject: string, body: unknown, token: string) =>
    platform.client.request<T>(subject, body, { token, timeoutMs: 10_000 });
  const ok = async <T = Record<string, unknown>>(subject: string, body: unknown, token: string) => {
    const reply = await call<T>(subject, body, token);
    expect([subject, reply.status, reply.status === undefined ? '' : refusal(reply)]).toEqual([subject, undefined, '']);
    return reply.body;
  };
  const render = (template: string, extra: Record<string, unknown> = {}, token = tokens.admin) =>
    call<{ output: string }>('render.v1.render', { template, format: 'text', ...extra }, token);
  const redact = async (text: string, customerOrganizationId?: string) =>
    (await ok<{ text: string }>('redaction.v1.redact', { text, customerOrganizationId }, tokens.admin)).text;
  const ops = async <T>(run: (operations: SecretsOperations) => Promise<T>): Promise<T> => {
    const operations = await SecretsOperations.open({
      databaseUrl: platform.database.url,
      masterKeys: devMasterKeyMaterial,
    });
    try {
      return await run(operations);
    } finally {
      await operations.close();
    }
  };
  const viewRows = () =>
    platform.services.secrets.app
      .get(SecretsRuntime)
      .store.query(
        'select stream_id, organization_id, customer_id, key, version, deleted, value from secret_view order by stream_id',
      );

  beforeAll(async () => {
    platform = await startPlatform({ redaction: { REDACTION_SETTLE_MS: '0' } });
    const t = platform.tokens;
    tokens = {
      admin: await t.vendor(vendor, 'admin'),
      writer: await t.vendor(vendor, 'read_write'),
      reader: await t.vendor(vendor, 'read_only'),
      customerAdmin: await t.customer(vendor, customer, 'admin'),
      customerWriter: await t.customer(vendor, customer, 'read_write'),
      otherAdmin: await t.customer(vendor, otherCustomer, 'admin'),
    };
  }, 120_000);

  afterAll(async () => {
    await platform?.close();
  });

  describe('secrets.v1.destroy', () => {
    const api = [value('api-1'), value('api-2'), value('api-3')];

    beforeAll(async () => {
      await ok('secrets.v1.create', { key: 'API_KEY', value: api[0] }, tokens.writer);
      await ok('secrets.v1.update', { key: 'API_KEY', value: api[1] }, tokens.writer);
      await ok('secrets.v1.update', { key: 'API_KEY', value: api[2] }, tokens.writer);
      // Earlier values are masked too (redaction resolves with includeHistory).
      expect(await redact(`a ${api[0]} b`)).toBe(`a ${MASK} b`);
    });

    it('is for admins only, and a customer admin reaches only its own customer', async () => {
      for (const token of [tokens.writer, tokens.reader, tokens.customerWriter]) {
        expect(refusal(await call('secrets.v1.destroy', { key: 'API_KEY', versions: [1] }, token))).toEqual({
          code: 'PERMISSION_DENIED',
          message: 'destroying secret versions needs the admin role',
        });
      }
      // A customer admin addresses its own customer's scope, where this key does not exist.
      expect(
        refusal(await call('secrets.v1.destroy', { key: 'API_KEY', versions: [1] }, tokens.customerAdmin)),
      ).toEqual({ code: 'NOT_FOUND', message: 'secret "API_KEY" not found in this scope' });
      expect(
        refusal(
          await call(
            'secrets.v1.destroy',
            { key: 'API_KEY', versions: [1], customerOrganizationId: otherCustomer },
            tokens.customerAdmin,
          ),
        ).code,
      ).toBe('PERMISSION_DENIED');
    });

    it('refuses the current value, versions without a value, and no versions', async () => {
      const destroy = (versions: number[]) => call('secrets.v1.destroy', { key: 'API_KEY', versions }, tokens.admin);
      expect(refusal(await destroy([3]))).toEqual({
        code: 'FAILED_PRECONDITION',
        message: 'version 3 is the current value of secret API_KEY; update or delete the secret first',
      });
      expect(refusal(await destroy([9]))).toEqual({
        code: 'INVALID_ARGUMENT',
        message: 'secret API_KEY has no value at version 9',
      });
      expect(refusal(await destroy([]))).toEqual({
        code: 'INVALID_ARGUMENT',
        message: 'versions must name at least one version',
      });
      expect(refusal(await call('secrets.v1.destroy', { key: 'NOPE', versions: [1] }, tokens.admin)).code).toBe(
        'NOT_FOUND',
      );
    });

    it('destroys version 1: history marks it, pins and renders fail clearly, redaction stops masking it', async () => {
      const viewBefore = await viewRows();
      const runtime = platform.services.secrets.app.get(SecretsRuntime);
      const stream = `secret:${vendor}:_:API_KEY`;
      // Redaction's includeHistory resolve left the earlier plaintexts in the instance's cache.
      expect(runtime.values.get(stream, 1)).toBe(api[0]);
      expect(await ok('secrets.v1.destroy', { key: 'API_KEY', versions: [1] }, tokens.admin)).toMatchObject({
        key: 'API_KEY',
        customerOrganizationId: null,
        versions: [1],
      });
      expect(refusal(await call('secrets.v1.destroy', { key: 'API_KEY', versions: [1] }, tokens.admin))).toEqual({
        code: 'FAILED_PRECONDITION',
        message: 'secret API_KEY version 1 was destroyed',
      });
      // Every instance hears SecretVersionsDestroyed and drops that plaintext at once, not at the cache's TTL.
      await eventually('the instance dropped the destroyed value', () => runtime.values.get(stream, 1) === undefined, {
        timeoutMs: 5_000,
        intervalMs: 20,
      });
      expect(runtime.values.get(stream, 2)).toBe(api[1]);

      const history = await ok<{ versions: Record<string, unknown>[] }>(
        'secrets.v1.history',
        { key: 'API_KEY' },
        tokens.reader,
      );
      expect(
        history.versions.map(({ version, type, destroyed, destroyedVersions }) => [
          version,
          type,
          destroyed,
          destroyedVersions,
        ]),
      ).toEqual([
        [1, 'SecretCreated', true, []],
        [2, 'SecretValueUpdated', false, []],
        [3, 'SecretValueUpdated', false, []],
        [0, 'SecretVersionsDestroyed', false, [1]],
      ]);
      // The secret's version (its ETag) is unchanged: the destruction is no version of it.
      expect((await ok('secrets.v1.get', { key: 'API_KEY' }, tokens.reader)).version).toBe(3);

      expect(refusal(await render('{{ .Secrets.API_KEY }}', { pins: { API_KEY: 1 } }))).toEqual({
        code: 'FAILED_PRECONDITION',
        message: 'secret API_KEY version 1 was destroyed',
      });
      expect((await render('{{ .Secrets.API_KEY }}', { pins: { API_KEY: 2 } })).body.output).toBe(api[1]);
      expect((await render('{{ .Secrets.API_KEY }}')).body.output).toBe(api[2]);

      await eventually(
        'redaction no longer masks the destroyed value',
        async () => (await redact(`a ${api[0]} b`)) === `a ${api[0]} b`,
        { timeoutMs: 10_000, intervalMs: 100 },
      );
      expect(await redact(`a ${api[1]} b ${api[2]} c`)).toBe(`a ${MASK} b ${MASK} c`);

      // The event stays, without its ciphertext; the read model is untouched and a rebuild makes the same rows.
      const store = platform.services.secrets.app.get(SecretsRuntime).store;
      const events = await store.query<{ stream_version: number; type: string; holds_value: boolean; digest: string }>(
        `select stream_version, type, data ? 'value' as holds_value, data->>'digest' as digest from events
         where stream_id = $1 order by stream_version`,
        [`secret:${vendor}:_:API_KEY`],
      );
      expect(events.map(({ stream_version, holds_value }) => [stream_version, holds_value])).toEqual([
        [1, false],
        [2, true],
        [3, true],
      ]);
      expect(events[0].digest).toEqual(expect.any(String));
      expect(await viewRows()).toEqual(viewBefore);
      await ops((operations) => operations.rebuildProjections());
      expect(await viewRows()).toEqual(viewBefore);
      expect((await render('{{ .Secrets.API_KEY }}', { pins: { API_KEY: 2 } })).body.output).toBe(api[1]);
    });

    it("destroys a deleted secret's last value", async () => {
      const gone = value('gone');
      await ok('secrets.v1.create', { key: 'GONE', value: gone }, tokens.writer);
      await ok('secrets.v1.delete', { key: 'GONE' }, tokens.writer);
      expect(await redact(`x ${gone}`)).toBe(`x ${MASK}`);
      await ok('secrets.v1.destroy', { key: 'GONE', versions: [1] }, tokens.admin);
      await eventually(
        'the deleted value is no longer masked',
        async () => (await redact(`x ${gone}`)) === `x ${gone}`,
        {
          timeoutMs: 10_000,
          intervalMs: 100,
        },
      );
    });
  });

  describe('secrets customer purge', () => {
    const values = {
      vendor: value('shared'),
      customer: value('cust'),
      customerOld: value('cust-old'),
      other: value('other'),
    };
    const template = '{{ .Secrets.SHARED }}/{{ index .Secrets "OWN" }}';

    beforeAll(async () => {
      await ok('secrets.v1.create', { key: 'SHARED', value: values.vendor }, tokens.writer);
      await ok('secrets.v1.create', { key: 'OWN', value: values.customerOld }, tokens.customerWriter);
      // With an Idempotency-Key: the customer user's record is the purge's to delete.
      const updated = await platform.client.request(
        'secrets.v1.update',
        { key: 'OWN', value: values.customer },
        { token: tokens.customerWriter, headers: { 'Idempotency-Key': 'own-rotation-1' } },
      );
      expect(updated.status).toBeUndefined();
      await ok('secrets.v1.create', { key: 'OWN', value: values.other }, tokens.otherAdmin);
      // Each customer's deployment enters the deployment index.
      for (const scope of [customer, otherCustomer]) {
        expect((await render(template, { customerOrganizationId: scope, deploymentId: 'web' })).body.output).toContain(
          values.vendor,
        );
      }
      expect((await render(template, { customerOrganizationId: customer })).body.output).toBe(
        `${values.vendor}/${values.customer}`,
      );
      expect(await redact(`${values.customerOld} ${values.customer}`, customer)).toBe(`${MASK} ${MASK}`);
    });

    it("shreds the customer's values and rows; the vendor level and the other customer keep rendering and masking", async () => {
      const runtime = platform.services.secrets.app.get(SecretsRuntime);
      const keysBefore = await runtime.store.query<{ customer_id: string }>(
        'select customer_id from data_key where organization_id = $1 order by customer_id',
        [vendor],
      );
      expect(keysBefore.map((row) => row.customer_id)).toEqual(['', customer, otherCustomer].sort());

      expect(
        await runtime.store.query(`select 1 from idempotency_key where principal like $1`, [`%"${customer}"%`]),
      ).toHaveLength(1);
      expect(runtime.keyRing.holdsKeysOf(vendor, customer)).toBe(true);
      expect(runtime.values.get(`secret:${vendor}:${customer}:OWN`, 2)).toBe(values.customer);
      expect(await ops((operations) => operations.purgeCustomer(vendor, customer))).toEqual({
        dataKeysDeleted: 1,
        secretsRemoved: 1,
      });
      const keysAfter = await runtime.store.query<{ customer_id: string }>(
        'select customer_id from data_key where organization_id = $1 order by customer_id',
        [vendor],
      );
      expect(keysAfter.map((row) => row.customer_id)).toEqual(['', otherCustomer].sort());
      // CustomerPurged reaches the running instance: that customer's keys and values leave its caches, no one else's.
      await eventually(
        "the instance dropped the purged customer's keys and values",
        () =>
          !runtime.keyRing.holdsKeysOf(vendor, customer) &&
          runtime.values.get(`secret:${vendor}:${customer}:OWN`, 2) === undefined,
        { timeoutMs: 5_000, intervalMs: 20 },
      );
      expect(runtime.keyRing.holdsKeysOf(vendor, otherCustomer)).toBe(true);
      expect(await runtime.store.query('select 1 from secret_view where customer_id = $1', [customer])).toEqual([]);
      const deployments = async (scope: string) =>
        (
          await ok<{ deployments: Array<{ deploymentId: string }> }>(
            'secrets.v1.deployments',
            { customerOrganizationId: scope },
            tokens.admin,
          )
        ).deployments.map((deployment) => deployment.deploymentId);
      expect(await deployments(customer)).toEqual([]);
      expect(await deployments(otherCustomer)).toEqual(['web']);
      expect(
        await runtime.store.query(`select 1 from idempotency_key where principal like $1`, [`%"${customer}"%`]),
      ).toEqual([]);

      expect(refusal(await call('secrets.v1.get', { key: 'OWN' }, tokens.customerAdmin)).code).toBe('NOT_FOUND');
      expect(refusal(await call('secrets.v1.history', { key: 'OWN' }, tokens.customerAdmin)).code).toBe('NOT_FOUND');
      // The purged customer's deployments now get the vendor value only; the others are untouched.
      expect((await render(template, { customerOrganizationId: customer })).body.output).toBe(`${values.vendor}/`);
      expect((await render(template, { customerOrganizationId: otherCustomer })).body.output).toBe(
        `${values.vendor}/${values.other}`,
      );
      expect((await render(template)).body.output).toBe(`${values.vendor}/`);

      await eventually(
        "redaction no longer masks the purged customer's values",
        async () =>
          (await redact(`${values.customerOld} ${values.customer}`, customer)) ===
          `${values.customerOld} ${values.customer}`,
        { timeoutMs: 10_000, intervalMs: 100 },
      );
      expect(await redact(`${values.vendor} ${values.other}`, otherCustomer)).toBe(`${MASK} ${MASK}`);
      expect(await redact(`${values.vendor} ${values.customer}`, customer)).toBe(`${MASK} ${values.customer}`);
      expect(await redact(`${values.vendor}`)).toBe(MASK);

      // The customer can start again: a new key, the stream's versions continuing.
      const fresh = value('fresh');
      expect(await ok('secrets.v1.create', { key: 'OWN', value: fresh }, tokens.customerWriter)).toMatchObject({
        version: 3,
      });
      expect((await render(template, { customerOrganizationId: customer })).body.output).toBe(
        `${values.vendor}/${fresh}`,
      );

      const rows = await viewRows();
      await ops((operations) => operations.rebuildProjections());
      expect(await viewRows()).toEqual(rows);
    });
  });

  it('audits both: a record of each destruction and of the customer purge, in a chain that verifies', async () => {
    const records = await eventuallyValue(
      'audit records of the destructions and the purge',
      async () =>
        (
          await ok<{ records?: Array<{ type: string; key: string | null; customerOrganizationId: string | null }> }>(
            'audit.v1.query',
            { types: ['SecretVersionsDestroyed', 'CustomerPurged'] },
            tokens.admin,
          )
        ).records ?? [],
      (found) => found.length >= 3,
    );
    expect(records.map(({ type, key, customerOrganizationId }) => [type, key, customerOrganizationId]).sort()).toEqual([
      ['CustomerPurged', null, customer],
      ['SecretVersionsDestroyed', 'API_KEY', null],
      ['SecretVersionsDestroyed', 'GONE', null],
    ]);
    expect(await ok('audit.v1.verify', {}, tokens.admin)).toMatchObject({ ok: true });
  });
});

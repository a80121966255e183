// Issue 21: roll back, restore and expire secrets over NATS, with the whole platform running: who may, the refusals,
// customer scoping, what render and redaction make of it, the events on SECRETS_EVENTS and the audit trail.
import { replyKeyThumbprint } from '@platform/crypto';
import { bearerTokenOf, forwardedTokenDigest } from '@platform/messaging';
import { PlaintextValues, type Reply, ResolveCaller, eventuallyValue, testTenants } from '@platform/testing';
import { type Msg, type Subscription } from 'nats';
import { Client } from 'pg';
import { type PlatformUnderTest, startPlatform } from '../reliability/fixtures/platform';

jest.setTimeout(120_000);

const { vendor, customer, otherCustomer, otherVendor, run } = testTenants();
const values = new PlaintextValues();
const MASK = '********';
const RENDER_SCOPES = ['secrets:resolve', 'secrets:resolve-current'];

interface SecretJson {
  key: string;
  version: number;
  customerOrganizationId: string | null;
  expiresAt?: string;
  affectedDeployments?: { count: number };
}
interface ErrorJson {
  error: { code: string; message: string; details?: Record<string, unknown> };
}
interface HistoryJson {
  versions: Array<{ version: number; type: string; fromVersion?: number; expiresAt?: string }>;
}
interface EventJson {
  type: string;
  key: string | null;
  version: number;
  customerOrganizationId: string | null;
  expiresAt?: string;
  valueVersion?: number;
  fromVersion?: number;
}

describe('secret lifecycle: rollback, restore, expiry', () => {
  let platform: PlatformUnderTest;
  let admin: string;
  let writer: string;
  let reader: string;
  let customerWriter: string;
  let otherCustomerAdmin: string;
  let otherVendorAdmin: string;
  let deployer: string;
  let events: Subscription;
  const published: EventJson[] = [];

  const call = <T = SecretJson>(subject: string, body: unknown, token: string, headers?: Record<string, string>) =>
    platform.client.request<T & ErrorJson>(subject, body, { token, headers });
  const refusal = (reply: Reply<unknown>) => ({ status: reply.status, ...(reply.body as ErrorJson).error });
  const ok = <T>(reply: Reply<T>): T => {
    expect(reply.status === undefined ? 'OK' : reply.raw).toBe('OK');
    return reply.body;
  };
  const render = (token: string, body: object) =>
    call<{ output: string; references: Array<{ key: string; version: number }> }>(
      'render.v1.render',
      { format: 'env', ...body },
      token,
    );
  const history = async (key: string, token = admin, customerOrganizationId?: string) =>
    ok(await call<HistoryJson>('secrets.v1.history', { key, customerOrganizationId }, token)).versions;
  const publishedFor = (type: string, key: string) =>
    eventuallyValue(
      `${type} of ${key} on SECRETS_EVENTS`,
      () => published.filter((event) => event.type === type && event.key === key),
      (found) => found.length > 0,
    );

  beforeAll(async () => {
    platform = await startPlatform({
      // SecretExpiring at once for the short expiries below, and scans every second.
      secrets: { SECRETS_EXPIRY_LEAD_SECONDS: '3600', SECRETS_EXPIRY_SCAN_SECONDS: '1' },
    });
    [admin, writer, reader, customerWriter, otherCustomerAdmin, otherVendorAdmin, deployer] = await Promise.all([
      platform.tokens.vendor(vendor, 'admin'),
      platform.tokens.vendor(vendor, 'read_write', `writer-${run}@acme`),
      platform.tokens.vendor(vendor, 'read_only'),
      platform.tokens.customer(vendor, customer, 'read_write'),
      platform.tokens.customer(vendor, otherCustomer, 'admin'),
      platform.tokens.vendor(otherVendor, 'admin'),
      platform.tokens.service(`deployer-${run}`, ['render:any']),
    ]);
    events = platform.client.connection.subscribe(`${platform.prefix}secrets.events.${vendor}.>`);
    void (async () => {
      for await (const message of events as AsyncIterable<Msg>) {
        published.push(JSON.parse(new TextDecoder().decode(message.data)) as EventJson);
      }
    })();
  });

  afterAll(async () => {
    events?.unsubscribe();
    await platform?.close();
  });

  describe('rollback', () => {
    const v1 = values.next('rollback-v1');
    const v2 = values.next('rollback-v2');

    beforeAll(async () => {
      ok(await call('secrets.v1.create', { key: 'DB_PASSWORD', value: v1 }, writer));
      ok(await call('secrets.v1.update', { key: 'DB_PASSWORD', value: v2 }, writer));
    });

    it("appends version 1's value as version 3, which render uses and history traces back", async () => {
      const rolled = ok(await call('secrets.v1.rollback', { key: 'DB_PASSWORD', toVersion: 1 }, writer));
      expect(rolled).toMatchObject({
        key: 'DB_PASSWORD',
        version: 3,
        customerOrganizationId: null,
        updatedBy: `writer-${run}@acme`,
        affectedDeployments: { count: 0, deployments: [] },
      });
      expect(JSON.stringify(rolled)).not.toContain(v1);
      const rendered = ok(await render(admin, { template: 'DB={{ .Secrets.DB_PASSWORD }}' }));
      expect(rendered).toEqual({
        output: `DB=${v1}`,
        references: [{ key: 'DB_PASSWORD', version: 3, scope: 'vendor' }],
      });
      expect(
        (await history('DB_PASSWORD')).map(({ version, type, fromVersion }) => [version, type, fromVersion]),
      ).toEqual([
        [1, 'SecretCreated', undefined],
        [2, 'SecretValueUpdated', undefined],
        [3, 'SecretRolledBack', 1],
      ]);
      const [event] = await publishedFor('SecretRolledBack', 'DB_PASSWORD');
      expect(event).toMatchObject({ version: 3, fromVersion: 1, customerOrganizationId: null });
      expect(JSON.stringify(event)).not.toContain(v1);
    });

    it('returns the first reply for a retry with the same Idempotency-Key, appending nothing', async () => {
      const headers = { 'Idempotency-Key': `rollback-${run}` };
      const first = ok(await call('secrets.v1.rollback', { key: 'DB_PASSWORD', toVersion: 2 }, writer, headers));
      const again = ok(await call('secrets.v1.rollback', { key: 'DB_PASSWORD', toVersion: 2 }, writer, headers));
      expect(again.version).toBe(first.version);
      expect((await history('DB_PASSWORD')).at(-1)).toMatchObject({ version: first.version, fromVersion: 2 });
    });

    it('refuses read_only users, other organizations and other customers', async () => {
      expect(refusal(await call('secrets.v1.rollback', { key: 'DB_PASSWORD', toVersion: 1 }, reader))).toEqual({
        status: 403,
        code: 'PERMISSION_DENIED',
        message: 'creating, updating or deleting secrets needs the read_write or admin role',
      });
      // Another vendor, and a customer of this one, address their own scope, where there is no such key.
      for (const token of [otherVendorAdmin, customerWriter]) {
        expect(refusal(await call('secrets.v1.rollback', { key: 'DB_PASSWORD', toVersion: 1 }, token))).toMatchObject({
          status: 404,
          code: 'NOT_FOUND',
          message: 'secret "DB_PASSWORD" not found in this scope',
        });
      }
      expect(
        refusal(
          await call(
            'secrets.v1.rollback',
            { key: 'TOKEN', toVersion: 1, customerOrganizationId: customer },
            otherCustomerAdmin,
          ),
        ),
      ).toMatchObject({
        status: 403,
        code: 'PERMISSION_DENIED',
        message: 'a customer can only address its own secrets',
      });
    });

    it('refuses a version without a value, a bad version, a stale expectedVersion and unknown fields', async () => {
      expect(refusal(await call('secrets.v1.rollback', { key: 'DB_PASSWORD', toVersion: 99 }, writer))).toEqual({
        status: 404,
        code: 'NOT_FOUND',
        message: 'secret "DB_PASSWORD" has no version 99 with a value in this scope',
        details: { key: 'DB_PASSWORD', version: 99 },
      });
      expect(refusal(await call('secrets.v1.rollback', { key: 'DB_PASSWORD' }, writer))).toEqual({
        status: 400,
        code: 'INVALID_ARGUMENT',
        message: 'toVersion must be a version from 1 to 2147483647',
        details: { field: 'toVersion' },
      });
      expect(
        refusal(await call('secrets.v1.rollback', { key: 'DB_PASSWORD', toVersion: 1, expectedVersion: 1 }, writer)),
      ).toMatchObject({ status: 409, code: 'VERSION_CONFLICT' });
      expect(
        refusal(await call('secrets.v1.rollback', { key: 'DB_PASSWORD', toVersion: 1, value: 'x' }, writer)),
      ).toMatchObject({ status: 400, code: 'INVALID_ARGUMENT' });
    });

    it("rolls back a customer's own secret for its customer user and for the vendor, in that scope only", async () => {
      const c1 = values.next('customer-v1');
      ok(await call('secrets.v1.create', { key: 'TOKEN', value: c1 }, customerWriter));
      ok(await call('secrets.v1.update', { key: 'TOKEN', value: values.next('customer-v2') }, customerWriter));
      expect(ok(await call('secrets.v1.rollback', { key: 'TOKEN', toVersion: 1 }, customerWriter))).toMatchObject({
        version: 3,
        customerOrganizationId: customer,
      });
      expect(
        ok(await call('secrets.v1.rollback', { key: 'TOKEN', toVersion: 2, customerOrganizationId: customer }, admin)),
      ).toMatchObject({ version: 4, customerOrganizationId: customer });
      const rendered = ok(await render(customerWriter, { template: 'T={{ .Secrets.TOKEN }}' }));
      expect(rendered.references).toEqual([{ key: 'TOKEN', version: 4, scope: 'customer' }]);
      // The vendor-level scope has no TOKEN.
      expect(refusal(await call('secrets.v1.rollback', { key: 'TOKEN', toVersion: 1 }, admin))).toMatchObject({
        code: 'NOT_FOUND',
      });
    });
  });

  describe('restore', () => {
    const last = values.next('restore-last');

    beforeAll(async () => {
      ok(await call('secrets.v1.create', { key: 'OLD_TOKEN', value: values.next('restore-first') }, writer));
      ok(await call('secrets.v1.update', { key: 'OLD_TOKEN', value: last }, writer));
      ok(await call('secrets.v1.delete', { key: 'OLD_TOKEN' }, writer));
    });

    it('refuses read_only users and scopes where the key is not deleted', async () => {
      expect(refusal(await call('secrets.v1.restore', { key: 'OLD_TOKEN' }, reader))).toMatchObject({
        status: 403,
        code: 'PERMISSION_DENIED',
      });
      expect(refusal(await call('secrets.v1.restore', { key: 'OLD_TOKEN' }, customerWriter))).toMatchObject({
        status: 404,
        code: 'NOT_FOUND',
      });
      expect(refusal(await call('secrets.v1.restore', { key: 'NEVER_THERE' }, writer))).toEqual({
        status: 404,
        code: 'NOT_FOUND',
        message: 'secret "NEVER_THERE" not found in this scope',
        details: { key: 'NEVER_THERE' },
      });
    });

    it('brings the last value back as a new version, then refuses a second restore', async () => {
      const restored = ok(await call('secrets.v1.restore', { key: 'OLD_TOKEN' }, writer));
      expect(restored).toMatchObject({ key: 'OLD_TOKEN', version: 4 });
      expect(ok(await render(admin, { template: 'T={{ .Secrets.OLD_TOKEN }}' })).output).toBe(`T=${last}`);
      expect((await history('OLD_TOKEN')).at(-1)).toMatchObject({ version: 4, type: 'SecretRestored', fromVersion: 2 });
      expect(refusal(await call('secrets.v1.restore', { key: 'OLD_TOKEN' }, writer))).toEqual({
        status: 409,
        code: 'FAILED_PRECONDITION',
        message: 'secret "OLD_TOKEN" is live, not deleted (never deleted, or created again since): nothing to restore',
        details: { key: 'OLD_TOKEN' },
      });
      await publishedFor('SecretRestored', 'OLD_TOKEN');
    });

    it('refuses a key that was created again after its delete', async () => {
      ok(await call('secrets.v1.delete', { key: 'OLD_TOKEN' }, writer));
      ok(await call('secrets.v1.create', { key: 'OLD_TOKEN', value: values.next('recreated') }, writer));
      expect(refusal(await call('secrets.v1.restore', { key: 'OLD_TOKEN' }, writer))).toMatchObject({
        code: 'FAILED_PRECONDITION',
      });
    });
  });

  describe('expiry', () => {
    const certificate = values.next('certificate');
    let expiresAt: string;

    it('refuses an expiresAt in the past or not RFC 3339', async () => {
      expect(
        refusal(
          await call(
            'secrets.v1.create',
            { key: 'CERT', value: certificate, expiresAt: '2020-01-01T00:00:00Z' },
            writer,
          ),
        ),
      ).toMatchObject({
        status: 400,
        code: 'INVALID_ARGUMENT',
        message: expect.stringMatching(/^expiresAt must be in the future/),
        details: { field: 'expiresAt' },
      });
      expect(
        refusal(await call('secrets.v1.create', { key: 'CERT', value: certificate, expiresAt: 'tomorrow' }, writer)),
      ).toEqual({
        status: 400,
        code: 'INVALID_ARGUMENT',
        message: 'expiresAt must be an RFC 3339 date-time with a time zone, e.g. 2027-01-31T00:00:00Z',
        details: { field: 'expiresAt' },
      });
    });

    it('shows expiresAt in get and list, and appends SecretExpiring within the lead time', async () => {
      expiresAt = new Date(Date.now() + 3_000).toISOString();
      expect(ok(await call('secrets.v1.create', { key: 'CERT', value: certificate, expiresAt }, writer))).toMatchObject(
        {
          expiresAt,
        },
      );
      expect(ok(await call('secrets.v1.get', { key: 'CERT' }, reader))).toMatchObject({ expiresAt });
      const listed = ok(await call<{ secrets: SecretJson[] }>('secrets.v1.list', {}, reader)).secrets;
      expect(listed.find((s) => s.key === 'CERT')?.expiresAt).toBe(expiresAt);
      expect(listed.find((s) => s.key === 'DB_PASSWORD')?.expiresAt).toBeUndefined();
      const [expiring] = await publishedFor('SecretExpiring', 'CERT');
      expect(expiring).toMatchObject({ valueVersion: 1, expiresAt, customerOrganizationId: null });
      // Until it expires, render uses it.
      const early = await render(admin, { template: 'C={{ .Secrets.CERT }}' });
      if (Date.now() < Date.parse(expiresAt)) expect(early.status).toBeUndefined();
    });

    it('appends SecretExpired once the value expired; render then refuses it, naming the key and when', async () => {
      const [expired] = await publishedFor('SecretExpired', 'CERT');
      expect(expired).toMatchObject({ valueVersion: 1, expiresAt });
      expect(refusal(await render(writer, { template: 'C={{ .Secrets.CERT }}' }))).toEqual({
        status: 409,
        code: 'FAILED_PRECONDITION',
        message: `secret CERT expired at ${expiresAt}`,
        details: { key: 'CERT', expiresAt },
      });
      // Other keys still render.
      expect((await render(writer, { template: 'D={{ .Secrets.DB_PASSWORD }}' })).status).toBeUndefined();
    });

    it('renders an expired value only for an admin or a service with render:any that allows it', async () => {
      const template = { template: 'C={{ .Secrets.CERT }}', allowExpired: true };
      expect(refusal(await render(writer, template))).toEqual({
        status: 403,
        code: 'PERMISSION_DENIED',
        message: 'allowExpired needs the admin role',
      });
      expect(ok(await render(admin, template)).output).toBe(`C=${certificate}`);
      expect(ok(await render(deployer, { ...template, organizationId: vendor })).output).toBe(`C=${certificate}`);
    });

    it('refuses allowExpired at secrets too when render forwards a requester without the admin role', async () => {
      const caller = await ResolveCaller.create(platform.tokens, 'deployer', RENDER_SCOPES);
      const forwarded = bearerTokenOf(`Bearer ${writer}`)!;
      const token = await platform.tokens.platformService('render', 'secrets', RENDER_SCOPES, {
        cnf: { jkt: replyKeyThumbprint(caller.publicJwk) },
        obo: forwardedTokenDigest(forwarded),
      });
      const body = caller.request({ organizationId: vendor, keys: ['CERT'], allowExpired: true });
      const reply = await platform.client.request<ErrorJson>('secrets.v1.resolve', body, {
        token,
        headers: { 'On-Behalf-Of': `Bearer ${writer}` },
      });
      expect(refusal(reply)).toMatchObject({
        status: 403,
        code: 'PERMISSION_DENIED',
        message:
          'the forwarded requester may not have expired values released: that needs the admin role (or render:any)',
      });
    });

    it('keeps masking the expired value in logs', async () => {
      expect(
        ok(await call<{ text: string }>('redaction.v1.redact', { text: `cert ${certificate} end` }, admin)),
      ).toEqual({ text: `cert ${MASK} end`, redactions: 1 });
    });

    it('notices each version once, and a new value without expiry renders again', async () => {
      const database = new Client({ connectionString: platform.database.url });
      await database.connect();
      try {
        const { rows } = await database.query<{ type: string }>(
          `select type from secrets.events where stream_id = $1 order by stream_version`,
          [`expiry:${vendor}:_:CERT:1`],
        );
        expect(rows.map((row) => row.type)).toEqual(['SecretExpiring', 'SecretExpired']);
      } finally {
        await database.end();
      }
      const renewed = values.next('certificate-renewed');
      const updated = ok(await call('secrets.v1.update', { key: 'CERT', value: renewed }, writer));
      expect(updated.expiresAt).toBeUndefined();
      expect(ok(await render(writer, { template: 'C={{ .Secrets.CERT }}' })).output).toBe(`C=${renewed}`);
    });
  });

  it('audits every new event type with its key', async () => {
    for (const [type, key] of [
      ['SecretRolledBack', 'DB_PASSWORD'],
      ['SecretRestored', 'OLD_TOKEN'],
      ['SecretExpiring', 'CERT'],
      ['SecretExpired', 'CERT'],
    ]) {
      await eventuallyValue(
        `audit records of ${type}`,
        async () =>
          ok(
            await call<{ records?: Array<{ type: string; key: string | null }> }>(
              'audit.v1.query',
              { key, types: [type] },
              admin,
            ),
          ).records ?? [],
        (records) => records.some((record) => record.type === type && record.key === key),
      );
    }
  });
});

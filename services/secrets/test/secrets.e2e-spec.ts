import {
  ResolveCaller,
  type TestDatabase,
  type TestNatsClient,
  type TestPlatform,
  type TestService,
  type TestTokens,
  startTestPlatform,
  PlaintextValues,
  testTenants,
} from '@platform/testing';
import { type Msg, type Subscription } from 'nats';
import { Client } from 'pg';
import { secretsService } from '../src/secrets.definition';
import { SecretsRuntime } from '../src/secrets-runtime';

interface SecretJson {
  id: string;
  key: string;
  organizationId: string;
  customerOrganizationId: string | null;
  version: number;
  createdAt: string;
  createdBy: string;
  updatedAt: string;
  updatedBy: string;
}
interface ErrorJson {
  error: { code: string; message: string; details?: Record<string, unknown> };
}

const { run, vendor, otherVendor, customer, otherCustomer } = testTenants();

/** Every plaintext value this run sends; none may show up anywhere but inside resolve's JWE. */
const plaintexts = new PlaintextValues();
const usedValues = plaintexts.all;
const value = (label: string): string => plaintexts.next(label);

describe('secrets service over NATS (plain JSON)', () => {
  let platform: TestPlatform;
  let database: TestDatabase;
  let service: TestService;
  let client: TestNatsClient;
  let tokens: TestTokens;
  const captured: { subject: string; data: string; headers: string }[] = [];
  let prefix: string;
  let admin: string;
  let readOnly: string;
  let customerAdmin: string;
  let otherVendorAdmin: string;

  const call = <T = SecretJson>(subject: string, body: unknown, token: string, headers?: Record<string, string>) =>
    client.request<T>(subject, body, { token, headers });
  const refused = (reply: { body: unknown; status?: number }) => (reply.body as ErrorJson).error;

  beforeAll(async () => {
    platform = await startTestPlatform();
    ({ database, prefix, client, tokens } = platform);
    const spy = await platform.connect('leak-spy');
    const record = (subscription: Subscription) =>
      void (async () => {
        for await (const message of subscription) capture(message);
      })();
    const capture = (message: Msg) =>
      captured.push({
        subject: message.subject,
        data: new TextDecoder().decode(message.data),
        headers: message.headers ? [...message.headers].map(([k, v]) => `${k}: ${v.join(',')}`).join('\n') : '',
      });
    record(spy.subscribe(`${prefix}>`));
    record(spy.subscribe('_INBOX.>'));
    service = await platform.start(secretsService);
    [admin, readOnly, customerAdmin, otherVendorAdmin] = await Promise.all([
      tokens.vendor(vendor, 'admin'),
      tokens.vendor(vendor, 'read_only'),
      tokens.customer(vendor, customer, 'read_write'),
      tokens.vendor(otherVendor, 'admin'),
    ]);
  });

  afterAll(() => platform?.close());

  it('creates, reads, lists, updates, deletes and re-creates a secret, with history but never a value', async () => {
    const created = await call('secrets.v1.create', { key: 'DB_PASSWORD', value: value('db1') }, admin);
    expect(created.status).toBeUndefined();
    expect(created.body).toEqual({
      id: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
      key: 'DB_PASSWORD',
      organizationId: vendor,
      customerOrganizationId: null,
      version: 1,
      createdAt: expect.any(String),
      createdBy: `admin@${vendor}`,
      updatedAt: created.body.createdAt,
      updatedBy: `admin@${vendor}`,
    });

    const fetched = await call('secrets.v1.get', { key: 'DB_PASSWORD' }, admin);
    expect(fetched.body).toEqual(created.body);

    const updated = await call(
      'secrets.v1.update',
      { key: 'DB_PASSWORD', value: value('db2'), expectedVersion: 1 },
      admin,
    );
    expect(updated.body).toMatchObject({ id: created.body.id, version: 2, createdAt: created.body.createdAt });
    // The Secret, plus the deployments the update leaves on an older value: none here.
    const { affectedDeployments, ...updatedSecret } = updated.body as SecretJson & { affectedDeployments: unknown };
    expect(affectedDeployments).toEqual({ count: 0, deployments: [] });

    const listed = await call<{ secrets: SecretJson[] }>('secrets.v1.list', {}, admin);
    expect(listed.body.secrets.find((s) => s.key === 'DB_PASSWORD')).toEqual(updatedSecret);

    const deleted = await call<{ key: string; version: number; deletedAt: string }>(
      'secrets.v1.delete',
      { key: 'DB_PASSWORD' },
      admin,
    );
    expect(deleted.body).toEqual({
      key: 'DB_PASSWORD',
      version: 3,
      deletedAt: expect.any(String),
      affectedDeployments: { count: 0, deployments: [] },
    });

    const gone = await call('secrets.v1.get', { key: 'DB_PASSWORD' }, admin);
    expect(gone.status).toBe(404);
    expect(refused(gone)).toEqual({
      code: 'NOT_FOUND',
      message: 'secret "DB_PASSWORD" not found in this scope',
      details: { key: 'DB_PASSWORD' },
    });
    for (const [subject, body] of [
      ['secrets.v1.update', { key: 'DB_PASSWORD', value: value('db-gone') }],
      ['secrets.v1.delete', { key: 'DB_PASSWORD' }],
    ] as const) {
      expect(refused(await call(subject, body, admin)).code).toBe('NOT_FOUND');
    }

    const recreated = await call('secrets.v1.create', { key: 'DB_PASSWORD', value: value('db3') }, admin);
    expect(recreated.body).toMatchObject({ id: created.body.id, version: 4 });

    const again = await call('secrets.v1.create', { key: 'DB_PASSWORD', value: value('db4') }, admin);
    expect(again.status).toBe(409);
    expect(refused(again)).toMatchObject({
      code: 'ALREADY_EXISTS',
      message: 'secret "DB_PASSWORD" already exists in this scope',
    });

    const history = await call<{ versions: unknown[] }>('secrets.v1.history', { key: 'DB_PASSWORD' }, readOnly);
    const actor = { sub: `admin@${vendor}`, org: vendor, role: 'admin' };
    const entry = (version: number, type: string) => ({
      version,
      type,
      occurredAt: expect.any(String),
      actor,
      destroyed: false,
      destroyedVersions: [],
    });
    expect(history.body).toEqual({
      versions: [
        entry(1, 'SecretCreated'),
        entry(2, 'SecretValueUpdated'),
        entry(3, 'SecretDeleted'),
        entry(4, 'SecretCreated'),
      ],
    });
    expect(refused(await call('secrets.v1.history', { key: 'NEVER_EXISTED' }, admin)).code).toBe('NOT_FOUND');
  });

  it.each(['_API_KEY', '123_KEY', 'API-KEY', 'API KEY'])(
    'refuses the invalid key %j from the product rules',
    async (key) => {
      const reply = await call('secrets.v1.create', { key, value: value('bad-key') }, admin);
      expect(reply.status).toBe(400);
      expect(refused(reply)).toEqual({
        code: 'INVALID_ARGUMENT',
        message: 'key is invalid: it must start with a letter and contain only letters, digits and underscores',
      });
    },
  );

  it.each(['API_KEY', 'database_password', 'GitHubToken123', 'stripe_api_key_prod'])(
    'accepts the valid key %j from the product rules',
    async (key) => {
      const reply = await call('secrets.v1.create', { key, value: value('good-key') }, admin);
      expect(reply.status).toBeUndefined();
      expect(reply.body).toMatchObject({ key, version: 1 });
    },
  );

  it('refuses an empty value and one above 64 KiB, and accepts exactly 64 KiB even fully JSON-escaped', async () => {
    const empty = await call('secrets.v1.create', { key: 'EMPTY', value: '' }, admin);
    expect(empty.status).toBe(400);
    expect(refused(empty)).toEqual({ code: 'INVALID_ARGUMENT', message: 'value must not be empty' });

    const tooLarge = await call('secrets.v1.create', { key: 'HUGE', value: 'x'.repeat(64 * 1024 + 1) }, admin);
    expect(tooLarge.status).toBe(413);
    expect(refused(tooLarge)).toEqual({
      code: 'PAYLOAD_TOO_LARGE',
      message: 'value is 65537 bytes, more than 65536',
      details: { sizeBytes: 65537, limitBytes: 65536 },
    });

    const escaped = '\\u0041'.repeat(64 * 1024);
    const largest = await call('secrets.v1.create', `{"key":"LARGEST","value":"${escaped}"}`, admin);
    expect(largest.status).toBeUndefined();
    expect(largest.body).toMatchObject({ key: 'LARGEST', version: 1 });
  });

  it('lets a read_only user see keys but not write them', async () => {
    await call('secrets.v1.create', { key: 'VISIBLE_TO_ALL', value: value('ro') }, admin);
    for (const [subject, body] of [
      ['secrets.v1.create', { key: 'RO_KEY', value: value('ro-create') }],
      ['secrets.v1.update', { key: 'VISIBLE_TO_ALL', value: value('ro-update') }],
      ['secrets.v1.delete', { key: 'VISIBLE_TO_ALL' }],
    ] as const) {
      const reply = await call(subject, body, readOnly);
      expect(reply.status).toBe(403);
      expect(refused(reply)).toEqual({
        code: 'PERMISSION_DENIED',
        message: 'creating, updating or deleting secrets needs the read_write or admin role',
      });
    }
    const listed = await call<{ secrets: SecretJson[] }>('secrets.v1.list', {}, readOnly);
    expect(listed.body.secrets.map((s) => s.key)).toContain('VISIBLE_TO_ALL');
    expect((await call('secrets.v1.get', { key: 'VISIBLE_TO_ALL' }, readOnly)).body.version).toBe(1);
  });

  it('keeps a customer to its own scope, and shows a vendor all or one customer', async () => {
    await call('secrets.v1.create', { key: 'VENDOR_ONLY', value: value('vendor-only') }, admin);
    const own = await call('secrets.v1.create', { key: 'CUSTOMER_TOKEN', value: value('cust') }, customerAdmin);
    expect(own.body).toMatchObject({ organizationId: vendor, customerOrganizationId: customer, version: 1 });
    await call(
      'secrets.v1.create',
      { key: 'OTHER_CUSTOMER_TOKEN', value: value('other-cust'), customerOrganizationId: otherCustomer },
      admin,
    );

    const customerList = await call<{ secrets: SecretJson[] }>('secrets.v1.list', {}, customerAdmin);
    expect(customerList.body.secrets.map((s) => s.key)).toEqual(['CUSTOMER_TOKEN']);
    const named = await call<{ secrets: SecretJson[] }>(
      'secrets.v1.list',
      { customerOrganizationId: customer },
      customerAdmin,
    );
    expect(named.body.secrets.map((s) => s.key)).toEqual(['CUSTOMER_TOKEN']);
    expect(refused(await call('secrets.v1.get', { key: 'VENDOR_ONLY' }, customerAdmin)).code).toBe('NOT_FOUND');

    for (const [subject, body] of [
      ['secrets.v1.list', { customerOrganizationId: otherCustomer }],
      ['secrets.v1.get', { key: 'OTHER_CUSTOMER_TOKEN', customerOrganizationId: otherCustomer }],
      ['secrets.v1.create', { key: 'X', value: value('x'), customerOrganizationId: otherCustomer }],
    ] as const) {
      const reply = await call(subject, body, customerAdmin);
      expect(reply.status).toBe(403);
      expect(refused(reply)).toEqual({
        code: 'PERMISSION_DENIED',
        message: 'a customer can only address its own secrets',
      });
    }

    const vendorAll = await call<{ secrets: SecretJson[] }>('secrets.v1.list', { pageSize: 1000 }, admin);
    const scoped = vendorAll.body.secrets.map((s) => `${s.customerOrganizationId ?? '_'}/${s.key}`);
    expect(scoped).toEqual(
      expect.arrayContaining([`_/VENDOR_ONLY`, `${customer}/CUSTOMER_TOKEN`, `${otherCustomer}/OTHER_CUSTOMER_TOKEN`]),
    );
    const vendorFiltered = await call<{ secrets: SecretJson[] }>(
      'secrets.v1.list',
      { customerOrganizationId: customer },
      admin,
    );
    expect(vendorFiltered.body.secrets.map((s) => s.key)).toEqual(['CUSTOMER_TOKEN']);
    const updatedByVendor = await call(
      'secrets.v1.update',
      { key: 'CUSTOMER_TOKEN', value: value('cust2'), customerOrganizationId: customer },
      admin,
    );
    expect(updatedByVendor.body).toMatchObject({ version: 2, updatedBy: `admin@${vendor}` });
  });

  it('shows another vendor nothing, not even when it names the first vendor’s customer', async () => {
    const all = await call<{ secrets: SecretJson[] }>('secrets.v1.list', {}, otherVendorAdmin);
    expect(all.body).toEqual({ secrets: [] });
    const named = await call<{ secrets: SecretJson[] }>(
      'secrets.v1.list',
      { customerOrganizationId: customer },
      otherVendorAdmin,
    );
    expect(named.body).toEqual({ secrets: [] });
    expect(refused(await call('secrets.v1.get', { key: 'VENDOR_ONLY' }, otherVendorAdmin)).code).toBe('NOT_FOUND');
    expect(
      refused(
        await call('secrets.v1.get', { key: 'CUSTOMER_TOKEN', customerOrganizationId: customer }, otherVendorAdmin),
      ).code,
    ).toBe('NOT_FOUND');
    // Its own create of the same key lands in its own partition.
    const mine = await call(
      'secrets.v1.create',
      { key: 'VENDOR_ONLY', value: value('other-vendor') },
      otherVendorAdmin,
    );
    expect(mine.body).toMatchObject({ organizationId: otherVendor, version: 1 });
  });

  it('lets exactly one of 20 concurrent updates at the same expectedVersion win', async () => {
    await call('secrets.v1.create', { key: 'CONTENDED', value: value('contended') }, admin);
    const replies = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        call('secrets.v1.update', { key: 'CONTENDED', value: value(`contended-${i}`), expectedVersion: 1 }, admin),
      ),
    );
    const won = replies.filter((reply) => reply.status === undefined);
    const lost = replies.filter((reply) => reply.status === 409);
    expect(won).toHaveLength(1);
    expect(won[0].body.version).toBe(2);
    expect(lost).toHaveLength(19);
    for (const reply of lost) {
      expect(refused(reply)).toEqual({
        code: 'VERSION_CONFLICT',
        message: 'secret "CONTENDED" is at version 2, not the expected version 1',
        details: { expected: 1, actual: 2 },
      });
    }
  });

  it('answers a retry with the same Idempotency-Key from the first attempt and appends nothing', async () => {
    const body = { key: 'IDEMPOTENT', value: value('idem') };
    const headers = { 'Idempotency-Key': `create-${run}` };
    const first = await call('secrets.v1.create', body, admin, headers);
    const retries = await Promise.all([1, 2, 3].map(() => call('secrets.v1.create', body, admin, headers)));
    for (const retry of retries) expect(retry.body).toEqual(first.body);
    const history = await call<{ versions: unknown[] }>('secrets.v1.history', { key: 'IDEMPOTENT' }, admin);
    expect(history.body.versions).toHaveLength(1);

    const update = { key: 'IDEMPOTENT', value: value('idem2') };
    const updateHeaders = { 'Idempotency-Key': `update-${run}` };
    const updated = await call('secrets.v1.update', update, admin, updateHeaders);
    expect((await call('secrets.v1.update', update, admin, updateHeaders)).body).toEqual(updated.body);
    expect(updated.body.version).toBe(2);

    const different = await call('secrets.v1.create', { key: 'IDEMPOTENT', value: value('idem3') }, admin, headers);
    expect(different.status).toBe(400);
    expect(refused(different)).toEqual({
      code: 'INVALID_ARGUMENT',
      message: 'this Idempotency-Key was already used with a different request',
    });
    const versions = await call<{ versions: unknown[] }>('secrets.v1.history', { key: 'IDEMPOTENT' }, admin);
    expect(versions.body.versions).toHaveLength(2);
  });

  it('answers a destroy retried with the same Idempotency-Key as the first, destroying once', async () => {
    const key = 'DESTROY_IDEM';
    expect((await call('secrets.v1.create', { key, value: value('destroy-1') }, admin)).status).toBeUndefined();
    for (const label of ['destroy-2', 'destroy-3']) {
      expect((await call('secrets.v1.update', { key, value: value(label) }, admin)).status).toBeUndefined();
    }
    const headers = { 'Idempotency-Key': `destroy-${run}` };
    const destroy = (versions: number[]) =>
      call<Record<string, unknown>>('secrets.v1.destroy', { key, versions }, admin, headers);

    // The first attempt and its retries race: every one answers as the first, one event is appended.
    const [first, ...retries] = await Promise.all([destroy([1]), destroy([1]), destroy([1]), destroy([1])]);
    expect(first.status).toBeUndefined();
    expect(first.body).toEqual({ key, customerOrganizationId: null, versions: [1], destroyedAt: expect.any(String) });
    for (const retry of retries) expect(retry.body).toEqual(first.body);
    expect((await destroy([1])).body).toEqual(first.body);
    const destructions = await service.app
      .get(SecretsRuntime)
      .store.query('select event_id from events where stream_id = $1', [`destroyed:${vendor}:_:${key}`]);
    expect(destructions).toHaveLength(1);

    const different = await destroy([2]);
    expect(different.status).toBe(400);
    expect(refused(different)).toEqual({
      code: 'INVALID_ARGUMENT',
      message: 'this Idempotency-Key was already used with a different request',
    });
    const history = await call<{ versions: Array<{ version: number; destroyed: boolean }> }>(
      'secrets.v1.history',
      { key },
      admin,
    );
    expect(history.body.versions.map(({ version, destroyed }) => [version, destroyed])).toEqual([
      [1, true],
      [2, false],
      [3, false],
      [0, false],
    ]);
  });

  it('pages through a list with an opaque token', async () => {
    const pager = await tokens.vendor(`pager${run}`, 'admin');
    const keys = ['K_A', 'K_B', 'K_C', 'K_D', 'K_E'];
    for (const key of keys) await call('secrets.v1.create', { key, value: value('page') }, pager);
    const seen: string[] = [];
    let pageToken: string | undefined;
    let pages = 0;
    do {
      const page = await call<{ secrets: SecretJson[]; nextPageToken?: string }>(
        'secrets.v1.list',
        { pageSize: 2, ...(pageToken ? { pageToken } : {}) },
        pager,
      );
      seen.push(...page.body.secrets.map((s) => s.key));
      pageToken = page.body.nextPageToken;
      pages++;
    } while (pageToken);
    expect(seen).toEqual(keys);
    expect(pages).toBe(3);
    const bad = await call('secrets.v1.list', { pageToken: 'not-a-token' }, pager);
    expect(refused(bad)).toEqual({ code: 'INVALID_ARGUMENT', message: 'pageToken is not a token this service issued' });
  });

  it('refuses service tokens on user subjects and expired tokens everywhere', async () => {
    const renderService = await tokens.service('deployer', ['secrets:resolve', 'render:any']);
    const reply = await call('secrets.v1.list', {}, renderService);
    expect(reply.status).toBe(403);
    expect(refused(reply)).toEqual({ code: 'PERMISSION_DENIED', message: 'this subject is for users' });
    const write = await call('secrets.v1.create', { key: 'SVC', value: value('svc') }, renderService);
    expect(refused(write).code).toBe('PERMISSION_DENIED');
    const expired = await call('secrets.v1.list', {}, await tokens.expired(vendor));
    expect(expired.status).toBe(401);
    expect(refused(expired).code).toBe('UNAUTHENTICATED');
  });

  describe('secrets.v1.resolve', () => {
    const resolveVendor = `render${run}`;
    const resolveCustomer = `cust${run}`;
    let vendorAdmin: string;
    const values: Record<string, string> = {};

    beforeAll(async () => {
      vendorAdmin = await tokens.vendor(resolveVendor, 'admin');
      values.shared = value('shared-vendor');
      values.sharedCustomer = value('shared-customer');
      values.sharedCustomer2 = value('shared-customer-2');
      values.vendorOnly = value('vendor-only');
      await call('secrets.v1.create', { key: 'SHARED', value: values.shared }, vendorAdmin);
      await call('secrets.v1.create', { key: 'VENDOR_ONLY', value: values.vendorOnly }, vendorAdmin);
      await call(
        'secrets.v1.create',
        { key: 'SHARED', value: values.sharedCustomer, customerOrganizationId: resolveCustomer },
        vendorAdmin,
      );
      await call(
        'secrets.v1.update',
        { key: 'SHARED', value: values.sharedCustomer2, customerOrganizationId: resolveCustomer },
        vendorAdmin,
      );
    });

    async function resolve(token: string, request: Record<string, unknown>) {
      // As a service calls: a fresh reply key confirmed by the token (cnf.jkt), a fresh nonce, the reply checked.
      const caller = await ResolveCaller.bindToken(tokens, token);
      const body = caller.request({ organizationId: resolveVendor, ...request });
      const reply = await call<{ ciphertext: string; signature: string; missing: string[] }>(
        'secrets.v1.resolve',
        body,
        caller.token,
      );
      const opened = reply.status === undefined ? await caller.open(body, reply.body) : undefined;
      return { reply, opened: opened as { values: Record<string, unknown>; history: unknown[] } | undefined };
    }

    it('returns the named values encrypted to the reply key, customer values overriding vendor ones', async () => {
      const renderToken = await tokens.service('deployer', ['secrets:resolve']);
      const { reply, opened } = await resolve(renderToken, {
        customerOrganizationId: resolveCustomer,
        keys: ['SHARED', 'VENDOR_ONLY', 'ABSENT'],
      });
      expect(reply.body.ciphertext.split('.')).toHaveLength(5);
      expect(reply.body.missing).toEqual(['ABSENT']);
      expect(opened).toEqual({
        values: {
          SHARED: { value: values.sharedCustomer2, version: 2, scope: 'customer' },
          VENDOR_ONLY: { value: values.vendorOnly, version: 1, scope: 'vendor' },
        },
        history: [],
      });

      const vendorLevel = await resolve(renderToken, { keys: ['SHARED'] });
      expect(vendorLevel.opened?.values).toEqual({ SHARED: { value: values.shared, version: 1, scope: 'vendor' } });
    });

    it('resolves pinned versions', async () => {
      const renderToken = await tokens.service('deployer', ['secrets:resolve']);
      const { reply, opened } = await resolve(renderToken, {
        customerOrganizationId: resolveCustomer,
        keys: ['SHARED', 'VENDOR_ONLY'],
        pins: { SHARED: 1, VENDOR_ONLY: 9 },
      });
      expect(opened?.values).toEqual({ SHARED: { value: values.sharedCustomer, version: 1, scope: 'customer' } });
      expect(reply.body.missing).toEqual(['VENDOR_ONLY']);
    });

    it("resolves only the customer's own values with customerOnly, and refuses it without a customer", async () => {
      const renderToken = await tokens.service('deployer', ['secrets:resolve']);
      const request = { customerOrganizationId: resolveCustomer, keys: ['SHARED', 'VENDOR_ONLY'], customerOnly: true };
      const { reply, opened } = await resolve(renderToken, request);
      expect(opened?.values).toEqual({ SHARED: { value: values.sharedCustomer2, version: 2, scope: 'customer' } });
      expect(reply.body.missing).toEqual(['VENDOR_ONLY']);
      const metadata = await resolve(renderToken, { ...request, metadataOnly: true });
      expect(metadata.opened?.values).toEqual({ SHARED: { version: 2, scope: 'customer' } });
      expect(metadata.reply.body.missing).toEqual(['VENDOR_ONLY']);
      const redaction = await tokens.service('log-masker', ['secrets:resolve-all']);
      const all = await resolve(redaction, {
        customerOrganizationId: resolveCustomer,
        customerOnly: true,
        includeHistory: true,
      });
      expect(Object.keys(all.opened?.values ?? {})).toEqual(['SHARED']);
      expect(all.opened?.history).toEqual([
        { key: 'SHARED', value: values.sharedCustomer, version: 1, scope: 'customer' },
      ]);
      const withoutCustomer = await resolve(renderToken, { keys: ['SHARED'], customerOnly: true });
      expect(withoutCustomer.reply.status).toBe(400);
      expect(refused(withoutCustomer.reply)).toEqual({
        code: 'INVALID_ARGUMENT',
        message: 'customerOnly needs customerOrganizationId',
        details: { field: 'customerOnly' },
      });
    });

    it('refuses a pin outside 1 to 2^31 - 1 with INVALID_ARGUMENT naming the field', async () => {
      const renderToken = await tokens.service('deployer', ['secrets:resolve']);
      for (const version of [0, 2 ** 31, 4294967295]) {
        const { reply } = await resolve(renderToken, { keys: ['SHARED'], pins: { SHARED: version } });
        expect([version, reply.status, refused(reply)]).toEqual([
          version,
          400,
          {
            code: 'INVALID_ARGUMENT',
            message: 'pins.SHARED must be a version from 1 to 2147483647',
            details: { field: 'pins.SHARED' },
          },
        ]);
      }
      const tooLarge = await resolve(renderToken, { keys: ['SHARED'], pins: { SHARED: 2 ** 32 } });
      expect(refused(tooLarge.reply).code).toBe('INVALID_ARGUMENT');
      const highest = await resolve(renderToken, { keys: ['SHARED'], pins: { SHARED: 2 ** 31 - 1 } });
      expect(highest.reply.body.missing).toEqual(['SHARED']);
    });

    it('gives every key only to resolve-current or resolve-all, and earlier values only to resolve-all', async () => {
      const narrow = await tokens.service('deployer', ['secrets:resolve']);
      const everyKey = await resolve(narrow, {});
      expect(everyKey.reply.status).toBe(403);
      expect(refused(everyKey.reply)).toEqual({
        code: 'PERMISSION_DENIED',
        message: 'resolving every key needs a service token with scope secrets:resolve-current or secrets:resolve-all',
      });
      const current = await tokens.service('deployer', ['secrets:resolve', 'secrets:resolve-current']);
      for (const token of [narrow, current]) {
        const { reply } = await resolve(token, { keys: ['SHARED'], includeHistory: true });
        expect(reply.status).toBe(403);
        expect(refused(reply)).toEqual({
          code: 'PERMISSION_DENIED',
          message: 'the history of values needs a service token with scope secrets:resolve-all',
        });
      }
      const currentValues = await resolve(current, {});
      expect(currentValues.opened).toEqual({
        values: {
          SHARED: { value: values.shared, version: 1, scope: 'vendor' },
          VENDOR_ONLY: { value: values.vendorOnly, version: 1, scope: 'vendor' },
        },
        history: [],
      });
      const redaction = await tokens.service('log-masker', ['secrets:resolve-all']);
      const { opened } = await resolve(redaction, { customerOrganizationId: resolveCustomer, includeHistory: true });
      expect(opened?.values).toEqual({
        SHARED: { value: values.sharedCustomer2, version: 2, scope: 'customer' },
        VENDOR_ONLY: { value: values.vendorOnly, version: 1, scope: 'vendor' },
      });
      expect(opened?.history).toEqual(
        expect.arrayContaining([
          { key: 'SHARED', value: values.shared, version: 1, scope: 'vendor' },
          { key: 'SHARED', value: values.sharedCustomer, version: 1, scope: 'customer' },
        ]),
      );
      expect(opened?.history).toHaveLength(2);
    });

    it('refuses user tokens and services without a resolve scope', async () => {
      for (const token of [vendorAdmin, await tokens.service('auditor', ['audit:read'])]) {
        const { reply } = await resolve(token, { keys: ['SHARED'] });
        expect(reply.status).toBe(403);
        expect(refused(reply)).toEqual({
          code: 'PERMISSION_DENIED',
          message:
            'this subject needs a service token with scope secrets:resolve or secrets:resolve-current or secrets:resolve-all',
        });
      }
    });

    it('refuses a reply key that is not a public EC P-256 JWK', async () => {
      const renderToken = await tokens.service('deployer', ['secrets:resolve']);
      const { reply } = await resolve(renderToken, { keys: ['SHARED'], replyKey: { kty: 'oct', k: 'AAAA' } });
      expect(refused(reply)).toMatchObject({ code: 'INVALID_ARGUMENT', details: { field: 'replyKey' } });
    });
  });

  it('reports ready when NATS and Postgres answer and the outbox may publish', async () => {
    const response = await fetch(`http://127.0.0.1:${service.httpPort}/readyz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ ready: true, checks: { nats: true, postgres: true, outbox: true } });
  });

  it('publishes every event to SECRETS_EVENTS, metadata only, with Nats-Msg-Id = event id', async () => {
    await service.app.get(SecretsRuntime).outbox.drain();
    await new Promise((resolve) => setTimeout(resolve, 200));
    const published = captured.filter((message) => message.subject.startsWith(`${prefix}secrets.events.`));
    const created = published
      .map((message) => ({ ...message, event: JSON.parse(message.data) as Record<string, unknown> }))
      .find((message) => message.event.type === 'SecretCreated' && message.event.key === 'DB_PASSWORD');
    expect(created?.subject).toBe(`${prefix}secrets.events.${vendor}.SecretCreated`);
    expect(created?.event).toEqual({
      eventId: expect.any(String),
      type: 'SecretCreated',
      organizationId: vendor,
      customerOrganizationId: null,
      key: 'DB_PASSWORD',
      version: 1,
      actor: { sub: `admin@${vendor}`, org: vendor, role: 'admin' },
      occurredAt: expect.any(String),
      position: expect.any(Number),
      resolved: [],
      valueDigest: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      destroyedVersions: [],
    });
    expect(created?.headers).toContain(`Nats-Msg-Id: ${created?.event.eventId}`);
    const access = published.find((message) => message.subject.endsWith('.SecretValuesResolved'));
    expect(JSON.parse(access?.data ?? '{}')).toMatchObject({
      type: 'SecretValuesResolved',
      key: null,
      actor: { sub: 'service:deployer', org: 'deployer', role: '' },
      resolved: expect.arrayContaining([{ key: 'SHARED', version: 2, scope: 'customer' }]),
    });
  });

  it('leaks no plaintext value into NATS traffic, logs, metrics or stored events', async () => {
    await service.app.get(SecretsRuntime).outbox.drain();
    const metrics = await (await fetch(`http://127.0.0.1:${service.httpPort}/metrics`)).text();
    expect(metrics).toMatch(/secrets_requests_total\{[^}]*subject="secrets\.v1\.create",code="OK"[^}]*\} \d+/);
    expect(metrics).toMatch(
      /secrets_requests_total\{[^}]*subject="secrets\.v1\.update",code="VERSION_CONFLICT"[^}]*\} 19/,
    );
    const db = new Client({ connectionString: database.url });
    await db.connect();
    const stored = await db.query<{ text: string }>(
      `select data::text || metadata::text as text from secrets.events
       union all select row_to_json(v)::text from secrets.secret_view v
       union all select row_to_json(i)::text from secrets.idempotency_key i
       union all select row_to_json(d)::text from secrets.data_key d`,
    );
    await db.end();
    const haystacks = [
      // Requests carry the values the client sent; everything the service sent (replies, events) is searched.
      ...captured
        .filter((message) => !message.subject.startsWith(`${prefix}secrets.v1.`) && !isResolveReply(message.data))
        .map((message) => `${message.subject}\n${message.headers}\n${message.data}`),
      ...service.logs,
      metrics,
      ...stored.rows.map((row) => row.text),
    ];
    expect(usedValues.length).toBeGreaterThan(30);
    expect(captured.length).toBeGreaterThan(100);
    const leaks = usedValues.filter((v) => haystacks.some((haystack) => haystack.includes(v)));
    expect(leaks).toEqual([]);
    // Resolve replies are JWE only: five base64url parts, no plaintext either.
    const resolveReplies = captured.filter((message) => isResolveReply(message.data));
    expect(resolveReplies.length).toBeGreaterThan(0);
    for (const reply of resolveReplies) {
      expect(usedValues.some((v) => reply.data.includes(v))).toBe(false);
    }
  });
});

function isResolveReply(data: string): boolean {
  try {
    const body = JSON.parse(data) as { ciphertext?: unknown };
    return typeof body.ciphertext === 'string' && /^[\w-]+\.\.[\w-]+\.[\w-]+\.[\w-]+$/.test(body.ciphertext);
  } catch {
    return false;
  }
}

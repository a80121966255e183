// Issue 15, class 4: a user-chosen string that is also an Object.prototype property name (`toString`, `constructor`,
// `__proto__`, …) must be an ordinary key everywhere. Every valid one is a secret key of one vendor and of one of its
// customers, the organizations themselves are named after prototype properties too, and every subject and the log
// pipeline is driven with them; the invalid ones (`__proto__`, `__defineGetter__`, …) are refused cleanly wherever
// a user string goes.
import { randomBytes } from 'node:crypto';
import { type JetStreamClient } from 'nats';
import { prefixedStreamName } from '@platform/messaging';
import { type Reply, ResolveCaller, eventually, eventuallyValue } from '@platform/testing';
import { type PlatformUnderTest, metricsOf, outcomeOf, startPlatform } from '../reliability/fixtures/platform';

const KEY_PATTERN = /^[A-Za-z][A-Za-z0-9_]{0,255}$/;
const PROTOTYPE_NAMES = Object.getOwnPropertyNames(Object.prototype);
/** `constructor`, `hasOwnProperty`, `toString`, `valueOf`, …: valid secret keys. */
const KEYS = PROTOTYPE_NAMES.filter((name) => KEY_PATTERN.test(name)).sort();
/** `__proto__`, `__defineGetter__`, …: never valid keys or identifiers. */
const INVALID = PROTOTYPE_NAMES.filter((name) => !KEY_PATTERN.test(name));

// Organization, customer and deployment ids are user-chosen identifiers too; each file has its own database and prefix.
const VENDOR = 'constructor';
const CUSTOMER = 'toString';
const DEPLOYMENT = 'valueOf';
/** A vendor for the idempotency checks, so the vendor's scopes hold exactly KEYS. */
const OTHER_VENDOR = 'isPrototypeOf';
/** A vendor without secrets. */
const EMPTY_VENDOR = 'hasOwnProperty';
const MASK = '********';

const run = randomBytes(6).toString('hex');
const valueFor = (scope: string, key: string, version: number) => `${scope}-${key}-v${version}-${run}`;
const vendorValue = (key: string, version = 2) => valueFor('vendor', key, version);
const customerValue = (key: string, version = 2) => valueFor('customer', key, version);

interface ResolvedJson {
  values: Record<string, { value?: string; version: number; scope: string }>;
  history: Array<{ key: string; value: string; version: number; scope: string }>;
}

describe('prototype property names as keys and identifiers', () => {
  let platform: PlatformUnderTest;
  let vendorAdmin: string;
  let customerUser: string;
  let resolver: string;
  let renderer: string;
  /** The resolving service: its reply key, and its token confirming it. */
  let replyKey: ResolveCaller;

  const request = (subject: string, body: unknown, token: string, headers?: Record<string, string>) =>
    platform.client.request(subject, body, { token, ...(headers ? { headers } : {}) });

  async function succeed(subject: string, body: unknown, token = vendorAdmin): Promise<Record<string, unknown>> {
    const reply = await request(subject, body, token);
    expect({ subject, outcome: outcomeOf(reply), body: reply.status === undefined ? 'ok' : reply.body }).toEqual({
      subject,
      outcome: 'OK',
      body: 'ok',
    });
    return reply.body;
  }

  /** A counter of the redaction service's /metrics, summed over the series that start with `series`. */
  async function metricOf(series: string): Promise<number> {
    return (await metricsOf(platform.services.redaction))
      .split('\n')
      .filter((line) => line.startsWith(series))
      .reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
  }

  function expectRefusal(reply: Reply, message: string): void {
    expect([outcomeOf(reply), (reply.body as { error: { message: string } }).error.message]).toEqual([
      'INVALID_ARGUMENT',
      message,
    ]);
  }

  async function resolve(body: Record<string, unknown>): Promise<ResolvedJson> {
    const sent = replyKey.request({ organizationId: VENDOR, ...body });
    const reply = await succeed('secrets.v1.resolve', sent, resolver);
    return (await replyKey.open(sent, reply)) as ResolvedJson;
  }

  beforeAll(async () => {
    platform = await startPlatform({ redaction: { REDACTION_SETTLE_MS: '0' } });
    const tokens = platform.tokens;
    vendorAdmin = await tokens.vendor(VENDOR, 'admin');
    customerUser = await tokens.customer(VENDOR, CUSTOMER, 'read_write');
    replyKey = await ResolveCaller.create(tokens, `deployer${run}`, ['secrets:resolve-all']);
    resolver = replyKey.token;
    renderer = await tokens.service(`deployer${run}`, ['render:any']);
    // Two versions of each key, vendor-level and customer-specific, so pins and history have something to choose.
    for (const key of KEYS) {
      for (const customer of [undefined, CUSTOMER]) {
        const value = customer ? customerValue : vendorValue;
        const scope = customer ? { customerOrganizationId: customer } : {};
        const created = await succeed('secrets.v1.create', { key, value: value(key, 1), ...scope });
        expect(created).toMatchObject({ key, organizationId: VENDOR, version: 1 });
        const updated = await succeed('secrets.v1.update', { key, value: value(key, 2), ...scope });
        expect(updated).toMatchObject({ key, version: 2 });
      }
    }
  });

  afterAll(async () => {
    await platform?.close();
  });

  it('uses the valid prototype names, and only those, as keys', () => {
    expect(KEYS).toEqual(
      expect.arrayContaining(['constructor', 'hasOwnProperty', 'isPrototypeOf', 'toString', 'valueOf']),
    );
    expect(INVALID).toEqual(expect.arrayContaining(['__proto__', '__defineGetter__']));
  });

  it('gets, lists and shows the history of every key', async () => {
    for (const key of KEYS) {
      expect(await succeed('secrets.v1.get', { key })).toMatchObject({ key, version: 2, customerOrganizationId: null });
      expect(await succeed('secrets.v1.get', { key, customerOrganizationId: CUSTOMER })).toMatchObject({
        key,
        version: 2,
        customerOrganizationId: CUSTOMER,
      });
      const { versions } = await succeed('secrets.v1.history', { key, customerOrganizationId: CUSTOMER });
      expect(
        (versions as Array<{ version: number; type: string }>).map(({ version, type }) => [version, type]),
      ).toEqual([
        [1, 'SecretCreated'],
        [2, 'SecretValueUpdated'],
      ]);
    }
    const listed = await succeed('secrets.v1.list', { customerOrganizationId: CUSTOMER });
    expect((listed.secrets as Array<{ key: string }>).map((secret) => secret.key).sort()).toEqual(KEYS);
    const ownList = await succeed('secrets.v1.list', {}, customerUser);
    expect((ownList.secrets as Array<{ key: string }>).map((secret) => secret.key).sort()).toEqual(KEYS);
  });

  it('answers a retried write under an Idempotency-Key named after a prototype property once', async () => {
    const otherVendorAdmin = await platform.tokens.vendor(OTHER_VENDOR, 'admin');
    for (const idempotencyKey of ['constructor', '__proto__']) {
      const body = { key: `IDEMPOTENT_${idempotencyKey.length}`, value: `idempotent-${run}` };
      const first = await request('secrets.v1.create', body, otherVendorAdmin, { 'Idempotency-Key': idempotencyKey });
      const retry = await request('secrets.v1.create', body, otherVendorAdmin, { 'Idempotency-Key': idempotencyKey });
      expect([outcomeOf(first), outcomeOf(retry)]).toEqual(['OK', 'OK']);
      expect(retry.body).toEqual(first.body);
    }
  });

  it('resolves every key, with and without naming them, pinned and with history', async () => {
    const everyKey = await resolve({ customerOrganizationId: CUSTOMER, keys: [], includeHistory: true });
    expect(Object.keys(everyKey.values).sort()).toEqual(KEYS);
    for (const key of KEYS) {
      expect(everyKey.values[key]).toEqual({ value: customerValue(key), version: 2, scope: 'customer' });
    }
    // Every earlier value and every overridden vendor-level value comes along, for redaction.
    const history = everyKey.history.map(({ key, value }) => [key, value]);
    for (const key of KEYS) {
      expect(history).toEqual(
        expect.arrayContaining([
          [key, customerValue(key, 1)],
          [key, vendorValue(key, 1)],
          [key, vendorValue(key, 2)],
        ]),
      );
    }

    // Half the keys pinned to their first version: a pin names a key, a missing pin never finds a prototype method.
    const pinned = KEYS.filter((_, index) => index % 2 === 0);
    const named = await resolve({ keys: KEYS, pins: Object.fromEntries(pinned.map((key) => [key, 1])) });
    for (const key of KEYS) {
      const version = pinned.includes(key) ? 1 : 2;
      expect(named.values[key]).toEqual({ value: vendorValue(key, version), version, scope: 'vendor' });
    }
    const metadata = await resolve({ customerOrganizationId: CUSTOMER, keys: KEYS, metadataOnly: true });
    for (const key of KEYS) expect(metadata.values[key]).toMatchObject({ version: 2, scope: 'customer' });
  });

  it('renders templates that name each key, range over them and pin them', async () => {
    const template = KEYS.map((key) => `${key}={{ .Secrets.${key} }}`).join('\n');
    const rendered = await succeed('render.v1.render', { template, format: 'env', customerOrganizationId: CUSTOMER });
    expect(rendered.output).toBe(KEYS.map((key) => `${key}=${customerValue(key)}`).join('\n'));
    expect(rendered.references).toEqual(KEYS.map((key) => ({ key, version: 2, scope: 'customer' })));

    const ranged = await succeed('render.v1.render', {
      template: '{{ range $key, $value := .Secrets }}{{ $key }}={{ $value }}\n{{ end }}',
      format: 'env',
    });
    expect(ranged.output).toBe(KEYS.map((key) => `${key}=${vendorValue(key)}\n`).join(''));

    const [first] = KEYS;
    const pinned = await succeed(
      'render.v1.render',
      { template, format: 'text', organizationId: VENDOR, pins: { [first]: 1 }, deploymentId: DEPLOYMENT },
      renderer,
    );
    expect(pinned.output).toBe(KEYS.map((key) => `${key}=${vendorValue(key, key === first ? 1 : 2)}`).join('\n'));

    // Where a key does not exist, the name reads as an absent entry, never as a prototype method.
    const emptyVendorAdmin = await platform.tokens.vendor(EMPTY_VENDOR, 'admin');
    for (const key of KEYS) {
      const field = await request(
        'render.v1.render',
        { template: `{{ .Secrets.${key} }}`, format: 'text' },
        emptyVendorAdmin,
      );
      expect(outcomeOf(field)).toBe('TEMPLATE_EXECUTION_ERROR');
      expect((field.body as { error: { message: string } }).error.message).toBe(
        `template execution error: map has no entry for key "${key}"`,
      );
      const indexed = await succeed(
        'render.v1.render',
        { template: `[{{ index .Secrets "${key}" }}]`, format: 'text' },
        emptyVendorAdmin,
      );
      expect(indexed).toEqual({ output: '[]', references: [] });
    }
  });

  it('validates templates and required lists naming each key', async () => {
    const template = KEYS.map((key) => `${key}={{ .Secrets.${key} }}`).join('\n');
    for (const [token, body] of [
      [vendorAdmin, { customerOrganizationId: CUSTOMER }],
      [customerUser, {}],
    ] as const) {
      const validated = await succeed(
        'render.v1.validate',
        { template, format: 'env', required: KEYS, ...body },
        token,
      );
      expect(validated).toEqual({
        valid: true,
        references: KEYS.map((key) => ({ key, version: 2, scope: 'customer' })),
        missing: [],
        optional: [],
        errors: [],
      });
    }
    const elsewhere = await succeed('render.v1.validate', {
      template: '{{ .Secrets.NOT_THERE }}',
      format: 'text',
      required: KEYS,
      organizationId: VENDOR,
    });
    expect(elsewhere).toMatchObject({ valid: false, missing: ['NOT_THERE'] });
  });

  it('masks every value of the scope in redaction.v1.redact', async () => {
    const text = KEYS.map((key) => `${key} ${customerValue(key)} ${vendorValue(key, 1)}`).join('; ');
    const redacted = await succeed('redaction.v1.redact', { customerOrganizationId: CUSTOMER, text });
    expect(redacted).toEqual({
      text: KEYS.map((key) => `${key} ${MASK} ${MASK}`).join('; '),
      redactions: 2 * KEYS.length,
    });
  });

  it('finds the audit records of each key', async () => {
    for (const key of KEYS) {
      const records = await eventuallyValue(
        `the audit records of ${key}`,
        async () =>
          (await succeed('audit.v1.query', { key, customerOrganizationId: CUSTOMER })).records as Array<{
            key: string | null;
            type: string;
            resolved: Array<{ key: string }>;
          }>,
        (found) => found.length >= 2,
      );
      // Changes carry the key; value resolutions (by the tests above) list it among the keys they released.
      const changes = records.filter((record) => record.type !== 'SecretValuesResolved');
      expect(changes.map((record) => [record.key, record.type]).sort()).toEqual([
        [key, 'SecretCreated'],
        [key, 'SecretValueUpdated'],
      ]);
      for (const resolution of records.filter((record) => record.type === 'SecretValuesResolved')) {
        expect(resolution.resolved.map((reference) => reference.key)).toContain(key);
      }
    }
  });

  it('masks log lines of the vendor and of the customer on their way to LOGS, and drops invalid sources', async () => {
    const js: JetStreamClient = platform.client.connection.jetstream();
    const rejected = () => metricOf('redaction_messages_rejected_total{reason="invalid_subject"');
    const rejectedBefore = await rejected();
    // An invalid deployment segment is not a log source: the line is terminated, never published.
    for (const name of INVALID) {
      await js.publish(
        `${platform.prefix}logs.raw.${VENDOR}._.${name}`,
        Buffer.from(`invalid ${vendorValue(KEYS[0])}`),
      );
    }
    const lines = new Map([
      [`logs.raw.${VENDOR}._.${DEPLOYMENT}`, `vendor ${KEYS.map((key) => vendorValue(key)).join(' ')}`],
      [`logs.raw.${VENDOR}.${CUSTOMER}.${DEPLOYMENT}`, `customer ${KEYS.map((key) => customerValue(key)).join(' ')}`],
    ]);
    for (const [subject, text] of lines) await js.publish(platform.prefix + subject, Buffer.from(text));
    const logs = await platform.client.connection
      .jetstream()
      .consumers.get(prefixedStreamName(platform.prefix, 'LOGS'));
    const stored = new Map<string, string>();
    await eventually(
      'both lines in LOGS',
      async () => {
        const message = await logs.next({ expires: 1_000 });
        if (message) stored.set(message.subject.slice(platform.prefix.length), message.string());
        return stored.size === lines.size;
      },
      { timeoutMs: 30_000 },
    );
    await eventually(
      'the invalid sources rejected',
      async () => (await rejected()) === rejectedBefore + INVALID.length,
    );
    expect(stored).toEqual(
      new Map([
        [`logs.redacted.${VENDOR}._.${DEPLOYMENT}`, `vendor ${KEYS.map(() => MASK).join(' ')}`],
        [`logs.redacted.${VENDOR}.${CUSTOMER}.${DEPLOYMENT}`, `customer ${KEYS.map(() => MASK).join(' ')}`],
      ]),
    );
  });

  it('refuses the invalid prototype names wherever a user string goes, with INVALID_ARGUMENT', async () => {
    const badKey = 'key is invalid: it must start with a letter and contain only letters, digits and underscores';
    const badIdentifier = (field: string) => `${field} must match ^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`;
    for (const name of INVALID) {
      expectRefusal(await request('secrets.v1.create', { key: name, value: 'x' }, vendorAdmin), badKey);
      expectRefusal(await request('secrets.v1.get', { key: name }, vendorAdmin), badKey);
      expectRefusal(
        await request('secrets.v1.list', { customerOrganizationId: name }, vendorAdmin),
        badIdentifier('customerOrganizationId'),
      );
      expectRefusal(
        await request('secrets.v1.resolve', replyKey.request({ organizationId: name, keys: [] }), resolver),
        badIdentifier('organizationId'),
      );
      expectRefusal(
        await request(
          'secrets.v1.resolve',
          replyKey.request({ organizationId: VENDOR, keys: [KEYS[0]], pins: { [name]: 1 } }),
          resolver,
        ),
        badKey,
      );
      expectRefusal(
        await request('render.v1.render', { template: 'x', format: 'text', pins: { [name]: 1 } }, vendorAdmin),
        'pins names a key that is not a valid secret key',
      );
      expectRefusal(
        await request('render.v1.render', { template: 'x', format: 'text', deploymentId: name }, vendorAdmin),
        badIdentifier('deploymentId'),
      );
      expectRefusal(
        await request('render.v1.validate', { template: 'x', format: 'text', required: [name] }, vendorAdmin),
        'required[0] is not a valid secret key',
      );
      expectRefusal(
        await request('redaction.v1.redact', { customerOrganizationId: name, text: 'x' }, vendorAdmin),
        badIdentifier('customerOrganizationId'),
      );
      expectRefusal(
        await request('audit.v1.query', { key: name }, vendorAdmin),
        'key must match ^[A-Za-z][A-Za-z0-9_]{0,255}$',
      );
    }
  });

  it('deletes every key', async () => {
    for (const key of KEYS) {
      expect(await succeed('secrets.v1.delete', { key, customerOrganizationId: CUSTOMER })).toMatchObject({
        key,
        version: 3,
      });
      expect(outcomeOf(await request('secrets.v1.get', { key, customerOrganizationId: CUSTOMER }, vendorAdmin))).toBe(
        'NOT_FOUND',
      );
    }
    // The vendor-level values show through again once the customer's are deleted.
    const after = await resolve({ customerOrganizationId: CUSTOMER, keys: KEYS });
    for (const key of KEYS) expect(after.values[key]).toEqual({ value: vendorValue(key), version: 2, scope: 'vendor' });
  });
});

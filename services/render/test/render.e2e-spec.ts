// render.v1.* end to end: the real secrets and render services over plain-JSON NATS, as a deploy service or CLI calls them.
import { randomBytes } from 'node:crypto';
import {
  type Reply,
  ResolveCaller,
  type TestNatsClient,
  type TestPlatform,
  type TestService,
  type TestTokens,
  startTestPlatform,
  PlaintextValues,
  testTenants,
} from '@platform/testing';
import { type Msg, type NatsConnection } from 'nats';
import { parse as parseYaml } from 'yaml';
import { secretsService } from '../../secrets/src/secrets.definition';
import { renderService } from '../src/render.definition';

interface Reference {
  key: string;
  version: number;
  scope: 'vendor' | 'customer';
}
interface Rendered {
  output: string;
  references: Reference[];
}
interface Validation {
  valid: boolean;
  references: Reference[];
  missing: string[];
  errors: string[];
}
interface ErrorJson {
  error: { code: string; message: string; details?: Record<string, unknown> };
}

const { run, vendor, customer, otherCustomer, otherVendor } = testTenants();

/** Every plaintext value this run stores; none may appear in an error reply or a log line. */
const plaintexts = new PlaintextValues();
const storedValues = plaintexts.all;
const secretValue = (label: string): string => plaintexts.next(label);

const CERTIFICATE = [
  '-----BEGIN CERTIFICATE-----',
  `MIIBszCCAVmgAwIBAgIU${randomBytes(12).toString('hex')}`,
  'MAoGCCqGSM49BAMCMBQxEjAQBgNVBAMMCWxvY2FsaG9zdDAeFw0y',
  '-----END CERTIFICATE-----',
].join('\n');
plaintexts.remember(CERTIFICATE);

const values = {
  API_KEY: secretValue('api'),
  DB_PASSWORD: secretValue('db'),
  CLIENT_ID: secretValue('client'),
  CLIENT_SECRET: secretValue('clientsecret'),
  ADMIN_PASSWORD: secretValue('admin'),
  GITHUB_TOKEN: secretValue('ghp'),
  SHARED: secretValue('vendorshared'),
  PASSWORD: secretValue('pw'),
  USERNAME: secretValue('user'),
};
const customerValues = { SHARED: secretValue('customershared'), CUSTOMER_ONLY: secretValue('customeronly') };
const otherVendorPassword = secretValue('otherdb');
const YAML_BREAKER = `${secretValue('yaml')}: [unclosed`;

describe('render service over NATS (plain JSON)', () => {
  let platform: TestPlatform;
  let secrets: TestService;
  let render: TestService;
  let client: TestNatsClient;
  let spy: NatsConnection;
  let tokens: TestTokens;
  let vendorAdmin: string;
  let vendorDeployer: string;
  let customerDeployer: string;
  let otherVendorAdmin: string;
  let deployer: string;
  const resolveRequests: {
    keys: string[];
    customerOrganizationId?: string;
    pins?: Record<string, number>;
    metadataOnly?: boolean;
    customerOnly?: boolean;
  }[] = [];
  /** SecretValuesResolved access events: one per resolve that released values. */
  let valuesResolvedEvents = 0;
  const errorReplies: string[] = [];

  async function call<T>(subject: string, body: unknown, token: string): Promise<Reply<T>> {
    const reply = await client.request<T>(subject, body, { token });
    if (reply.status !== undefined) errorReplies.push(reply.raw);
    return reply;
  }
  const renderAs = (token: string, body: Record<string, unknown>) =>
    call<Rendered>('render.v1.render', { format: 'env', ...body }, token);
  const validateAs = (token: string, body: Record<string, unknown>) =>
    call<Validation>('render.v1.validate', { format: 'env', ...body }, token);
  const refusal = (reply: Reply<unknown>) => ({ status: reply.status, ...(reply.body as ErrorJson).error });

  async function create(token: string, key: string, value: string, customerOrganizationId?: string) {
    const reply = await call('secrets.v1.create', { key, value, customerOrganizationId }, token);
    expect(reply.status).toBeUndefined();
  }

  beforeAll(async () => {
    platform = await startTestPlatform([secretsService, renderService]);
    ({ client, tokens } = platform);
    [secrets, render] = platform.services;
    spy = await platform.connect('resolve-spy');
    const subscription = spy.subscribe(`${platform.prefix}secrets.v1.resolve`);
    void (async () => {
      for await (const message of subscription) resolveRequests.push(message.json<(typeof resolveRequests)[number]>());
    })();
    const accessEvents = spy.subscribe(`${platform.prefix}secrets.events.*.SecretValuesResolved`);
    void (async () => {
      for await (const _event of accessEvents) valuesResolvedEvents++;
    })();
    vendorAdmin = await tokens.vendor(vendor, 'admin');
    vendorDeployer = await tokens.vendor(vendor, 'read_write');
    customerDeployer = await tokens.customer(vendor, customer, 'read_write');
    otherVendorAdmin = await tokens.vendor(otherVendor, 'admin');
    deployer = await tokens.service('deployer', ['render:any']);
    for (const [key, value] of Object.entries(values)) await create(vendorAdmin, key, value);
    await create(vendorAdmin, 'TLS_CERT', CERTIFICATE);
    await create(vendorAdmin, 'YAML_BREAKER', YAML_BREAKER);
    for (const [key, value] of Object.entries(customerValues)) await create(vendorAdmin, key, value, customer);
    await create(otherVendorAdmin, 'DB_PASSWORD', otherVendorPassword);
    await spy.flush();
  });

  afterAll(() => platform?.close());

  describe('the seed examples', () => {
    it('renders the env file with direct, connection-string and combined references', async () => {
      const template = [
        '# Reference a secret directly',
        'API_KEY={{ .Secrets.API_KEY }}',
        '# Use secrets in connection strings',
        'DATABASE_URL=postgresql://user:{{ .Secrets.DB_PASSWORD }}@localhost:5432/mydb',
        '# Combine multiple secrets',
        'AUTH_TOKEN={{ .Secrets.CLIENT_ID }}:{{ .Secrets.CLIENT_SECRET }}',
        'CREDENTIALS={{ .Secrets.USERNAME }}:{{ .Secrets.PASSWORD }}',
      ].join('\n');
      const reply = await renderAs(vendorDeployer, { template });
      expect(reply.status).toBeUndefined();
      expect(reply.body.output).toBe(
        [
          '# Reference a secret directly',
          `API_KEY=${values.API_KEY}`,
          '# Use secrets in connection strings',
          `DATABASE_URL=postgresql://user:${values.DB_PASSWORD}@localhost:5432/mydb`,
          '# Combine multiple secrets',
          `AUTH_TOKEN=${values.CLIENT_ID}:${values.CLIENT_SECRET}`,
          `CREDENTIALS=${values.USERNAME}:${values.PASSWORD}`,
        ].join('\n'),
      );
      expect(reply.body.references).toEqual(
        ['API_KEY', 'CLIENT_ID', 'CLIENT_SECRET', 'DB_PASSWORD', 'PASSWORD', 'USERNAME'].map((key) => ({
          key,
          version: 1,
          scope: 'vendor',
        })),
      );
    });

    it('renders Helm values YAML', async () => {
      const template = [
        'database:',
        '  host: db.example.com',
        '  password: {{.Secrets.DB_PASSWORD}}',
        'api:',
        '  credentials:',
        '    username: admin',
        '    password: {{.Secrets.ADMIN_PASSWORD}}',
        'config:',
        '  githubToken: {{.Secrets.GITHUB_TOKEN}}',
        '',
      ].join('\n');
      const reply = await renderAs(vendorDeployer, { template, format: 'yaml' });
      expect(parseYaml(reply.body.output)).toEqual({
        database: { host: 'db.example.com', password: values.DB_PASSWORD },
        api: { credentials: { username: 'admin', password: values.ADMIN_PASSWORD } },
        config: { githubToken: values.GITHUB_TOKEN },
      });
      expect(reply.body.references.map((r) => r.key)).toEqual(['ADMIN_PASSWORD', 'DB_PASSWORD', 'GITHUB_TOKEN']);
    });

    it('falls back when an optional secret is absent and uses it when present', async () => {
      const template =
        'API_URL={{ if .Secrets.API_URL }}{{ .Secrets.API_URL }}{{ else }}https://api.example.com{{ end }}';
      const absent = await renderAs(vendorDeployer, { template });
      expect(absent.body).toEqual({ output: 'API_URL=https://api.example.com', references: [] });
      const apiUrl = secretValue('https://api.internal');
      await create(vendorAdmin, 'API_URL', apiUrl);
      const present = await renderAs(vendorDeployer, { template });
      expect(present.body).toEqual({
        output: `API_URL=${apiUrl}`,
        references: [{ key: 'API_URL', version: 1, scope: 'vendor' }],
      });
    });

    it('answers a missing key and a stray brace with exactly the seed messages', async () => {
      expect(refusal(await renderAs(vendorDeployer, { template: 'X={{ .Secrets.SECRET_NAME }}' }))).toEqual({
        status: 422,
        code: 'TEMPLATE_EXECUTION_ERROR',
        message: 'template execution error: map has no entry for key "SECRET_NAME"',
        details: { line: 1, column: 13 },
      });
      expect(refusal(await renderAs(vendorDeployer, { template: 'X={{ .Secrets.API_KEY }' }))).toEqual({
        status: 422,
        code: 'TEMPLATE_PARSE_ERROR',
        message: 'template parsing error: unexpected "}" in operand',
        details: { line: 1, column: 22 },
      });
    });
  });

  describe('scopes', () => {
    const template = 'SHARED={{ .Secrets.SHARED }}\nDB={{ .Secrets.DB_PASSWORD }}';

    it("gives a customer deployment the vendor's secrets with the customer's value winning", async () => {
      const expected = {
        output: `SHARED=${customerValues.SHARED}\nDB=${values.DB_PASSWORD}`,
        references: [
          { key: 'DB_PASSWORD', version: 1, scope: 'vendor' },
          { key: 'SHARED', version: 1, scope: 'customer' },
        ],
      };
      expect((await renderAs(vendorDeployer, { template, customerOrganizationId: customer })).body).toEqual(expected);
      expect(
        (await renderAs(deployer, { template, organizationId: vendor, customerOrganizationId: customer })).body,
      ).toEqual(expected);
    });

    it("gives a customer user its own secrets only, never the vendor's", async () => {
      expect(refusal(await renderAs(customerDeployer, { template }))).toEqual({
        status: 422,
        code: 'TEMPLATE_EXECUTION_ERROR',
        message: 'template execution error: map has no entry for key "DB_PASSWORD"',
        details: expect.any(Object),
      });
      const own = await renderAs(customerDeployer, { template: 'SHARED={{ .Secrets.SHARED }}' });
      expect(own.body).toEqual({
        output: `SHARED=${customerValues.SHARED}`,
        references: [{ key: 'SHARED', version: 1, scope: 'customer' }],
      });
    });

    it("gives a vendor deployment vendor-level secrets only, not a customer's", async () => {
      const reply = await renderAs(vendorDeployer, { template });
      expect(reply.body.output).toBe(`SHARED=${values.SHARED}\nDB=${values.DB_PASSWORD}`);
      expect(refusal(await renderAs(vendorDeployer, { template: 'X={{ .Secrets.CUSTOMER_ONLY }}' })).message).toBe(
        'template execution error: map has no entry for key "CUSTOMER_ONLY"',
      );
    });

    it('keeps every organization to its own secrets', async () => {
      const other = await renderAs(otherVendorAdmin, { template: 'DB={{ .Secrets.DB_PASSWORD }}' });
      expect(other.body.output).toBe(`DB=${otherVendorPassword}`);
      expect(refusal(await renderAs(otherVendorAdmin, { template: 'X={{ .Secrets.API_KEY }}' })).code).toBe(
        'TEMPLATE_EXECUTION_ERROR',
      );
      expect(refusal(await renderAs(otherVendorAdmin, { template, organizationId: vendor }))).toEqual({
        status: 403,
        code: 'PERMISSION_DENIED',
        message: 'a user can only render its own organization; organizationId is for service tokens with render:any',
      });
      expect(refusal(await renderAs(customerDeployer, { template, customerOrganizationId: otherCustomer }))).toEqual({
        status: 403,
        code: 'PERMISSION_DENIED',
        message: 'a customer can only address its own secrets',
      });
    });

    it('refuses read_only users, who may see keys but not values, and still lets them validate', async () => {
      for (const reader of [
        await tokens.vendor(vendor, 'read_only'),
        await tokens.customer(vendor, customer, 'read_only'),
      ]) {
        expect(refusal(await renderAs(reader, { template }))).toEqual({
          status: 403,
          code: 'PERMISSION_DENIED',
          message: 'rendering returns secret values and needs the read_write or admin role',
        });
        expect((await validateAs(reader, { template })).status).toBeUndefined();
      }
    });

    it('lets only services with render:any render for an organization they name', async () => {
      const withoutScope = await tokens.service('deployer', ['secrets:resolve']);
      expect(refusal(await renderAs(withoutScope, { template, organizationId: vendor }))).toEqual({
        status: 403,
        code: 'PERMISSION_DENIED',
        message: 'rendering needs a service token with scope render:any',
      });
      expect(refusal(await renderAs(deployer, { template }))).toMatchObject({
        status: 400,
        code: 'INVALID_ARGUMENT',
      });
      expect((await renderAs(deployer, { template, organizationId: vendor })).body.output).toBe(
        `SHARED=${values.SHARED}\nDB=${values.DB_PASSWORD}`,
      );
    });

    it('refuses a caller without a valid token', async () => {
      const reply = await client.request('render.v1.render', { template: 'A=1', format: 'env' });
      expect(reply.status).toBe(401);
    });
  });

  it('renders the new value after an update, and the old one when pinned', async () => {
    const template = 'API_KEY={{ .Secrets.API_KEY }}';
    const before = await renderAs(vendorDeployer, { template });
    const rotated = secretValue('api-rotated');
    expect((await call('secrets.v1.update', { key: 'API_KEY', value: rotated }, vendorAdmin)).status).toBeUndefined();
    const after = await renderAs(vendorDeployer, { template });
    expect(after.body).toEqual({
      output: `API_KEY=${rotated}`,
      references: [{ key: 'API_KEY', version: 2, scope: 'vendor' }],
    });
    const pins = Object.fromEntries(before.body.references.map((r) => [r.key, r.version]));
    const pinned = await renderAs(vendorDeployer, { template, pins });
    expect(pinned.body).toEqual(before.body);
    expect(pinned.body.output).toBe(`API_KEY=${values.API_KEY}`);
  });

  describe('formats', () => {
    it('indents a multi-line certificate into YAML with nindent and escapes it in env', async () => {
      const yaml = await renderAs(vendorDeployer, {
        template: 'tls:\n  certificate: |{{ .Secrets.TLS_CERT | nindent 4 }}\n',
        format: 'yaml',
      });
      expect(parseYaml(yaml.body.output)).toEqual({ tls: { certificate: `${CERTIFICATE}\n` } });
      const env = await renderAs(vendorDeployer, { template: 'TLS_CERT={{ .Secrets.TLS_CERT }}\nNEXT=1' });
      expect(env.body.output).toBe(`TLS_CERT=${CERTIFICATE.replace(/\n/g, '\\n')}\nNEXT=1`);
    });

    it('gives env templates the raw value: functions see real line breaks, only printed text is escaped', async () => {
      const reply = await renderAs(vendorDeployer, {
        template:
          'Q={{ .Secrets.TLS_CERT | quote }}\nB={{ b64enc .Secrets.TLS_CERT }}\nL={{ len .Secrets.TLS_CERT }}\n',
      });
      expect(reply.body.output).toBe(
        `Q="${CERTIFICATE.replace(/\n/g, '\\n')}"\nB=${Buffer.from(CERTIFICATE).toString('base64')}\n` +
          `L=${Buffer.byteLength(CERTIFICATE)}\n`,
      );
    });

    it('refuses invalid YAML and env output without the value in the reply', async () => {
      const yaml = await renderAs(vendorDeployer, {
        template: 'config:\n  value: {{ .Secrets.YAML_BREAKER }}\n',
        format: 'yaml',
      });
      expect(refusal(yaml)).toMatchObject({ status: 422, code: 'TEMPLATE_OUTPUT_ERROR', details: { line: 2 } });
      expect(yaml.raw).not.toContain(YAML_BREAKER.split(':')[0]);
      const env = await renderAs(vendorDeployer, { template: 'A=1\n{{ .Secrets.DB_PASSWORD }}' });
      expect(refusal(env)).toEqual({
        status: 422,
        code: 'TEMPLATE_OUTPUT_ERROR',
        message: 'rendered env output is not KEY=VALUE (KEY matching [A-Za-z_][A-Za-z0-9_]*) at line 2',
        details: { line: 2 },
      });
      expect(env.raw).not.toContain(values.DB_PASSWORD);
    });

    it('scrubs a value out of an error message that would quote it', async () => {
      const reply = await renderAs(vendorDeployer, { template: 'A={{ required .Secrets.PASSWORD .Secrets.NOPE }}' });
      expect(refusal(reply)).toEqual({
        status: 422,
        code: 'TEMPLATE_EXECUTION_ERROR',
        message: 'template execution error: error calling required: ********',
        details: { line: 1, column: 5 },
      });
    });

    it('renders text as it is', async () => {
      const reply = await renderAs(vendorDeployer, { template: 'not env: {{ .Secrets.USERNAME }}', format: 'text' });
      expect(reply.body.output).toBe(`not env: ${values.USERNAME}`);
    });
  });

  describe('what render asks the secrets service for', () => {
    it('requests exactly the referenced keys, in one resolve, and nothing for a template without references', async () => {
      resolveRequests.length = 0;
      await renderAs(vendorDeployer, {
        template: 'A={{ .Secrets.API_KEY }}\nB={{ if .Secrets.NOT_THERE }}x{{ end }}\nC={{ .Secrets.API_KEY }}',
        pins: { API_KEY: 1, UNRELATED: 4 },
      });
      await renderAs(vendorDeployer, { template: 'PLAIN=1' });
      await spy.flush();
      expect(resolveRequests).toHaveLength(1);
      expect([...resolveRequests[0].keys].sort()).toEqual(['API_KEY', 'NOT_THERE']);
      expect(resolveRequests[0].pins).toEqual({ API_KEY: 1 });
    });

    it('requests every key when the template reads .Secrets dynamically', async () => {
      resolveRequests.length = 0;
      const reply = await renderAs(customerDeployer, {
        template:
          '{{ range $key, $value := .Secrets }}{{ if eq $key "SHARED" }}{{ $key }}={{ $value }}{{ end }}{{ end }}',
      });
      await spy.flush();
      expect(reply.body.output).toBe(`SHARED=${customerValues.SHARED}`);
      expect(resolveRequests.map((r) => [r.keys, r.customerOrganizationId, r.customerOnly])).toEqual([
        [[], customer, true],
      ]);
    });
  });

  describe('render.v1.validate', () => {
    const template = 'A={{ .Secrets.API_KEY }}\nS={{ .Secrets.SHARED }}\nM={{ .Secrets.NOT_DEFINED }}';

    it('lists references and missing referenced or required keys for a vendor, from metadata only', async () => {
      resolveRequests.length = 0;
      const reply = await validateAs(vendorDeployer, { template, required: ['DB_PASSWORD', 'ALSO_MISSING'] });
      await spy.flush();
      expect(reply.body).toEqual({
        valid: false,
        references: [
          { key: 'API_KEY', version: 2, scope: 'vendor' },
          { key: 'SHARED', version: 1, scope: 'vendor' },
        ],
        missing: ['ALSO_MISSING', 'NOT_DEFINED'],
        optional: [],
        errors: [],
      });
      expect(resolveRequests).toHaveLength(0);
      const forCustomer = await validateAs(vendorDeployer, { template, customerOrganizationId: customer });
      expect(forCustomer.body.references).toContainEqual({ key: 'SHARED', version: 1, scope: 'customer' });
    });

    it('lists a key read only where it is checked as optional, not missing: the seed pattern validates', async () => {
      const optionalPattern =
        'URL={{ if .Secrets.NEVER_SET_URL }}{{ .Secrets.NEVER_SET_URL }}{{ else }}https://api.example.com{{ end }}\n' +
        'A={{ .Secrets.API_KEY }}';
      const reply = await validateAs(vendorDeployer, { template: optionalPattern });
      expect(reply.body).toEqual({
        valid: true,
        references: [{ key: 'API_KEY', version: 2, scope: 'vendor' }],
        missing: [],
        optional: ['NEVER_SET_URL'],
        errors: [],
      });
    });

    it("names vendor-level keys as missing for a customer user and a customer's keys for the vendor", async () => {
      const asCustomer = await validateAs(customerDeployer, {
        template: 'C={{ .Secrets.CUSTOMER_ONLY }}',
        required: ['API_KEY'],
      });
      expect(asCustomer.body).toEqual({
        valid: false,
        references: [{ key: 'CUSTOMER_ONLY', version: 1, scope: 'customer' }],
        missing: ['API_KEY'],
        optional: [],
        errors: [],
      });
      const asVendor = await validateAs(vendorDeployer, { template: 'C={{ .Secrets.CUSTOMER_ONLY }}' });
      expect(asVendor.body).toMatchObject({ valid: false, missing: ['CUSTOMER_ONLY'] });
      const asService = await validateAs(deployer, {
        template,
        organizationId: vendor,
        customerOrganizationId: customer,
      });
      expect(asService.body.missing).toEqual(['NOT_DEFINED']);
    });

    it('fetches no value for a customer user or a service: existence comes from metadata-only resolves', async () => {
      const settled = async () => {
        // Access events of earlier renders are published asynchronously: wait until none arrives for a while.
        let seen = -1;
        while (seen !== valuesResolvedEvents) {
          seen = valuesResolvedEvents;
          await new Promise((resolve) => setTimeout(resolve, 300));
        }
        return seen;
      };
      const eventsBefore = await settled();
      expect(eventsBefore).toBeGreaterThan(0); // the spy does see the renders' access events
      resolveRequests.length = 0;
      const asCustomer = await validateAs(customerDeployer, {
        template: 'C={{ .Secrets.CUSTOMER_ONLY }}\nA={{ .Secrets.API_KEY }}\nS={{ .Secrets.SHARED }}',
        required: ['GITHUB_TOKEN', 'NOPE'],
      });
      const asService = await validateAs(deployer, {
        template,
        organizationId: vendor,
        customerOrganizationId: customer,
      });
      await spy.flush();
      expect(asCustomer.body).toEqual({
        valid: false,
        references: [
          { key: 'CUSTOMER_ONLY', version: 1, scope: 'customer' },
          { key: 'SHARED', version: 1, scope: 'customer' },
        ],
        missing: ['API_KEY', 'GITHUB_TOKEN', 'NOPE'],
        optional: [],
        errors: [],
      });
      expect(asService.body).toEqual({
        valid: false,
        references: [
          { key: 'API_KEY', version: 2, scope: 'vendor' },
          { key: 'SHARED', version: 1, scope: 'customer' },
        ],
        missing: ['NOT_DEFINED'],
        optional: [],
        errors: [],
      });
      expect(resolveRequests.length).toBeGreaterThan(0);
      expect(resolveRequests.filter((request) => request.metadataOnly !== true)).toEqual([]);
      expect(await settled()).toBe(eventsBefore);
    });

    it('secrets.v1.resolve with metadataOnly answers versions and scopes without a value', async () => {
      const caller = await ResolveCaller.create(tokens, 'metadata-reader', ['secrets:resolve', 'secrets:resolve-all']);
      const resolver = caller.token;
      const request = caller.request({
        organizationId: vendor,
        customerOrganizationId: customer,
        keys: ['API_KEY', 'SHARED', 'NOPE'],
        metadataOnly: true,
      });
      const reply = await call<{ ciphertext: string; signature: string; missing: string[] }>(
        'secrets.v1.resolve',
        request,
        resolver,
      );
      expect(reply.body.missing).toEqual(['NOPE']);
      expect(await caller.open(request, reply.body)).toEqual({
        values: { API_KEY: { version: 2, scope: 'vendor' }, SHARED: { version: 1, scope: 'customer' } },
        history: [],
      });
      const withHistory = await call('secrets.v1.resolve', { ...request, includeHistory: true }, resolver);
      expect(refusal(withHistory)).toMatchObject({ code: 'INVALID_ARGUMENT' });
      const narrow = await ResolveCaller.create(tokens, 'narrow-reader', ['secrets:resolve']);
      const everyKey = await call(
        'secrets.v1.resolve',
        narrow.request({ organizationId: vendor, customerOrganizationId: customer, keys: [], metadataOnly: true }),
        narrow.token,
      );
      expect(refusal(everyKey)).toEqual({
        status: 403,
        code: 'PERMISSION_DENIED',
        message: 'resolving every key needs a service token with scope secrets:resolve-current or secrets:resolve-all',
      });
    });

    it('reports a parse error in the render wording', async () => {
      const reply = await validateAs(vendorDeployer, { template: 'X={{ .Secrets.A }', required: [] });
      expect(reply.body).toEqual({
        valid: false,
        references: [],
        missing: [],
        optional: [],
        errors: ['template parsing error: unexpected "}" in operand'],
      });
    });
  });

  it('counts renders by subject and reply code in its metrics, never with a value or template text', async () => {
    const metrics = await (await fetch(`http://127.0.0.1:${render.httpPort}/metrics`)).text();
    const line = (code: string) =>
      new RegExp(`^render_requests_total\\{[^}]*subject="render.v1.render"[^}]*code="${code}"`, 'm');
    expect(metrics).toMatch(line('OK'));
    expect(metrics).toMatch(line('TEMPLATE_EXECUTION_ERROR'));
    expect(metrics).toMatch(/^render_request_duration_seconds_bucket\{/m);
    expect(metrics).toMatch(/^render_resolve_duration_seconds_count\{[^}]*\} [1-9]/m);
    expect(storedValues.filter((value) => metrics.includes(value))).toEqual([]);
    expect(metrics).not.toContain('Secrets.');
  });

  it('never puts a value into an error reply or a log line', () => {
    const leaks = (text: string) => storedValues.filter((value) => text.includes(value));
    expect(errorReplies.length).toBeGreaterThan(5);
    expect(errorReplies.flatMap(leaks)).toEqual([]);
    expect(render.logs.flatMap(leaks)).toEqual([]);
    expect(secrets.logs.flatMap(leaks)).toEqual([]);
  });

  it('answers UNAVAILABLE, not a hang, once the secrets service is gone', async () => {
    await platform.stop(secrets);
    const reply = await renderAs(vendorDeployer, { template: 'A={{ .Secrets.API_KEY }}' });
    expect(refusal(reply)).toEqual({
      status: 503,
      code: 'UNAVAILABLE',
      message: 'the secrets service is unavailable; retry later',
    });
    expect((await renderAs(vendorDeployer, { template: 'PLAIN=1' })).body.output).toBe('PLAIN=1');
  });
});

describe('render limits', () => {
  let platform: Omit<TestPlatform, 'database'>;
  let client: TestNatsClient;
  let token: string;

  beforeAll(async () => {
    platform = await startTestPlatform([], { database: false });
    client = platform.client;
    // A secrets service that takes requests and never answers.
    const silentSecrets = await platform.connect('silent-secrets');
    silentSecrets.subscribe(`${platform.prefix}secrets.v1.resolve`, {
      callback: (_error, _message: Msg) => undefined,
    });
    await silentSecrets.flush();
    await platform.start(renderService, { RENDER_MAX_TEMPLATE_BYTES: '64', RENDER_RESOLVE_TIMEOUT_MS: '300' });
    token = await platform.tokens.vendor(`acme${run}`, 'read_write');
  });

  afterAll(() => platform?.close());

  it('refuses a template over the configured limit with PAYLOAD_TOO_LARGE', async () => {
    const reply = await client.request(
      'render.v1.render',
      { template: `A=${'x'.repeat(63)}`, format: 'env' },
      { token },
    );
    expect(reply.status).toBe(413);
    expect((reply.body as unknown as ErrorJson).error).toEqual({
      code: 'PAYLOAD_TOO_LARGE',
      message: 'template is 65 bytes, more than the limit of 64',
      details: { sizeBytes: 65, limitBytes: 64 },
    });
  });

  it('answers UNAVAILABLE after its timeout when the secrets service does not answer', async () => {
    const reply = await client.request(
      'render.v1.render',
      { template: 'A={{ .Secrets.API_KEY }}', format: 'env' },
      { token, timeoutMs: 10_000 },
    );
    expect(reply.status).toBe(503);
    expect((reply.body as unknown as ErrorJson).error.code).toBe('UNAVAILABLE');
  });
});

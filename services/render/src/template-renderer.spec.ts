import { type Principal, type Scope } from '@platform/messaging';
import { RenderError } from './render.error';
import { type KeyCatalog, type KeyInScope } from './secret-key-catalog';
import {
  MAX_NAMED_KEYS,
  type ResolveAttribution,
  type ResolvedSecrets,
  type ResolvedValue,
  type SecretValueSource,
} from './secret-values';
import { TemplateCache } from './template-cache';
import { type Executed, type Parsed, type TemplateJob, failureError, runTemplateJob } from './template-jobs';
import { type TemplateWork } from './template-pool';
import { MAX_SECRET_VERSION as MAX_PIN_VERSION } from '@platform/contracts';
import { TemplateRenderer } from './template-renderer';

/** The workers' job code on this thread: the renderer's pipeline without the pool (template-pool.spec covers it). */
class InlineTemplateWork implements TemplateWork {
  readonly tenants: string[] = [];
  constructor(private readonly cache: TemplateCache) {}
  parse(tenant: string, job: Omit<TemplateJob, 'deadline'>): Promise<Parsed> {
    return this.run(tenant, job) as Promise<Parsed>;
  }
  execute(tenant: string, job: Omit<TemplateJob, 'deadline'>): Promise<Executed> {
    return this.run(tenant, job) as Promise<Executed>;
  }
  private run(tenant: string, job: Omit<TemplateJob, 'deadline'>): Promise<Parsed | Executed> {
    this.tenants.push(tenant);
    const outcome = runTemplateJob(this.cache, { ...job, deadline: Date.now() + 10_000 } as TemplateJob);
    return outcome.ok ? Promise.resolve(outcome.result) : Promise.reject(failureError(outcome.failure));
  }
}

/** An in-memory secrets service: one scope's values, and every resolve asked of it. */
class ScopeValues implements SecretValueSource {
  readonly calls: { scope: Scope; keys: readonly string[] | 'all'; pins: Readonly<Record<string, number>> }[] = [];
  readonly attributions: (ResolveAttribution | undefined)[] = [];

  constructor(
    private readonly values: Record<string, ResolvedValue>,
    /** KEY → when it expired: withheld unless the resolve allows expired values, as the secrets service does. */
    private readonly expiredAt: Record<string, string> = {},
  ) {}

  resolve(
    scope: Scope,
    keys: readonly string[] | 'all',
    pins: Readonly<Record<string, number>>,
    attribution?: ResolveAttribution,
  ): Promise<ResolvedSecrets> {
    this.calls.push({ scope, keys, pins });
    this.attributions.push(attribution);
    const wanted = keys === 'all' ? Object.keys(this.values) : keys.filter((key) => key in this.values);
    const expired = new Map(
      wanted
        .filter((key) => key in this.expiredAt && !attribution?.allowExpired)
        .map((key) => [key, this.expiredAt[key]]),
    );
    // As secrets does: a pinned key at that version, if the key ever reached it (values hold the latest version).
    const pinned = new Map(Object.entries(pins));
    const chosen = wanted
      .filter((key) => !expired.has(key))
      .flatMap((key): [string, ResolvedValue][] => {
        const value = this.values[key];
        const version = pinned.get(key) ?? value.version;
        return version <= value.version ? [[key, { ...value, version }]] : [];
      });
    return Promise.resolve({ values: new Map(chosen), expired });
  }
}

const unusedCatalog: KeyCatalog = {
  existing: () => Promise.reject(new Error('render never lists keys')),
};

const vendor: Principal = { sub: 'u@acme', org: 'acme', orgType: 'vendor', role: 'read_write' };
const vendorValue = (value: string, version = 1): ResolvedValue => ({ value, version, scope: 'vendor' });

function setup(values: Record<string, ResolvedValue>, maxTemplateBytes = 1024 * 1024, expiredAt = {}) {
  const source = new ScopeValues(values, expiredAt);
  const work = new InlineTemplateWork(new TemplateCache({ maxEntries: 100, maxBytes: 64 * 1024 * 1024 }));
  return { source, work, renderer: new TemplateRenderer(work, source, unusedCatalog, maxTemplateBytes) };
}

async function refusal(promise: Promise<unknown>): Promise<{ code: string; message: string; details?: unknown }> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof RenderError) return { code: error.code, message: error.message, details: error.details };
    throw error;
  }
  throw new Error('expected a RenderError');
}

const render = (template: string, format = 'env', pins: Record<string, number> = {}) => ({ template, format, pins });

describe('TemplateRenderer.render', () => {
  it("passes on the deployment and the caller's own token, except a platform service's single-use one", async () => {
    const { renderer, source } = setup({ API_KEY: vendorValue('sk-1') });
    const template = 'K={{ .Secrets.API_KEY }}';
    await renderer.render(vendor, { ...render(template), deploymentId: 'web-1' }, 'Bearer user.jwt');
    const deployer: Principal = {
      sub: 'service:deployer',
      org: 'deployer',
      orgType: 'service',
      scopes: new Set(['render:any']),
    };
    await renderer.render(deployer, { ...render(template), organizationId: 'acme' }, 'Bearer deployer.jwt');
    const platformService: Principal = { ...deployer, sub: 'service:redaction', org: 'redaction' };
    await renderer.render(platformService, { ...render(template), organizationId: 'acme' }, 'Bearer spent.jwt');
    expect(source.attributions).toEqual([
      { deploymentId: 'web-1', onBehalfOf: 'user.jwt' },
      { deploymentId: undefined, onBehalfOf: 'deployer.jwt' },
      { deploymentId: undefined, onBehalfOf: undefined },
    ]);
  });

  describe('expired values', () => {
    const expiredAt = { API_KEY: '2026-01-31T00:00:00.000Z' };
    const admin: Principal = { ...vendor, role: 'admin' };
    const values = { API_KEY: vendorValue('sk-1'), DB: vendorValue('db-1') };

    it('refuses a template that needs an expired value, naming the key and when', async () => {
      const { renderer } = setup(values, undefined, expiredAt);
      expect(await refusal(renderer.render(vendor, render('A={{ .Secrets.API_KEY }}')))).toEqual({
        code: 'SECRET_EXPIRED',
        message: 'secret API_KEY expired at 2026-01-31T00:00:00.000Z',
        details: { key: 'API_KEY', expiresAt: '2026-01-31T00:00:00.000Z' },
      });
      // A template that does not need it renders.
      expect((await renderer.render(vendor, render('D={{ .Secrets.DB }}'))).output).toBe('D=db-1');
    });

    it('renders it for an admin or a service that allows expired values', async () => {
      const { renderer, source } = setup(values, undefined, expiredAt);
      const request = { ...render('A={{ .Secrets.API_KEY }}'), allowExpired: true };
      expect((await renderer.render(admin, request)).output).toBe('A=sk-1');
      expect(source.attributions[0]?.allowExpired).toBe(true);
      const service: Principal = {
        sub: 'service:deployer',
        org: 'platform',
        orgType: 'service',
        scopes: new Set(['render:any']),
      };
      expect((await renderer.render(service, { ...request, organizationId: 'acme' })).output).toBe('A=sk-1');
    });

    it('refuses allowExpired from a read_write user before resolving anything', async () => {
      const { renderer, source } = setup(values, undefined, expiredAt);
      expect(
        await refusal(renderer.render(vendor, { ...render('A={{ .Secrets.API_KEY }}'), allowExpired: true })),
      ).toEqual({
        code: 'PERMISSION_DENIED',
        message: 'allowExpired needs the admin role',
        details: undefined,
      });
      expect(source.calls).toHaveLength(0);
    });
  });

  it('refuses read_only users: rendering hands out values', async () => {
    const { renderer, source } = setup({ API_KEY: vendorValue('sk-1') });
    const reader: Principal = { ...vendor, role: 'read_only' };
    await expect(
      renderer.render(reader, { template: 'K={{ .Secrets.API_KEY }}', format: 'env', pins: {} }),
    ).rejects.toMatchObject({
      code: 'PERMISSION_DENIED',
      message: 'rendering returns secret values and needs the read_write or admin role',
    });
    expect(source.calls).toEqual([]);
  });

  it('renders the seed example with exactly the referenced keys', async () => {
    const { source, renderer } = setup({ DB_PASSWORD: vendorValue('pa55', 3), OTHER: vendorValue('unused') });
    const rendered = await renderer.render(
      vendor,
      render('DATABASE_URL=postgresql://user:{{ .Secrets.DB_PASSWORD }}@localhost:5432/mydb'),
    );
    expect(rendered).toEqual({
      output: 'DATABASE_URL=postgresql://user:pa55@localhost:5432/mydb',
      references: [{ key: 'DB_PASSWORD', version: 3, scope: 'vendor' }],
    });
    expect(source.calls).toEqual([
      { scope: { organizationId: 'acme', customerOrganizationId: null }, keys: ['DB_PASSWORD'], pins: {} },
    ]);
  });

  it('does not call the secrets service for a template without references', async () => {
    const { source, renderer } = setup({});
    expect((await renderer.render(vendor, render('PLAIN=1'))).output).toBe('PLAIN=1');
    expect(source.calls).toHaveLength(0);
  });

  it('asks for every key when the template reads .Secrets dynamically, and reports only the keys it read', async () => {
    const { source, renderer } = setup({ A: vendorValue('a'), B: vendorValue('b', 2) });
    const rendered = await renderer.render(vendor, render('X={{ index .Secrets "B" }}'));
    expect(source.calls[0].keys).toBe('all');
    expect(rendered).toEqual({ output: 'X=b', references: [{ key: 'B', version: 2, scope: 'vendor' }] });
  });

  it('reports the keys the output used, not branches that did not run', async () => {
    const template =
      'API_URL={{ if .Secrets.API_URL }}{{ .Secrets.API_URL }}{{ else }}{{ .Secrets.FALLBACK }}{{ end }}';
    const present = setup({ API_URL: vendorValue('https://x'), FALLBACK: vendorValue('https://y') });
    expect(await present.renderer.render(vendor, render(template))).toEqual({
      output: 'API_URL=https://x',
      references: [{ key: 'API_URL', version: 1, scope: 'vendor' }],
    });
    const absent = setup({ FALLBACK: vendorValue('https://y') });
    expect((await absent.renderer.render(vendor, render(template))).references.map((r) => r.key)).toEqual(['FALLBACK']);
  });

  it('passes pins through to the secrets service', async () => {
    const { source, renderer } = setup({ A: vendorValue('old', 1) });
    await renderer.render(vendor, render('A={{ .Secrets.A }}', 'env', { A: 1 }));
    expect(source.calls[0].pins).toEqual({ A: 1 });
  });

  it('refuses pins that cannot name a version', async () => {
    const { renderer } = setup({});
    expect(await refusal(renderer.render(vendor, render('A=1', 'env', { A: 0 })))).toEqual({
      code: 'INVALID_ARGUMENT',
      message: 'pins.A must be a version from 1 to 2147483647',
      details: { field: 'pins.A' },
    });
    expect((await refusal(renderer.render(vendor, render('A=1', 'env', { 'bad-key': 1 })))).code).toBe(
      'INVALID_ARGUMENT',
    );
  });

  it('refuses a pin beyond the largest version the store can hold, before any resolve', async () => {
    const { renderer, source } = setup({ A: vendorValue('v') });
    expect(await refusal(renderer.render(vendor, render('A={{ .Secrets.A }}', 'env', { A: 4294967295 })))).toEqual({
      code: 'INVALID_ARGUMENT',
      message: 'pins.A must be a version from 1 to 2147483647',
      details: { field: 'pins.A' },
    });
    expect(await refusal(renderer.render(vendor, render('A={{ .Secrets.A }}', 'env', { A: MAX_PIN_VERSION })))).toEqual(
      {
        code: 'INVALID_ARGUMENT',
        message: `secret A has no version ${MAX_PIN_VERSION}`,
        details: { field: 'pins.A' },
      },
    );
    expect(source.calls.map((call) => call.pins)).toEqual([{ A: MAX_PIN_VERSION }]);
  });

  it('says a pinned version does not exist, rather than that the map has no entry for the key', async () => {
    const { renderer } = setup({ DB_PASSWORD: vendorValue('v3', 3), OTHER: vendorValue('o') });
    expect(
      await refusal(renderer.render(vendor, render('P={{ .Secrets.DB_PASSWORD }}', 'env', { DB_PASSWORD: 9 }))),
    ).toEqual({
      code: 'INVALID_ARGUMENT',
      message: 'secret DB_PASSWORD has no version 9',
      details: { field: 'pins.DB_PASSWORD' },
    });
    expect(
      (await refusal(renderer.render(vendor, render('P={{ .Secrets.NO_SUCH_KEY }}', 'env', { NO_SUCH_KEY: 1 }))))
        .message,
    ).toBe('secret NO_SUCH_KEY has no version 1');
    // Past MAX_NAMED_KEYS render resolves every key, yet a pin of a key the template does not read still changes nothing.
    const many = Array.from({ length: MAX_NAMED_KEYS + 1 }, (_, i) => `K${i}`);
    const wide = setup(Object.fromEntries([...many, 'UNREAD'].map((key) => [key, vendorValue(key)])));
    const template = many.map((key) => `{{ .Secrets.${key} }}`).join(',');
    expect((await wide.renderer.render(vendor, render(template, 'text', { UNREAD: 9 }))).output).toBe(many.join(','));
    expect(wide.source.calls[0].keys).toBe('all');
    // A pin of a key the template does not read changes nothing; an existing version renders.
    expect((await renderer.render(vendor, render('O={{ .Secrets.OTHER }}', 'env', { DB_PASSWORD: 9 }))).output).toBe(
      'O=o',
    );
    expect(
      (await renderer.render(vendor, render('P={{ .Secrets.DB_PASSWORD }}', 'env', { DB_PASSWORD: 2 }))).references,
    ).toEqual([{ key: 'DB_PASSWORD', version: 2, scope: 'vendor' }]);
  });

  it("shares the workers by the user's own organization, and by the rendered scope for services", async () => {
    const { renderer, work } = setup({});
    const customerUser: Principal = {
      sub: 'c@beta',
      org: 'beta',
      orgType: 'customer',
      role: 'admin',
      vendorOrg: 'acme',
    };
    const deployer: Principal = {
      sub: 'deployer',
      org: 'platform',
      orgType: 'service',
      scopes: new Set(['render:any'] as const),
    };
    await renderer.render(vendor, render('A=1'));
    await renderer.render(customerUser, render('A=1'));
    await renderer.render(deployer, { ...render('A=1'), organizationId: 'acme', customerOrganizationId: 'beta' });
    expect(work.tenants).toEqual([
      'user:acme',
      'user:acme',
      'user:beta',
      'user:beta',
      'scope:acme/beta',
      'scope:acme/beta',
    ]);
  });

  it('answers a missing key with the seed message and its position', async () => {
    const { renderer } = setup({});
    expect(await refusal(renderer.render(vendor, render('X=1\nY={{ .Secrets.SECRET_NAME }}')))).toEqual({
      code: 'TEMPLATE_EXECUTION_ERROR',
      message: 'template execution error: map has no entry for key "SECRET_NAME"',
      details: { line: 2, column: 13 },
    });
  });

  it('answers a stray brace with the seed parse message and its position', async () => {
    const { source, renderer } = setup({});
    expect(await refusal(renderer.render(vendor, render('A={{ .Secrets.A }')))).toEqual({
      code: 'TEMPLATE_PARSE_ERROR',
      message: 'template parsing error: unexpected "}" in operand',
      details: { line: 1, column: 16 },
    });
    expect(source.calls).toHaveLength(0);
  });

  it('never quotes a value in an execution error', async () => {
    const { renderer } = setup({ TOKEN: vendorValue('tok-3f9a1c') });
    for (const template of [
      'A={{ range .Secrets.TOKEN }}{{ end }}',
      'A={{ printf "%d" .Secrets.TOKEN }}{{ .Secrets.NOPE }}',
      'A={{ .Secrets.TOKEN.Field }}',
      'A={{ required .Secrets.TOKEN .Secrets.NOPE }}',
    ]) {
      const error = await refusal(renderer.render(vendor, render(template)));
      expect(error.code).toBe('TEMPLATE_EXECUTION_ERROR');
      expect(JSON.stringify(error)).not.toContain('tok-3f9a1c');
    }
  });

  it('keeps a multi-line value on one env line and indents it in YAML with nindent', async () => {
    const certificate = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----';
    const { renderer } = setup({ TLS_CERT: vendorValue(certificate) });
    expect((await renderer.render(vendor, render('TLS_CERT={{ .Secrets.TLS_CERT }}'))).output).toBe(
      'TLS_CERT=-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END CERTIFICATE-----',
    );
    const yaml = await renderer.render(vendor, render('tls:\n  cert: |{{ .Secrets.TLS_CERT | nindent 4 }}\n', 'yaml'));
    expect(yaml.output).toBe(`tls:\n  cert: |\n    ${certificate.replace(/\n/g, '\n    ')}\n`);
  });

  it('refuses output that is not valid for its format without the value', async () => {
    const { renderer } = setup({ PASSWORD: vendorValue('p: w: d') });
    const yaml = await refusal(renderer.render(vendor, render('db:\n  password: {{ .Secrets.PASSWORD }}\n', 'yaml')));
    expect(yaml.code).toBe('TEMPLATE_OUTPUT_ERROR');
    expect(yaml.message).toMatch(/^rendered output is not valid YAML \([a-z ]+\) at line 2$/);
    expect(JSON.stringify(yaml)).not.toContain('p: w: d');
    const env = await refusal(renderer.render(vendor, render('{{ .Secrets.PASSWORD }}')));
    expect(env).toEqual({
      code: 'TEMPLATE_OUTPUT_ERROR',
      message: 'rendered env output is not KEY=VALUE (KEY matching [A-Za-z_][A-Za-z0-9_]*) at line 1',
      details: { line: 1 },
    });
  });

  it('gives env templates the raw value and escapes line breaks only where actions print', async () => {
    const { renderer } = setup({ CERT: vendorValue('l1\nl2') });
    const template =
      'Q={{ .Secrets.CERT | quote }}\nB={{ b64enc .Secrets.CERT }}\nL={{ len .Secrets.CERT }}\n' +
      'E={{ eq .Secrets.CERT "l1\\nl2" }}\nP={{ .Secrets.CERT }}\n';
    expect((await renderer.render(vendor, render(template))).output).toBe(
      'Q="l1\\nl2"\nB=bDEKbDI=\nL=5\nE=true\nP=l1\\nl2\n',
    );
    expect((await renderer.render(vendor, render(template, 'text'))).output).toBe(
      'Q="l1\\nl2"\nB=bDEKbDI=\nL=5\nE=true\nP=l1\nl2\n',
    );
  });

  // Short values match inside Go's fixed wording: the messages must stay exact, and no value may appear.
  it.each(['e', '1', 'ey', 'ent', '§', '¤¤', '¶¶¶'])(
    'keeps the exact messages and shows no value when the values are short: %s',
    async (value) => {
      const { renderer } = setup({ FLAG: vendorValue(value), MSG: vendorValue(value) });
      const failures = {
        'X={{ .Secrets.FLAG }}{{ .Secrets.SECRET_NAME }}': [
          'TEMPLATE_EXECUTION_ERROR',
          'template execution error: map has no entry for key "SECRET_NAME"',
        ],
        'X={{ required .Secrets.MSG .Secrets.NOPE }}': [
          'TEMPLATE_EXECUTION_ERROR',
          'template execution error: error calling required: ********',
        ],
        'X={{ required "need NOPE" .Secrets.NOPE }}{{ .Secrets.FLAG }}': [
          'TEMPLATE_EXECUTION_ERROR',
          'template execution error: error calling required: need NOPE',
        ],
        'X={{ range .Secrets.FLAG }}{{ end }}': [
          'TEMPLATE_EXECUTION_ERROR',
          "template execution error: range can't iterate over ********",
        ],
        'X={{ eq .Secrets .Secrets }}': [
          'TEMPLATE_EXECUTION_ERROR',
          'template execution error: error calling eq: non-comparable type ********: map[string]string',
        ],
        '{{ .Secrets.FLAG }}': [
          'TEMPLATE_OUTPUT_ERROR',
          'rendered env output is not KEY=VALUE (KEY matching [A-Za-z_][A-Za-z0-9_]*) at line 1',
        ],
        'a: "{{ .Secrets.FLAG }}"\na: 2\n': [
          'TEMPLATE_OUTPUT_ERROR',
          'rendered output is not valid YAML (duplicate key) at line 2',
        ],
      };
      for (const [template, [code, message]] of Object.entries(failures)) {
        const format = template.startsWith('a:') ? 'yaml' : 'env';
        const error = await refusal(renderer.render(vendor, render(template, format)));
        expect({ code: error.code, message: error.message }).toEqual({ code, message });
        if (!/^[a-z0-9]+$/.test(value)) expect(JSON.stringify(error)).not.toContain(value);
      }
      expect(await refusal(renderer.render(vendor, render('A={{ .Secrets.FLAG }', 'env')))).toMatchObject({
        message: 'template parsing error: unexpected "}" in operand',
      });
    },
  );

  it('refuses a template over the size limit before parsing it', async () => {
    const { source, renderer } = setup({}, 16);
    expect(await refusal(renderer.render(vendor, render('A={{ .Secrets.LONGER_KEY }}')))).toEqual({
      code: 'TEMPLATE_TOO_LARGE',
      message: 'template is 27 bytes, more than the limit of 16',
      details: { sizeBytes: 27, limitBytes: 16 },
    });
    expect(source.calls).toHaveLength(0);
  });

  it('refuses an unknown format', async () => {
    const { renderer } = setup({});
    expect((await refusal(renderer.render(vendor, render('A=1', 'json')))).code).toBe('INVALID_ARGUMENT');
  });
});

describe('TemplateRenderer.validate', () => {
  class ListedKeys implements KeyCatalog {
    readonly asked: (readonly string[] | 'all')[] = [];
    constructor(private readonly keys: Record<string, KeyInScope>) {}
    existing(_p: Principal, _s: Scope, _a: string, keys: readonly string[] | 'all') {
      this.asked.push(keys);
      const names = keys === 'all' ? Object.keys(this.keys) : keys.filter((key) => key in this.keys);
      return Promise.resolve(new Map(names.map((key) => [key, this.keys[key]])));
    }
  }

  function validator(keys: Record<string, KeyInScope>) {
    const catalog = new ListedKeys(keys);
    const work = new InlineTemplateWork(new TemplateCache({ maxEntries: 10, maxBytes: 1024 * 1024 }));
    const values = new ScopeValues({});
    return { catalog, values, renderer: new TemplateRenderer(work, values, catalog, 1024) };
  }

  it('lists references and the referenced or required keys that do not exist, fetching no values', async () => {
    const { catalog, values, renderer } = validator({ A: { key: 'A', version: 2, scope: 'customer' } });
    const validation = await renderer.validate(
      vendor,
      { template: 'A={{ .Secrets.A }}\nB={{ .Secrets.B }}', format: 'env', required: ['C', 'A'] },
      'Bearer t',
    );
    expect(validation).toEqual({
      valid: false,
      references: [{ key: 'A', version: 2, scope: 'customer' }],
      missing: ['B', 'C'],
      optional: [],
      errors: [],
    });
    expect(catalog.asked).toEqual([['A', 'B', 'C']]);
    expect(values.calls).toHaveLength(0);
  });

  it('lists a key read only where it is checked as optional, not missing, unless it is required', async () => {
    const { renderer } = validator({ B: { key: 'B', version: 1, scope: 'vendor' } });
    const template =
      'API_URL={{ if .Secrets.API_URL }}{{ .Secrets.API_URL }}{{ else }}https://api.example.com{{ end }}\n' +
      'B={{ .Secrets.B | default "b" }}\nC={{ .Secrets.C }}';
    expect(await renderer.validate(vendor, { template, format: 'env', required: [] }, '')).toEqual({
      valid: false,
      references: [{ key: 'B', version: 1, scope: 'vendor' }],
      missing: ['C'],
      optional: ['API_URL', 'B'],
      errors: [],
    });
    expect(await renderer.validate(vendor, { template, format: 'env', required: ['API_URL'] }, '')).toMatchObject({
      missing: ['API_URL', 'C'],
      optional: ['B'],
    });
  });

  it('is valid when everything exists', async () => {
    const { renderer } = validator({ A: { key: 'A', version: 1, scope: 'vendor' } });
    expect(
      (await renderer.validate(vendor, { template: 'A={{ .Secrets.A }}', format: 'env', required: [] }, '')).valid,
    ).toBe(true);
  });

  it('reports a parse error in the render wording and still checks required keys', async () => {
    const { renderer } = validator({});
    expect(
      await renderer.validate(vendor, { template: 'A={{ .Secrets.A }', format: 'env', required: ['R'] }, ''),
    ).toEqual({
      valid: false,
      references: [],
      missing: ['R'],
      optional: [],
      errors: ['template parsing error: unexpected "}" in operand'],
    });
  });

  it('refuses a required name that cannot be a secret key', async () => {
    const { renderer } = validator({});
    expect(
      await refusal(renderer.validate(vendor, { template: '', format: 'env', required: ['OK', '1bad'] }, '')),
    ).toEqual({
      code: 'INVALID_ARGUMENT',
      message: 'required[1] is not a valid secret key',
      details: { field: 'required[1]' },
    });
  });
});

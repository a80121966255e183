// Bad input (issue 9): every subject's JSON decoding and the template parser fuzzed with fast-check — random JSON,
// random bytes, boundary strings, huge numbers, deep nesting, unknown fields, wrong types, bodies up to just below
// NATS's max_payload. Every request must answer within its timeout with a well-formed reply: a success, or an error
// envelope with a known code and the matching Nats-Service-Error-Code — never INTERNAL or UNAVAILABLE, never a value
// in an error. Log lines published to logs.raw are fuzzed too (payload bytes around a value, headers, subject tokens):
// the redaction service stays healthy and nothing unredacted reaches LOGS. Afterwards every service is still ready
// and still serves a normal request.
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { type ErrorCode } from '@platform/contracts';
import { newReplyNonce } from '@platform/crypto';
import { prefixedStreamName } from '@platform/messaging';
import { type Reply, ResolveCaller } from '@platform/testing';
import { headers as natsHeaders } from 'nats';
import { logSourceOf } from '../../services/redaction/src/logs/log-message';
import { type PlatformUnderTest, SERVICE_NAMES, outcomeOf, readinessOf, startPlatform } from './fixtures/platform';
import { readStream, streamMessageCount } from './support/jetstream-messages';
import { sized } from './support/reliability-size';
import { until } from './support/wait';

const run = randomBytes(3).toString('hex');
const VENDOR = `acme${run}`;
const CUSTOMER = `globex${run}`;
/** Smaller than NATS's max_payload, so bodies between this and 1 MiB can be sent and refused. */
const RENDER_MAX_TEMPLATE_BYTES = 256 * 1024;
/** A request must answer within this; a hang fails the property. */
const REQUEST_TIMEOUT_MS = 10_000;

const VALUES = {
  API_KEY: `sk_live_${randomBytes(16).toString('hex')}`,
  DB_PASSWORD: `pw-${randomBytes(16).toString('hex')}`,
  MULTI_LINE: `first-${randomBytes(8).toString('hex')}\nsecond-${randomBytes(8).toString('hex')}`,
  YAML_BREAKER: `${randomBytes(8).toString('hex')}: [unclosed`,
};

const SUBJECTS = [
  'secrets.v1.create',
  'secrets.v1.update',
  'secrets.v1.delete',
  'secrets.v1.get',
  'secrets.v1.list',
  'secrets.v1.history',
  'secrets.v1.resolve',
  'render.v1.render',
  'render.v1.validate',
  'redaction.v1.redact',
  'audit.v1.query',
  'audit.v1.verify',
] as const;
type Subject = (typeof SUBJECTS)[number];

/** Codes that say the service could not cope: never acceptable for bad input while every dependency is up. */
const NEVER: readonly ErrorCode[] = ['INTERNAL', 'UNAVAILABLE'];

// ---- arbitraries --------------------------------------------------------------------------------------------------

const boundaryString: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '',
    ' ',
    '\u0000',
    '\ud800',
    '\udfff\ud800',
    '\uffff',
    '𝟘𝟙',
    'ünïcödé',
    '\r\n',
    '../../etc/passwd',
    '${jndi:ldap://x/a}',
    '{{ .Secrets }}',
    'a.b',
    '*',
    '>',
    '_',
    '-',
    'A'.repeat(64),
    'A'.repeat(65),
    'K'.repeat(256),
    'K'.repeat(257),
    'v'.repeat(64 * 1024),
    'v'.repeat(64 * 1024 + 1),
    'ü'.repeat(32 * 1024 + 1),
    'null',
    'true',
    '0',
    '-1',
    'NaN',
    'Infinity',
    '1e999',
    '2023-13-45T25:61:61Z',
    '1970-01-01T00:00:00Z',
    '9999-12-31T23:59:59.999999999Z',
    '__proto__',
    'constructor',
  ),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.stringMatching(/^[A-Za-z][A-Za-z0-9_]{0,20}$/),
);

/** JSON number literals that JavaScript numbers, uint32 and int64 fields cannot all hold. */
const numberLiteral: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '0',
    '-0',
    '-1',
    '1.5',
    '4294967295',
    '4294967296',
    '9007199254740993',
    '18446744073709551616',
    '1e308',
    '1e999',
    '-1e999',
    '1E-400',
    '123456789012345678901234567890',
  ),
  fc.double().filter(Number.isFinite).map(String),
  fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map(String),
);

/** Arrays and objects nested far deeper than any message: a parser that recurses must not blow the stack. */
const deepNesting: fc.Arbitrary<string> = fc
  .record({ depth: fc.integer({ min: 50, max: 20_000 }), kind: fc.constantFrom('array', 'object', 'mixed') })
  .map(({ depth, kind }) => {
    if (kind === 'array') return `${'['.repeat(depth)}${']'.repeat(depth)}`;
    if (kind === 'object') return `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
    return `${'[{"a":'.repeat(depth)}1${'}]'.repeat(depth)}`;
  });

/** Any JSON value as literal text, including the ones JSON.stringify cannot write. */
const rawJsonValue: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((value) => JSON.stringify(value)) },
  { weight: 3, arbitrary: boundaryString.map((value) => JSON.stringify(value)) },
  { weight: 2, arbitrary: numberLiteral },
  { weight: 1, arbitrary: deepNesting },
  { weight: 1, arbitrary: fc.array(boundaryString, { maxLength: 5 }).map((value) => JSON.stringify(value)) },
  {
    weight: 1,
    arbitrary: fc.dictionary(boundaryString, fc.oneof(boundaryString, fc.integer())).map((v) => JSON.stringify(v)),
  },
);

/** A JSON object body as text: `base` with one field replaced, added or removed. */
function mutationOf(base: Record<string, unknown>): fc.Arbitrary<string> {
  const fields = Object.keys(base);
  const field = fc.oneof(
    ...(fields.length > 0 ? [fc.constantFrom(...fields)] : []),
    fc.constantFrom(
      'customerOrganizationId',
      'customer_organization_id',
      'expectedVersion',
      'unknownField',
      '__proto__',
      'constructor',
      'KEY',
      '',
    ),
    boundaryString,
  );
  const replaced = fc.tuple(field, rawJsonValue).map(([name, value]) => {
    const rest = Object.fromEntries(Object.entries(base).filter(([key]) => key !== name));
    const prefix = JSON.stringify(rest).slice(0, -1);
    return `${prefix}${prefix.length > 1 ? ',' : ''}${JSON.stringify(name)}:${value}}`;
  });
  if (fields.length === 0) return replaced;
  const removed = fc
    .constantFrom(...fields)
    .map((name) => JSON.stringify(Object.fromEntries(Object.entries(base).filter(([key]) => key !== name))));
  const duplicated = fc
    .tuple(fc.constantFrom(...fields), rawJsonValue)
    .map(([name, value]) => `${JSON.stringify(base).slice(0, -1)},${JSON.stringify(name)}:${value}}`);
  return fc.oneof({ weight: 6, arbitrary: replaced }, removed, duplicated);
}

/** Bytes that are not a JSON object: random bytes, truncated JSON, JSON that is not an object, BOMs, whitespace. */
function garbageFor(base: Record<string, unknown>): fc.Arbitrary<Uint8Array | string> {
  const text = JSON.stringify(base);
  return fc.oneof(
    fc.uint8Array({ maxLength: 512 }),
    fc.integer({ min: 0, max: Math.max(0, text.length - 1) }).map((end) => text.slice(0, end)),
    rawJsonValue.filter((value) => !value.startsWith('{')),
    fc.constantFrom(`\ufeff${text}`, ` \n\t${text}\n `, `${text}${text}`, `${text},`, `[${text}]`, `${text}\u0000`),
    fc.constantFrom(new Uint8Array([0xff, 0xfe, 0xfd]), Buffer.from(`{"key":"\xc3\x28"}`, 'latin1')),
  );
}

// ---- the template parser --------------------------------------------------------------------------------------------

const TEMPLATE_TOKENS = [
  '{{',
  '}}',
  '{{- ',
  ' -}}',
  ' ',
  '\n',
  '.Secrets',
  '.Secrets.API_KEY',
  '.Secrets.DB_PASSWORD',
  '.Secrets.MULTI_LINE',
  '.Secrets.YAML_BREAKER',
  '.Secrets.MISSING',
  '.',
  '$',
  '$x',
  ':=',
  '=',
  '|',
  '(',
  ')',
  ',',
  'if',
  'else',
  'else if',
  'end',
  'range',
  'with',
  'define "t"',
  'template "t" .',
  'block "b" .',
  'break',
  'continue',
  'nil',
  'true',
  '"str"',
  '`raw`',
  "'c'",
  '1',
  '-1',
  '0x1F',
  '1e309',
  '3.14',
  '1i',
  '/* c */',
  'printf "%v %d %s %x %q %08.3f %!" ',
  'index',
  'slice',
  'len',
  'and',
  'or',
  'not',
  'eq',
  'lt',
  'call',
  'html',
  'js',
  'urlquery',
  'print',
  'println',
  'default',
  'required "missing"',
  'quote',
  'squote',
  'b64enc',
  'b64dec',
  'indent 2',
  'nindent 4',
  'toJson',
  'trim',
  'upper',
  'lower',
  'KEY=',
  ': ',
  '- ',
  '#',
];

/** Templates known to be hard on a Go-template engine: recursion, nesting, huge widths and outputs, bad literals. */
const HARD_TEMPLATES: readonly string[] = [
  '{{define "a"}}{{template "a" .}}{{end}}{{template "a" .}}',
  '{{range $i := .Secrets}}{{range $j := $.Secrets}}{{range $.Secrets}}{{$i}}{{end}}{{end}}{{end}}',
  `${'{{if true}}'.repeat(150)}x${'{{end}}'.repeat(150)}`,
  `${'{{('.repeat(200)}1${')}}'.repeat(200)}`,
  '{{printf "%0999999999d" 1}}',
  '{{printf "%.999999999f" 1.0}}',
  '{{printf "%09999999d" 1}}',
  '{{printf "%0999999d" 1}}{{printf "%0999999d" 1}}',
  '{{ .Secrets.API_KEY | indent 1000000000 }}',
  `{{ slice .Secrets.API_KEY 5 2 }}`,
  `{{ index .Secrets "API_KEY" 99 }}`,
  `{{ range .Secrets.API_KEY }}{{ . }}{{ end }}`,
  '{{ $x := 1 }}{{ $x = "a" }}{{ $x.Field }}',
  '{{ toJson . }}',
  `{{ "${'\\u'.repeat(10)}" }}`,
  '{{ .Secrets.API_KEY.Nested.Deeper }}',
  '{{ 9223372036854775808 }}{{ -9223372036854775809 }}{{ 0x }}',
  '{{ break }}',
  '{{ end }}',
  '{{',
  '}}{{',
];

/** Templates that are near-valid: sequences of template tokens, plus raw strings and a few known hard cases. */
const templateSource: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: fc.array(fc.constantFrom(...TEMPLATE_TOKENS), { maxLength: 40 }).map((t) => t.join('')) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }) },
  { weight: 1, arbitrary: fc.constantFrom(...HARD_TEMPLATES) },
);

/** What a render may answer: its output, or a typed refusal of the template or request. */
const RENDER_CODES: ReadonlyArray<'OK' | ErrorCode> = [
  'OK',
  'INVALID_ARGUMENT',
  'PAYLOAD_TOO_LARGE',
  'TEMPLATE_PARSE_ERROR',
  'TEMPLATE_EXECUTION_ERROR',
  'TEMPLATE_OUTPUT_ERROR',
];

describe('bad input to every subject', () => {
  let platform: PlatformUnderTest;
  let adminToken: string;
  let resolverToken: string;
  let baseBodies: Record<Subject, Record<string, unknown>>;
  let maxPayload: number;
  const outcomes = new Map<string, number>();

  const tokenFor = (subject: Subject) => (subject === 'secrets.v1.resolve' ? resolverToken : adminToken);

  /** Sends a body and returns its outcome after checking the reply is well formed, typed, and free of values. */
  async function send(subject: Subject, body: unknown, token = tokenFor(subject)): Promise<'OK' | ErrorCode> {
    const reply: Reply = await platform.client.request(subject, body, { token, timeoutMs: REQUEST_TIMEOUT_MS });
    const outcome = outcomeOf(reply);
    const key = `${subject} ${outcome}`;
    outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
    if (NEVER.includes(outcome as ErrorCode)) {
      throw new Error(`${subject} answered ${outcome} to ${describeBody(body)}: ${reply.raw.slice(0, 300)}`);
    }
    if (outcome !== 'OK') {
      for (const [name, value] of Object.entries(VALUES)) {
        for (const part of value.split('\n')) {
          if (reply.raw.includes(part)) throw new Error(`${subject} quoted the value of ${name} in ${reply.raw}`);
        }
      }
    }
    return outcome;
  }

  beforeAll(async () => {
    platform = await startPlatform({
      render: { RENDER_MAX_TEMPLATE_BYTES: String(RENDER_MAX_TEMPLATE_BYTES) },
      redaction: { REDACTION_SETTLE_MS: '0' },
    });
    maxPayload = platform.client.connection.info?.max_payload ?? 1024 * 1024;
    adminToken = await platform.tokens.vendor(VENDOR, 'admin');
    const resolver = await ResolveCaller.create(platform.tokens, `fuzzer${run}`, [
      'secrets:resolve',
      'secrets:resolve-all',
    ]);
    resolverToken = resolver.token;
    for (const [key, value] of Object.entries(VALUES)) {
      expect(outcomeOf(await platform.client.request('secrets.v1.create', { key, value }, { token: adminToken }))).toBe(
        'OK',
      );
    }
    baseBodies = {
      'secrets.v1.create': { key: 'FUZZED', value: 'fuzzed-value', customerOrganizationId: CUSTOMER },
      'secrets.v1.update': { key: 'API_KEY', value: VALUES.API_KEY, expectedVersion: 1 },
      'secrets.v1.delete': { key: 'NOT_THERE', customerOrganizationId: CUSTOMER },
      'secrets.v1.get': { key: 'API_KEY' },
      'secrets.v1.list': { customerOrganizationId: CUSTOMER, pageSize: 10, pageToken: 'WyIiLCJBIl0' },
      'secrets.v1.history': { key: 'API_KEY' },
      'secrets.v1.resolve': {
        organizationId: VENDOR,
        customerOrganizationId: CUSTOMER,
        keys: ['API_KEY'],
        includeHistory: false,
        pins: { API_KEY: 1 },
        replyKey: resolver.publicJwk,
        nonce: newReplyNonce(),
      },
      'render.v1.render': {
        template: 'A={{ .Secrets.API_KEY }}',
        format: 'env',
        customerOrganizationId: CUSTOMER,
        organizationId: VENDOR,
        pins: { API_KEY: 1 },
        deploymentId: 'web',
      },
      'render.v1.validate': {
        template: '{{ .Secrets.API_KEY }}',
        format: 'text',
        customerOrganizationId: CUSTOMER,
        required: ['DB_PASSWORD'],
        organizationId: VENDOR,
      },
      'redaction.v1.redact': { organizationId: VENDOR, customerOrganizationId: CUSTOMER, text: 'hello' },
      'audit.v1.query': {
        key: 'API_KEY',
        actor: 'admin',
        types: ['SecretCreated'],
        customerOrganizationId: CUSTOMER,
        from: '2020-01-01T00:00:00Z',
        to: '2100-01-01T00:00:00Z',
        pageSize: 5,
        pageToken: Buffer.from('audit.v1:1000').toString('base64url'),
      },
      'audit.v1.verify': {},
    };
  });

  afterAll(async () => {
    await platform?.close();
  });

  it.each(SUBJECTS)(
    '%s: its base body is valid, so the fuzzing starts from a request the service accepts',
    async (s) => {
      // The delete names a key that does not exist: refused for what it says, not for how it is written.
      expect(await send(s, baseBodies[s])).toBe(s === 'secrets.v1.delete' ? 'NOT_FOUND' : 'OK');
      // Later updates expect the version this one made; once one of them succeeds, the rest conflict.
      if (s === 'secrets.v1.update') baseBodies[s] = { ...baseBodies[s], expectedVersion: 2 };
    },
  );

  it.each(SUBJECTS)('%s: mutated fields (wrong types, boundary strings, huge numbers, deep nesting)', async (s) => {
    await fc.assert(
      fc.asyncProperty(mutationOf(baseBodies[s]), async (body) => {
        await send(s, body);
      }),
      { numRuns: sized(30, 400) },
    );
  });

  it.each(SUBJECTS)(
    '%s: bodies that are not a JSON object are INVALID_ARGUMENT (or an empty body, `{}`)',
    async (s) => {
      await fc.assert(
        fc.asyncProperty(garbageFor(baseBodies[s]), async (body) => {
          const outcome = await send(s, body instanceof Uint8Array ? body : Buffer.from(body));
          const text = body instanceof Uint8Array ? Buffer.from(body).toString('utf8') : body;
          const parsed = parseJson(text);
          const isObject = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed);
          if (!isObject && text.trim() !== '')
            expect({ body: describeBody(body), outcome }).toMatchObject({ outcome: 'INVALID_ARGUMENT' });
        }),
        { numRuns: sized(20, 250) },
      );
    },
  );

  it.each(SUBJECTS)('%s: random JSON objects', async (s) => {
    await fc.assert(
      fc.asyncProperty(fc.object({ maxDepth: 3, maxKeys: 6 }), async (body) => {
        await send(s, body);
      }),
      { numRuns: sized(15, 150) },
    );
  });

  it.each(SUBJECTS)('%s: a body just below NATS max_payload is refused, never crashes', async (s) => {
    const size = Math.min(maxPayload - 4096, 1000 * 1000);
    const bodies: Record<string, unknown>[] = [
      { ...baseBodies[s], [bulkField(s)]: 'x'.repeat(size - 200) },
      { ...baseBodies[s], unknownField: 'y'.repeat(size - 200) },
      { ...baseBodies[s], [bulkField(s)]: Array.from({ length: Math.floor(size / 8) }, () => 'ab') },
    ];
    for (const body of bodies) expect(Buffer.byteLength(JSON.stringify(body))).toBeLessThan(maxPayload);
    const [inField, inUnknownField] = [await send(s, bodies[0]), await send(s, bodies[1])];
    await send(s, bodies[2]);
    expect(inField).toBe(EXPECTED_FOR_BULK[s]);
    // Writes refuse by size before parsing (their limit is 6 × 64 KiB + 16 KiB); the rest name the unknown field.
    const writes: readonly Subject[] = ['secrets.v1.create', 'secrets.v1.update'];
    expect(inUnknownField).toBe(writes.includes(s) ? 'PAYLOAD_TOO_LARGE' : 'INVALID_ARGUMENT');
  });

  it('untrusted Authorization headers are UNAUTHENTICATED on every subject', async () => {
    const header = fc.oneof(
      fc.string({ maxLength: 200 }).map((token) => `Bearer ${token}`),
      fc.string({ unit: 'binary', maxLength: 100 }),
      fc
        .tuple(
          fc.base64String({ maxLength: 60 }),
          fc.base64String({ maxLength: 200 }),
          fc.base64String({ maxLength: 60 }),
        )
        .map(
          (parts) =>
            `Bearer ${parts.map((p) => p.replace(/=/g, '').replace(/\+/g, '-').replace(/\//g, '_')).join('.')}`,
        ),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...SUBJECTS), header, async (subject, authorization) => {
        const reply = await platform.client.request(subject, baseBodies[subject], {
          headers: { Authorization: authorization.replace(/[\r\n]/g, ' ') || 'x' },
          timeoutMs: REQUEST_TIMEOUT_MS,
        });
        expect(outcomeOf(reply)).toBe('UNAUTHENTICATED');
      }),
      { numRuns: sized(40, 400) },
    );
  });

  describe('the template parser, through render and validate', () => {
    const format = fc.oneof(fc.constantFrom('env', 'yaml', 'text'), fc.constantFrom('', 'ENV', 'json', 'yml'));

    it('render answers a typed reply to any template, and never quotes a value in an error', async () => {
      await fc.assert(
        fc.asyncProperty(templateSource, format, async (template, chosenFormat) => {
          const outcome = await send('render.v1.render', { template, format: chosenFormat });
          expect(RENDER_CODES).toContain(outcome);
        }),
        { numRuns: sized(150, 2500) },
      );
    });

    it.each(HARD_TEMPLATES)('render and validate answer %j with a typed reply', async (template) => {
      for (const chosenFormat of ['env', 'yaml', 'text']) {
        expect(RENDER_CODES).toContain(await send('render.v1.render', { template, format: chosenFormat }));
        expect(await send('render.v1.validate', { template, format: chosenFormat })).toBe('OK');
      }
    });

    it('validate reports parse errors in the reply, and refuses only a bad format or key', async () => {
      await fc.assert(
        fc.asyncProperty(templateSource, format, async (template, chosenFormat) => {
          const outcome = await send('render.v1.validate', { template, format: chosenFormat });
          expect(['OK', 'INVALID_ARGUMENT', 'PAYLOAD_TOO_LARGE']).toContain(outcome);
          if (['env', 'yaml', 'text'].includes(chosenFormat)) expect(outcome).toBe('OK');
        }),
        { numRuns: sized(100, 1500) },
      );
    });

    it('an output larger than NATS max_payload is PAYLOAD_TOO_LARGE, not a reply that cannot be sent', async () => {
      // 10 million characters: within the engine's 10 MiB output limit, beyond what one NATS message carries.
      expect(await send('render.v1.render', { template: '{{ printf "%09999999d" 1 }}', format: 'text' })).toBe(
        'PAYLOAD_TOO_LARGE',
      );
      // Go's fmt treats a width past 1e6 as no verb at all, so this one is short and answered.
      const reply = await platform.client.request(
        'render.v1.render',
        { template: '{{ printf "%0999999999d" 1 }}', format: 'text' },
        { token: adminToken },
      );
      expect(reply.body).toEqual({ output: '%!(NOVERB)%!(EXTRA int=1)', references: [] });
    });

    it('a template over the configured limit is PAYLOAD_TOO_LARGE for render and validate', async () => {
      const template = `{{ .Secrets.API_KEY }}${'x'.repeat(RENDER_MAX_TEMPLATE_BYTES)}`;
      expect(await send('render.v1.render', { template, format: 'text' })).toBe('PAYLOAD_TOO_LARGE');
      expect(await send('render.v1.validate', { template, format: 'text' })).toBe('PAYLOAD_TOO_LARGE');
    });
  });

  describe('raw log lines, through the redaction service', () => {
    const token = fc.stringMatching(/^[A-Za-z0-9_-]{1,24}$/);
    /** Mostly the vendor's own scopes (where the values are known), then any tokens, and too few or too many. */
    const subjectTail = fc.oneof(
      { weight: 4, arbitrary: fc.tuple(fc.constantFrom('_', CUSTOMER), token).map(([c, d]) => [VENDOR, c, d]) },
      { weight: 2, arbitrary: fc.tuple(token, token, token) },
      { weight: 1, arbitrary: fc.array(token, { minLength: 1, maxLength: 6 }) },
    );
    const secretValue = fc.constantFrom(...Object.values(VALUES));
    /** Random bytes (not always UTF-8) with a value somewhere inside, or plain, or base64 around it. */
    const payload = fc.oneof(
      {
        weight: 4,
        arbitrary: fc
          .tuple(fc.uint8Array({ maxLength: 64 }), secretValue, fc.uint8Array({ maxLength: 64 }))
          .map(([before, value, after]) => Buffer.concat([before, Buffer.from(` ${value} `), after])),
      },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 256 }).map((bytes) => Buffer.from(bytes)) },
      { weight: 1, arbitrary: fc.constant(Buffer.alloc(0)) },
      {
        weight: 1,
        arbitrary: fc
          .tuple(fc.string({ unit: 'grapheme', maxLength: 40 }), secretValue)
          .map(([text, value]) => Buffer.from(`${text}${value}${text}`)),
      },
    );
    const headerName = fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,15}$/).filter((name) => !/^nats-/i.test(name));
    const headerValue = fc.oneof(
      fc.string({ maxLength: 60 }).map((text) => text.replace(/[\r\n]/g, ' ')),
      secretValue.map((value) => `trace ${value.replace(/\n/g, ' ')}`),
    );
    const lineHeaders = fc.dictionary(headerName, headerValue, { maxKeys: 4 });

    it('redacts or refuses every fuzzed line, stays healthy, and lets nothing unredacted into LOGS', async () => {
      const connection = platform.client.connection;
      const js = connection.jetstream();
      let published = 0;
      let redactable = 0;
      await fc.assert(
        fc.asyncProperty(subjectTail, payload, lineHeaders, async (tail, data, fields) => {
          const headers = natsHeaders();
          for (const [name, value] of Object.entries(fields)) headers.set(name, value);
          const subject = `${platform.prefix}logs.raw.${tail.join('.')}`;
          await js.publish(subject, data, { headers });
          published++;
          // Lines whose subject names no valid scope are terminated (ARCHITECTURE.md §8); the rest reach LOGS.
          if (logSourceOf(subject, platform.prefix)) redactable++;
        }),
        { numRuns: sized(150, 2_000) },
      );
      expect(published).toBeGreaterThan(0);
      const raw = prefixedStreamName(platform.prefix, 'LOGS_RAW');
      // A work queue: a line leaves LOGS_RAW once redacted into LOGS (or refused as unredactable).
      await until(async () => (await streamMessageCount(connection, raw)) === 0, 'LOGS_RAW to drain', 60_000);
      expect(await readinessOf(platform.services.redaction)).toBe(200);

      const stored = await readStream(connection, prefixedStreamName(platform.prefix, 'LOGS'));
      expect(redactable).toBeGreaterThan(published / 3);
      expect(stored).toHaveLength(redactable);
      const parts = Object.values(VALUES).flatMap((value) => [value, ...value.split('\n')]);
      // The values are the vendor's: in its scopes (vendor-level and any of its customers') they must be masked; in
      // another organization's lines they are nobody's secret there, and are left as they are.
      const vendorScoped = stored.filter((message) =>
        message.subject.startsWith(`${platform.prefix}logs.redacted.${VENDOR}.`),
      );
      expect(vendorScoped.length).toBeGreaterThan(10);
      const leaks = vendorScoped.flatMap((message) => {
        const text = `${Buffer.from(message.data).toString('utf8')}\n${Buffer.from(message.data).toString('latin1')}\n${
          message.headers
            ? [...message.headers].map(([name, values]) => `${name}: ${values.join(', ')}`).join('\n')
            : ''
        }`;
        return parts
          .filter((part) => text.includes(part))
          .map(() => `LOGS message ${message.sequence} (${message.subject})`);
      });
      expect(leaks).toEqual([]);

      // Still redacting: a normal line published now comes out masked.
      await js.publish(`${platform.prefix}logs.raw.${VENDOR}._.after`, Buffer.from(`key=${VALUES.API_KEY}`));
      await until(async () => (await streamMessageCount(connection, raw)) === 0, 'the last line to be redacted');
      const last = (await readStream(connection, prefixedStreamName(platform.prefix, 'LOGS'))).at(-1)!;
      expect(Buffer.from(last.data).toString('utf8')).toBe('key=********');
    });
  });

  it('leaves every service ready and serving', async () => {
    for (const name of SERVICE_NAMES) {
      expect({ name, status: await readinessOf(platform.services[name]) }).toEqual({ name, status: 200 });
    }
    const rendered = await platform.client.request(
      'render.v1.render',
      { template: 'A={{ .Secrets.DB_PASSWORD }}', format: 'env' },
      { token: adminToken },
    );
    expect(rendered.body).toMatchObject({ output: `A=${VALUES.DB_PASSWORD}` });
    const redacted = await platform.client.request(
      'redaction.v1.redact',
      { text: VALUES.API_KEY },
      { token: adminToken },
    );
    expect(redacted.body).toEqual({ text: '********', redactions: 1 });
    const trail = await platform.client.request('audit.v1.query', { key: 'API_KEY' }, { token: adminToken });
    expect(outcomeOf(trail)).toBe('OK');
  });

  it('logged no internal error while being fuzzed', () => {
    const errors = SERVICE_NAMES.flatMap((name) =>
      platform.services[name].logs.filter((line) => /"level":(50|60)/.test(line)).map((line) => `${name}: ${line}`),
    );
    expect(errors).toEqual([]);
  });
});

/** The string field each subject's bulk goes into, and the code a body that size must get. */
function bulkField(subject: Subject): string {
  switch (subject) {
    case 'secrets.v1.create':
    case 'secrets.v1.update':
      return 'value';
    case 'render.v1.render':
    case 'render.v1.validate':
      return 'template';
    case 'redaction.v1.redact':
      return 'text';
    case 'secrets.v1.list':
      return 'pageToken';
    case 'audit.v1.query':
      return 'actor';
    case 'secrets.v1.resolve':
      return 'organizationId';
    case 'audit.v1.verify':
      return 'unknownField';
    default:
      return 'key';
  }
}

const EXPECTED_FOR_BULK: Readonly<Record<Subject, 'OK' | ErrorCode>> = {
  'secrets.v1.create': 'PAYLOAD_TOO_LARGE',
  'secrets.v1.update': 'PAYLOAD_TOO_LARGE',
  'secrets.v1.delete': 'INVALID_ARGUMENT',
  'secrets.v1.get': 'INVALID_ARGUMENT',
  'secrets.v1.list': 'INVALID_ARGUMENT',
  'secrets.v1.history': 'INVALID_ARGUMENT',
  'secrets.v1.resolve': 'INVALID_ARGUMENT',
  'render.v1.render': 'PAYLOAD_TOO_LARGE',
  'render.v1.validate': 'PAYLOAD_TOO_LARGE',
  // Longer than REDACTION_MAX_TEXT_BYTES (64 KiB): masking it would hold the event loop too long.
  'redaction.v1.redact': 'PAYLOAD_TOO_LARGE',
  'audit.v1.query': 'INVALID_ARGUMENT',
  'audit.v1.verify': 'INVALID_ARGUMENT',
};

/** JSON.parse after dropping a leading byte order mark, which RFC 8259 lets a parser ignore (TextDecoder does). */
function parseJson(text: string): unknown {
  try {
    return JSON.parse(text.replace(/^\ufeff/, ''));
  } catch {
    return undefined;
  }
}

function describeBody(body: unknown): string {
  const text =
    body instanceof Uint8Array
      ? `bytes ${Buffer.from(body).toString('hex')}`
      : typeof body === 'string'
        ? body
        : JSON.stringify(body);
  return text.length > 300 ? `${text.slice(0, 300)}… (${text.length} chars)` : text;
}

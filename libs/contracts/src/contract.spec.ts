// The wire of ARCHITECTURE.md §2, §3 and §6, subject by subject: what callers send and the exact JSON they get back.
import { create, equals, type DescMessage, type MessageInitShape } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import {
  AuditService,
  decodeRequest,
  encodeReply,
  ERROR_CODES,
  ERROR_STATUS,
  ErrorEnvelopeSchema,
  QueryAuditResponseSchema,
  RedactionService,
  RenderService,
  ResolvedSecretsSchema,
  SecretEventSchema,
  SecretsService,
  subjectOf,
  toWireJson,
} from './index';

const bytes = (json: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(json));
const replyJson = <Desc extends DescMessage>(schema: Desc, reply: MessageInitShape<Desc>): unknown =>
  JSON.parse(new TextDecoder().decode(encodeReply(schema, reply)));

const SERVICES = [SecretsService, RenderService, RedactionService, AuditService];
const METHODS = SERVICES.flatMap((service) => service.methods);

const MARCH_1 = '2025-03-01T10:00:00Z';
const MARCH_2 = '2025-03-02T08:30:15.250Z';
const at = (iso: string) => timestampFromDate(new Date(iso));

const REPLY_JWK = {
  kty: 'EC',
  crv: 'P-256',
  x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU',
  y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0',
};

/** A request for every subject, as a client following ARCHITECTURE.md would write it. */
const REQUEST_EXAMPLES: Record<string, object> = {
  'secrets.v1.create': { key: 'DB_PASSWORD', value: 's3cr3t', customerOrganizationId: 'cust-1' },
  'secrets.v1.update': { key: 'DB_PASSWORD', value: 'n3w', customerOrganizationId: 'cust-1', expectedVersion: 2 },
  'secrets.v1.delete': { key: 'DB_PASSWORD', customerOrganizationId: 'cust-1', expectedVersion: 3, force: true },
  'secrets.v1.get': { key: 'DB_PASSWORD', customerOrganizationId: 'cust-1' },
  'secrets.v1.list': { customerOrganizationId: 'cust-1', pageSize: 50, pageToken: 'eyJrIjoiREIifQ' },
  'secrets.v1.history': { key: 'DB_PASSWORD', customerOrganizationId: 'cust-1' },
  'secrets.v1.resolve': {
    organizationId: 'acme',
    customerOrganizationId: 'cust-1',
    keys: ['DB_PASSWORD', 'API_KEY'],
    includeHistory: false,
    pins: { API_KEY: 4 },
    replyKey: REPLY_JWK,
    nonce: 'q1w2e3r4t5y6u7i8o9p0aA',
    deploymentId: 'dep-42',
  },
  'secrets.v1.deployments': {
    key: 'DB_PASSWORD',
    customerOrganizationId: 'cust-1',
    deploymentId: 'dep-42',
    staleOnly: true,
    pageSize: 50,
    pageToken: 'WyIiLCJkZXAtNDIiXQ',
  },
  'secrets.v1.forgetdeployment': { deploymentId: 'dep-42', customerOrganizationId: 'cust-1' },
  'secrets.v1.rollback': {
    key: 'DB_PASSWORD',
    toVersion: 2,
    customerOrganizationId: 'cust-1',
    expectedVersion: 4,
    expiresAt: '2027-01-31T00:00:00Z',
  },
  'secrets.v1.restore': {
    key: 'DB_PASSWORD',
    customerOrganizationId: 'cust-1',
    expectedVersion: 5,
    expiresAt: '2027-01-31T00:00:00Z',
  },
  'secrets.v1.reportexposure': {
    organizationId: 'acme',
    customerOrganizationId: 'cust-1',
    deploymentId: 'dep-42',
    key: 'DB_PASSWORD',
    scope: 'vendor',
    version: 3,
    lineCount: 2,
    firstSeenAt: '2026-01-02T03:04:05Z',
    lastSeenAt: '2026-01-02T03:05:00Z',
  },
  'secrets.v1.destroy': { key: 'DB_PASSWORD', versions: [1, 2], customerOrganizationId: 'cust-1' },
  'render.v1.render': {
    template: 'DB_PASSWORD={{ .Secrets.DB_PASSWORD }}\n',
    format: 'env',
    customerOrganizationId: 'cust-1',
    organizationId: 'acme',
    pins: { DB_PASSWORD: 2 },
    deploymentId: 'dep-42',
  },
  'render.v1.validate': {
    template: 'password: {{ .Secrets.DB_PASSWORD }}',
    format: 'yaml',
    customerOrganizationId: 'cust-1',
    required: ['DB_PASSWORD', 'API_KEY'],
  },
  'redaction.v1.redact': { organizationId: 'acme', customerOrganizationId: 'cust-1', text: 'connecting with s3cr3t' },
  'audit.v1.query': {
    key: 'DB_PASSWORD',
    actor: 'user-1',
    types: ['SecretValueUpdated', 'SecretDeleted'],
    customerOrganizationId: 'cust-1',
    from: MARCH_1,
    to: MARCH_2,
    pageSize: 100,
    pageToken: 'MTAw',
  },
  'audit.v1.verify': {},
};

describe('request subjects', () => {
  it('name each method <package>.<method>, as §3 lists them', () => {
    expect(METHODS.map(subjectOf).sort()).toEqual(Object.keys(REQUEST_EXAMPLES).sort());
  });

  it.each(METHODS.map((method) => [subjectOf(method), method] as const))(
    '%s decodes its documented example field for field',
    (subject, method) => {
      const example = REQUEST_EXAMPLES[subject];

      const request = decodeRequest(method.input, bytes(example));

      // Reading the message back to JSON must give exactly what was sent: nothing dropped, nothing invented.
      expect(toWireJson(method.input, request)).toEqual(expect.objectContaining(example));
    },
  );

  it('decodes versions and pins as numbers and times as instants', () => {
    const update = decodeRequest(SecretsService.method.update.input, bytes(REQUEST_EXAMPLES['secrets.v1.update']));
    const render = decodeRequest(RenderService.method.render.input, bytes(REQUEST_EXAMPLES['render.v1.render']));
    const query = decodeRequest(AuditService.method.query.input, bytes(REQUEST_EXAMPLES['audit.v1.query']));
    const resolve = decodeRequest(SecretsService.method.resolve.input, bytes(REQUEST_EXAMPLES['secrets.v1.resolve']));

    expect(update.expectedVersion).toBe(2);
    expect(render.pins).toEqual({ DB_PASSWORD: 2 });
    expect(query.from && new Date(Number(query.from.seconds) * 1000).toISOString()).toBe('2025-03-01T10:00:00.000Z');
    expect(query.to?.nanos).toBe(250_000_000);
    expect(resolve.replyKey).toEqual(REPLY_JWK);
    expect(resolve.nonce).toBe('q1w2e3r4t5y6u7i8o9p0aA');
  });
});

describe('replies', () => {
  const vendorSecret = {
    id: '4b1c2f0e-7a55-5c3e-9d41-0b6f1d2e8a90',
    key: 'API_KEY',
    organizationId: 'acme',
    version: 1,
    createdAt: at(MARCH_1),
    createdBy: 'user-1',
    updatedAt: at(MARCH_1),
    updatedBy: 'user-1',
  };
  const customerSecret = {
    ...vendorSecret,
    id: '9d0a3c57-2b1e-5f64-8a7d-3c2e1f0b9a88',
    key: 'DB_PASSWORD',
    customerOrganizationId: 'cust-1',
    version: 3,
    updatedAt: at(MARCH_2),
    updatedBy: 'user-2',
  };
  const vendorSecretJson = {
    id: '4b1c2f0e-7a55-5c3e-9d41-0b6f1d2e8a90',
    key: 'API_KEY',
    organizationId: 'acme',
    customerOrganizationId: null,
    version: 1,
    createdAt: MARCH_1,
    createdBy: 'user-1',
    updatedAt: MARCH_1,
    updatedBy: 'user-1',
  };
  const customerSecretJson = {
    id: '9d0a3c57-2b1e-5f64-8a7d-3c2e1f0b9a88',
    key: 'DB_PASSWORD',
    organizationId: 'acme',
    customerOrganizationId: 'cust-1',
    version: 3,
    createdAt: MARCH_1,
    createdBy: 'user-1',
    updatedAt: MARCH_2,
    updatedBy: 'user-2',
  };
  const actor = { sub: 'user-2', org: 'acme', role: 'read_write' };

  it('secrets.v1.create, update and get reply with the Secret: metadata, null customer for vendor scope', () => {
    for (const method of [SecretsService.method.create, SecretsService.method.update, SecretsService.method.get]) {
      expect(replyJson(method.output, vendorSecret)).toStrictEqual(vendorSecretJson);
      expect(replyJson(method.output, customerSecret)).toStrictEqual(customerSecretJson);
    }
  });

  it('secrets.v1.delete replies {key, version, deletedAt}', () => {
    const reply = { key: 'DB_PASSWORD', version: 4, deletedAt: at(MARCH_2) };

    expect(replyJson(SecretsService.method.delete.output, reply)).toStrictEqual({
      key: 'DB_PASSWORD',
      version: 4,
      deletedAt: MARCH_2,
    });
  });

  it('secrets.v1.update and delete carry affectedDeployments {count, deployments}, null customer for vendor-level', () => {
    const affected = {
      count: 3,
      deployments: [
        { deploymentId: 'web', lastRenderedAt: at(MARCH_1) },
        { deploymentId: 'shop', customerOrganizationId: 'cust-1', lastRenderedAt: at(MARCH_2) },
      ],
    };
    const affectedJson = {
      count: 3,
      deployments: [
        { deploymentId: 'web', customerOrganizationId: null, lastRenderedAt: MARCH_1 },
        { deploymentId: 'shop', customerOrganizationId: 'cust-1', lastRenderedAt: MARCH_2 },
      ],
    };

    expect(
      replyJson(SecretsService.method.update.output, { ...vendorSecret, affectedDeployments: affected }),
    ).toStrictEqual({ ...vendorSecretJson, affectedDeployments: affectedJson });
    expect(
      replyJson(SecretsService.method.delete.output, {
        key: 'DB_PASSWORD',
        version: 4,
        deletedAt: at(MARCH_2),
        affectedDeployments: { count: 0, deployments: [] },
      }),
    ).toStrictEqual({
      key: 'DB_PASSWORD',
      version: 4,
      deletedAt: MARCH_2,
      affectedDeployments: { count: 0, deployments: [] },
    });
  });

  it('secrets.v1.list replies {secrets, nextPageToken?}, leaving the token out on the last page', () => {
    const list = SecretsService.method.list.output;

    expect(replyJson(list, { secrets: [vendorSecret], nextPageToken: 'eyJrIjoiQVBJIn0' })).toStrictEqual({
      secrets: [vendorSecretJson],
      nextPageToken: 'eyJrIjoiQVBJIn0',
    });
    expect(replyJson(list, { secrets: [vendorSecret, customerSecret] })).toStrictEqual({
      secrets: [vendorSecretJson, customerSecretJson],
    });
    expect(replyJson(list, {})).toStrictEqual({ secrets: [] });
  });

  it('secrets.v1.history replies {versions: [{version, type, occurredAt, actor, destroyed, destroyedVersions}]}', () => {
    const reply = {
      versions: [
        { version: 1, type: 'SecretCreated', occurredAt: at(MARCH_1), actor, destroyed: true },
        { version: 2, type: 'SecretValueUpdated', occurredAt: at(MARCH_2), actor },
        { version: 0, type: 'SecretVersionsDestroyed', occurredAt: at(MARCH_2), actor, destroyedVersions: [1] },
      ],
    };

    expect(replyJson(SecretsService.method.history.output, reply)).toStrictEqual({
      versions: [
        { version: 1, type: 'SecretCreated', occurredAt: MARCH_1, actor, destroyed: true, destroyedVersions: [] },
        {
          version: 2,
          type: 'SecretValueUpdated',
          occurredAt: MARCH_2,
          actor,
          destroyed: false,
          destroyedVersions: [],
        },
        {
          version: 0,
          type: 'SecretVersionsDestroyed',
          occurredAt: MARCH_2,
          actor,
          destroyed: false,
          destroyedVersions: [1],
        },
      ],
    });
  });

  it('secrets.v1.destroy replies {key, customerOrganizationId, versions, destroyedAt}', () => {
    expect(
      replyJson(SecretsService.method.destroy.output, {
        key: 'DB_PASSWORD',
        versions: [1, 2],
        destroyedAt: at(MARCH_2),
      }),
    ).toStrictEqual({ key: 'DB_PASSWORD', customerOrganizationId: null, versions: [1, 2], destroyedAt: MARCH_2 });
  });

  it('secrets.v1.resolve replies {ciphertext, missing[], signature}, with missing present when empty', () => {
    const resolve = SecretsService.method.resolve.output;

    expect(
      replyJson(resolve, {
        ciphertext: 'eyJhbGciOiJFQ0RILUVTIn0..iv.ct.tag',
        signature: 'eyJhbGciOiJFUzI1NiJ9.e30.sig',
      }),
    ).toStrictEqual({
      ciphertext: 'eyJhbGciOiJFQ0RILUVTIn0..iv.ct.tag',
      missing: [],
      signature: 'eyJhbGciOiJFUzI1NiJ9.e30.sig',
    });
    expect(replyJson(resolve, { ciphertext: 'jwe', missing: ['NOT_THERE'], signature: 'jws' })).toStrictEqual({
      ciphertext: 'jwe',
      missing: ['NOT_THERE'],
      signature: 'jws',
    });
  });

  it('the resolve payload inside the JWE is {values: {KEY: {value, version, scope}}, history}', () => {
    const payload = {
      values: {
        DB_PASSWORD: { value: 's3cr3t', version: 3, scope: 'customer' },
        API_KEY: { value: 'k-123', version: 1, scope: 'vendor' },
      },
    };
    const earlier = { key: 'DB_PASSWORD', value: 'old', version: 2, scope: 'customer' };

    expect(replyJson(ResolvedSecretsSchema, payload)).toStrictEqual({ ...payload, history: [], expired: {} });
    expect(replyJson(ResolvedSecretsSchema, { ...payload, history: [earlier] })).toStrictEqual({
      ...payload,
      history: [earlier],
      expired: {},
    });
    // Values withheld because they expired: KEY → the instant, in RFC 3339.
    const expiredAt = timestampFromDate(new Date('2026-01-31T00:00:00Z'));
    expect(replyJson(ResolvedSecretsSchema, { ...payload, expired: { CERT: expiredAt } })).toStrictEqual({
      ...payload,
      history: [],
      expired: { CERT: '2026-01-31T00:00:00Z' },
    });
  });

  it('render.v1.render replies {output, references: [{key, version, scope}]}', () => {
    const reply = {
      output: 'DB_PASSWORD=s3cr3t\n',
      references: [{ key: 'DB_PASSWORD', version: 3, scope: 'customer' }],
    };

    expect(replyJson(RenderService.method.render.output, reply)).toStrictEqual(reply);
  });

  it('render.v1.validate replies {valid, references[], missing[], optional[], errors[]} with every list present', () => {
    const validate = RenderService.method.validate.output;
    const parseError = 'template parsing error: template: t:1: unclosed action';

    expect(replyJson(validate, { errors: [parseError] })).toStrictEqual({
      valid: false,
      references: [],
      missing: [],
      optional: [],
      errors: [parseError],
    });
    expect(
      replyJson(validate, { valid: true, references: [{ key: 'API_KEY', version: 1, scope: 'vendor' }] }),
    ).toStrictEqual({
      valid: true,
      references: [{ key: 'API_KEY', version: 1, scope: 'vendor' }],
      missing: [],
      optional: [],
      errors: [],
    });
  });

  it('redaction.v1.redact replies {text, redactions}, counting zero too', () => {
    const redact = RedactionService.method.redact.output;

    expect(replyJson(redact, { text: 'connecting with ********', redactions: 1 })).toStrictEqual({
      text: 'connecting with ********',
      redactions: 1,
    });
    expect(replyJson(redact, { text: 'nothing here' })).toStrictEqual({ text: 'nothing here', redactions: 0 });
  });

  it('audit.v1.query replies {records: AuditRecord[], nextPageToken?}', () => {
    const record = {
      sequence: 7,
      eventId: '0f8e2f8c-5a7b-4c1d-9e3f-2a1b0c9d8e7f',
      type: 'SecretValueUpdated',
      organizationId: 'acme',
      key: 'API_KEY',
      version: 2,
      actor,
      occurredAt: at(MARCH_1),
      recordedAt: at(MARCH_2),
      hash: 'b'.repeat(64),
      prevHash: 'a'.repeat(64),
    };

    expect(replyJson(QueryAuditResponseSchema, { records: [record], nextPageToken: 'Nw' })).toStrictEqual({
      records: [
        {
          sequence: 7,
          eventId: '0f8e2f8c-5a7b-4c1d-9e3f-2a1b0c9d8e7f',
          type: 'SecretValueUpdated',
          organizationId: 'acme',
          customerOrganizationId: null,
          key: 'API_KEY',
          version: 2,
          actor,
          occurredAt: MARCH_1,
          recordedAt: MARCH_2,
          resolved: [],
          hash: 'b'.repeat(64),
          prevHash: 'a'.repeat(64),
        },
      ],
      nextPageToken: 'Nw',
    });
  });

  it('audit.v1.verify replies {ok, checked, firstBrokenSequence?}', () => {
    const verify = AuditService.method.verify.output;

    expect(replyJson(verify, { ok: true, checked: 1200 })).toStrictEqual({ ok: true, checked: 1200 });
    expect(replyJson(verify, { checked: 12, firstBrokenSequence: 5 })).toStrictEqual({
      ok: false,
      checked: 12,
      firstBrokenSequence: 5,
    });
  });

  it('errors travel as {"error": {code, message, details}}', () => {
    const envelope = {
      error: { code: 'NOT_FOUND', message: 'no secret API_KEY in this scope', details: { key: 'API_KEY' } },
    };

    expect(replyJson(ErrorEnvelopeSchema, envelope)).toStrictEqual(envelope);
  });
});

describe('events on secrets.events.<org>.<type>', () => {
  it('carry {eventId, type, organizationId, customerOrganizationId, key, version, actor, occurredAt, position}', () => {
    const event = {
      eventId: '3c9d1f5e-8b2a-4e6f-9a1c-7d0b2e4f6a8c',
      type: 'SecretValueUpdated',
      organizationId: 'acme',
      customerOrganizationId: 'cust-1',
      key: 'DB_PASSWORD',
      version: 3,
      actor: { sub: 'user-2', org: 'cust-1', role: 'admin' },
      occurredAt: at(MARCH_2),
      position: 9_007_199_254_740_991,
    };

    expect(replyJson(SecretEventSchema, event)).toStrictEqual({
      ...event,
      occurredAt: MARCH_2,
      resolved: [],
      destroyedVersions: [],
    });
  });

  it('write null for a vendor-level scope and for events about no single key', () => {
    const purged = {
      eventId: 'e1',
      type: 'OrganizationPurged',
      organizationId: 'acme',
      version: 1,
      actor: { sub: 'ops', org: 'platform', role: 'admin' },
      occurredAt: at(MARCH_1),
      position: 42,
    };

    expect(replyJson(SecretEventSchema, purged)).toStrictEqual({
      eventId: 'e1',
      type: 'OrganizationPurged',
      organizationId: 'acme',
      customerOrganizationId: null,
      key: null,
      version: 1,
      actor: { sub: 'ops', org: 'platform', role: 'admin' },
      occurredAt: MARCH_1,
      position: 42,
      resolved: [],
      destroyedVersions: [],
    });
  });

  it('read back from their wire form unchanged, as the audit consumer decodes them', () => {
    const resolved = {
      eventId: 'e2',
      type: 'SecretValuesResolved',
      organizationId: 'acme',
      version: 8,
      actor: { sub: 'service:render', org: 'platform', role: '' },
      occurredAt: at(MARCH_2),
      position: 43,
      resolved: [{ key: 'API_KEY', version: 1, scope: 'vendor' }],
    };

    const decoded = decodeRequest(SecretEventSchema, encodeReply(SecretEventSchema, resolved));

    expect(equals(SecretEventSchema, decoded, create(SecretEventSchema, resolved))).toBe(true);
  });
});

describe('error codes', () => {
  it('map to the HTTP-like statuses of §2', () => {
    expect(ERROR_CODES.map((code) => [code, ERROR_STATUS[code]])).toEqual([
      ['INVALID_ARGUMENT', 400],
      ['UNAUTHENTICATED', 401],
      ['PERMISSION_DENIED', 403],
      ['NOT_FOUND', 404],
      ['ALREADY_EXISTS', 409],
      ['VERSION_CONFLICT', 409],
      ['FAILED_PRECONDITION', 409],
      ['PAYLOAD_TOO_LARGE', 413],
      ['TEMPLATE_PARSE_ERROR', 422],
      ['TEMPLATE_EXECUTION_ERROR', 422],
      ['TEMPLATE_OUTPUT_ERROR', 422],
      ['RESOURCE_EXHAUSTED', 429],
      ['UNAVAILABLE', 503],
      ['INTERNAL', 500],
    ]);
  });
});

import fc from 'fast-check';
import {
  ContractError,
  CreateSecretRequestSchema,
  DEFAULT_MAX_REQUEST_BYTES,
  decodeRequest,
  encodeReply,
  ListSecretsRequestSchema,
  QueryAuditRequestSchema,
  RedactRequestSchema,
  RenderRequestSchema,
  ResolveSecretsRequestSchema,
  SecretSchema,
  UpdateSecretRequestSchema,
} from './index';
import { create, equals, type DescMessage } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';

// 30 characters: short enough that protobuf-es's own error messages would quote it.
const SECRET = 'sk_live_9f2c1e7d4b_DO_NOT_ECHO';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const body = (json: unknown): Uint8Array => bytes(JSON.stringify(json));

function rejection(schema: DescMessage, input: Uint8Array, maxBytes?: number): ContractError {
  try {
    decodeRequest(schema, input, { maxBytes });
  } catch (error) {
    if (error instanceof ContractError) {
      return error;
    }
    throw error;
  }
  throw new Error('expected the body to be refused');
}

/** Everything a caller or a log line could see of the refusal. */
const visible = (error: ContractError): string => `${error.message} ${JSON.stringify(error.details ?? {})}`;

describe('decodeRequest', () => {
  it('decodes the lowerCamelCase JSON of the request into its message', () => {
    const request = decodeRequest(
      UpdateSecretRequestSchema,
      body({ key: 'DB_PASSWORD', value: 'hunter2', customerOrganizationId: 'cust-1', expectedVersion: 3 }),
    );

    expect(request).toMatchObject({
      key: 'DB_PASSWORD',
      value: 'hunter2',
      customerOrganizationId: 'cust-1',
      expectedVersion: 3,
    });
  });

  it('leaves optional fields unset when they are absent or null', () => {
    const absent = decodeRequest(UpdateSecretRequestSchema, body({ key: 'K', value: 'v' }));
    const nulls = decodeRequest(
      UpdateSecretRequestSchema,
      body({ key: 'K', value: 'v', customerOrganizationId: null, expectedVersion: null }),
    );

    for (const request of [absent, nulls]) {
      expect(request.customerOrganizationId).toBeUndefined();
      expect(request.expectedVersion).toBeUndefined();
    }
  });

  it('treats an empty or blank body as {}', () => {
    for (const input of [new Uint8Array(0), bytes('  \n\t ')]) {
      const request = decodeRequest(ListSecretsRequestSchema, input);

      expect(request.customerOrganizationId).toBeUndefined();
      expect(request.pageSize).toBeUndefined();
      expect(request.pageToken).toBeUndefined();
    }
  });

  it('accepts the proto field names too, as every proto3 JSON parser must', () => {
    const request = decodeRequest(ListSecretsRequestSchema, body({ customer_organization_id: 'cust-1', page_size: 5 }));

    expect(request).toMatchObject({ customerOrganizationId: 'cust-1', pageSize: 5 });
  });

  it.each([
    ['not JSON at all', '{"key": "K", "value": ', 'request body is not valid JSON'],
    ['a trailing comma', '{"key": "K",}', 'request body is not valid JSON'],
    ['an array', '["K"]', 'request body must be a JSON object'],
    ['a string', '"K"', 'request body must be a JSON object'],
    ['null', 'null', 'request body must be a JSON object'],
    ['a number', '42', 'request body must be a JSON object'],
  ])('refuses %s at the top level with INVALID_ARGUMENT', (_, text, message) => {
    const error = rejection(CreateSecretRequestSchema, bytes(text));

    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.message).toBe(message);
  });

  it('refuses a body that is not UTF-8', () => {
    const error = rejection(CreateSecretRequestSchema, Uint8Array.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]));

    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.message).toBe('request body is not valid UTF-8');
  });

  it('refuses an unknown field, naming it', () => {
    const error = rejection(CreateSecretRequestSchema, body({ key: 'K', value: 'v', customerOrgId: 'cust-1' }));

    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.message).toBe('unknown field "customerOrgId"');
    expect(error.details).toEqual({ field: 'customerOrgId' });
  });

  it('does not repeat an unknown field name that could be anything but a name', () => {
    const error = rejection(CreateSecretRequestSchema, body({ key: 'K', value: 'v', [`password=${SECRET}`]: true }));

    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.message).toBe('request body has an unknown field');
    expect(visible(error)).not.toContain(SECRET);
  });

  it.each([
    [
      'a string where a version is expected',
      UpdateSecretRequestSchema,
      { key: 'K', value: 'v', expectedVersion: 'three' },
      'expectedVersion',
      'must be an unsigned 32-bit integer',
    ],
    [
      'a negative version',
      UpdateSecretRequestSchema,
      { key: 'K', value: 'v', expectedVersion: -1 },
      'expectedVersion',
      'must be an unsigned 32-bit integer',
    ],
    [
      'a fractional version',
      UpdateSecretRequestSchema,
      { key: 'K', value: 'v', expectedVersion: 1.5 },
      'expectedVersion',
      'must be an unsigned 32-bit integer',
    ],
    [
      'a number where a string is expected',
      CreateSecretRequestSchema,
      { key: 'K', value: 12345 },
      'value',
      'must be a string',
    ],
    [
      'an object where a string is expected',
      CreateSecretRequestSchema,
      { key: { name: 'K' }, value: 'v' },
      'key',
      'must be a string',
    ],
    [
      'a string where a boolean is expected',
      ResolveSecretsRequestSchema,
      { organizationId: 'acme', includeHistory: 'yes' },
      'includeHistory',
      'must be a boolean',
    ],
    [
      'a string where a list is expected',
      ResolveSecretsRequestSchema,
      { organizationId: 'acme', keys: 'API_KEY' },
      'keys',
      'must be a list of strings',
    ],
    [
      'a number inside a list of keys',
      ResolveSecretsRequestSchema,
      { organizationId: 'acme', keys: ['A', 7] },
      'keys[1]',
      'must be a string',
    ],
    [
      'a string where a pinned version is expected',
      RenderRequestSchema,
      { template: '', format: 'env', pins: { API_KEY: 'latest' } },
      'pins.API_KEY',
      'must be an unsigned 32-bit integer',
    ],
    [
      'a list where pins are expected',
      RenderRequestSchema,
      { template: '', format: 'env', pins: [1] },
      'pins',
      'must be an object whose values are unsigned 32-bit integers',
    ],
    [
      'a string where the reply JWK is expected',
      ResolveSecretsRequestSchema,
      { organizationId: 'acme', replyKey: 'EC' },
      'replyKey',
      'must be a JSON object',
    ],
    [
      'a date that is not RFC 3339',
      QueryAuditRequestSchema,
      { from: 'yesterday' },
      'from',
      'must be an RFC 3339 timestamp',
    ],
  ])('refuses %s with INVALID_ARGUMENT naming the field', (_, schema, json, field, problem) => {
    const error = rejection(schema, body(json));

    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.message).toBe(`field "${field}" ${problem}`);
    expect(error.details).toEqual({ field });
  });

  it('refuses a field given twice, under its JSON and its proto name', () => {
    const error = rejection(ListSecretsRequestSchema, body({ pageSize: 5, page_size: 6 }));

    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.message).toBe('field "pageSize" is set more than once');
  });

  it('refuses a repeated key that JSON.parse would silently collapse', () => {
    const error = rejection(CreateSecretRequestSchema, bytes(`{"key": "K", "value": "${SECRET}", "value": "other"}`));

    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.message).toBe('request body repeats the key "value"');
    expect(visible(error)).not.toContain(SECRET);
  });

  it('refuses a body over the limit with PAYLOAD_TOO_LARGE, before reading it', () => {
    const oversize = bytes(`{"key": "K", "value": "${'x'.repeat(100)}"}`);

    const error = rejection(CreateSecretRequestSchema, oversize, oversize.byteLength - 1);

    expect(error.code).toBe('PAYLOAD_TOO_LARGE');
    expect(error.message).toBe(
      `request body is ${oversize.byteLength} bytes, more than the limit of ${oversize.byteLength - 1}`,
    );
    expect(error.details).toEqual({ sizeBytes: oversize.byteLength, limitBytes: oversize.byteLength - 1 });
    expect(decodeRequest(CreateSecretRequestSchema, oversize, { maxBytes: oversize.byteLength }).key).toBe('K');
  });

  it('limits bodies to 1 MiB plus envelope room unless the caller says otherwise', () => {
    const largest = bytes(`{"text": "${'x'.repeat(DEFAULT_MAX_REQUEST_BYTES - 12)}"}`);
    const oneMore = bytes(`{"text": "${'x'.repeat(DEFAULT_MAX_REQUEST_BYTES - 11)}"}`);

    expect(largest.byteLength).toBe(DEFAULT_MAX_REQUEST_BYTES);
    expect(DEFAULT_MAX_REQUEST_BYTES).toBeGreaterThan(1024 * 1024);
    expect(decodeRequest(RedactRequestSchema, largest).text).toHaveLength(DEFAULT_MAX_REQUEST_BYTES - 12);
    expect(rejection(RedactRequestSchema, oneMore).code).toBe('PAYLOAD_TOO_LARGE');
  });

  it.each([
    ['an unknown field', { key: 'K', value: 'v', note: SECRET }],
    ['a version', { key: 'K', value: 'v', expectedVersion: SECRET }],
    ['the key', { key: [SECRET], value: 'v' }],
    ['the value', { key: 'K', value: { text: SECRET } }],
    ['the customer', { key: 'K', value: 'v', customerOrganizationId: { id: SECRET } }],
  ])('never repeats a value given in %s', (_, json) => {
    const error = rejection(UpdateSecretRequestSchema, body(json));

    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(visible(error)).not.toContain(SECRET);
  });

  it('never repeats a value from malformed JSON', () => {
    const error = rejection(CreateSecretRequestSchema, bytes(`{"key": "K", "value": "${SECRET}" oops}`));

    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(visible(error)).not.toContain(SECRET);
  });

  it('never repeats any value put where it does not belong', () => {
    const misplaced = [
      (value: string) => ({ organizationId: 'acme', includeHistory: value }),
      (value: string) => ({ organizationId: 'acme', pins: { API_KEY: value } }),
      (value: string) => ({ organizationId: 'acme', keys: [{ value }] }),
      (value: string) => ({ organizationId: 'acme', replyKey: value }),
      (value: string) => ({ organizationId: 'acme', replyKey: [value] }),
      (value: string) => ({ organizationId: { value } }),
    ];
    fc.assert(
      fc.property(
        fc.string({ minLength: 5 }).map((text) => `§${text}`), // § keeps it from matching our own ASCII wording
        fc.constantFrom(...misplaced),
        (value, place) => {
          const error = rejection(ResolveSecretsRequestSchema, body(place(value)));

          return error.code === 'INVALID_ARGUMENT' && !visible(error).includes(value);
        },
      ),
    );
  });

  // What services get for a proto map: a plain object, so a lookup by key must read own entries only.
  it('decodes a map into own entries of a plain object, `__proto__` an entry like any other', () => {
    const body = '{"organizationId":"acme","pins":{"__proto__":3,"toString":2}}';
    const { pins } = decodeRequest(ResolveSecretsRequestSchema, new TextEncoder().encode(body));
    expect(Object.entries(pins)).toEqual([
      ['__proto__', 3],
      ['toString', 2],
    ]);
    expect(Object.getPrototypeOf(pins)).toBe(Object.prototype);
    expect([Object.hasOwn(pins, 'constructor'), typeof pins.constructor]).toEqual([false, 'function']);
  });
});

describe('encodeReply', () => {
  const at = timestampFromDate(new Date('2025-03-01T10:00:00Z'));

  it('writes an unset nullable field as null, and the message reads back the same', () => {
    const secret = {
      id: '4b1c2f0e-7a55-5c3e-9d41-0b6f1d2e8a90',
      key: 'API_KEY',
      organizationId: 'acme',
      version: 1,
      createdAt: at,
      createdBy: 'user-1',
      updatedAt: at,
      updatedBy: 'user-1',
    };

    const encoded = encodeReply(SecretSchema, secret);

    expect(JSON.parse(new TextDecoder().decode(encoded))).toHaveProperty('customerOrganizationId', null);
    expect(equals(SecretSchema, decodeRequest(SecretSchema, encoded), create(SecretSchema, secret))).toBe(true);
  });
});

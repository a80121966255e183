import {
  create,
  fromJson,
  fromJsonString,
  getOption,
  isFieldSet,
  ScalarType,
  toJson,
  type DescField,
  type DescMessage,
  type JsonObject,
  type JsonValue,
  type Message,
  type MessageInitShape,
  type MessageShape,
} from '@bufbuild/protobuf';
import { ContractError } from './contract-error';
import { json_null_when_unset } from './gen/common/v1/options_pb';

/** 1 MiB (the largest template or log text) plus room for the JSON around it; subjects pass their own limit. */
export const DEFAULT_MAX_REQUEST_BYTES = 1024 * 1024 + 64 * 1024;

export interface RequestLimits {
  /** Largest accepted body in bytes; larger bodies are refused with PAYLOAD_TOO_LARGE before parsing. */
  readonly maxBytes?: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const utf8Encoder = new TextEncoder();
// Client-chosen names are echoed only when they cannot be anything but a name.
const SHOWABLE_NAME = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;

/**
 * Strictly decodes a request body (proto3 JSON) into its message. An empty body is `{}`.
 * Throws ContractError: PAYLOAD_TOO_LARGE over `maxBytes`; INVALID_ARGUMENT for bad UTF-8, malformed JSON,
 * a top level that is not an object, an unknown or repeated field, or a value of the wrong type. Messages and
 * details name the field, never the value, because values may be secrets.
 */
export function decodeRequest<Desc extends DescMessage>(
  schema: Desc,
  body: Uint8Array,
  limits: RequestLimits = {},
): MessageShape<Desc> {
  const maxBytes = limits.maxBytes ?? DEFAULT_MAX_REQUEST_BYTES;
  if (body.byteLength > maxBytes) {
    throw new ContractError(
      'PAYLOAD_TOO_LARGE',
      `request body is ${body.byteLength} bytes, more than the limit of ${maxBytes}`,
      { sizeBytes: body.byteLength, limitBytes: maxBytes },
    );
  }
  const text = bodyText(body);
  const json = parseObject(text);
  try {
    // fromJsonString, not fromJson: it also refuses duplicate keys, which JSON.parse silently collapses.
    return fromJsonString(schema, text, { ignoreUnknownFields: false });
  } catch (error) {
    throw explainRejection(schema, json, error);
  }
}

/**
 * The wire JSON of a reply, event or encrypted payload: proto3 JSON with lowerCamelCase names. Plain fields, lists
 * and maps are always present, even at their default (`missing: []`, `valid: false`, `version: 0`), because the
 * contract lists them; unset `optional` fields (`nextPageToken?`) and unset messages are left out, except that an
 * `optional` field marked `(common.v1.json_null_when_unset)` is written as null (a vendor-level `customerOrganizationId`).
 */
export function toWireJson<Desc extends DescMessage>(schema: Desc, reply: MessageInitShape<Desc>): JsonObject {
  const message = create(schema, reply);
  return withNulls(schema, message, toJson(schema, message, { alwaysEmitImplicit: true }) as JsonObject);
}

/** The reply body: `toWireJson` as UTF-8 bytes. */
export function encodeReply<Desc extends DescMessage>(schema: Desc, reply: MessageInitShape<Desc>): Uint8Array {
  return utf8Encoder.encode(JSON.stringify(toWireJson(schema, reply)));
}

function bodyText(body: Uint8Array): string {
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    throw invalid('request body is not valid UTF-8');
  }
  return text.trim() === '' ? '{}' : text;
}

function parseObject(text: string): JsonObject {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    // JSON.parse's own message quotes the body around the error, so it is never passed on.
    throw invalid('request body is not valid JSON');
  }
  if (!isJsonObject(json)) {
    throw invalid('request body must be a JSON object');
  }
  return json;
}

interface Violation {
  readonly message: string;
  /** `{field}`: path of the offending field, e.g. `pins.API_KEY` or `keys[2]`, when it can be named. */
  readonly details?: Record<string, unknown>;
}

/** Finds which field protobuf-es refused and says why in our own words, since its messages quote values. */
function explainRejection(schema: DescMessage, json: JsonObject, cause: unknown): ContractError {
  const violation = findViolation(schema, json, '') ?? duplicateKey(cause);
  if (violation) {
    return invalid(violation.message, violation.details);
  }
  return invalid(`request body does not match ${schema.typeName}`);
}

function findViolation(desc: DescMessage, json: JsonObject, path: string): Violation | undefined {
  const seen = new Set<DescField>();
  for (const [name, value] of Object.entries(json)) {
    const field = desc.fields.find((candidate) => candidate.jsonName === name || candidate.name === name);
    if (!field) {
      if (SHOWABLE_NAME.test(name)) {
        const fieldPath = joinPath(path, name);
        return { message: `unknown field "${fieldPath}"`, details: { field: fieldPath } };
      }
      return path
        ? { message: `field "${path}" has an unknown field`, details: { field: path } }
        : { message: 'request body has an unknown field' };
    }
    const fieldPath = joinPath(path, field.jsonName);
    if (seen.has(field)) {
      return violation(fieldPath, 'is set more than once');
    }
    seen.add(field);
    const found = fieldViolation(desc, field, value, fieldPath);
    if (found) {
      return found;
    }
  }
  return undefined;
}

/** protobuf-es refuses keys that JSON.parse collapsed; its message quotes the key (at any depth), a name, not a value. */
function duplicateKey(cause: unknown): Violation | undefined {
  const key = cause instanceof Error ? /duplicate object key "([^"]*)"/.exec(cause.message)?.[1] : undefined;
  if (key === undefined) {
    return undefined;
  }
  return SHOWABLE_NAME.test(key)
    ? { message: `request body repeats the key "${key}"`, details: { key } }
    : { message: 'request body repeats a key' };
}

function violation(field: string, problem: string): Violation {
  return { message: `field "${field}" ${problem}`, details: { field } };
}

function fieldViolation(desc: DescMessage, field: DescField, value: JsonValue, path: string): Violation | undefined {
  if (accepts(desc, field, value)) {
    return undefined;
  }
  switch (field.fieldKind) {
    case 'message':
      if (!isWellKnown(field.message) && isJsonObject(value)) {
        return findViolation(field.message, value, path) ?? violation(path, `must be ${expected(field)}`);
      }
      break;
    case 'list':
      if (Array.isArray(value)) {
        const index = value.findIndex((item) => !accepts(desc, field, [item]));
        if (index >= 0) {
          const item = value[index];
          const itemPath = `${path}[${index}]`;
          if (field.listKind === 'message' && !isWellKnown(field.message) && isJsonObject(item)) {
            return findViolation(field.message, item, itemPath) ?? violation(itemPath, `must be ${singular(field)}`);
          }
          return violation(itemPath, `must be ${singular(field)}`);
        }
      }
      break;
    case 'map':
      if (isJsonObject(value)) {
        const entry = Object.entries(value).find(([key, item]) => !accepts(desc, field, { [key]: item }));
        if (entry) {
          const [key, item] = entry;
          const entryPath = SHOWABLE_NAME.test(key) ? `${path}.${key}` : path;
          if (field.mapKind === 'message' && !isWellKnown(field.message) && isJsonObject(item)) {
            return findViolation(field.message, item, entryPath) ?? violation(entryPath, `must be ${singular(field)}`);
          }
          return SHOWABLE_NAME.test(key)
            ? violation(entryPath, `must be ${singular(field)}`)
            : violation(path, `must map each key to ${singular(field)}`);
        }
      }
      break;
  }
  return violation(path, `must be ${expected(field)}`);
}

/** Whether protobuf-es accepts this one field, alone, with this value. */
function accepts(desc: DescMessage, field: DescField, value: JsonValue): boolean {
  try {
    fromJson(desc, { [field.jsonName]: value }, { ignoreUnknownFields: false });
    return true;
  } catch {
    return false;
  }
}

/** What the field's JSON must be, in words; never derived from the value received. */
function expected(field: DescField): string {
  switch (field.fieldKind) {
    case 'list':
      return `a list of ${plural(field)}`;
    case 'map':
      return `an object whose values are ${plural(field)}`;
    default:
      return singular(field);
  }
}

function singular(field: DescField): string {
  return noun(field)[0];
}

function plural(field: DescField): string {
  return noun(field)[1];
}

function noun(field: DescField): readonly [string, string] {
  if (field.message) {
    return messageNoun(field.message);
  }
  if (field.enum) {
    const names = field.enum.values.map((value) => value.name).join(', ');
    return [`one of ${names}`, `values among ${names}`];
  }
  return SCALAR_NOUNS[field.scalar ?? ScalarType.STRING];
}

function messageNoun(message: DescMessage): readonly [string, string] {
  switch (message.typeName) {
    case 'google.protobuf.Timestamp':
      return ['an RFC 3339 timestamp', 'RFC 3339 timestamps'];
    case 'google.protobuf.Struct':
      return ['a JSON object', 'JSON objects'];
    case 'google.protobuf.Value':
      return ['a JSON value', 'JSON values'];
    case 'google.protobuf.Duration':
      return ['a duration such as "1.5s"', 'durations such as "1.5s"'];
    default:
      return [`an object (${message.typeName})`, `objects (${message.typeName})`];
  }
}

const SCALAR_NOUNS: Readonly<Record<ScalarType, readonly [string, string]>> = {
  [ScalarType.STRING]: ['a string', 'strings'],
  [ScalarType.BOOL]: ['a boolean', 'booleans'],
  [ScalarType.BYTES]: ['base64-encoded bytes', 'base64-encoded bytes'],
  [ScalarType.DOUBLE]: ['a number', 'numbers'],
  [ScalarType.FLOAT]: ['a number', 'numbers'],
  [ScalarType.INT32]: ['a 32-bit integer', '32-bit integers'],
  [ScalarType.SINT32]: ['a 32-bit integer', '32-bit integers'],
  [ScalarType.SFIXED32]: ['a 32-bit integer', '32-bit integers'],
  [ScalarType.UINT32]: ['an unsigned 32-bit integer', 'unsigned 32-bit integers'],
  [ScalarType.FIXED32]: ['an unsigned 32-bit integer', 'unsigned 32-bit integers'],
  [ScalarType.INT64]: ['a 64-bit integer', '64-bit integers'],
  [ScalarType.SINT64]: ['a 64-bit integer', '64-bit integers'],
  [ScalarType.SFIXED64]: ['a 64-bit integer', '64-bit integers'],
  [ScalarType.UINT64]: ['an unsigned 64-bit integer', 'unsigned 64-bit integers'],
  [ScalarType.FIXED64]: ['an unsigned 64-bit integer', 'unsigned 64-bit integers'],
};

/** Well-known types have their own JSON forms; a violation inside one is reported on the field holding it. */
function isWellKnown(message: DescMessage): boolean {
  return message.typeName.startsWith('google.protobuf.');
}

/** Adds the nulls toJson leaves out, keeping the fields in declaration order. */
function withNulls(desc: DescMessage, message: Message, json: JsonObject): JsonObject {
  const ordered: JsonObject = {};
  for (const field of desc.fields) {
    const value = (message as unknown as Record<string, unknown>)[field.localName];
    const written = json[field.jsonName];
    if (written === undefined) {
      if (field.fieldKind === 'scalar' && isNullWhenUnset(field) && !isFieldSet(message, field)) {
        ordered[field.jsonName] = null;
      }
      continue;
    }
    ordered[field.jsonName] = nestedWithNulls(field, value, written);
  }
  return ordered;
}

function nestedWithNulls(field: DescField, value: unknown, written: JsonValue): JsonValue {
  switch (field.fieldKind) {
    case 'scalar':
    case 'enum':
      return written;
    case 'message':
      return isWellKnown(field.message) ? written : withNulls(field.message, value as Message, written as JsonObject);
    case 'list':
      if (field.listKind !== 'message' || isWellKnown(field.message)) {
        return written;
      }
      return (value as Message[]).map((item, index) =>
        withNulls(field.message, item, (written as JsonValue[])[index] as JsonObject),
      );
    case 'map':
      if (field.mapKind !== 'message' || isWellKnown(field.message)) {
        return written;
      }
      return Object.fromEntries(
        Object.entries(value as Record<string, Message>).map(([key, item]) => [
          key,
          withNulls(field.message, item, (written as JsonObject)[key] as JsonObject),
        ]),
      );
    default: {
      const _exhaustive: never = field;
      return _exhaustive;
    }
  }
}

const nullWhenUnset = new WeakMap<DescField, boolean>();

/** Whether the field carries `(common.v1.json_null_when_unset)`; meant for `optional` fields only. */
function isNullWhenUnset(field: DescField): boolean {
  let marked = nullWhenUnset.get(field);
  if (marked === undefined) {
    marked = getOption(field, json_null_when_unset);
    nullWhenUnset.set(field, marked);
  }
  return marked;
}

function joinPath(path: string, name: string): string {
  return path ? `${path}.${name}` : name;
}

function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function invalid(message: string, details?: Record<string, unknown>): ContractError {
  return new ContractError('INVALID_ARGUMENT', message, details);
}

import type { DescMethod } from '@bufbuild/protobuf';

/** Every error code of the wire, with the HTTP-like status sent in `Nats-Service-Error-Code` (ARCHITECTURE.md §2). */
export const ERROR_STATUS = Object.freeze({
  INVALID_ARGUMENT: 400,
  UNAUTHENTICATED: 401,
  PERMISSION_DENIED: 403,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  VERSION_CONFLICT: 409,
  /** The request is valid but the state refuses it, e.g. deleting a key live deployments use (`force` overrides). */
  FAILED_PRECONDITION: 409,
  PAYLOAD_TOO_LARGE: 413,
  TEMPLATE_PARSE_ERROR: 422,
  TEMPLATE_EXECUTION_ERROR: 422,
  TEMPLATE_OUTPUT_ERROR: 422,
  RESOURCE_EXHAUSTED: 429,
  UNAVAILABLE: 503,
  INTERNAL: 500,
} as const);

export type ErrorCode = keyof typeof ERROR_STATUS;

export const ERROR_CODES = Object.freeze(Object.keys(ERROR_STATUS)) as readonly ErrorCode[];

/** `format` of render.v1.render and render.v1.validate: a string field, so the wire carries exactly these names. */
export const RENDER_FORMATS = Object.freeze(['env', 'yaml', 'text'] as const);
export type RenderFormat = (typeof RENDER_FORMATS)[number];

/** `scope` of a resolved value or reference: which of the two scopes a value came from. */
export const SECRET_SCOPES = Object.freeze(['vendor', 'customer'] as const);
export type SecretScope = (typeof SECRET_SCOPES)[number];

/** The highest version a secret can reach, and so the highest a pin may name: versions are Postgres `integer`s. */
export const MAX_SECRET_VERSION = 2 ** 31 - 1;

/** `type` of a SecretEvent, a history entry and an audit record; also the last token of the event's subject. */
export const SECRET_EVENT_TYPES = Object.freeze([
  'SecretCreated',
  'SecretValueUpdated',
  'SecretDeleted',
  'SecretValuesResolved',
  'OrganizationPurged',
  'DataKeyRotated',
  'DataKeysRewrapped',
  'DeploymentForgotten',
  'SecretRolledBack',
  'SecretRestored',
  'SecretExpiring',
  'SecretExpired',
  'SecretExposed',
  'SecretVersionsDestroyed',
  'CustomerPurged',
] as const);
export type SecretEventType = (typeof SECRET_EVENT_TYPES)[number];

/** A named subset of SECRET_EVENT_TYPES: each member is checked against the one list. */
const eventTypes = <T extends SecretEventType>(...types: T[]): readonly T[] => Object.freeze(types);

/** The events of a secret's own stream: what its state and history fold. */
export const SECRET_STREAM_EVENT_TYPES = eventTypes(
  'SecretCreated',
  'SecretValueUpdated',
  'SecretDeleted',
  'SecretRolledBack',
  'SecretRestored',
);

/** The events that carry a sealed value. */
export const VALUE_EVENT_TYPES = eventTypes(
  'SecretCreated',
  'SecretValueUpdated',
  'SecretRolledBack',
  'SecretRestored',
);

/**
 * The events that leave the deployments which received a key behind: a new value (an update, a rollback, a restore)
 * or a delete. Creation and notices do not.
 */
export const STALING_EVENT_TYPES = eventTypes(
  'SecretValueUpdated',
  'SecretRolledBack',
  'SecretRestored',
  'SecretDeleted',
);

/**
 * The events that change no value: access records, key rotations, a deployment forgotten from the index, expiry
 * notices (an expired value is still masked) and exposures (redaction's own reports).
 */
export const VALUE_NEUTRAL_EVENT_TYPES = eventTypes(
  'SecretValuesResolved',
  'DataKeyRotated',
  'DataKeysRewrapped',
  'DeploymentForgotten',
  'SecretExpiring',
  'SecretExpired',
  'SecretExposed',
);

/**
 * The NATS subject of a request-reply method, before any `NATS_SUBJECT_PREFIX`:
 * the proto package and the method name in lower case (`SecretsService.method.create` → `secrets.v1.create`).
 */
export function subjectOf(method: DescMethod): string {
  const typeName = method.parent.typeName;
  const packageName = typeName.slice(0, typeName.lastIndexOf('.'));
  return `${packageName}.${method.name.toLowerCase()}`;
}

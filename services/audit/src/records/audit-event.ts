import { isUtf8 } from 'node:buffer';
import { AuditError, AuditErrorCode } from '../audit.error';
import { type AuditActor, type AuditEvent, type ResolvedReference } from './audit-record';

const IDENTIFIER = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
const KEY = /^[A-Za-z][A-Za-z0-9_]{0,255}$/;
const EVENT_TYPE = /^[A-Z][A-Za-z0-9]{0,63}$/;
/** Event ids are the event store's UUIDs; kept in the canonical lowercase form. */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const MAX_TEXT = 256;
const MAX_RESOLVED = 10_000;

function malformed(field: string): AuditError {
  return new AuditError(AuditErrorCode.MALFORMED_EVENT, `event field ${field} is missing or malformed`, { field });
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function text(source: Json, field: string, pattern?: RegExp, allowEmpty = false): string {
  const value = source[field];
  if (typeof value !== 'string' || value.length > MAX_TEXT || (!allowEmpty && value.length === 0)) {
    throw malformed(field);
  }
  if (pattern && !pattern.test(value)) throw malformed(field);
  return value;
}

function nullableText(source: Json, field: string, pattern: RegExp): string | null {
  const value = source[field];
  return value === undefined || value === null || value === '' ? null : text(source, field, pattern);
}

function count(source: Json, field: string): number {
  const value = source[field] ?? 0;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value > 2 ** 31 - 1) {
    throw malformed(field);
  }
  return value;
}

function actorOf(source: Json, field = 'actor'): AuditActor {
  const actor = source[field];
  if (!isObject(actor)) throw malformed(field);
  return { sub: text(actor, 'sub'), org: text(actor, 'org'), role: text(actor, 'role', undefined, true) };
}

/** Truncated to milliseconds: what Postgres and `Date` both hold exactly. */
function instant(source: Json, field: string): Date {
  const value = source[field];
  if (typeof value !== 'string' || value.length > 64) throw malformed(field);
  const millis = Date.parse(value);
  if (Number.isNaN(millis)) throw malformed(field);
  return new Date(millis);
}

function resolvedOf(source: Json): ResolvedReference[] {
  const list = source.resolved ?? [];
  if (!Array.isArray(list) || list.length > MAX_RESOLVED) throw malformed('resolved');
  return list.map((entry: unknown) => {
    if (!isObject(entry)) throw malformed('resolved');
    return { key: text(entry, 'key', KEY), version: count(entry, 'version'), scope: text(entry, 'scope') };
  });
}

/**
 * Reads one SECRETS_EVENTS message (proto3 JSON of `secrets.v1.SecretEvent`) into the fields the audit trail keeps.
 * Only contract fields are copied out, so a field such as `value` that must never be there is never stored.
 */
export function parseAuditEvent(data: Uint8Array): AuditEvent {
  let body: unknown;
  try {
    // isUtf8 + Buffer#toString: the strict check TextDecoder's fatal mode makes, at a fraction of its cost.
    if (!isUtf8(data)) throw new Error('not UTF-8');
    body = JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8'));
  } catch {
    throw new AuditError(AuditErrorCode.MALFORMED_EVENT, 'event is not UTF-8 JSON');
  }
  if (!isObject(body)) throw malformed('(body)');
  return {
    eventId: text(body, 'eventId', UUID),
    type: text(body, 'type', EVENT_TYPE),
    organizationId: text(body, 'organizationId', IDENTIFIER),
    customerOrganizationId: nullableText(body, 'customerOrganizationId', IDENTIFIER),
    key: nullableText(body, 'key', KEY),
    version: count(body, 'version'),
    actor: actorOf(body),
    occurredAt: instant(body, 'occurredAt'),
    resolved: resolvedOf(body),
    ...(body.requestedBy === undefined || body.requestedBy === null
      ? {}
      : { requestedBy: actorOf(body, 'requestedBy') }),
    ...(body.deploymentId === undefined || body.deploymentId === null
      ? {}
      : { deploymentId: text(body, 'deploymentId', IDENTIFIER) }),
  };
}

import { SecretsError, SecretsErrorCode } from './secrets.error';

// RFC 3339 date-time: a date, `T`, a time with optional fraction, and `Z` or a numeric offset (no local times).
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;

function invalidExpiry(message: string): SecretsError {
  return new SecretsError(SecretsErrorCode.INVALID_ARGUMENT, message, { field: 'expiresAt' });
}

/**
 * A requested `expiresAt` as the ISO instant an event records, checked against the command's own time: an RFC 3339
 * date-time with a zone, later than `occurredAt`. Undefined stays undefined (the value never expires).
 */
export function expiryOf(expiresAt: string | undefined, occurredAt: string): string | undefined {
  if (expiresAt === undefined) return undefined;
  const instant = RFC3339.test(expiresAt) ? new Date(expiresAt) : undefined;
  // Date accepts 2026-02-31 as March 3rd; a round trip of the date part refuses it.
  if (!instant || Number.isNaN(instant.getTime()) || !sameCalendarDate(expiresAt, instant)) {
    throw invalidExpiry('expiresAt must be an RFC 3339 date-time with a time zone, e.g. 2027-01-31T00:00:00Z');
  }
  if (instant.getTime() <= new Date(occurredAt).getTime()) {
    throw invalidExpiry(`expiresAt must be in the future (it is ${instant.toISOString()}, now is ${occurredAt})`);
  }
  return instant.toISOString();
}

function sameCalendarDate(text: string, instant: Date): boolean {
  const offset = /([+-])(\d{2}):(\d{2})$/.exec(text);
  const offsetMs = offset ? (offset[1] === '-' ? -1 : 1) * (Number(offset[2]) * 60 + Number(offset[3])) * 60_000 : 0;
  return new Date(instant.getTime() + offsetMs).toISOString().slice(0, 10) === text.slice(0, 10);
}

/** Whether a value with this expiry is expired at `now` (a value expires at its instant, not after it). */
export function isExpired(expiresAt: string | null | undefined, now: Date): boolean {
  return expiresAt !== null && expiresAt !== undefined && new Date(expiresAt).getTime() <= now.getTime();
}

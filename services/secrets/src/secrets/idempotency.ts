import { createHmac, hkdfSync, randomUUID } from 'node:crypto';
import { type PostgresEventStore } from '@platform/event-store';
import { type Principal } from '@platform/messaging';
import { SecretsError, SecretsErrorCode } from './secrets.error';

/** How long a reply is kept for retries (ARCHITECTURE.md §2). */
export const IDEMPOTENCY_TTL_HOURS = 24;
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

/** A write's idempotency record: the request it answered, and the id its event was (or will be) appended with. */
export interface IdempotencyReservation {
  /** Whether this request is the first with its key; false on a retry. */
  readonly first: boolean;
  /** Appended as the event's id, so a retry can find what the first attempt wrote and never appends twice. */
  readonly eventId: string;
}

export interface IdempotencyScope {
  /** Keys are per principal: two callers never share a record, whatever their `sub`. */
  readonly principal: Principal;
  readonly subject: string;
  readonly idempotencyKey: string;
}

/**
 * The whole principal as the record's key: org type, vendor organization, organization and sub, JSON-encoded so no
 * two principals collide. It starts with `[`, so it never equals a record of the old `<org>/<sub>` format (an
 * organization id starts with a letter or digit); those simply expire.
 */
export function idempotencyPrincipal(principal: Principal): string {
  const vendorOrg = principal.orgType === 'customer' ? principal.vendorOrg : principal.org;
  return JSON.stringify(['principal/v2', principal.orgType, vendorOrg, principal.org, principal.sub]);
}

export function assertIdempotencyKey(key: string): void {
  if (!IDEMPOTENCY_KEY.test(key)) {
    throw new SecretsError(
      SecretsErrorCode.INVALID_ARGUMENT,
      'the Idempotency-Key header must be 1 to 255 visible ASCII characters',
    );
  }
}

/**
 * `Idempotency-Key` of write requests: (whole principal, subject, key) → request fingerprint and event id, kept 24 h.
 * The fingerprint is an HMAC keyed from the active master key, because the request carries a secret value and a
 * plain hash of a short value could be brute-forced by whoever reads the table.
 */
export class IdempotencyStore {
  private readonly fingerprintKey: Buffer;

  constructor(
    private readonly store: PostgresEventStore,
    masterKeyBytes: Buffer,
  ) {
    this.fingerprintKey = Buffer.from(
      hkdfSync('sha256', masterKeyBytes, Buffer.alloc(0), 'secrets/idempotency-request-fingerprint', 32),
    );
  }

  fingerprint(canonicalRequest: string): string {
    return createHmac('sha256', this.fingerprintKey).update(canonicalRequest, 'utf8').digest('base64url');
  }

  /**
   * Records the request under its key, or finds the earlier one. A different request under the same key within 24 h
   * is refused with INVALID_ARGUMENT.
   */
  async reserve(scope: IdempotencyScope, canonicalRequest: string): Promise<IdempotencyReservation> {
    assertIdempotencyKey(scope.idempotencyKey);
    const requestHash = this.fingerprint(canonicalRequest);
    const principal = idempotencyPrincipal(scope.principal);
    for (let attempt = 0; attempt < 2; attempt++) {
      const [row] = await this.store.query<{ request_hash: string; event_id: string; first: boolean }>(
        `with fresh as (
           insert into idempotency_key (principal, subject, idempotency_key, request_hash, event_id, expires_at)
           values ($1, $2, $3, $4, $5, now() + make_interval(hours => $6))
           on conflict do nothing
           returning request_hash, event_id, true as first)
         select * from fresh
         union all
         select request_hash, event_id, false from idempotency_key
         where principal = $1 and subject = $2 and idempotency_key = $3 and expires_at > now()
         limit 1`,
        [principal, scope.subject, scope.idempotencyKey, requestHash, randomUUID(), IDEMPOTENCY_TTL_HOURS],
        { prepared: true },
      );
      if (row) {
        if (row.request_hash !== requestHash) {
          throw new SecretsError(
            SecretsErrorCode.IDEMPOTENCY_KEY_REUSED,
            'this Idempotency-Key was already used with a different request',
          );
        }
        return { first: row.first, eventId: row.event_id };
      }
      // The key is taken by an expired record: drop it and reserve again.
      await this.store.query(
        'delete from idempotency_key where principal = $1 and subject = $2 and idempotency_key = $3 and expires_at <= now()',
        [principal, scope.subject, scope.idempotencyKey],
      );
    }
    throw new SecretsError(SecretsErrorCode.UNAVAILABLE, 'could not record the Idempotency-Key; retry');
  }

  /** Deletes expired records; returns how many. */
  async prune(): Promise<number> {
    const rows = await this.store.query('delete from idempotency_key where expires_at <= now() returning 1');
    return rows.length;
  }
}

import { createHmac, hkdfSync, randomUUID } from 'node:crypto';
import { type PostgresEventStore } from '@platform/event-store';
import { type Principal, type Scope } from '@platform/messaging';
import { IdempotencyRepository } from './idempotency.repository';
import { SecretsError, SecretsErrorCode } from './secrets.error';

export { deleteOrganizationIdempotencyRecords } from './idempotency.repository';

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
  /** The scope the write targets, kept on the record: a purge of that customer deletes it, whoever wrote it. */
  readonly target: Scope;
}

/**
 * The whole principal as the record's key: org type, vendor organization, organization and sub, JSON-encoded so no
 * two principals collide. It starts with `[`, so it never equals a record of the old `<org>/<sub>` format (an
 * organization id starts with a letter or digit); those simply expire.
 */
export function idempotencyPrincipal(principal: Principal): string {
  return JSON.stringify(['principal/v2', principal.orgType, tenantOf(principal), principal.org, principal.sub]);
}

/** The vendor organization a principal's records belong to: its fingerprint key, and what a purge removes. */
function tenantOf(principal: Principal): string {
  return principal.orgType === 'customer' ? principal.vendorOrg : principal.org;
}

/** Fingerprints under a per-organization key carry this prefix; one without it is the previous release's. */
const TENANT_FINGERPRINT = 'v2.';

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
 * The fingerprint is an HMAC, because the request carries a secret value and a plain hash of a short value could be
 * brute-forced by whoever reads the table; its key is derived from the active master key per organization, so equal
 * requests of two tenants never share a fingerprint. An organization purge deletes the organization's records, a
 * customer purge those of its users and of writes to its scope.
 */
export class IdempotencyStore {
  private readonly masterKeyBytes: Buffer;
  /** The previous release's single key: its records (no `v2.` prefix) are still compared for their 24 h. */
  private readonly legacyKey: Buffer;
  private readonly records: IdempotencyRepository;

  constructor(store: PostgresEventStore, masterKeyBytes: Buffer) {
    this.records = new IdempotencyRepository(store);
    this.masterKeyBytes = Buffer.from(masterKeyBytes);
    this.legacyKey = derive(this.masterKeyBytes, 'secrets/idempotency-request-fingerprint');
  }

  /** The request's fingerprint under the organization's own key. */
  fingerprint(organizationId: string, canonicalRequest: string): string {
    const key = derive(this.masterKeyBytes, `secrets/idempotency-request-fingerprint/organization/${organizationId}`);
    return TENANT_FINGERPRINT + createHmac('sha256', key).update(canonicalRequest, 'utf8').digest('base64url');
  }

  /** Whether a stored fingerprint, of either form, is this request's. */
  private matches(stored: string, canonicalRequest: string, fresh: string): boolean {
    if (stored.startsWith(TENANT_FINGERPRINT)) return stored === fresh;
    return stored === createHmac('sha256', this.legacyKey).update(canonicalRequest, 'utf8').digest('base64url');
  }

  /**
   * Records the request under its key, or finds the earlier one. A different request under the same key within 24 h
   * is refused with INVALID_ARGUMENT.
   */
  async reserve(scope: IdempotencyScope, canonicalRequest: string): Promise<IdempotencyReservation> {
    assertIdempotencyKey(scope.idempotencyKey);
    const organizationId = tenantOf(scope.principal);
    const requestHash = this.fingerprint(organizationId, canonicalRequest);
    const principal = idempotencyPrincipal(scope.principal);
    for (let attempt = 0; attempt < 2; attempt++) {
      const row = await this.records.insertOrFind({
        principal,
        subject: scope.subject,
        idempotencyKey: scope.idempotencyKey,
        requestHash,
        eventId: randomUUID(),
        ttlHours: IDEMPOTENCY_TTL_HOURS,
        scope: scope.target,
      });
      if (row) {
        if (!this.matches(row.request_hash, canonicalRequest, requestHash)) {
          throw new SecretsError(
            SecretsErrorCode.IDEMPOTENCY_KEY_REUSED,
            'this Idempotency-Key was already used with a different request',
          );
        }
        return { first: row.first, eventId: row.event_id };
      }
      // The key is taken by an expired record: drop it and reserve again.
      await this.records.deleteExpired(principal, scope.subject, scope.idempotencyKey);
    }
    throw new SecretsError(SecretsErrorCode.UNAVAILABLE, 'could not record the Idempotency-Key; retry');
  }

  /** Deletes expired records; returns how many. */
  prune(): Promise<number> {
    return this.records.prune();
  }
}

function derive(masterKeyBytes: Buffer, info: string): Buffer {
  return Buffer.from(hkdfSync('sha256', masterKeyBytes, Buffer.alloc(0), info, 32));
}

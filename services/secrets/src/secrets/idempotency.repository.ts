import { type PostgresEventStore, type ProjectionContext } from '@platform/event-store';
import { type Scope } from '@platform/messaging';

/** A key's record: the request's fingerprint, the event id, and whether this call created it. */
export interface IdempotencyRow {
  readonly request_hash: string;
  readonly event_id: string;
  readonly first: boolean;
}

/**
 * The records of `idempotency_key`: (principal, subject, key) → request fingerprint and event id, with an expiry, and
 * the scope the write targeted (`customer_id` '' for the vendor level; none in records of earlier releases).
 */
export class IdempotencyRepository {
  constructor(private readonly store: PostgresEventStore) {}

  /** Inserts the record, or finds the unexpired one under the same key; undefined when an expired one holds it. */
  async insertOrFind(record: {
    readonly principal: string;
    readonly subject: string;
    readonly idempotencyKey: string;
    readonly requestHash: string;
    readonly eventId: string;
    readonly ttlHours: number;
    readonly scope: Scope;
  }): Promise<IdempotencyRow | undefined> {
    const [row] = await this.store.query<IdempotencyRow>(
      `with fresh as (
         insert into idempotency_key
           (principal, subject, idempotency_key, request_hash, event_id, expires_at, organization_id, customer_id)
         values ($1, $2, $3, $4, $5, now() + make_interval(hours => $6), $7, $8)
         on conflict do nothing
         returning request_hash, event_id, true as first)
       select * from fresh
       union all
       select request_hash, event_id, false from idempotency_key
       where principal = $1 and subject = $2 and idempotency_key = $3 and expires_at > now()
       limit 1`,
      [
        record.principal,
        record.subject,
        record.idempotencyKey,
        record.requestHash,
        record.eventId,
        record.ttlHours,
        record.scope.organizationId,
        record.scope.customerOrganizationId ?? '',
      ],
      { prepared: true },
    );
    return row;
  }

  async deleteExpired(principal: string, subject: string, idempotencyKey: string): Promise<void> {
    await this.store.query(
      'delete from idempotency_key where principal = $1 and subject = $2 and idempotency_key = $3 and expires_at <= now()',
      [principal, subject, idempotencyKey],
    );
  }

  /** Deletes every expired record; returns how many. */
  async prune(): Promise<number> {
    const rows = await this.store.query('delete from idempotency_key where expires_at <= now() returning 1');
    return rows.length;
  }
}

/**
 * Deletes an organization's idempotency records inside a purge's transaction (they hold fingerprints of its requests,
 * values included): every principal of the organization, its customers' users included (`idempotencyPrincipal`'s
 * third element); a record of the previous release's `<org>/<sub>` form when `<org>` is the organization. Returns how
 * many were deleted.
 */
export async function deleteOrganizationIdempotencyRecords(
  context: ProjectionContext,
  organizationId: string,
): Promise<number> {
  const deleted = await context.execute(
    `delete from idempotency_key
     where case when left(principal, 1) = '[' then (principal::jsonb) ->> 2 = $1
                else split_part(principal, '/', 1) = $1 end
     returning 1`,
    [organizationId],
  );
  return deleted.length;
}

/**
 * A customer purge's share: every record of a write to that customer's scope, whoever wrote it (vendor users
 * included), and every record of that customer's own users (their requests' fingerprints). Records of earlier releases
 * name no scope: a vendor user's among them expire within 24 h.
 */
export async function deleteCustomerIdempotencyRecords(
  context: ProjectionContext,
  organizationId: string,
  customerOrganizationId: string,
): Promise<number> {
  const deleted = await context.execute(
    `delete from idempotency_key
     where (organization_id = $1 and customer_id = $2)
        or case when left(principal, 1) = '['
                then (principal::jsonb) ->> 1 = 'customer' and (principal::jsonb) ->> 2 = $1
                     and (principal::jsonb) ->> 3 = $2
                else false end
     returning 1`,
    [organizationId, customerOrganizationId],
  );
  return deleted.length;
}

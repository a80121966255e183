import { type PostgresEventStore } from '@platform/event-store';

/** A live secret whose current value expires within the lead time, with how many notices its version has had. */
export interface ExpiringValue {
  readonly organizationId: string;
  /** `''` for a vendor-level secret. */
  readonly customerId: string;
  readonly key: string;
  readonly version: number;
  readonly expiresAt: Date;
  readonly noticesSent: number;
}

/**
 * The rows of `secret_view` whose value expires by `$1` (now + lead time) and still owe a notice: none sent, or only
 * SecretExpiring though the value expired by `$2` (now). A version's notices are its `expiry:` stream's events.
 */
const DUE = `
  select v.organization_id, v.customer_id, v.key, v.version, v.expires_at, coalesce(n.sent, 0)::int as sent
  from secret_view v
    left join lateral (
      select max(e.stream_version) as sent from events e
      where e.stream_id = 'expiry:' || v.organization_id || ':' || case when v.customer_id = '' then '_'
                          else v.customer_id end || ':' || v.key || ':' || v.version
    ) n on true
  where v.expires_at is not null and not v.deleted and v.expires_at <= $1
    and coalesce(n.sent, 0) < case when v.expires_at <= $2 then 2 else 1 end
  order by v.expires_at
  limit $3`;

export class ExpiryNoticesRepository {
  constructor(private readonly store: PostgresEventStore) {}

  async due(now: Date, leadMs: number, limit: number): Promise<ExpiringValue[]> {
    const rows = await this.store.query<{
      organization_id: string;
      customer_id: string;
      key: string;
      version: number;
      expires_at: Date;
      sent: number;
    }>(DUE, [new Date(now.getTime() + leadMs), now, limit], { prepared: true });
    return rows.map((row) => ({
      organizationId: row.organization_id,
      customerId: row.customer_id,
      key: row.key,
      version: row.version,
      expiresAt: new Date(row.expires_at),
      noticesSent: row.sent,
    }));
  }
}

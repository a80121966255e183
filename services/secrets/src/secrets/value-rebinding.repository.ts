import { type PostgresEventStore, type ProjectionContext } from '@platform/event-store';

/** A value event to re-seal (see TO_RESEAL). */
export interface UnboundRow {
  readonly position: string;
  readonly stream_id: string;
  readonly stream_version: number;
  readonly event_id: string;
  readonly value: string;
}

/**
 * Values to re-seal: unbound ones (no digest), and customers' values sealed under a vendor-level key before customers
 * had keys of their own (a customer could not be shredded alone while they stay there).
 */
const TO_RESEAL = `type in ('SecretCreated', 'SecretValueUpdated') and data ? 'value' and (
  not (data ? 'digest') or (split_part(stream_id, ':', 3) <> '_' and exists (
    select 1 from data_key d where d.id = (data->>'dataKeyId')::uuid and d.customer_id = '')))`;

/**
 * The one rewrite of events (ARCHITECTURE.md §6): value events to re-seal, found and re-sealed in place with
 * their `secret_view` row. Reads and writes the event store's table, as this migration of stored values must.
 */
export class ValueRebindingRepository {
  constructor(private readonly store: PostgresEventStore) {}

  async countToReseal(): Promise<number> {
    const [{ count }] = await this.store.query<{ count: number }>(
      `select count(*)::int as count from events where ${TO_RESEAL}`,
    );
    return count;
  }

  toResealAfter(position: string, limit: number): Promise<UnboundRow[]> {
    return this.store.query<UnboundRow>(
      `select position::text, stream_id, stream_version, event_id, data->>'value' as value from events
       where ${TO_RESEAL} and position > $1 order by position limit $2`,
      [position, limit],
    );
  }
}

/**
 * Replaces an unbound value by its re-sealed form in the event and its `secret_view` row, inside the caller's
 * transaction; false when the event changed meanwhile (it is then left alone).
 */
export async function rebindValue(
  context: ProjectionContext,
  row: UnboundRow,
  sealed: { readonly jwe: string; readonly dataKeyId: string; readonly digest: string },
): Promise<boolean> {
  const updated = await context.execute(
    `update events set data = data || jsonb_build_object('value', $2::text, 'dataKeyId', $3::text, 'digest', $4::text)
     where position = $1 and data->>'value' = $5 returning 1`,
    [row.position, sealed.jwe, sealed.dataKeyId, sealed.digest, row.value],
  );
  if (updated.length === 0) return false;
  await context.execute(
    `update secret_view set value = $3, data_key_id = $4 where stream_id = $1 and version = $2 and value = $5`,
    [row.stream_id, row.stream_version, sealed.jwe, sealed.dataKeyId, row.value],
  );
  return true;
}

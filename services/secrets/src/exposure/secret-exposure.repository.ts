import { type PostgresEventStore } from '@platform/event-store';
import { SECRET_EXPOSED } from './secret-exposure';

/**
 * `secret_exposure`: per secret (organization, customer '' for vendor-level, key) the latest version whose value a
 * deployment's log showed, with its first and last sighting and the log messages counted over every report of it. A
 * report of a newer version replaces the row, one of the same version widens it, an older one leaves it (so a rebuild
 * in position order ends where the appends did).
 */
export const SECRET_EXPOSURE_TABLE = `
  create table secret_exposure (
    organization_id text not null,
    customer_id text collate "C" not null,
    key text collate "C" not null,
    version integer not null,
    first_seen_at timestamptz not null,
    last_seen_at timestamptz not null,
    line_count bigint not null,
    primary key (organization_id, customer_id, key)
  )`;

/** The `SecretExposed` events of `source` (a relation with the events table's columns, one event per key) applied. */
export const exposureUpsertFrom = (source: string) => `
  insert into secret_exposure as x (organization_id, customer_id, key, version, first_seen_at, last_seen_at, line_count)
  select s.data->>'organizationId',
         case when s.data->>'scope' = 'customer' then coalesce(s.data->>'customerOrganizationId', '') else '' end,
         s.data->>'key', (s.data->>'version')::int, (s.data->>'firstSeenAt')::timestamptz,
         (s.data->>'lastSeenAt')::timestamptz, (s.data->>'lineCount')::bigint
  from ${source} s where s.type = '${SECRET_EXPOSED}'
  on conflict (organization_id, customer_id, key) do update set
    first_seen_at = case when excluded.version > x.version then excluded.first_seen_at
                         when excluded.version = x.version then least(x.first_seen_at, excluded.first_seen_at)
                         else x.first_seen_at end,
    last_seen_at = case when excluded.version > x.version then excluded.last_seen_at
                        when excluded.version = x.version then greatest(x.last_seen_at, excluded.last_seen_at)
                        else x.last_seen_at end,
    line_count = case when excluded.version > x.version then excluded.line_count
                      when excluded.version = x.version then x.line_count + excluded.line_count
                      else x.line_count end,
    version = greatest(x.version, excluded.version)`;

/** One recorded event, by position. */
export const EXPOSURE_AT_POSITION = exposureUpsertFrom('(select * from events where position = $1)');

export const TRUNCATE_EXPOSURES = 'truncate secret_exposure';

/**
 * What `get` and `list` read beside `secret_view` (whose columns keep their names; joined on the secret's scope and
 * key): the exposure columns, null when no version was ever exposed.
 */
export const SECRET_VIEW_WITH_EXPOSURE =
  'secret_view left join secret_exposure x using (organization_id, customer_id, key)';
export const EXPOSURE_COLUMNS = `x.version as exposed_version,
  extract(epoch from x.first_seen_at) * 1000 as exposed_first_ms,
  extract(epoch from x.last_seen_at) * 1000 as exposed_last_ms, x.line_count as exposed_lines`;

export interface ExposureColumns {
  readonly exposed_version: number | null;
  readonly exposed_first_ms: number | string | null;
  readonly exposed_last_ms: number | string | null;
  readonly exposed_lines: number | string | null;
}

/** A secret's stream version, if the secret was ever created in that scope (deleted ones included). */
export async function secretVersionOf(
  store: PostgresEventStore,
  organizationId: string,
  customerId: string,
  key: string,
): Promise<number | undefined> {
  const [row] = await store.query<{ version: number }>(
    'select version from secret_view where organization_id = $1 and customer_id = $2 and key = $3',
    [organizationId, customerId, key],
    { prepared: true },
  );
  return row?.version;
}

import { type PostgresEventStore, type ProjectionContext } from '@platform/event-store';
import { type Scope } from '@platform/messaging';
import {
  EXPOSURE_COLUMNS,
  type ExposureColumns,
  SECRET_VIEW_WITH_EXPOSURE,
} from '../exposure/secret-exposure.repository';
import { type SecretSnapshot } from './secret-snapshot';

/** A list position: the last row of a page, in (customer, key) order; `''` is the vendor level. */
export interface SecretViewPosition {
  readonly customerId: string;
  readonly key: string;
}

interface ViewRow extends ExposureColumns {
  readonly stream_id: string;
  readonly organization_id: string;
  readonly customer_id: string;
  readonly key: string;
  readonly version: number;
  readonly created_ms: number;
  readonly created_by: string;
  readonly updated_ms: number;
  readonly updated_by: string;
  readonly expires_ms: number | null;
}

const VIEW_COLUMNS = `stream_id, organization_id, customer_id, key, secret_view.version,
  extract(epoch from created_at) * 1000 as created_ms, created_by,
  extract(epoch from updated_at) * 1000 as updated_ms, updated_by,
  extract(epoch from expires_at) * 1000 as expires_ms, ${EXPOSURE_COLUMNS}`;

function isoOf(epochMs: number | string): string {
  return new Date(Math.round(Number(epochMs))).toISOString();
}

function snapshotOfRow(row: ViewRow): SecretSnapshot {
  return {
    streamId: row.stream_id,
    key: row.key,
    scope: { organizationId: row.organization_id, customerOrganizationId: row.customer_id || null },
    version: row.version,
    live: true,
    createdAt: isoOf(row.created_ms),
    createdBy: row.created_by,
    updatedAt: isoOf(row.updated_ms),
    updatedBy: row.updated_by,
    ...(row.expires_ms === null ? {} : { expiresAt: isoOf(row.expires_ms) }),
    exposure:
      row.exposed_version === null
        ? undefined
        : {
            version: row.exposed_version,
            firstSeenAt: isoOf(row.exposed_first_ms ?? 0),
            lastSeenAt: isoOf(row.exposed_last_ms ?? 0),
            lineCount: Number(row.exposed_lines),
          },
  };
}

/** The live secrets of `secret_view` (the read model of ARCHITECTURE.md §5), never a value. */
export class SecretViewRepository {
  constructor(private readonly store: PostgresEventStore) {}

  async findLive(scope: Scope, key: string): Promise<SecretSnapshot | undefined> {
    const [row] = await this.store.query<ViewRow>(
      `select ${VIEW_COLUMNS} from ${SECRET_VIEW_WITH_EXPOSURE}
       where organization_id = $1 and customer_id = $2 and key = $3 and not deleted`,
      [scope.organizationId, scope.customerOrganizationId ?? '', key],
      { prepared: true },
    );
    return row && snapshotOfRow(row);
  }

  /**
   * Up to `limit` live secrets of an organization in (customer, key) order after `after`: of one partition
   * (`customerId`, `''` for vendor-level), or of every partition when `customerId` is undefined.
   */
  async listLive(query: {
    readonly organizationId: string;
    readonly customerId: string | undefined;
    readonly after: SecretViewPosition | undefined;
    readonly limit: number;
  }): Promise<SecretSnapshot[]> {
    const params: unknown[] = [query.organizationId, query.limit];
    const conditions = ['organization_id = $1', 'not deleted'];
    if (query.customerId !== undefined) {
      params.push(query.customerId);
      conditions.push(`customer_id = $${params.length}`);
    }
    if (query.after) {
      params.push(query.after.customerId, query.after.key);
      conditions.push(`(customer_id, key) > ($${params.length - 1}, $${params.length})`);
    }
    const rows = await this.store.query<ViewRow>(
      `select ${VIEW_COLUMNS} from ${SECRET_VIEW_WITH_EXPOSURE} where ${conditions.join(' and ')}
       order by customer_id, key limit $2`,
      params,
      // Four texts at most: with or without the customer filter and the page token.
      { prepared: true },
    );
    return rows.map(snapshotOfRow);
  }
}

/**
 * How many live secrets an organization has (or one customer of it), inside the caller's transaction (a purge's
 * report).
 */
export async function countLiveSecrets(
  context: ProjectionContext,
  organizationId: string,
  customerOrganizationId?: string,
): Promise<number> {
  const [{ count }] = await context.execute<{ count: number }>(
    customerOrganizationId === undefined
      ? 'select count(*)::int as count from secret_view where organization_id = $1 and not deleted'
      : `select count(*)::int as count from secret_view
         where organization_id = $1 and customer_id = $2 and not deleted`,
    customerOrganizationId === undefined ? [organizationId] : [organizationId, customerOrganizationId],
  );
  return count;
}

const UPSERT = `
  insert into secret_view (stream_id, id, organization_id, customer_id, key, version, deleted,
                           created_at, created_by, updated_at, updated_by, value, data_key_id, expires_at)
  select * from unnest($1::text[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::int[], $7::bool[],
                       $8::timestamptz[], $9::text[], $10::timestamptz[], $11::text[], $12::text[], $13::uuid[],
                       $14::timestamptz[])
  on conflict (stream_id) do update set
    version = excluded.version, deleted = excluded.deleted,
    created_at = excluded.created_at, created_by = excluded.created_by,
    updated_at = excluded.updated_at, updated_by = excluded.updated_by,
    value = excluded.value, data_key_id = excluded.data_key_id, expires_at = excluded.expires_at`;

const PATCH = `
  update secret_view v set version = p.version, deleted = p.deleted, updated_at = p.updated_at,
                           updated_by = p.updated_by, value = p.value, data_key_id = p.data_key_id,
                           expires_at = p.expires_at
  from unnest($1::text[], $2::int[], $3::bool[], $4::timestamptz[], $5::text[], $6::text[], $7::uuid[],
              $8::timestamptz[])
    as p(stream_id, version, deleted, updated_at, updated_by, value, data_key_id, expires_at)
  where v.stream_id = p.stream_id`;

/**
 * The net effect of the secret events in `($1, $2]` (no purge among them), in one statement: a stream with a
 * `SecretCreated` gets its whole row from its last create (key, scope, created_*) and its last event (the rest); any
 * other stream gets its last event patched onto its row, if it has one. Sorting only (stream, position) and joining
 * the chosen events back by position keeps the sort small. `$3`/`$4`: ids of the created streams (UUIDv5, from JS).
 */
const REBUILD_RANGE = `
  with batch as materialized (
    select position, stream_id, type from events
    where position > $1 and position <= $2
      and type in ('SecretCreated', 'SecretValueUpdated', 'SecretDeleted', 'SecretRolledBack', 'SecretRestored')
  ), last_event as (
    select e.stream_id, e.stream_version, e.type = 'SecretDeleted' as deleted, e.data, e.metadata
    from (select distinct on (stream_id) position from batch order by stream_id, position desc) chosen
      join events e on e.position = chosen.position
  ), last_created as (
    select e.stream_id, e.data, e.metadata
    from (select distinct on (stream_id) position from batch where type = 'SecretCreated'
          order by stream_id, position desc) chosen
      join events e on e.position = chosen.position
  ), upserted as (
    insert into secret_view (stream_id, id, organization_id, customer_id, key, version, deleted,
                             created_at, created_by, updated_at, updated_by, value, data_key_id, expires_at)
    select c.stream_id, ids.id, c.data->'scope'->>'organizationId',
           coalesce(c.data->'scope'->>'customerOrganizationId', ''), c.data->>'key', l.stream_version, l.deleted,
           (c.metadata->>'occurredAt')::timestamptz, c.metadata->'actor'->>'sub',
           (l.metadata->>'occurredAt')::timestamptz, l.metadata->'actor'->>'sub',
           l.data->>'value', (l.data->>'dataKeyId')::uuid, (l.data->>'expiresAt')::timestamptz
    from last_created c
      join last_event l on l.stream_id = c.stream_id
      join unnest($3::text[], $4::uuid[]) as ids(stream_id, id) on ids.stream_id = c.stream_id
    on conflict (stream_id) do update set
      version = excluded.version, deleted = excluded.deleted,
      created_at = excluded.created_at, created_by = excluded.created_by,
      updated_at = excluded.updated_at, updated_by = excluded.updated_by,
      value = excluded.value, data_key_id = excluded.data_key_id, expires_at = excluded.expires_at
  )
  update secret_view v set version = l.stream_version, deleted = l.deleted,
                           updated_at = (l.metadata->>'occurredAt')::timestamptz,
                           updated_by = l.metadata->'actor'->>'sub',
                           value = l.data->>'value', data_key_id = (l.data->>'dataKeyId')::uuid,
                           expires_at = (l.data->>'expiresAt')::timestamptz
  from last_event l
  where v.stream_id = l.stream_id and not exists (select 1 from last_created c where c.stream_id = l.stream_id)`;

/**
 * One append's net effect on its stream's row, as a CTE of the append statement (reads `appended`; `$id` = the
 * stream's UUIDv5). The row comes from the last create when the append has one, else from the existing row, which
 * is then only patched; with neither (a change to a purged or never-created row) nothing is written, as in `handle`.
 */
const inlineUpsertText = (id: string) => `
  insert into secret_view (stream_id, id, organization_id, customer_id, key, version, deleted,
                           created_at, created_by, updated_at, updated_by, value, data_key_id, expires_at)
  select l.stream_id, ${id}::uuid,
         case when c.stream_id is null then v.organization_id else c.data->'scope'->>'organizationId' end,
         case when c.stream_id is null then v.customer_id
              else coalesce(c.data->'scope'->>'customerOrganizationId', '') end,
         case when c.stream_id is null then v.key else c.data->>'key' end,
         l.stream_version, l.type = 'SecretDeleted',
         case when c.stream_id is null then v.created_at else (c.metadata->>'occurredAt')::timestamptz end,
         case when c.stream_id is null then v.created_by else c.metadata->'actor'->>'sub' end,
         (l.metadata->>'occurredAt')::timestamptz, l.metadata->'actor'->>'sub',
         l.data->>'value', (l.data->>'dataKeyId')::uuid, (l.data->>'expiresAt')::timestamptz
  from (select * from appended where type in ('SecretCreated', 'SecretValueUpdated', 'SecretDeleted',
                                              'SecretRolledBack', 'SecretRestored')
        order by stream_version desc limit 1) l
    left join (select * from appended where type = 'SecretCreated' order by stream_version desc limit 1) c on true
    left join secret_view v on v.stream_id = l.stream_id
  where c.stream_id is not null or v.stream_id is not null
  on conflict (stream_id) do update set
    version = excluded.version, deleted = excluded.deleted,
    created_at = excluded.created_at, created_by = excluded.created_by,
    updated_at = excluded.updated_at, updated_by = excluded.updated_by,
    value = excluded.value, data_key_id = excluded.data_key_id, expires_at = excluded.expires_at`;

/** The inline upsert with its id at parameter `$n`, one string per `n` (the append statement is cached by it). */
const inlineUpserts = new Map<number, string>();
function inlineUpsert(idParam: number): string {
  let text = inlineUpserts.get(idParam);
  if (text === undefined) inlineUpserts.set(idParam, (text = inlineUpsertText(`$${idParam}`)));
  return text;
}

/** The statements `SecretViewProjection` keeps `secret_view` with: inline, per batch, in a rebuild. */
export const SECRET_VIEW_WRITES = {
  upsert: UPSERT,
  patch: PATCH,
  inlineUpsert,
  /** `$1`, `$2`: a rebuild's slice of positions without a purge; `$3`, `$4`: the created streams and their ids. */
  rebuildRange: REBUILD_RANGE,
  createdStreams: `select distinct stream_id from events where position > $1 and position <= $2 and type = 'SecretCreated'`,
  truncate: 'truncate secret_view',
} as const;

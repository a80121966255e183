import {
  type InlineProjection,
  type InlineStatement,
  type NewEvent,
  type ProjectionContext,
  type RebuildRange,
  type RecordedEvent,
} from '@platform/event-store';
import { PURGE_TYPES, purgedScopeOf, purgesInRange, removePurgedRows } from './purges-in-range';
import { type EventMetadata, type SecretEvent } from './secret';
import { secretId } from './secret-stream';

export { ORGANIZATION_PURGED } from './secret';

/**
 * `secret_view`: one row per secret stream. A deleted secret keeps its row (`deleted`, no value) so resolve can still
 * find its stream for history; `customer_id` is '' for vendor-level secrets so it can be sorted and keyed.
 */
export interface SecretViewRow {
  readonly stream_id: string;
  readonly id: string;
  readonly organization_id: string;
  readonly customer_id: string;
  readonly key: string;
  readonly version: number;
  readonly deleted: boolean;
  readonly created_at: string;
  readonly created_by: string;
  readonly updated_at: string;
  readonly updated_by: string;
  /** The current value's JWE compact, null once deleted; never plaintext. */
  readonly value: string | null;
  readonly data_key_id: string | null;
  /** When the current value expires (ISO); null when it never does, and once deleted. */
  readonly expires_at: string | null;
}

type RowPatch = Pick<
  SecretViewRow,
  'stream_id' | 'version' | 'deleted' | 'updated_at' | 'updated_by' | 'value' | 'data_key_id' | 'expires_at'
>;

/** The net effect of a batch on one stream: a whole row (it was created in the batch), or a change to its row. */
type Change =
  { readonly kind: 'upsert'; readonly row: SecretViewRow } | { readonly kind: 'patch'; readonly patch: RowPatch };

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

const SECRET_EVENT_TYPES = [
  'SecretCreated',
  'SecretValueUpdated',
  'SecretDeleted',
  'SecretRolledBack',
  'SecretRestored',
];

/**
 * One append's net effect on its stream's row, as a CTE of the append statement (reads `appended`; `$id` = the
 * stream's UUIDv5). The row comes from the last create when the append has one, else from the existing row, which
 * is then only patched; with neither (a change to a purged or never-created row) nothing is written, as in `handle`.
 */
const inlineUpsert = (id: string) => `
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

/** The inline statements run on every write: parsed and planned once per connection. */
const PREPARED = { prepared: true } as const;

function column<T, K extends keyof T>(items: readonly T[], key: K): T[K][] {
  return items.map((item) => item[key]);
}

/**
 * Keeps `secret_view` in the append transaction. A batch (one append inline, thousands in a rebuild) is folded per
 * stream into its net change first, then written with at most two set-based statements, so a rebuild runs at the
 * speed of reading events rather than of one round trip per event.
 */
export class SecretViewProjection implements InlineProjection {
  readonly name = 'secret_view';
  readonly eventTypes = [...SECRET_EVENT_TYPES, ...PURGE_TYPES];

  async handle(events: readonly RecordedEvent[], context: ProjectionContext): Promise<void> {
    let changes = new Map<string, Change>();
    for (const event of events) {
      if (PURGE_TYPES.includes(event.type)) {
        // A purge removes rows written before it, so what is pending must land first.
        await this.apply(changes, context);
        changes = new Map();
        await removePurgedRows(context, 'secret_view', purgedScopeOf(event.data));
        continue;
      }
      changes.set(event.streamId, this.fold(changes.get(event.streamId), event));
    }
    await this.apply(changes, context);
  }

  /** Secret events project inside the append statement; a purge needs `handle`. */
  inlineStatement(streamId: string, events: readonly NewEvent[], firstParam: number): InlineStatement | undefined {
    if (!events.every((event) => SECRET_EVENT_TYPES.includes(event.type))) return undefined;
    return { sql: inlineUpsert(`$${firstParam}`), params: [secretId(streamId)] };
  }

  async truncate(context: ProjectionContext): Promise<void> {
    await context.execute('truncate secret_view');
  }

  /** The rebuild's batch, in Postgres: split at purges, which remove what came before them. */
  async rebuildBatch(context: ProjectionContext, range: RebuildRange): Promise<void> {
    const purges = await purgesInRange(context, range);
    let after = range.after.toString();
    for (const purge of purges) {
      await this.rebuildRange(context, after, purge.position);
      await removePurgedRows(context, 'secret_view', purge);
      after = purge.position;
    }
    await this.rebuildRange(context, after, range.upTo.toString());
  }

  private async rebuildRange(context: ProjectionContext, after: string, upTo: string): Promise<void> {
    const created = await context.execute<{ stream_id: string }>(
      `select distinct stream_id from events where position > $1 and position <= $2 and type = 'SecretCreated'`,
      [after, upTo],
    );
    const streamIds = created.map((row) => row.stream_id);
    await context.execute(REBUILD_RANGE, [after, upTo, streamIds, streamIds.map(secretId)]);
  }

  private fold(pending: Change | undefined, event: RecordedEvent): Change {
    const { occurredAt, actor } = event.metadata as EventMetadata;
    const secretEvent = event as unknown as SecretEvent;
    switch (secretEvent.type) {
      case 'SecretCreated': {
        const { key, scope, value, dataKeyId, expiresAt } = secretEvent.data;
        return {
          kind: 'upsert',
          row: {
            stream_id: event.streamId,
            id: secretId(event.streamId),
            organization_id: scope.organizationId,
            customer_id: scope.customerOrganizationId ?? '',
            key,
            version: event.streamVersion,
            deleted: false,
            created_at: occurredAt,
            created_by: actor.sub,
            updated_at: occurredAt,
            updated_by: actor.sub,
            value,
            data_key_id: dataKeyId,
            expires_at: expiresAt ?? null,
          },
        };
      }
      case 'SecretValueUpdated':
      case 'SecretRolledBack':
      case 'SecretRestored':
      case 'SecretDeleted': {
        const valueUpdate = secretEvent.type === 'SecretDeleted' ? undefined : secretEvent.data;
        const patch: RowPatch = {
          stream_id: event.streamId,
          version: event.streamVersion,
          deleted: valueUpdate === undefined,
          updated_at: occurredAt,
          updated_by: actor.sub,
          value: valueUpdate?.value ?? null,
          data_key_id: valueUpdate?.dataKeyId ?? null,
          expires_at: valueUpdate?.expiresAt ?? null,
        };
        return pending?.kind === 'upsert'
          ? { kind: 'upsert', row: { ...pending.row, ...patch } }
          : { kind: 'patch', patch };
      }
      default: {
        const _exhaustive: never = secretEvent;
        return _exhaustive;
      }
    }
  }

  private async apply(changes: ReadonlyMap<string, Change>, context: ProjectionContext): Promise<void> {
    const upserts: SecretViewRow[] = [];
    const patches: RowPatch[] = [];
    for (const change of changes.values()) {
      if (change.kind === 'upsert') upserts.push(change.row);
      else patches.push(change.patch);
    }
    if (upserts.length > 0) {
      await context.execute(
        UPSERT,
        [
          column(upserts, 'stream_id'),
          column(upserts, 'id'),
          column(upserts, 'organization_id'),
          column(upserts, 'customer_id'),
          column(upserts, 'key'),
          column(upserts, 'version'),
          column(upserts, 'deleted'),
          column(upserts, 'created_at'),
          column(upserts, 'created_by'),
          column(upserts, 'updated_at'),
          column(upserts, 'updated_by'),
          column(upserts, 'value'),
          column(upserts, 'data_key_id'),
          column(upserts, 'expires_at'),
        ],
        PREPARED,
      );
    }
    if (patches.length > 0) {
      await context.execute(
        PATCH,
        [
          column(patches, 'stream_id'),
          column(patches, 'version'),
          column(patches, 'deleted'),
          column(patches, 'updated_at'),
          column(patches, 'updated_by'),
          column(patches, 'value'),
          column(patches, 'data_key_id'),
          column(patches, 'expires_at'),
        ],
        PREPARED,
      );
    }
  }
}

import { type PostgresEventStore } from '@platform/event-store';
import { SECRET_VALUES_RESOLVED } from '../resolve/secret-resolver';
import { type Actor } from './secret';

export const DEPLOYMENT_FORGOTTEN = 'DeploymentForgotten';

/** What a deployment received of one key, beside the key's state now. */
export interface DeploymentReference {
  readonly key: string;
  readonly version: number;
  readonly scope: string;
  readonly latestVersion: number;
  readonly deleted: boolean;
}

export interface DeploymentRow {
  readonly customer_id: string;
  readonly deployment_id: string;
  readonly rendered_ms: number | string;
  readonly requested_by: Actor;
  readonly refs: DeploymentReference[];
  readonly stale: boolean;
}

export interface AffectedRow {
  readonly deployment_id: string;
  readonly customer_id: string;
  readonly rendered_ms: number | string;
  readonly total: number | string;
}

/** Which deployments a page lists; `customerId` undefined = every partition of the organization. */
export interface DeploymentFilter {
  readonly organizationId: string;
  readonly customerId: string | undefined;
  readonly deploymentId: string | undefined;
  readonly key: string | undefined;
  readonly staleOnly: boolean;
  readonly after: readonly [customerId: string, deploymentId: string] | undefined;
  readonly limit: number;
}

/**
 * Each deployment with its references joined to `secret_view` (the referenced stream: vendor-level, or the deployment's
 * customer): a reference is stale when its stream moved past the version received or was deleted; a stream that is
 * gone (purged) counts as deleted.
 */
const DEPLOYMENTS = `
  select d.customer_id, d.deployment_id, extract(epoch from d.last_rendered_at) * 1000 as rendered_ms,
         d.requested_by, r.refs, r.stale
  from deployment_index d
    cross join lateral (
      select coalesce(jsonb_agg(jsonb_build_object(
               'key', e.ref->>'key', 'version', (e.ref->>'version')::int, 'scope', e.ref->>'scope',
               'latestVersion', coalesce(v.version, (e.ref->>'version')::int),
               'deleted', coalesce(v.deleted, true)) order by e.ord), '[]'::jsonb) as refs,
             coalesce(bool_or(v.stream_id is null or v.deleted or v.version > (e.ref->>'version')::int), false) as stale
      from jsonb_array_elements(d.refs) with ordinality as e(ref, ord)
        left join secret_view v on v.organization_id = d.organization_id and v.key = e.ref->>'key'
          and v.customer_id = case when e.ref->>'scope' = 'customer' then d.customer_id else '' end
    ) r`;

/**
 * The deployments of `deployment_index` (so not forgotten ones) whose last render received `key` from the stream of
 * a scope: for a vendor-level key, a reference with scope `vendor` in any deployment of the organization (vendor-level
 * or a customer's); for a customer's key, a reference with scope `customer` in that customer's deployments. A
 * customer deployment that received the vendor value is not affected by the customer's own key, nor the reverse.
 */
const AFFECTED = `
  select deployment_id, customer_id, extract(epoch from last_rendered_at) * 1000 as rendered_ms,
         count(*) over () as total
  from deployment_index
  where organization_id = $1 and ($2::text = '' or customer_id = $2::text)
    and refs @> jsonb_build_array(jsonb_build_object('key', $3::text, 'scope', $4::text))
  order by customer_id, deployment_id
  limit $5`;

/** The read side of `deployment_index` (ARCHITECTURE.md §5); its projection writes it. */
export class DeploymentIndexRepository {
  constructor(private readonly store: PostgresEventStore) {}

  /** Deployments in (customer, deployment) order after `after`, with their references' state now. */
  page(filter: DeploymentFilter): Promise<DeploymentRow[]> {
    const params: unknown[] = [filter.organizationId, filter.limit];
    const conditions = ['d.organization_id = $1'];
    const bind = (value: unknown) => `$${params.push(value)}`;
    if (filter.customerId !== undefined) conditions.push(`d.customer_id = ${bind(filter.customerId)}`);
    if (filter.deploymentId !== undefined) conditions.push(`d.deployment_id = ${bind(filter.deploymentId)}`);
    if (filter.key !== undefined) {
      conditions.push(`d.refs @> jsonb_build_array(jsonb_build_object('key', ${bind(filter.key)}::text))`);
    }
    if (filter.staleOnly) conditions.push('r.stale');
    if (filter.after) {
      const [customerId, deploymentId] = filter.after;
      conditions.push(`(d.customer_id, d.deployment_id) > (${bind(customerId)}, ${bind(deploymentId)})`);
    }
    return this.store.query<DeploymentRow>(
      `${DEPLOYMENTS} where ${conditions.join(' and ')} order by d.customer_id, d.deployment_id limit $2`,
      params,
    );
  }

  async exists(organizationId: string, customerId: string, deploymentId: string): Promise<boolean> {
    const [known] = await this.store.query<{ found: boolean }>(
      `select true as found from deployment_index
       where organization_id = $1 and customer_id = $2 and deployment_id = $3`,
      [organizationId, customerId, deploymentId],
    );
    return known !== undefined;
  }

  /** Up to `limit` deployments that received `key` from the partition `customerId` (`''` = vendor-level). */
  affected(organizationId: string, customerId: string, key: string, limit: number): Promise<AffectedRow[]> {
    return this.store.query<AffectedRow>(
      AFFECTED,
      [organizationId, customerId, key, customerId === '' ? 'vendor' : 'customer', limit],
      { prepared: true },
    );
  }
}

/** The scope columns of an event's data, as `deployment_index` keys them. */
const SCOPE_OF = (alias: string) => `${alias}.data->>'organizationId' as organization_id,
  coalesce(${alias}.data->>'customerOrganizationId', '') as customer_id, ${alias}.data->>'deploymentId' as deployment_id`;

/**
 * The net effect of a run of `SecretValuesResolved` events read from `source` (a relation with the events table's
 * columns): per deployment, its last event's render replaces the row. Events without a deployment are skipped.
 * `refs` is the event's own `resolved` array, `[{key, version, scope}]` since the first release: taken whole, not
 * rebuilt element by element (rebuilding 20 references cost a render more Postgres CPU than the upsert itself).
 */
const upsertFrom = (source: string) => `
  insert into deployment_index (organization_id, customer_id, deployment_id, last_rendered_at, requested_by, refs)
  select r.organization_id, r.customer_id, r.deployment_id, (r.metadata->>'occurredAt')::timestamptz,
         jsonb_build_object('sub', r.who->>'sub', 'org', r.who->>'org', 'role', coalesce(r.who->>'role', '')),
         coalesce(r.data->'resolved', '[]'::jsonb)
  from (
    select distinct on (organization_id, customer_id, deployment_id) *
    from (select ${SCOPE_OF('s')}, s.position, s.data, s.metadata,
                 coalesce(s.data->'requestedBy', s.metadata->'actor') as who
          from ${source} s
          where s.type = '${SECRET_VALUES_RESOLVED}' and s.data->>'deploymentId' is not null) chosen
    order by organization_id, customer_id, deployment_id, position desc
  ) r
  on conflict (organization_id, customer_id, deployment_id) do update set
    last_rendered_at = excluded.last_rendered_at, requested_by = excluded.requested_by, refs = excluded.refs`;

/** A run of `DeploymentForgotten` events read from `source`: each deployment named leaves the index. */
const forgetFrom = (source: string) => `
  delete from deployment_index d
  using (select distinct ${SCOPE_OF('s')} from ${source} s where s.type = '${DEPLOYMENT_FORGOTTEN}') f
  where d.organization_id = f.organization_id and d.customer_id = f.customer_id and d.deployment_id = f.deployment_id`;

/**
 * A rebuild's slice `($1, $2]` (no purge inside), in Postgres: per deployment only its last event counts, so a
 * deployment whose last event is a forget is deleted and every other gets its last render upserted.
 */
const REBUILD_RANGE_LAST = `(
  select distinct on (organization_id, customer_id, deployment_id) s.*
  from (select ${SCOPE_OF('e')}, e.position, e.type from events e
        where e.position > $1 and e.position <= $2
          and (e.type = '${DEPLOYMENT_FORGOTTEN}'
               or (e.type = '${SECRET_VALUES_RESOLVED}' and e.data->>'deploymentId' is not null))) s
  order by organization_id, customer_id, deployment_id, position desc)`;

const REBUILD_FORGOTTEN = forgetFrom(
  `(select e.* from events e join ${REBUILD_RANGE_LAST} l on l.position = e.position
    where l.type = '${DEPLOYMENT_FORGOTTEN}')`,
);

const REBUILD_RESOLVED = upsertFrom(
  `(select e.* from events e join ${REBUILD_RANGE_LAST} l on l.position = e.position
    where l.type = '${SECRET_VALUES_RESOLVED}')`,
);

/** The events of one run, read back from the events table by position (they are in it: appended or replayed). */
const RUN = `(select * from events where position = any($1::bigint[]))`;

/** The statements `DeploymentIndexProjection` keeps `deployment_index` with: inline, per run of events, in a rebuild. */
export const DEPLOYMENT_INDEX_WRITES = {
  upsertAppended: upsertFrom('appended'),
  forgetAppended: forgetFrom('appended'),
  /** `$1`: the positions of a run of events of one type. */
  upsertRun: upsertFrom(RUN),
  forgetRun: forgetFrom(RUN),
  /** `$1`, `$2`: a rebuild's slice of positions without a purge. */
  rebuildForgotten: REBUILD_FORGOTTEN,
  rebuildResolved: REBUILD_RESOLVED,
  deleteOrganization: 'delete from deployment_index where organization_id = $1',
  truncate: 'truncate deployment_index',
} as const;

import {
  type InlineProjection,
  type InlineStatement,
  type NewEvent,
  type ProjectionContext,
  type RebuildRange,
  type RecordedEvent,
} from '@platform/event-store';
import { SECRET_VALUES_RESOLVED } from '../resolve/secret-resolver';
import { PURGE_TYPES, purgedScopeOf, purgesInRange, removePurgedRows } from './purges-in-range';

export const DEPLOYMENT_FORGOTTEN = 'DeploymentForgotten';

/**
 * `deployment_index`: one row per (organization, customer, deployment) that received values, from the last
 * `SecretValuesResolved` naming it: when, who asked (`requestedBy`, else the actor) and what it received (`refs`,
 * `[{key, version, scope}]` in the event's order). `customer_id` is '' for a vendor-level deployment. Staleness is not
 * stored: reads compare `refs` with `secret_view`, which the same transactions keep current.
 */
export interface DeploymentIndexRow {
  readonly organization_id: string;
  readonly customer_id: string;
  readonly deployment_id: string;
  readonly last_rendered_at: string;
  readonly requested_by: { sub: string; org: string; role: string };
  readonly refs: ReadonlyArray<{ key: string; version: number; scope: string }>;
}

/** The scope columns of an event's data, as `deployment_index` keys them. */
const SCOPE_OF = (alias: string) => `${alias}.data->>'organizationId' as organization_id,
  coalesce(${alias}.data->>'customerOrganizationId', '') as customer_id, ${alias}.data->>'deploymentId' as deployment_id`;

/**
 * The net effect of a run of `SecretValuesResolved` events read from `source` (a relation with the events table's
 * columns): per deployment, its last event's render replaces the row. Events without a deployment are skipped.
 */
const upsertFrom = (source: string) => `
  insert into deployment_index (organization_id, customer_id, deployment_id, last_rendered_at, requested_by, refs)
  select r.organization_id, r.customer_id, r.deployment_id, (r.metadata->>'occurredAt')::timestamptz,
         jsonb_build_object('sub', r.who->>'sub', 'org', r.who->>'org', 'role', coalesce(r.who->>'role', '')),
         (select coalesce(jsonb_agg(jsonb_build_object('key', ref->>'key', 'version', (ref->>'version')::int,
                                                       'scope', ref->>'scope') order by ord), '[]'::jsonb)
          from jsonb_array_elements(coalesce(r.data->'resolved', '[]'::jsonb)) with ordinality as x(ref, ord))
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

const PREPARED = { prepared: true } as const;

/**
 * Keeps `deployment_index` in the append transaction, and rebuilds it by replaying the same events: every change runs
 * the same SQL, over the CTE `appended` inline, over the events table by position in `handle`, or over each
 * deployment's last event of a rebuild batch, so an append and a rebuild cannot disagree. Secret writes do not touch
 * it; a purge removes the organization's rows, a customer purge the customer's.
 */
export class DeploymentIndexProjection implements InlineProjection {
  readonly name = 'deployment_index';
  readonly eventTypes = [SECRET_VALUES_RESOLVED, DEPLOYMENT_FORGOTTEN, ...PURGE_TYPES];

  /** A resolve's access events, or a forget, project inside the append statement; a purge or a mix needs `handle`. */
  inlineStatement(_streamId: string, events: readonly NewEvent[], _firstParam: number): InlineStatement | undefined {
    if (events.every((event) => event.type === SECRET_VALUES_RESOLVED))
      return { sql: upsertFrom('appended'), params: [] };
    if (events.every((event) => event.type === DEPLOYMENT_FORGOTTEN))
      return { sql: forgetFrom('appended'), params: [] };
    return undefined;
  }

  /** Applies consecutive events of one type together, in position order; a purge removes what came before it. */
  async handle(events: readonly RecordedEvent[], context: ProjectionContext): Promise<void> {
    let run: RecordedEvent[] = [];
    const flush = async () => {
      if (run.length === 0) return;
      const sql = run[0].type === SECRET_VALUES_RESOLVED ? upsertFrom(RUN) : forgetFrom(RUN);
      await context.execute(sql, [run.map((event) => event.position.toString())], PREPARED);
      run = [];
    };
    for (const event of events) {
      if (PURGE_TYPES.includes(event.type)) {
        await flush();
        await removePurgedRows(context, 'deployment_index', purgedScopeOf(event.data));
        continue;
      }
      if (run.length > 0 && run[0].type !== event.type) await flush();
      run.push(event);
    }
    await flush();
  }

  async truncate(context: ProjectionContext): Promise<void> {
    await context.execute('truncate deployment_index');
  }

  /** The rebuild's batch, in Postgres (access events are the most numerous): split at purges, as `handle` does. */
  async rebuildBatch(context: ProjectionContext, range: RebuildRange): Promise<void> {
    const purges = await purgesInRange(context, range);
    let after = range.after.toString();
    for (const purge of [...purges, { position: range.upTo.toString(), scope: undefined }]) {
      await context.execute(REBUILD_FORGOTTEN, [after, purge.position]);
      await context.execute(REBUILD_RESOLVED, [after, purge.position]);
      if ('organization_id' in purge) await removePurgedRows(context, 'deployment_index', purge);
      after = purge.position;
    }
  }
}

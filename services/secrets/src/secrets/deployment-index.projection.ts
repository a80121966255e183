import {
  type InlineProjection,
  type InlineStatement,
  type NewEvent,
  type ProjectionContext,
  type RebuildRange,
  type RecordedEvent,
} from '@platform/event-store';
import { SECRET_VALUES_RESOLVED } from '../resolve/secret-resolver';
import { DEPLOYMENT_FORGOTTEN, DEPLOYMENT_INDEX_WRITES as SQL } from './deployment-index.repository';
import { PURGE_TYPES, purgedScopeOf, purgesInRange, removePurgedRows } from './purges-in-range.repository';

export { DEPLOYMENT_FORGOTTEN } from './deployment-index.repository';

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

const PREPARED = { prepared: true } as const;

/** The deployment an access event names, as the upsert reads it (`data->>'deploymentId'`). */
const deploymentOf = (event: NewEvent): unknown => (event.data as { deploymentId?: unknown } | null)?.deploymentId;

/**
 * Keeps `deployment_index` in the append transaction, and rebuilds it by replaying the same events: every change runs
 * the same SQL, over the CTE `appended` inline, over the events table by position in `handle`, or over each
 * deployment's last event of a rebuild batch, so an append and a rebuild cannot disagree. Secret writes do not touch
 * it; a purge removes the organization's rows, a customer purge the customer's.
 */
export class DeploymentIndexProjection implements InlineProjection {
  readonly name = 'deployment_index';
  readonly eventTypes = [SECRET_VALUES_RESOLVED, DEPLOYMENT_FORGOTTEN, ...PURGE_TYPES];

  /**
   * A resolve's access events, or a forget, project inside the append statement; a purge or a mix needs `handle`.
   * Access events that name no deployment change nothing here.
   */
  inlineStatement(
    _streamId: string,
    events: readonly NewEvent[],
    _firstParam: number,
  ): InlineStatement | null | undefined {
    if (events.every((event) => event.type === SECRET_VALUES_RESOLVED)) {
      const named = events.some((event) => (deploymentOf(event) ?? null) !== null);
      return named ? { sql: SQL.upsertAppended, params: [] } : null;
    }
    if (events.every((event) => event.type === DEPLOYMENT_FORGOTTEN)) return { sql: SQL.forgetAppended, params: [] };
    return undefined;
  }

  /** Applies consecutive events of one type together, in position order; a purge removes what came before it. */
  async handle(events: readonly RecordedEvent[], context: ProjectionContext): Promise<void> {
    let run: RecordedEvent[] = [];
    const flush = async () => {
      if (run.length === 0) return;
      const sql = run[0].type === SECRET_VALUES_RESOLVED ? SQL.upsertRun : SQL.forgetRun;
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
    await context.execute(SQL.truncate);
  }

  /** The rebuild's batch, in Postgres (access events are the most numerous): split at purges, as `handle` does. */
  async rebuildBatch(context: ProjectionContext, range: RebuildRange): Promise<void> {
    const purges = await purgesInRange(context, range);
    let after = range.after.toString();
    for (const purge of [...purges, { position: range.upTo.toString(), scope: undefined }]) {
      await context.execute(SQL.rebuildForgotten, [after, purge.position]);
      await context.execute(SQL.rebuildResolved, [after, purge.position]);
      if ('organization_id' in purge) await removePurgedRows(context, 'deployment_index', purge);
      after = purge.position;
    }
  }
}

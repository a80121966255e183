import { type ProjectionContext, type RebuildRange } from '@platform/event-store';
import { CUSTOMER_PURGED, ORGANIZATION_PURGED } from './secret';

/** What a purge removed: a whole organization, or one customer scope of it (`customer_id` set). */
export interface PurgedScope {
  readonly organization_id: string;
  /** Null for an OrganizationPurged. */
  readonly customer_id: string | null;
}

/** A purge within a rebuild batch: the position it happened at and the scope it removed. */
export interface PurgeInRange extends PurgedScope {
  readonly position: string;
}

export const PURGE_TYPES: readonly string[] = [ORGANIZATION_PURGED, CUSTOMER_PURGED];

/** The scope an OrganizationPurged or CustomerPurged event's data names. */
export function purgedScopeOf(data: unknown): PurgedScope {
  const { organizationId, customerOrganizationId } = data as {
    organizationId: string;
    customerOrganizationId?: string;
  };
  return { organization_id: organizationId, customer_id: customerOrganizationId ?? null };
}

/**
 * The purges of a rebuild batch, in order: every projection rebuilt in Postgres splits its batch at them, since a purge
 * removes what came before it.
 */
export function purgesInRange(context: ProjectionContext, range: RebuildRange): Promise<PurgeInRange[]> {
  return context.execute<PurgeInRange>(
    `select position::text, data->>'organizationId' as organization_id,
            case when type = $4 then data->>'customerOrganizationId' end as customer_id
     from events
     where position > $1 and position <= $2 and type = any($3::text[]) order by position`,
    [range.after.toString(), range.upTo.toString(), PURGE_TYPES, CUSTOMER_PURGED],
  );
}

/** Removes a purged scope's rows from a read model keyed by `organization_id` and `customer_id` ('' = vendor level). */
export async function removePurgedRows(
  context: ProjectionContext,
  table: 'secret_view' | 'deployment_index' | 'secret_exposure',
  scope: PurgedScope,
): Promise<void> {
  if (scope.customer_id === null) {
    await context.execute(`delete from ${table} where organization_id = $1`, [scope.organization_id]);
  } else {
    await context.execute(`delete from ${table} where organization_id = $1 and customer_id = $2`, [
      scope.organization_id,
      scope.customer_id,
    ]);
  }
}

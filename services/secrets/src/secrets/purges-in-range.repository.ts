import { type ProjectionContext, type RebuildRange } from '@platform/event-store';
import { ORGANIZATION_PURGED } from './secret';

/** A purge within a rebuild batch: the position it happened at and the organization it removed. */
export interface PurgeInRange {
  readonly position: string;
  readonly organization_id: string;
}

/**
 * The purges of a rebuild batch, in order: every projection rebuilt in Postgres splits its batch at them, since a purge
 * removes what came before it.
 */
export function purgesInRange(context: ProjectionContext, range: RebuildRange): Promise<PurgeInRange[]> {
  return context.execute<PurgeInRange>(
    `select position::text, data->>'organizationId' as organization_id from events
     where position > $1 and position <= $2 and type = $3 order by position`,
    [range.after.toString(), range.upTo.toString(), ORGANIZATION_PURGED],
  );
}

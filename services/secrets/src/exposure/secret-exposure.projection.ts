import {
  type InlineProjection,
  type InlineStatement,
  type NewEvent,
  type ProjectionContext,
  type RecordedEvent,
} from '@platform/event-store';
import { PURGE_TYPES, purgedScopeOf, removePurgedRows } from '../secrets/purges-in-range.repository';
import { SECRET_EXPOSED } from './secret-exposure';
import { EXPOSURE_AT_POSITION, TRUNCATE_EXPOSURES, exposureUpsertFrom } from './secret-exposure.repository';

const EXPOSURE_UPSERT_APPENDED = exposureUpsertFrom('appended');

/**
 * Keeps `secret_exposure` in the append transaction and rebuilds it from the same events with the same SQL (inline over
 * `appended`, in `handle` one event at a time by position); a purge removes its organization's or customer's rows.
 */
export class SecretExposureProjection implements InlineProjection {
  readonly name = 'secret_exposure';
  readonly eventTypes = [SECRET_EXPOSED, ...PURGE_TYPES];

  inlineStatement(_streamId: string, events: readonly NewEvent[], _firstParam: number): InlineStatement | undefined {
    if (events.length !== 1 || events[0].type !== SECRET_EXPOSED) return undefined;
    return { sql: EXPOSURE_UPSERT_APPENDED, params: [] };
  }

  /** One event at a time: two reports of one secret cannot meet in one upsert. Exposures are few. */
  async handle(events: readonly RecordedEvent[], context: ProjectionContext): Promise<void> {
    for (const event of events) {
      if (PURGE_TYPES.includes(event.type)) {
        await removePurgedRows(context, 'secret_exposure', purgedScopeOf(event.data));
        continue;
      }
      await context.execute(EXPOSURE_AT_POSITION, [event.position.toString()]);
    }
  }

  async truncate(context: ProjectionContext): Promise<void> {
    await context.execute(TRUNCATE_EXPOSURES);
  }
}

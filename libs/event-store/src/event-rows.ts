import { types } from 'pg';
import type { EventMetadata, RecordedEvent } from './events';

/**
 * Columns every event read selects, in the shape `toRecordedEvent` expects. `pg` returns int8 and xid8 as
 * text; no casts here, since a cast alias would shadow the column in ORDER BY and sort positions as text.
 */
export const EVENT_COLUMNS =
  'position, transaction_id, stream_id, stream_version, event_id, type, data, metadata, created_at';

export interface EventRow {
  readonly position: string;
  readonly transaction_id: string;
  readonly stream_id: string;
  readonly stream_version: number;
  readonly event_id: string;
  readonly type: string;
  readonly data: unknown;
  readonly metadata: EventMetadata;
  readonly created_at: Date | string;
}

const parseTimestamptz = types.getTypeParser(types.builtins.TIMESTAMPTZ, 'text') as (text: string) => Date;

/** MikroORM's pool returns timestamptz as text, a plain `pg` client as Date; both become a Date here. */
export function toDate(value: Date | string): Date {
  return value instanceof Date ? value : parseTimestamptz(value);
}

export function toRecordedEvent(row: EventRow): RecordedEvent {
  return {
    streamId: row.stream_id,
    streamVersion: row.stream_version,
    position: BigInt(row.position),
    transactionId: row.transaction_id,
    eventId: row.event_id,
    type: row.type,
    data: row.data,
    metadata: row.metadata,
    createdAt: toDate(row.created_at),
  };
}

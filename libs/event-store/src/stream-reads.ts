import { statement } from '@platform/postgres';
import { type ClientBase } from 'pg';
import { EVENT_COLUMNS, type EventRow, toRecordedEvent } from './event-rows';
import type { ReadStreamResult, RecordedEvent } from './events';
import { type SchemaNames } from './schema-names';
import { currentVersion } from './stream-append';

/** The reads the store answers; its tables stay private to it. */
export async function readStream(
  connection: ClientBase,
  names: SchemaNames,
  streamId: string,
  options: { from?: number; to?: number },
): Promise<ReadStreamResult> {
  const from = options.from ?? 1;
  const to = options.to ?? 2 ** 31 - 1;
  const { rows } = await connection.query<EventRow>(
    statement(
      `select ${EVENT_COLUMNS} from ${names.events}
       where stream_id = $1 and stream_version between $2 and $3 order by stream_version`,
      [streamId, from, to],
      { prepared: true },
    ),
  );
  const events = rows.map(toRecordedEvent);
  const readToTheEnd = options.to === undefined && events.length > 0;
  const currentStreamVersion = readToTheEnd
    ? events[events.length - 1].streamVersion
    : await currentVersion(connection, names, streamId);
  return { events, currentStreamVersion, streamExists: currentStreamVersion > 0 };
}

export async function readStreamWithLatest(
  connection: ClientBase,
  names: SchemaNames,
  streamId: string,
  latest: { readonly streamId: string; readonly type: string },
): Promise<RecordedEvent[]> {
  const { rows } = await connection.query<EventRow>(
    statement(
      `select ${EVENT_COLUMNS} from (
         (select ${EVENT_COLUMNS} from ${names.events} where stream_id = $1)
         union all
         (select ${EVENT_COLUMNS} from ${names.events} where stream_id = $2 and type = $3
          order by stream_version desc limit 1)
       ) e order by position`,
      [streamId, latest.streamId, latest.type],
      { prepared: true },
    ),
  );
  return rows.map(toRecordedEvent);
}

export async function findEvent(
  connection: ClientBase,
  names: SchemaNames,
  eventId: string,
): Promise<RecordedEvent | undefined> {
  const { rows } = await connection.query<EventRow>(
    statement(`select ${EVENT_COLUMNS} from ${names.events} where event_id = $1`, [eventId], { prepared: true }),
  );
  return rows[0] && toRecordedEvent(rows[0]);
}

export async function readAll(
  connection: ClientBase,
  names: SchemaNames,
  options: { after: bigint; limit: number },
): Promise<RecordedEvent[]> {
  const { rows } = await connection.query<EventRow>(
    `select ${EVENT_COLUMNS} from ${names.events} where position > $1 order by position limit $2`,
    [options.after.toString(), options.limit],
  );
  return rows.map(toRecordedEvent);
}

import { randomUUID } from 'node:crypto';
import { UNIQUE_VIOLATION, constraintOf, sqlState, statement } from '@platform/postgres';
import { type ClientBase } from 'pg';
import { toDate } from './event-rows';
import { ConcurrencyError, EventStoreError, EventStoreErrorCode } from './event-store.error';
import type { AppendResult, ExpectedVersion, NewEvent, RecordedEvent } from './events';
import { acceptedVersions } from './expected-version';
import { type InlineProjection, type InlineStatement, type ProjectionContext, contextOf } from './projection';
import { type SchemaNames } from './schema-names';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Parameters of the append statement itself; inline projections' parameters follow. */
const APPEND_PARAMS = 7;

interface AppendedRow {
  readonly previous_version: number;
  /** Null when the stream was not at an accepted version and nothing was inserted. */
  readonly position: string | null;
  readonly transaction_id: string;
  readonly stream_version: number;
  readonly created_at: Date | string;
}

/** Raised inside the append transaction when another writer took the next stream version first. */
export class StreamVersionTaken extends Error {}

export function prepareEvents(streamId: string, events: readonly NewEvent[]): Required<NewEvent>[] {
  if (streamId.length === 0) throw new EventStoreError(EventStoreErrorCode.INVALID_ARGUMENT, 'Stream id is empty');
  return events.map((event) => {
    const eventId = event.eventId ?? randomUUID();
    if (!UUID.test(eventId)) {
      throw new EventStoreError(EventStoreErrorCode.INVALID_ARGUMENT, `Event id ${eventId} is not a UUID`);
    }
    if (!event.type) throw new EventStoreError(EventStoreErrorCode.INVALID_ARGUMENT, 'Event type is empty');
    return { type: event.type, data: event.data, metadata: event.metadata, eventId };
  });
}

/**
 * The statements of every projection the events concern, when each of them has one ([] when none is concerned);
 * undefined when some projection needs `handle`.
 */
export function inlineStatements(
  projections: readonly InlineProjection[],
  streamId: string,
  events: readonly Required<NewEvent>[],
): InlineStatement[] | undefined {
  const statements: InlineStatement[] = [];
  let nextParam = APPEND_PARAMS + 1;
  for (const projection of projections) {
    const matching = events.filter((event) => projection.eventTypes.includes(event.type));
    if (matching.length === 0) continue;
    const inline = projection.inlineStatement?.(streamId, matching, nextParam);
    if (inline === undefined) return undefined;
    if (inline === null) continue;
    statements.push(inline);
    nextParam += inline.params.length;
  }
  return statements;
}

/**
 * Append texts per store, by their projections' statements: built once, not on every append (a projection that returns
 * the same string object each time makes the lookup cost nothing; the text is long and hashed by name afterwards).
 */
const appendTexts = new WeakMap<SchemaNames, Map<string, string>>();
const MAX_APPEND_TEXTS = 64;

/** The append statement with `inline`'s projections as CTEs: one text per store and set of projection statements. */
function appendText(names: SchemaNames, inline: readonly InlineStatement[]): string {
  let texts = appendTexts.get(names);
  if (texts === undefined) appendTexts.set(names, (texts = new Map()));
  const key = inline.length === 1 ? inline[0].sql : inline.map((projection) => projection.sql).join('\u0000');
  let text = texts.get(key);
  if (text !== undefined) return text;
  const projected = inline.map((projection, index) => `, projected_${index} as (${projection.sql})`).join('');
  text = `with stream as (
           select coalesce(max(stream_version), 0) as version from ${names.events} where stream_id = $1
         ), appended as (
           insert into ${names.events} (stream_id, stream_version, event_id, type, data, metadata)
           select $1, (stream.version + e.ordinal)::int, e.event_id, e.type, e.data, e.metadata
           from stream, unnest($4::uuid[], $5::text[], $6::jsonb[], $7::jsonb[])
             with ordinality as e(event_id, type, data, metadata, ordinal)
           where stream.version between $2 and $3
           order by e.ordinal
           returning position, transaction_id, stream_id, stream_version, event_id, type, data, metadata, created_at
         )${projected}
         select stream.version as previous_version, appended.position, appended.transaction_id,
                appended.stream_version, appended.created_at
         from stream left join appended on true order by appended.stream_version`;
  if (texts.size < MAX_APPEND_TEXTS) texts.set(key, text);
  return text;
}

/**
 * Checks the version and inserts in one statement, with the `inline` projections as CTEs of the same statement;
 * a lost race surfaces as a unique violation. Projections without an inline statement run afterwards (`handle`).
 */
export async function appendEvents(
  connection: ClientBase,
  names: SchemaNames,
  projections: readonly InlineProjection[],
  append: {
    readonly streamId: string;
    readonly events: readonly Required<NewEvent>[];
    readonly expectedVersion: ExpectedVersion;
    /** The projections' statements, run inside the append; undefined: run every concerned projection's `handle`. */
    readonly inline: readonly InlineStatement[] | undefined;
  },
): Promise<AppendResult> {
  const { streamId, events, expectedVersion, inline } = append;
  const accepted = acceptedVersions(expectedVersion);
  let rows: AppendedRow[];
  try {
    ({ rows } = await connection.query<AppendedRow>(
      statement(
        appendText(names, inline ?? []),
        [
          streamId,
          accepted.min,
          accepted.max,
          events.map((event) => event.eventId),
          events.map((event) => event.type),
          events.map((event) => JSON.stringify(event.data ?? null)),
          events.map((event) => JSON.stringify(event.metadata)),
          ...(inline ?? []).flatMap((projection) => projection.params),
        ],
        { prepared: true },
      ),
    ));
  } catch (error) {
    if (sqlState(error) === UNIQUE_VIOLATION && constraintOf(error) === 'events_stream_version_unique') {
      throw new StreamVersionTaken();
    }
    if (sqlState(error) === UNIQUE_VIOLATION && constraintOf(error) === 'events_event_id_unique') {
      throw new EventStoreError(EventStoreErrorCode.DUPLICATE_EVENT, `An event of this batch was already appended`, {
        cause: error,
      });
    }
    throw error;
  }
  if (rows[0].position === null) throw new ConcurrencyError(streamId, expectedVersion, rows[0].previous_version);
  const recorded: RecordedEvent[] = events.map((event, index) => ({
    ...event,
    streamId,
    streamVersion: rows[index].stream_version,
    position: BigInt(rows[index].position!),
    transactionId: rows[index].transaction_id,
    createdAt: toDate(rows[index].created_at),
  }));
  if (inline === undefined) await project(projections, recorded, contextOf(connection));
  const last = recorded[recorded.length - 1];
  return { nextExpectedStreamVersion: last.streamVersion, lastEventGlobalPosition: last.position, events: recorded };
}

async function project(
  projections: readonly InlineProjection[],
  events: readonly RecordedEvent[],
  context: ProjectionContext,
): Promise<void> {
  for (const projection of projections) {
    const matching = events.filter((event) => projection.eventTypes.includes(event.type));
    if (matching.length > 0) await projection.handle(matching, context);
  }
}

export async function currentVersion(connection: ClientBase, names: SchemaNames, streamId: string): Promise<number> {
  const { rows } = await connection.query<{ version: number }>(
    statement(
      `select coalesce(max(stream_version), 0) as version from ${names.events} where stream_id = $1`,
      [streamId],
      { prepared: true },
    ),
  );
  return rows[0].version;
}

// Test data and a small read model shared by the event store's int tests and its benchmark.
import type { EventMetadata, NewEvent, RecordedEvent } from '../events';
import type { MigrationDefinition } from '../migrations';
import type { InlineProjection, InlineStatement, ProjectionContext, RebuildRange } from '../projection';

export function metadataOf(sub = 'user-1'): EventMetadata {
  return { actor: { sub, org: 'acme', role: 'admin' }, occurredAt: '2025-01-01T00:00:00.000Z', correlationId: 'c-1' };
}

export function anEvent(type = 'ThingHappened', data: Record<string, unknown> = { n: 1 }): NewEvent {
  return { type, data, metadata: metadataOf() };
}

export function someEvents(count: number, type = 'ThingHappened'): NewEvent[] {
  return Array.from({ length: count }, (_, n) => anEvent(type, { n }));
}

export const STREAM_SUMMARY_TYPES = ['ThingHappened', 'ThingRenamed'] as const;

export const streamSummaryMigration: MigrationDefinition = {
  name: 'test_0001_stream_summary',
  up: [
    `create table stream_summary (
      stream_id text primary key,
      version integer not null,
      event_count integer not null,
      last_type text not null,
      name text,
      last_position bigint not null
    )`,
  ],
};

/** A read model of one row per stream, written with one statement per batch like a real projection should be. */
export const streamSummaryProjection: InlineProjection = {
  name: 'stream_summary',
  eventTypes: STREAM_SUMMARY_TYPES,
  async handle(events: readonly RecordedEvent[], context: ProjectionContext): Promise<void> {
    const rows = new Map<string, { version: number; count: number; type: string; name?: string; position: bigint }>();
    for (const event of events) {
      const data = event.data as { failProjection?: boolean; name?: string };
      if (data.failProjection) throw new Error('projection refused the event');
      const row = rows.get(event.streamId);
      rows.set(event.streamId, {
        version: event.streamVersion,
        count: (row?.count ?? 0) + 1,
        type: event.type,
        name: event.type === 'ThingRenamed' ? data.name : row?.name,
        position: event.position,
      });
    }
    const list = [...rows.entries()];
    await context.execute(
      `insert into stream_summary (stream_id, version, event_count, last_type, name, last_position)
       select * from unnest($1::text[], $2::int[], $3::int[], $4::text[], $5::text[], $6::bigint[])
       on conflict (stream_id) do update set
         version = excluded.version,
         event_count = stream_summary.event_count + excluded.event_count,
         last_type = excluded.last_type,
         name = coalesce(excluded.name, stream_summary.name),
         last_position = excluded.last_position`,
      [
        list.map(([streamId]) => streamId),
        list.map(([, row]) => row.version),
        list.map(([, row]) => row.count),
        list.map(([, row]) => row.type),
        list.map(([, row]) => row.name ?? null),
        list.map(([, row]) => row.position.toString()),
      ],
    );
  },
  async truncate(context: ProjectionContext): Promise<void> {
    await context.execute('truncate stream_summary');
  },
};

/** The same read model with a set-based `rebuildBatch`: a rebuild computes each batch's rows in Postgres. */
export const streamSummaryProjectionInDatabase: InlineProjection = {
  ...streamSummaryProjection,
  async rebuildBatch(context: ProjectionContext, range: RebuildRange): Promise<void> {
    await context.execute(
      `insert into stream_summary (stream_id, version, event_count, last_type, name, last_position)
       select stream_id,
              (array_agg(stream_version order by position desc))[1],
              count(*),
              (array_agg(type order by position desc))[1],
              (array_agg(data->>'name' order by position desc) filter (where type = 'ThingRenamed'))[1],
              max(position)
       from events where position > $1 and position <= $2 and type = any($3::text[])
       group by stream_id
       on conflict (stream_id) do update set
         version = excluded.version,
         event_count = stream_summary.event_count + excluded.event_count,
         last_type = excluded.last_type,
         name = coalesce(excluded.name, stream_summary.name),
         last_position = excluded.last_position`,
      [range.after.toString(), range.upTo.toString(), [...STREAM_SUMMARY_TYPES]],
    );
  },
};

/** The same read model projected inside each append statement (`inlineStatement`); `handle` for refusals. */
export const streamSummaryProjectionInline: InlineProjection = {
  ...streamSummaryProjection,
  inlineStatement(_streamId: string, events: readonly NewEvent[], firstParam: number): InlineStatement | undefined {
    if (events.some((event) => (event.data as { failProjection?: boolean }).failProjection)) return undefined;
    return {
      sql: `insert into stream_summary (stream_id, version, event_count, last_type, name, last_position)
            select stream_id, max(stream_version), count(*), (array_agg(type order by position desc))[1],
                   (array_agg(data->>'name' order by position desc) filter (where type = 'ThingRenamed'))[1],
                   max(position)
            from appended where type = any($${firstParam}::text[]) group by stream_id
            on conflict (stream_id) do update set
              version = excluded.version,
              event_count = stream_summary.event_count + excluded.event_count,
              last_type = excluded.last_type,
              name = coalesce(excluded.name, stream_summary.name),
              last_position = excluded.last_position`,
      params: [[...STREAM_SUMMARY_TYPES]],
    };
  },
};

// `npm run bench -- event-store`: appends/s at 1 and 32 in flight, and projection rebuild events/s over 100k events,
// with the events read into the process (`handle`) and replayed in Postgres (`rebuildBatch`).
import { randomUUID } from 'node:crypto';
import { loadavg } from 'node:os';
import {
  type InlineProjection,
  type NewEvent,
  type ProjectionContext,
  type RebuildRange,
  type RecordedEvent,
  PostgresEventStore,
} from '@platform/event-store';
import { createTestDatabase } from '@platform/testing';
import { type BenchFigure, renderTable } from './report';

/** The 1-minute load average: this machine is shared, so every table says how busy it was. */
const loadAverage = (): string => loadavg()[0].toFixed(1);

const REBUILD_EVENTS = 100_000;
const REBUILD_TARGET_PER_SECOND = 50_000;
const APPEND_SECONDS = 3;
// About the size of a SecretCreated event: a JWE compact value and its scope.
const SAMPLE_VALUE = 'eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIiwia2lkIjoiZGsxIn0..' + 'x'.repeat(120);

/** One row per stream, one upsert per batch: the shape of `secret_view`. */
const streamView: InlineProjection = {
  name: 'bench_stream_view',
  eventTypes: ['ThingCreated', 'ThingUpdated'],
  async handle(events: readonly RecordedEvent[], context: ProjectionContext): Promise<void> {
    const latest = new Map<string, RecordedEvent>();
    for (const event of events) latest.set(event.streamId, event);
    const rows = [...latest.values()];
    await context.execute(
      `insert into bench_stream_view (stream_id, version, updated_at, updated_by)
       select * from unnest($1::text[], $2::int[], $3::timestamptz[], $4::text[])
       on conflict (stream_id) do update set version = excluded.version,
         updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
      [
        rows.map((event) => event.streamId),
        rows.map((event) => event.streamVersion),
        rows.map((event) => event.metadata.occurredAt),
        rows.map((event) => event.metadata.actor.sub),
      ],
    );
  },
  async truncate(context: ProjectionContext): Promise<void> {
    await context.execute('truncate bench_stream_view');
  },
};

/** The same read model replayed in Postgres: the rebuild never reads an event into the process. */
const streamViewInDatabase: InlineProjection = {
  ...streamView,
  async rebuildBatch(context: ProjectionContext, range: RebuildRange): Promise<void> {
    await context.execute(
      `insert into bench_stream_view (stream_id, version, updated_at, updated_by)
       select distinct on (stream_id) stream_id, stream_version, (metadata->>'occurredAt')::timestamptz,
              metadata->'actor'->>'sub'
       from events where position > $1 and position <= $2 and type = any($3::text[])
       order by stream_id, position desc
       on conflict (stream_id) do update set version = excluded.version,
         updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
      [range.after.toString(), range.upTo.toString(), [...streamView.eventTypes]],
    );
  },
};

function created(): NewEvent {
  return {
    type: 'ThingCreated',
    data: { key: 'API_KEY', scope: { organizationId: 'acme', customerOrganizationId: null }, value: SAMPLE_VALUE },
    metadata: { actor: { sub: 'bench', org: 'acme', role: 'admin' }, occurredAt: new Date().toISOString() },
  };
}

async function appendsPerSecond(store: PostgresEventStore, inFlight: number): Promise<number> {
  const until = performance.now() + APPEND_SECONDS * 1000;
  let appends = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (performance.now() < until) {
        await store.appendToStream(`thing:${randomUUID()}`, [created()], { expectedVersion: 'no_stream' });
        appends++;
      }
    }),
  );
  return (appends * 1000) / (performance.now() - started);
}

/** Bulk-loads events straight into the table (about 1k streams of 100 versions), so only the rebuild is timed. */
async function seed(store: PostgresEventStore, count: number): Promise<void> {
  await store.query(
    `insert into events (stream_id, stream_version, event_id, type, data, metadata)
     select 'thing:' || (n % 1000), 1000 + n / 1000, gen_random_uuid(),
            case when n < 1000 then 'ThingCreated' else 'ThingUpdated' end,
            jsonb_build_object('value', $2::text, 'dataKeyId', 'dk1'),
            jsonb_build_object('actor', jsonb_build_object('sub', 'bench', 'org', 'acme', 'role', 'admin'),
                               'occurredAt', now()::text)
     from generate_series(0, $1::int - 1) as n`,
    [count, SAMPLE_VALUE],
  );
  await store.query('analyze events');
}

export async function run(): Promise<string> {
  const database = await createTestDatabase();
  const store = await PostgresEventStore.open({
    databaseUrl: database.url,
    schema: 'bench',
    projections: [streamView],
    poolSize: 32,
    extraMigrations: [
      {
        name: 'bench_0001_stream_view',
        up: [
          `create table bench_stream_view (stream_id text primary key, version int not null,
             updated_at timestamptz not null, updated_by text not null)`,
        ],
      },
    ],
  });
  try {
    const single = await appendsPerSecond(store, 1);
    const concurrent = await appendsPerSecond(store, 32);
    await store.query('truncate events');
    await seed(store, REBUILD_EVENTS);
    await store.rebuildProjection(streamView); // warm-up: caches and JIT
    const rebuild = await store.rebuildProjection(streamView);
    await store.rebuildProjection(streamViewInDatabase);
    const rebuildInDatabase = await store.rebuildProjection(streamViewInDatabase);
    const figures: BenchFigure[] = [
      { name: 'appendToStream (1 event + inline projection), 1 in flight', value: single, unit: 'appends/s' },
      {
        name: 'appendToStream (1 event + inline projection), 32 in flight',
        value: concurrent,
        unit: 'appends/s',
        baseline: { label: '1 in flight', value: single },
      },
      {
        name: `rebuildProjection over ${rebuild.events.toLocaleString('en-US')} events, events read into the process`,
        value: rebuild.events / rebuild.seconds,
        unit: 'events/s',
        baseline: { label: 'target', value: REBUILD_TARGET_PER_SECOND },
      },
      {
        name: `rebuildProjection over ${rebuildInDatabase.events.toLocaleString('en-US')} events, rebuildBatch in Postgres`,
        value: rebuildInDatabase.events / rebuildInDatabase.seconds,
        unit: 'events/s',
        baseline: { label: 'events read into the process', value: rebuild.events / rebuild.seconds },
      },
    ];
    return renderTable(`Event store (Postgres, libs/postgres pool), load average ${loadAverage()}`, figures);
  } finally {
    await store.close();
    await database.drop();
  }
}

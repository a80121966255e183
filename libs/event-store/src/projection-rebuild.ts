import { type ClientBase } from 'pg';
import { EVENT_COLUMNS, type EventRow, toRecordedEvent } from './event-rows';
import { type InlineProjection, type ProjectionContext, contextOf } from './projection';
import { type SchemaNames } from './schema-names';

export interface RebuildOptions {
  /** Events per `handle` call (default 10,000; larger batches mean fewer round trips). */
  batchSize?: number;
  onProgress?(done: number, total: number): void;
}

interface Batch {
  readonly after: string;
  readonly types: string[];
  readonly batchSize: number;
}

/**
 * Truncates the projection and replays its events in position order, in batches, on `connection`, whose transaction
 * the caller holds. A projection with `rebuildBatch` replays each batch inside Postgres; others get the batch's events.
 */
export async function rebuildProjection(
  connection: ClientBase,
  names: SchemaNames,
  projection: InlineProjection,
  options: RebuildOptions,
): Promise<{ events: number; seconds: number }> {
  const batchSize = options.batchSize ?? 10_000;
  const types = [...projection.eventTypes];
  const started = performance.now();
  const context = contextOf(connection);
  await projection.truncate(context);
  const { rows: countRows } = await connection.query<{ total: string }>(
    `select count(*)::text as total from ${names.events} where type = any($1::text[])`,
    [types],
  );
  const total = Number(countRows[0].total);
  options.onProgress?.(0, total);
  const replay = projection.rebuildBatch
    ? replayInDatabase.bind(undefined, projection.rebuildBatch.bind(projection))
    : replayInProcess.bind(undefined, projection);
  let after = '0';
  let done = 0;
  for (;;) {
    const batch = await replay(connection, names, context, { after, types, batchSize });
    if (batch.events === 0) break;
    done += batch.events;
    after = batch.upTo;
    options.onProgress?.(done, Math.max(total, done));
  }
  return { events: done, seconds: (performance.now() - started) / 1000 };
}

/** Reads the next batch's events into the process and hands them to `handle`. */
async function replayInProcess(
  projection: InlineProjection,
  connection: ClientBase,
  names: SchemaNames,
  context: ProjectionContext,
  batch: Batch,
): Promise<{ events: number; upTo: string }> {
  const { rows } = await connection.query<EventRow>(
    `select ${EVENT_COLUMNS} from ${names.events}
     where position > $1 and type = any($2::text[]) order by position limit $3`,
    [batch.after, batch.types, batch.batchSize],
  );
  if (rows.length > 0) await projection.handle(rows.map(toRecordedEvent), context);
  return { events: rows.length, upTo: rows[rows.length - 1]?.position ?? batch.after };
}

/** Finds where the next batch ends (positions only) and lets the projection apply it with SQL. */
async function replayInDatabase(
  rebuildBatch: NonNullable<InlineProjection['rebuildBatch']>,
  connection: ClientBase,
  names: SchemaNames,
  context: ProjectionContext,
  batch: Batch,
): Promise<{ events: number; upTo: string }> {
  const { rows } = await connection.query<{ events: number; up_to: string | null }>(
    `select count(*)::int as events, max(position)::text as up_to from (
       select position from ${names.events}
       where position > $1 and type = any($2::text[]) order by position limit $3) batch`,
    [batch.after, batch.types, batch.batchSize],
  );
  const { events, up_to: upTo } = rows[0];
  if (events === 0 || upTo === null) return { events: 0, upTo: batch.after };
  await rebuildBatch(context, { after: BigInt(batch.after), upTo: BigInt(upTo) });
  return { events, upTo };
}

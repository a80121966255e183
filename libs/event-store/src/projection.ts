import { type QueryOptions, statement } from '@platform/postgres';
import type { ClientBase } from 'pg';
import type { NewEvent, RecordedEvent } from './events';

/** SQL on the transaction that is appending (or rebuilding); parameters are Postgres-native `$1`, `$2`, …. */
export interface ProjectionContext {
  execute<T = Record<string, unknown>>(sql: string, params?: unknown[], options?: QueryOptions): Promise<T[]>;
}

/** A projection's view of a connection that is appending or rebuilding. */
export function contextOf(connection: ClientBase): ProjectionContext {
  return {
    async execute<T>(sql: string, params?: unknown[], options?: QueryOptions): Promise<T[]> {
      const result = await connection.query(statement(sql, params, options));
      return result.rows as T[];
    },
  };
}

/**
 * A read model kept in the append transaction (read-your-writes). `handle` receives only events of
 * `eventTypes`, in position order, in batches: one append's events inline, up to `batchSize` in a rebuild.
 */
export interface InlineProjection {
  readonly name: string;
  readonly eventTypes: readonly string[];
  handle(events: readonly RecordedEvent[], context: ProjectionContext): Promise<void>;
  /** Empties the read model before a rebuild replays every event. */
  truncate(context: ProjectionContext): Promise<void>;
  /**
   * Optional set-based replay for rebuilds: applies, with SQL over the store's `events` table, every event of
   * `eventTypes` with `after < position <= upTo`, with the same result as `handle` given those events in position
   * order. Lets a rebuild run inside Postgres instead of reading every event into the process.
   */
  rebuildBatch?(context: ProjectionContext, range: RebuildRange): Promise<void>;
  /**
   * Optional: the projection of one append as a data-modifying statement that runs inside the append's own
   * statement, so a projected append is one round trip and one implicit transaction instead of four. The SQL may read
   * the CTE `appended` (every event of the append, with the events table's columns) and its own parameters, numbered
   * from `firstParam`. Undefined for events it cannot project this way: the append then runs `handle` in a transaction.
   * Null when the events change nothing it keeps (as `handle` would find): the append runs no statement for it.
   * Must have the same effect as `handle` given the same events.
   */
  inlineStatement?(
    streamId: string,
    events: readonly NewEvent[],
    firstParam: number,
  ): InlineStatement | null | undefined;
}

/** SQL run as a CTE of the append statement, with its own parameters. */
export interface InlineStatement {
  readonly sql: string;
  readonly params: readonly unknown[];
}

/** A slice of the events table by position: `after` exclusive, `upTo` inclusive. */
export interface RebuildRange {
  readonly after: bigint;
  readonly upTo: bigint;
}

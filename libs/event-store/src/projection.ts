import type { RecordedEvent } from './events';
import type { QueryOptions } from './prepared-statement';

/** SQL on the transaction that is appending (or rebuilding); parameters are Postgres-native `$1`, `$2`, …. */
export interface ProjectionContext {
  execute<T = Record<string, unknown>>(sql: string, params?: unknown[], options?: QueryOptions): Promise<T[]>;
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
}

/** A slice of the events table by position: `after` exclusive, `upTo` inclusive. */
export interface RebuildRange {
  readonly after: bigint;
  readonly upTo: bigint;
}

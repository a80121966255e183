import { PostgresPool, type PostgresLogger, type QueryOptions } from '@platform/postgres';
import { type Client, type PoolClient, TypeOverrides, types } from 'pg';
import { asStoreError } from './database-errors';
import { ConcurrencyError, EventStoreError, EventStoreErrorCode } from './event-store.error';
import type { AppendResult, ExpectedVersion, NewEvent, ReadStreamResult, RecordedEvent } from './events';
import { CommitNotifier } from './commit-notifier';
import { assertExpectedVersion, isRetriableOnConflict, validateExpectedVersion } from './expected-version';
import { type MigrationDefinition } from './migrations';
import { type InlineProjection, type ProjectionContext, contextOf } from './projection';
import { type RebuildOptions, rebuildProjection } from './projection-rebuild';
import { migrateSchema } from './schema-migration';
import { type SchemaNames, schemaNames } from './schema-names';
import { StreamVersionTaken, appendEvents, currentVersion, inlineStatements, prepareEvents } from './stream-append';
import { findEvent, readAll, readStream, readStreamWithLatest } from './stream-reads';

export type { RebuildOptions } from './projection-rebuild';

/** Where the store reports what it survives (a pino logger fits). */
export type EventStoreLogger = PostgresLogger;

export interface EventStoreOptions {
  /** e.g. `postgresql://postgres@127.0.0.1:5432/secrets`; the database is created when missing. */
  databaseUrl: string;
  /** Postgres schema that holds the events, the outbox checkpoints and the service's own tables. */
  schema: string;
  projections?: InlineProjection[];
  /** Pooled connections (default 10). */
  poolSize?: number;
  /** Service-owned migrations, run after the store's own in the same migration run. */
  extraMigrations?: MigrationDefinition[];
  /** Shown in `pg_stat_activity` (default `event-store`). */
  applicationName?: string;
  /**
   * Receives the driver's own warnings (a pooled connection that ended unexpectedly, say), which would otherwise go
   * to stdout as bare text; without one they are dropped, and the failure still reaches the caller as an error.
   */
  logger?: EventStoreLogger;
}

const CONFLICT_RETRIES = 20;
const HEALTH_CHECK_TIMEOUT_MS = 2000;
/** Under a caller's 10 s: a statement on a connection that went silent fails after this instead of hanging. */
const STATEMENT_TIMEOUT_MS = 8_000;
/** A checkout waits this long for a free connection when every one is busy. */
const ACQUIRE_TIMEOUT_MS = 60_000;

/** Dates and intervals as Postgres writes them (text), as the store's callers have always read them. */
function textTimes(): TypeOverrides {
  const overrides = new TypeOverrides();
  // text[]'s parser: an array of the elements' texts (pg-types declares scalar oids only).
  const parserOf = types.getTypeParser as (oid: number, format: 'text') => (text: string) => unknown;
  const textArray = parserOf(1009, 'text');
  for (const oid of [1082, 1114, 1184, 1186]) overrides.setTypeParser(oid, (text: string) => text);
  for (const oid of [1182, 1115, 1185, 1187]) overrides.setTypeParser(oid, textArray);
  return overrides;
}

/** The context of `withTransaction`: statements, and appends that commit with them. */
export interface TransactionContext extends ProjectionContext {
  appendToStream(
    streamId: string,
    events: readonly NewEvent[],
    options: { expectedVersion: ExpectedVersion },
  ): Promise<AppendResult>;
}

/**
 * Append-only event streams in one Postgres table (ARCHITECTURE.md §5), after emmett's API. The table is private:
 * callers append, read a stream (with its latest marker event, a purge say), find an event by id or page through all.
 * Inline projections run in the append transaction; commits are followed by a NOTIFY on `<schema>_events`
 * that wakes the outbox.
 */
export class PostgresEventStore {
  private readonly projections: readonly InlineProjection[];
  private readonly notifier: CommitNotifier;
  /** This process's outbox publishers: each says whether it publishes (holds its lock) after being woken. */
  private readonly localPublishers = new Set<() => boolean>();

  private constructor(
    private readonly pool: PostgresPool,
    options: EventStoreOptions,
    /** @internal table and channel names, shared with the outbox publisher. */
    readonly names: SchemaNames,
  ) {
    this.projections = options.projections ?? [];
    this.notifier = new CommitNotifier(() =>
      this.query('select pg_notify($1, $2)', [names.eventsChannel, ''], { prepared: true }),
    );
  }

  /** Connects, creates the database and schema when missing, and runs pending migrations (store's, then extra). */
  static async open(options: EventStoreOptions): Promise<PostgresEventStore> {
    const names = schemaNames(options.schema);
    const projectionNames = new Set<string>();
    for (const projection of options.projections ?? []) {
      if (projectionNames.has(projection.name)) {
        throw new EventStoreError(EventStoreErrorCode.INVALID_ARGUMENT, `Duplicate projection ${projection.name}`);
      }
      projectionNames.add(projection.name);
    }
    const applicationName = options.applicationName ?? 'event-store';
    await migrateSchema({
      databaseUrl: options.databaseUrl,
      names,
      extraMigrations: options.extraMigrations ?? [],
      applicationName,
      logger: options.logger,
    });
    const pool = new PostgresPool({
      databaseUrl: options.databaseUrl,
      applicationName,
      poolSize: options.poolSize ?? 10,
      statementTimeoutMs: STATEMENT_TIMEOUT_MS,
      acquireTimeoutMs: ACQUIRE_TIMEOUT_MS,
      // Unqualified names in projections and service tables resolve to the store's schema.
      schema: names.schema,
      types: textTimes(),
      logger: options.logger,
    });
    return new PostgresEventStore(pool, options, names);
  }

  async readStream(streamId: string, options: { from?: number; to?: number } = {}): Promise<ReadStreamResult> {
    return this.withConnection((connection) => readStream(connection, this.names, streamId, options));
  }

  /**
   * A stream's events and the latest event of `latest.type` on `latest.streamId` (a purge that makes earlier events
   * history, say), in position order, in one round trip; no second look for the version of an empty stream.
   */
  async readStreamWithLatest(
    streamId: string,
    latest: { readonly streamId: string; readonly type: string },
  ): Promise<RecordedEvent[]> {
    return this.withConnection((connection) => readStreamWithLatest(connection, this.names, streamId, latest));
  }

  /** The event with this id, if it was appended. */
  async findEvent(eventId: string): Promise<RecordedEvent | undefined> {
    return this.withConnection((connection) => findEvent(connection, this.names, eventId));
  }

  /** Every event in position order after `after` (exclusive); an empty page means the end. */
  async readAll(options: { after: bigint; limit: number }): Promise<RecordedEvent[]> {
    return this.withConnection((connection) => readAll(connection, this.names, options));
  }

  /**
   * Appends atomically: checks the expected version and inserts in one statement, runs the inline projections
   * of the events' types in the same statement (`inlineStatement`) or else the same transaction (`handle`), then
   * wakes the outbox. A lost race on the next version is a `ConcurrencyError` for `no_stream` and exact versions,
   * and is retried for `any` and `stream_exists`.
   */
  async appendToStream(
    streamId: string,
    events: readonly NewEvent[],
    options: { expectedVersion: ExpectedVersion },
  ): Promise<AppendResult> {
    const { expectedVersion } = options;
    validateExpectedVersion(expectedVersion);
    const prepared = prepareEvents(streamId, events);
    if (prepared.length === 0) {
      const current = await this.withConnection((connection) => currentVersion(connection, this.names, streamId));
      assertExpectedVersion(streamId, expectedVersion, current);
      return { nextExpectedStreamVersion: current, lastEventGlobalPosition: 0n, events: [] };
    }
    // One statement is atomic on its own; a transaction is needed only when a projection writes separately.
    const inline = inlineStatements(this.projections, streamId, prepared);
    const run = inline ? this.withConnection.bind(this) : this.transaction.bind(this);
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await run((connection) =>
          appendEvents(connection, this.names, this.projections, {
            streamId,
            events: prepared,
            expectedVersion,
            inline,
          }),
        );
        this.wakePublishers();
        return result;
      } catch (error) {
        if (!(error instanceof StreamVersionTaken)) throw error;
        if (isRetriableOnConflict(expectedVersion) && attempt < CONFLICT_RETRIES) continue;
        const actual = await this.withConnection((connection) => currentVersion(connection, this.names, streamId));
        throw new ConcurrencyError(streamId, expectedVersion, actual);
      }
    }
  }

  /**
   * Truncates the projection and replays its events in position order, in batches, all in ONE transaction. The
   * TRUNCATE holds an ACCESS EXCLUSIVE lock on the projection's table until the commit, so every read and every
   * projected append of it waits for the whole rebuild (then appends apply on top of the rebuilt rows): nothing
   * reads half a rebuild, but the read model is unavailable meanwhile (about 0.5 s per 100k secret events here).
   */
  async rebuildProjection(
    projection: InlineProjection,
    options: RebuildOptions = {},
  ): Promise<{ events: number; seconds: number }> {
    return this.transaction((connection) => rebuildProjection(connection, this.names, projection, options));
  }

  /**
   * Runs `fn` in a transaction on the store's pool (for service-owned tables such as idempotency keys). Its context
   * can also append (projections included, via `handle`), so a change to service tables and the events recording it
   * commit together or not at all; the outbox is woken after the commit.
   */
  async withTransaction<T>(fn: (context: TransactionContext) => Promise<T>): Promise<T> {
    let appended = false;
    const result = await this.transaction((connection) =>
      fn({
        ...contextOf(connection),
        appendToStream: async (streamId, events, options) => {
          const result = await this.appendInTransaction(connection, streamId, events, options.expectedVersion);
          appended ||= result.events.length > 0;
          return result;
        },
      }),
    );
    if (appended) this.wakePublishers();
    return result;
  }

  /** An append inside the caller's transaction: a lost race rolls back to a savepoint and is retried or reported. */
  private async appendInTransaction(
    connection: PoolClient,
    streamId: string,
    events: readonly NewEvent[],
    expectedVersion: ExpectedVersion,
  ): Promise<AppendResult> {
    validateExpectedVersion(expectedVersion);
    const prepared = prepareEvents(streamId, events);
    if (prepared.length === 0) {
      const current = await currentVersion(connection, this.names, streamId);
      assertExpectedVersion(streamId, expectedVersion, current);
      return { nextExpectedStreamVersion: current, lastEventGlobalPosition: 0n, events: [] };
    }
    for (let attempt = 1; ; attempt++) {
      await connection.query('savepoint append');
      try {
        const result = await appendEvents(connection, this.names, this.projections, {
          streamId,
          events: prepared,
          expectedVersion,
          inline: undefined,
        });
        await connection.query('release savepoint append');
        return result;
      } catch (error) {
        await connection.query('rollback to savepoint append');
        if (!(error instanceof StreamVersionTaken)) throw error;
        if (isRetriableOnConflict(expectedVersion) && attempt < CONFLICT_RETRIES) continue;
        throw new ConcurrencyError(streamId, expectedVersion, await currentVersion(connection, this.names, streamId));
      }
    }
  }

  /**
   * One statement outside any transaction, for the service's own tables (its repositories); parameters are `$1`,
   * `$2`, …; `prepared` for hot fixed texts.
   */
  async query<T = Record<string, unknown>>(sql: string, params?: unknown[], options?: QueryOptions): Promise<T[]> {
    return this.withConnection(async (connection) => contextOf(connection).execute<T>(sql, params, options));
  }

  isHealthy(): Promise<boolean> {
    return this.pool.isHealthy(HEALTH_CHECK_TIMEOUT_MS);
  }

  /**
   * @internal an outbox publisher of this process, woken directly after each commit here. While every one of them
   * holds its lock the NOTIFY is skipped: other instances' publishers only stand by, and ignore it.
   */
  onCommitted(wake: () => boolean): () => void {
    this.localPublishers.add(wake);
    return () => this.localPublishers.delete(wake);
  }

  private wakePublishers(): void {
    let allPublishing = this.localPublishers.size > 0;
    for (const wake of this.localPublishers) if (!wake()) allPublishing = false;
    if (!allPublishing) this.notifier.committed();
  }

  async close(): Promise<void> {
    await this.notifier.idle();
    await this.pool.close();
  }

  /** @internal a connection of its own, outside the pool (the outbox's LISTEN and advisory-lock session). */
  async connectDedicated(applicationName: string): Promise<Client> {
    try {
      // The same timeouts as the pool's: a session that went silent fails its next statement and is replaced.
      return await this.pool.connectDedicated(applicationName);
    } catch (error) {
      throw asStoreError(error);
    }
  }

  private async withConnection<T>(fn: (connection: PoolClient) => Promise<T>): Promise<T> {
    try {
      return await this.pool.withClient(fn);
    } catch (error) {
      throw asStoreError(error);
    }
  }

  private async transaction<T>(fn: (connection: PoolClient) => Promise<T>): Promise<T> {
    try {
      return await this.pool.transaction(fn);
    } catch (error) {
      throw asStoreError(error);
    }
  }
}

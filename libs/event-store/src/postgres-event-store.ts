import { randomUUID } from 'node:crypto';
import { MikroORM } from '@mikro-orm/postgresql';
import { Migrator } from '@mikro-orm/migrations';
import { Client, type ClientBase } from 'pg';
import { advisoryLockKey } from './advisory-lock-key';
import { UNIQUE_VIOLATION, asStoreError, constraintOf, isSilentConnection, sqlState } from './database-errors';
import { EVENT_COLUMNS, type EventRow, toDate, toRecordedEvent } from './event-rows';
import { ConcurrencyError, EventStoreError, EventStoreErrorCode } from './event-store.error';
import type { AppendResult, ExpectedVersion, NewEvent, ReadStreamResult, RecordedEvent } from './events';
import { CommitNotifier } from './commit-notifier';
import {
  acceptedVersions,
  assertExpectedVersion,
  isRetriableOnConflict,
  validateExpectedVersion,
} from './expected-version';
import { type MigrationDefinition, eventStoreMigrations, toMikroOrmMigrations } from './migrations';
import { type QueryOptions, statement } from './prepared-statement';
import type { InlineProjection, InlineStatement, ProjectionContext } from './projection';
import { type SchemaNames, schemaNames } from './schema-names';

/** Where the store reports what it survives (a pino logger fits). */
export interface EventStoreLogger {
  warn(obj: object, msg?: string): void;
}

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

export interface RebuildOptions {
  /** Events per `handle` call (default 10,000; larger batches mean fewer round trips). */
  batchSize?: number;
  onProgress?(done: number, total: number): void;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const CONFLICT_RETRIES = 20;
/** Parameters of the append statement itself; inline projections' parameters follow. */
const APPEND_PARAMS = 7;
const HEALTH_CHECK_TIMEOUT_MS = 2000;
/** A new connection that hears nothing (a partition, a frozen server) is given up after this. */
const CONNECT_TIMEOUT_MS = 1_000;
/**
 * A statement on a connection that went silent fails after this instead of hanging forever (Postgres's own
 * statement_timeout cannot help: nothing reaches it). Far above any statement the store sends; under a caller's 10 s.
 */
const STATEMENT_TIMEOUT_MS = 8_000;
/** Far above any pause between the statements of the store's own transactions (rebuilds, purges). */
const IDLE_IN_TRANSACTION_TIMEOUT_MS = 3_000;

/** knex's logger hooks: warnings and errors to the store's logger, deprecations and debug output nowhere. */
function driverLog(logger: EventStoreLogger | undefined) {
  const warn = (message: unknown): void => logger?.warn({ component: 'postgres-driver' }, String(message));
  return { warn, error: warn, deprecate: () => undefined, debug: () => undefined };
}

/** The part of knex's client that hands out the pool's raw `pg` connections (for `$1` parameters and speed). */
interface RawConnectionPool {
  acquireConnection(): Promise<ClientBase>;
  releaseConnection(connection: ClientBase): Promise<void>;
}

interface AppendedRow {
  readonly previous_version: number;
  /** Null when the stream was not at an accepted version and nothing was inserted. */
  readonly position: string | null;
  readonly transaction_id: string;
  readonly stream_version: number;
  readonly created_at: Date | string;
}

/** The context of `withTransaction`: statements, and appends that commit with them. */
export interface TransactionContext extends ProjectionContext {
  appendToStream(
    streamId: string,
    events: readonly NewEvent[],
    options: { expectedVersion: ExpectedVersion },
  ): Promise<AppendResult>;
}

/** Raised inside the append transaction when another writer took the next stream version first. */
class StreamVersionTaken extends Error {}

function contextOf(connection: ClientBase): ProjectionContext {
  return {
    async execute<T>(sql: string, params?: unknown[], options?: QueryOptions): Promise<T[]> {
      const result = await connection.query(statement(sql, params, options));
      return result.rows as T[];
    },
  };
}

function prepareEvents(streamId: string, events: readonly NewEvent[]): Required<NewEvent>[] {
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
 * Append-only event streams in one Postgres table (ARCHITECTURE.md §5), after emmett's API.
 * Inline projections run in the append transaction; commits are followed by a NOTIFY on `<schema>_events`
 * that wakes the outbox.
 */
export class PostgresEventStore {
  private readonly pool: RawConnectionPool;
  private readonly projections: readonly InlineProjection[];
  private readonly notifier: CommitNotifier;
  /** This process's outbox publishers: each says whether it publishes (holds its lock) after being woken. */
  private readonly localPublishers = new Set<() => boolean>();

  private constructor(
    private readonly orm: MikroORM,
    private readonly options: EventStoreOptions,
    /** @internal table and channel names, shared with the outbox publisher. */
    readonly names: SchemaNames,
  ) {
    this.pool = orm.em.getConnection().getKnex().client as unknown as RawConnectionPool;
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
    const migrations = toMikroOrmMigrations([...eventStoreMigrations(names), ...(options.extraMigrations ?? [])]);
    const init = (): Promise<MikroORM> =>
      MikroORM.init({
        clientUrl: options.databaseUrl,
        schema: names.schema,
        entities: [],
        discovery: { warnWhenNoEntities: false },
        extensions: [Migrator],
        debug: false,
        pool: { min: 0, max: options.poolSize ?? 10 },
        driverOptions: {
          connection: {
            // Unqualified names in migrations and projections resolve to the store's schema.
            // A session whose client went silent mid-transaction is ended by the server: its transaction id would
            // otherwise hold back every outbox on the server (the xmin rule) until TCP notices.
            options: `-c search_path=${names.schema},public -c idle_in_transaction_session_timeout=${IDLE_IN_TRANSACTION_TIMEOUT_MS}`,
            application_name: options.applicationName ?? 'event-store',
            connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
            query_timeout: STATEMENT_TIMEOUT_MS,
          },
          log: driverLog(options.logger),
        },
        migrations: {
          tableName: 'mikro_orm_migrations',
          migrationsList: migrations,
          snapshot: false,
          silent: true,
          transactional: true,
          allOrNothing: true,
        },
      });
    let orm: MikroORM;
    try {
      // Two instances starting together may race to create the database; the loser connects to the winner's.
      orm = await init().catch((error: unknown) =>
        /already exists/.test(String(error)) ? init() : Promise.reject(error),
      );
    } catch (error) {
      throw asStoreError(error);
    }
    try {
      await PostgresEventStore.migrate(orm, options.databaseUrl, names);
    } catch (error) {
      await orm.close(true);
      throw asStoreError(error);
    }
    return new PostgresEventStore(orm, options, names);
  }

  /** Serialises instances starting at once: the migration run holds a session lock on its own connection. */
  private static async migrate(orm: MikroORM, databaseUrl: string, names: SchemaNames): Promise<void> {
    const lock = new Client({ connectionString: databaseUrl, application_name: 'event-store-migrations' });
    await lock.connect();
    try {
      await lock.query('select pg_advisory_lock($1)', [advisoryLockKey(`${names.schema}:migrations`)]);
      await lock.query(`create schema if not exists ${names.quotedSchema}`);
      await orm.getMigrator().up();
    } finally {
      await lock.end();
    }
  }

  async readStream(streamId: string, options: { from?: number; to?: number } = {}): Promise<ReadStreamResult> {
    const from = options.from ?? 1;
    const to = options.to ?? 2 ** 31 - 1;
    return this.withConnection(async (connection) => {
      const { rows } = await connection.query<EventRow>(
        statement(
          `select ${EVENT_COLUMNS} from ${this.names.events}
           where stream_id = $1 and stream_version between $2 and $3 order by stream_version`,
          [streamId, from, to],
          { prepared: true },
        ),
      );
      const events = rows.map(toRecordedEvent);
      const readToTheEnd = options.to === undefined && events.length > 0;
      const currentStreamVersion = readToTheEnd
        ? events[events.length - 1].streamVersion
        : await this.currentVersion(connection, streamId);
      return { events, currentStreamVersion, streamExists: currentStreamVersion > 0 };
    });
  }

  /**
   * A stream's events and the latest event of `latest.type` on `latest.streamId` (a purge that makes earlier events
   * history, say), in position order, in one round trip; no second look for the version of an empty stream.
   */
  async readStreamWithLatest(
    streamId: string,
    latest: { readonly streamId: string; readonly type: string },
  ): Promise<RecordedEvent[]> {
    return this.withConnection(async (connection) => {
      const { rows } = await connection.query<EventRow>(
        statement(
          `select ${EVENT_COLUMNS} from (
             (select ${EVENT_COLUMNS} from ${this.names.events} where stream_id = $1)
             union all
             (select ${EVENT_COLUMNS} from ${this.names.events} where stream_id = $2 and type = $3
              order by stream_version desc limit 1)
           ) e order by position`,
          [streamId, latest.streamId, latest.type],
          { prepared: true },
        ),
      );
      return rows.map(toRecordedEvent);
    });
  }

  /** The event with this id, if it was appended. */
  async findEvent(eventId: string): Promise<RecordedEvent | undefined> {
    return this.withConnection(async (connection) => {
      const { rows } = await connection.query<EventRow>(
        statement(`select ${EVENT_COLUMNS} from ${this.names.events} where event_id = $1`, [eventId], {
          prepared: true,
        }),
      );
      return rows[0] && toRecordedEvent(rows[0]);
    });
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
      const current = await this.withConnection((connection) => this.currentVersion(connection, streamId));
      assertExpectedVersion(streamId, expectedVersion, current);
      return { nextExpectedStreamVersion: current, lastEventGlobalPosition: 0n, events: [] };
    }
    // One statement is atomic on its own; a transaction is needed only when a projection writes separately.
    const inline = this.inlineStatements(streamId, prepared);
    const run = inline ? this.withConnection.bind(this) : this.transaction.bind(this);
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await run((connection) =>
          this.append(connection, streamId, prepared, expectedVersion, inline ?? []),
        );
        this.wakePublishers();
        return result;
      } catch (error) {
        if (!(error instanceof StreamVersionTaken)) throw error;
        if (isRetriableOnConflict(expectedVersion) && attempt < CONFLICT_RETRIES) continue;
        const actual = await this.withConnection((connection) => this.currentVersion(connection, streamId));
        throw new ConcurrencyError(streamId, expectedVersion, actual);
      }
    }
  }

  /**
   * The statements of every projection the events concern, when each of them has one ([] when none is concerned);
   * undefined when some projection needs `handle`.
   */
  private inlineStatements(streamId: string, events: readonly Required<NewEvent>[]): InlineStatement[] | undefined {
    const statements: InlineStatement[] = [];
    let nextParam = APPEND_PARAMS + 1;
    for (const projection of this.projections) {
      const matching = events.filter((event) => projection.eventTypes.includes(event.type));
      if (matching.length === 0) continue;
      const inline = projection.inlineStatement?.(streamId, matching, nextParam);
      if (inline === undefined) return undefined;
      statements.push(inline);
      nextParam += inline.params.length;
    }
    return statements;
  }

  /**
   * Checks the version and inserts in one statement, with the `inline` projections as CTEs of the same statement;
   * a lost race surfaces as a unique violation. Projections without an inline statement run afterwards (`handle`).
   */
  private async append(
    connection: ClientBase,
    streamId: string,
    events: readonly Required<NewEvent>[],
    expectedVersion: ExpectedVersion,
    inline: readonly InlineStatement[],
  ): Promise<AppendResult> {
    const accepted = acceptedVersions(expectedVersion);
    const projections = inline.map((projection, index) => `, projected_${index} as (${projection.sql})`).join('');
    let rows: AppendedRow[];
    try {
      ({ rows } = await connection.query<AppendedRow>(
        statement(
          `with stream as (
           select coalesce(max(stream_version), 0) as version from ${this.names.events} where stream_id = $1
         ), appended as (
           insert into ${this.names.events} (stream_id, stream_version, event_id, type, data, metadata)
           select $1, (stream.version + e.ordinal)::int, e.event_id, e.type, e.data, e.metadata
           from stream, unnest($4::uuid[], $5::text[], $6::jsonb[], $7::jsonb[])
             with ordinality as e(event_id, type, data, metadata, ordinal)
           where stream.version between $2 and $3
           order by e.ordinal
           returning position, transaction_id, stream_id, stream_version, event_id, type, data, metadata, created_at
         )${projections}
         select stream.version as previous_version, appended.position, appended.transaction_id,
                appended.stream_version, appended.created_at
         from stream left join appended on true order by appended.stream_version`,
          [
            streamId,
            accepted.min,
            accepted.max,
            events.map((event) => event.eventId),
            events.map((event) => event.type),
            events.map((event) => JSON.stringify(event.data ?? null)),
            events.map((event) => JSON.stringify(event.metadata)),
            ...inline.flatMap((projection) => projection.params),
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
    if (inline.length === 0) await this.project(recorded, contextOf(connection));
    const last = recorded[recorded.length - 1];
    return { nextExpectedStreamVersion: last.streamVersion, lastEventGlobalPosition: last.position, events: recorded };
  }

  private async project(events: readonly RecordedEvent[], context: ProjectionContext): Promise<void> {
    for (const projection of this.projections) {
      const matching = events.filter((event) => projection.eventTypes.includes(event.type));
      if (matching.length > 0) await projection.handle(matching, context);
    }
  }

  /** Every event in position order after `after` (exclusive); an empty page means the end. */
  async readAll(options: { after: bigint; limit: number }): Promise<RecordedEvent[]> {
    return this.withConnection(async (connection) => {
      const { rows } = await connection.query<EventRow>(
        `select ${EVENT_COLUMNS} from ${this.names.events} where position > $1 order by position limit $2`,
        [options.after.toString(), options.limit],
      );
      return rows.map(toRecordedEvent);
    });
  }

  /**
   * Truncates the projection and replays its events in position order, in batches, all in ONE transaction. The
   * TRUNCATE holds an ACCESS EXCLUSIVE lock on the projection's table until the commit, so every read and every
   * projected append of it waits for the whole rebuild (then appends apply on top of the rebuilt rows): nothing
   * reads half a rebuild, but the read model is unavailable meanwhile (about 0.5 s per 100k secret events here).
   * A projection with `rebuildBatch` replays each batch inside Postgres; others get the batch's events.
   */
  async rebuildProjection(
    projection: InlineProjection,
    options: RebuildOptions = {},
  ): Promise<{ events: number; seconds: number }> {
    const batchSize = options.batchSize ?? 10_000;
    const types = [...projection.eventTypes];
    const started = performance.now();
    return this.transaction(async (connection) => {
      const context = contextOf(connection);
      await projection.truncate(context);
      const { rows: countRows } = await connection.query<{ total: string }>(
        `select count(*)::text as total from ${this.names.events} where type = any($1::text[])`,
        [types],
      );
      const total = Number(countRows[0].total);
      options.onProgress?.(0, total);
      const replay = projection.rebuildBatch
        ? this.replayInDatabase.bind(this, projection.rebuildBatch.bind(projection))
        : this.replayInProcess.bind(this, projection);
      let after = '0';
      let done = 0;
      for (;;) {
        const batch = await replay(connection, context, { after, types, batchSize });
        if (batch.events === 0) break;
        done += batch.events;
        after = batch.upTo;
        options.onProgress?.(done, Math.max(total, done));
      }
      return { events: done, seconds: (performance.now() - started) / 1000 };
    });
  }

  /** Reads the next batch's events into the process and hands them to `handle`. */
  private async replayInProcess(
    projection: InlineProjection,
    connection: ClientBase,
    context: ProjectionContext,
    batch: { after: string; types: string[]; batchSize: number },
  ): Promise<{ events: number; upTo: string }> {
    const { rows } = await connection.query<EventRow>(
      `select ${EVENT_COLUMNS} from ${this.names.events}
       where position > $1 and type = any($2::text[]) order by position limit $3`,
      [batch.after, batch.types, batch.batchSize],
    );
    if (rows.length > 0) await projection.handle(rows.map(toRecordedEvent), context);
    return { events: rows.length, upTo: rows[rows.length - 1]?.position ?? batch.after };
  }

  /** Finds where the next batch ends (positions only) and lets the projection apply it with SQL. */
  private async replayInDatabase(
    rebuildBatch: NonNullable<InlineProjection['rebuildBatch']>,
    connection: ClientBase,
    context: ProjectionContext,
    batch: { after: string; types: string[]; batchSize: number },
  ): Promise<{ events: number; upTo: string }> {
    const { rows } = await connection.query<{ events: number; up_to: string | null }>(
      `select count(*)::int as events, max(position)::text as up_to from (
         select position from ${this.names.events}
         where position > $1 and type = any($2::text[]) order by position limit $3) batch`,
      [batch.after, batch.types, batch.batchSize],
    );
    const { events, up_to: upTo } = rows[0];
    if (events === 0 || upTo === null) return { events: 0, upTo: batch.after };
    await rebuildBatch(context, { after: BigInt(batch.after), upTo: BigInt(upTo) });
    return { events, upTo };
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
    connection: ClientBase,
    streamId: string,
    events: readonly NewEvent[],
    expectedVersion: ExpectedVersion,
  ): Promise<AppendResult> {
    validateExpectedVersion(expectedVersion);
    const prepared = prepareEvents(streamId, events);
    if (prepared.length === 0) {
      const current = await this.currentVersion(connection, streamId);
      assertExpectedVersion(streamId, expectedVersion, current);
      return { nextExpectedStreamVersion: current, lastEventGlobalPosition: 0n, events: [] };
    }
    for (let attempt = 1; ; attempt++) {
      await connection.query('savepoint append');
      try {
        const result = await this.append(connection, streamId, prepared, expectedVersion, []);
        await connection.query('release savepoint append');
        return result;
      } catch (error) {
        await connection.query('rollback to savepoint append');
        if (!(error instanceof StreamVersionTaken)) throw error;
        if (isRetriableOnConflict(expectedVersion) && attempt < CONFLICT_RETRIES) continue;
        throw new ConcurrencyError(streamId, expectedVersion, await this.currentVersion(connection, streamId));
      }
    }
  }

  /** One statement outside any transaction; parameters are `$1`, `$2`, …; `prepared` for hot fixed texts. */
  async query<T = Record<string, unknown>>(sql: string, params?: unknown[], options?: QueryOptions): Promise<T[]> {
    return this.withConnection(
      async (connection) => (await connection.query(statement(sql, params, options))).rows as T[],
    );
  }

  async isHealthy(): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), HEALTH_CHECK_TIMEOUT_MS);
    });
    const check = this.query('select 1').then(
      () => true,
      () => false,
    );
    try {
      return await Promise.race([check, timeout]);
    } finally {
      clearTimeout(timer);
    }
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
    await this.orm.close(true);
  }

  /** @internal a connection of its own, outside the pool (the outbox's LISTEN and advisory-lock session). */
  async connectDedicated(applicationName: string): Promise<Client> {
    // The same timeouts as the pool's: a session that went silent fails its next statement and is replaced.
    const client = new Client({
      connectionString: this.options.databaseUrl,
      application_name: applicationName,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      query_timeout: STATEMENT_TIMEOUT_MS,
    });
    try {
      await client.connect();
    } catch (error) {
      await client.end().catch(() => undefined);
      throw asStoreError(error);
    }
    return client;
  }

  private async currentVersion(connection: ClientBase, streamId: string): Promise<number> {
    const { rows } = await connection.query<{ version: number }>(
      statement(
        `select coalesce(max(stream_version), 0) as version from ${this.names.events} where stream_id = $1`,
        [streamId],
        { prepared: true },
      ),
    );
    return rows[0].version;
  }

  private async withConnection<T>(fn: (connection: ClientBase) => Promise<T>): Promise<T> {
    let connection: ClientBase;
    try {
      connection = await this.pool.acquireConnection();
    } catch (error) {
      throw asStoreError(error);
    }
    try {
      return await fn(connection);
    } catch (error) {
      // Ending it marks it disposed, so the pool discards it instead of lending out a connection that hangs.
      if (isSilentConnection(error)) void (connection as Client).end().catch(() => undefined);
      throw asStoreError(error);
    } finally {
      await this.pool.releaseConnection(connection);
    }
  }

  private async transaction<T>(fn: (connection: ClientBase) => Promise<T>): Promise<T> {
    return this.withConnection(async (connection) => {
      await connection.query('begin');
      let result: T;
      try {
        result = await fn(connection);
      } catch (error) {
        // A broken connection cannot roll back; the pool discards it and Postgres aborts the transaction.
        if (!isSilentConnection(error)) await connection.query('rollback').catch(() => undefined);
        throw error;
      }
      await connection.query('commit');
      return result;
    });
  }
}

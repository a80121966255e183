import type { Client, QueryConfig } from 'pg';
import { advisoryLockKey, statement } from '@platform/postgres';
import { EVENT_COLUMNS, type EventRow, toRecordedEvent } from './event-rows';
import { EventStoreError, EventStoreErrorCode } from './event-store.error';
import type { RecordedEvent } from './events';
import type { PostgresEventStore } from './postgres-event-store';
import { type OutboxPosition, PublicationWaiters } from './publication-waiters';

export interface OutboxLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface OutboxPublisherOptions {
  /** Checkpoint name; publishers with the same name share one checkpoint and one lock. */
  name: string;
  /**
   * Sends one event; must resolve only after the broker acknowledged it (and should dedupe by `eventId`). With
   * `pipelined`, `previous` is the event sent just before, maybe not yet acknowledged: the broker must refuse this one
   * unless `previous` is the last it stored (JetStream: `Nats-Expected-Last-Msg-Id`), which keeps the order.
   */
  publish(event: RecordedEvent, previous?: RecordedEvent): Promise<void>;
  /**
   * Sends a batch's events without waiting for each acknowledgement (default false): one broker round trip per batch
   * instead of per event. Only for a destination that nothing else publishes to, and a `publish` that honours `previous`.
   */
  pipelined?: boolean;
  /** Events read per round trip (default 100); a crash republishes at most this many. */
  batchSize?: number;
  /**
   * Only events of these types are published (default: every event). The others are read without their data and
   * metadata, and only move the checkpoint past them: a consumer of a few types does not parse every event.
   */
  eventTypes?: readonly string[];
  /** Fallback poll when no NOTIFY arrives (default 1,000 ms). */
  pollIntervalMs?: number;
  /**
   * Whether an append (this instance's, or another's NOTIFY) wakes the publisher at once (default true). A consumer
   * that may lag by `pollIntervalMs` sets false: it then reads once per interval, every append since in one batch,
   * instead of once per commit.
   */
  wakeOnAppend?: boolean;
  /** How often a standby instance tries to take over the lock (default 2,000 ms). */
  lockRetryMs?: number;
  /** Pause after a failed publish or a lost connection (default 1,000 ms). */
  retryDelayMs?: number;
  /** Advisory lock key; derived from the schema and `name` when absent. */
  lockKey?: number;
  /** While callers wait for publication, how often the checkpoint is read in case a NOTIFY was lost (default 250 ms). */
  publishedPollMs?: number;
  logger?: OutboxLogger;
}

interface Checkpoint {
  readonly transactionId: string;
  readonly position: string;
}

/**
 * The saved checkpoint names a transaction the database has not reached yet: the database was restored (logically)
 * into a cluster whose transaction ids are lower, so every new event would sort below the checkpoint and never be
 * published. The outbox refuses to publish until an operator re-bases it (`rebaseOutboxCheckpoint`).
 */
export interface CheckpointAhead {
  readonly checkpoint: Checkpoint;
  /** The next transaction id the database will assign (`pg_snapshot_xmax` of a current snapshot). */
  readonly nextTransactionId: string;
}

const silentLogger: OutboxLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };
const DRAIN_POLL_MS = 10;
/** Longest NOTIFY channel name Postgres accepts. */
const MAX_CHANNEL_LENGTH = 63;
/** Re-check interval while committed events wait behind an older transaction (instead of the idle poll). */
const HELD_BACK_POLL_MS = 20;

/** A publish callback failed; the events before it are checkpointed and it is retried after a pause. */
class PublishFailed extends Error {}

/**
 * Publishes every event exactly in (transaction_id, position) order, awaiting each publish (or, `pipelined`, each
 * batch's publishes, every one conditional on its predecessor being the broker's last), and checkpoints after each
 * batch. Only events of transactions older than every running one (below the snapshot's xmin)
 * are read, so an event whose transaction commits after a later position is never skipped.
 *
 * One instance per name publishes at a time: the holder of a session-level advisory lock, taken on a
 * dedicated connection that also LISTENs for append wake-ups, reads and writes the checkpoint — so losing
 * that connection loses the lock and forbids the checkpoint write at once. A crash between a publish and
 * the checkpoint republishes the rest of that batch; the broker dedupes by event id.
 *
 * `waitUntilPublished` lets a writer reply only once its event is on the broker: the publishing instance settles its
 * own waiters after each acknowledged publish, and NOTIFYs the checkpoint on `<schema>_published` with each checkpoint
 * write (one per batch) for the waiters of other instances, which LISTEN on their standby connection and fall back to
 * reading the checkpoint table while anyone waits.
 */
export class OutboxPublisher {
  private readonly batchSize: number;
  private readonly pollIntervalMs: number;
  private readonly lockRetryMs: number;
  private readonly retryDelayMs: number;
  private readonly lockKey: number;
  private readonly logger: OutboxLogger;

  private running = false;
  private loop?: Promise<void>;
  private connection?: Client;
  private holdsLock = false;
  private checkpoint?: Checkpoint;
  private wakeUp?: () => void;
  private wokenEarly = false;
  private stopWatchingCommits?: () => void;
  private readonly waiters = new PublicationWaiters();
  private readonly publishedPollMs: number;
  private readonly pipelined: boolean;
  /** The batch read: every column, or (with `eventTypes`) data and metadata only of the events published. */
  private readonly batchSql: string;
  private readonly eventTypes?: ReadonlySet<string>;
  private readonly publishedChannel: string;
  private readonly wakeOnAppend: boolean;
  private publishedPoll?: NodeJS.Timeout;
  private ahead?: CheckpointAhead;

  constructor(
    private readonly store: PostgresEventStore,
    private readonly options: OutboxPublisherOptions,
  ) {
    this.batchSize = options.batchSize ?? 100;
    this.pollIntervalMs = options.pollIntervalMs ?? 1000;
    this.lockRetryMs = options.lockRetryMs ?? 2000;
    this.retryDelayMs = options.retryDelayMs ?? 1000;
    this.lockKey = options.lockKey ?? advisoryLockKey(`${store.names.schema}:outbox:${options.name}`);
    this.logger = options.logger ?? silentLogger;
    this.publishedPollMs = options.publishedPollMs ?? 250;
    this.pipelined = options.pipelined ?? false;
    this.eventTypes = options.eventTypes && new Set(options.eventTypes);
    const wanted = (column: string) => `case when type = any($4::text[]) then ${column} end as ${column}`;
    const columns = options.eventTypes
      ? `position, transaction_id, stream_id, stream_version, event_id, type, ${wanted('data')}, ${wanted('metadata')},
         created_at`
      : EVENT_COLUMNS;
    this.batchSql = `select ${columns} from ${store.names.events}
         where transaction_id < pg_snapshot_xmin(pg_current_snapshot())
           and (transaction_id, position) > ($1::xid8, $2::bigint)
         order by transaction_id, position limit $3`;
    this.wakeOnAppend = options.wakeOnAppend ?? true;
    this.publishedChannel = `${store.names.schema}_published`.slice(0, MAX_CHANNEL_LENGTH);
  }

  /** Whether this instance holds the lock and is the one publishing. */
  get isPublishing(): boolean {
    return this.holdsLock;
  }

  /** Set while the saved checkpoint is ahead of the database's transaction ids: nothing is published (not ready). */
  get checkpointAhead(): CheckpointAhead | undefined {
    return this.ahead;
  }

  /** Starts contending for the lock in the background; resolves at once (failures are logged and retried). */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    // Appends in this process wake the publisher directly; a NOTIFY round trip only for other instances' appends.
    if (this.wakeOnAppend) {
      this.stopWatchingCommits = this.store.onCommitted(() => {
        if (this.holdsLock) this.wake();
        return this.holdsLock;
      });
    }
    this.loop = this.run();
  }

  /** Lets the in-flight publish finish, checkpoints it, releases the lock and closes the connection. */
  async stop(): Promise<void> {
    this.running = false;
    this.stopWatchingCommits?.();
    this.wake();
    await this.loop;
    this.loop = undefined;
    // Nothing publishes for this instance any more: its waiters hear "not yet" rather than wait out their timeout.
    clearTimeout(this.publishedPoll);
    this.publishedPoll = undefined;
    this.waiters.abandon();
  }

  /**
   * Resolves true once the event at `at` is published (acknowledged by the broker), by this instance or another one;
   * false after `timeoutMs`, or when this publisher stops first. Costs no query while this instance publishes or
   * other instances' NOTIFYs arrive.
   */
  waitUntilPublished(at: OutboxPosition, timeoutMs: number): Promise<boolean> {
    if (this.waiters.isPublished(at)) return Promise.resolve(true);
    if (!this.running) return Promise.resolve(false);
    const published = this.waiters.wait(at, timeoutMs);
    this.schedulePublishedPoll();
    return published;
  }

  /** Resolves once every event committed before the call is published, by this instance or another one. */
  async drain(): Promise<void> {
    const { events } = this.store.names;
    const [newest] = await this.store.query<{ transaction_id: string; position: string }>(
      `select transaction_id, position from ${events}
       order by transaction_id desc, position desc limit 1`,
    );
    if (!newest) return;
    for (;;) {
      if (!this.running) {
        throw new EventStoreError(
          EventStoreErrorCode.PUBLISHER_NOT_RUNNING,
          `Outbox ${this.options.name} is not running`,
        );
      }
      if (this.ahead) throw checkpointAheadError(this.options.name, this.ahead);
      const [reached] = await this.store.query<{ reached: boolean }>(
        `select (last_transaction_id, last_position) >= ($2::xid8, $3::bigint) as reached
         from ${this.store.names.outboxCheckpoints} where name = $1`,
        [this.options.name, newest.transaction_id, newest.position],
      );
      if (reached?.reached) return;
      this.wake();
      await new Promise((resolve) => setTimeout(resolve, DRAIN_POLL_MS));
    }
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        const connection = await this.connect();
        if (!this.holdsLock) {
          this.holdsLock = await this.tryLock(connection);
          if (!this.holdsLock) {
            await this.pause(this.lockRetryMs);
            continue;
          }
        }
        const published = await this.publishBatch(connection);
        if (published === 0) {
          // Committed events held back by an older transaction anywhere on the server are published as soon as it ends.
          await this.pause((await this.hasHeldBackEvents(connection)) ? HELD_BACK_POLL_MS : this.pollIntervalMs);
        }
      } catch (error) {
        if (error instanceof PublishFailed) {
          this.logger.warn({ outbox: this.options.name, err: error.cause }, 'outbox publish failed; retrying');
        } else {
          this.logger.error({ outbox: this.options.name, err: error }, 'outbox lost its database connection');
          await this.disconnect();
        }
        await this.pause(this.retryDelayMs);
      }
    }
    await this.disconnect();
  }

  private async connect(): Promise<Client> {
    if (this.connection) return this.connection;
    const connection = await this.store.connectDedicated(`outbox:${this.options.name}`);
    // Without an error listener a dropped idle connection would crash the process.
    connection.on('error', (error) => {
      this.logger.warn({ outbox: this.options.name, err: error }, 'outbox connection error');
      this.wake();
    });
    connection.on('notification', (notification) => {
      if (notification.channel === this.publishedChannel) this.heardPublished(notification.payload);
      else if (this.holdsLock && this.wakeOnAppend) this.wake();
    });
    this.connection = connection;
    await connection.query(`listen "${this.store.names.eventsChannel}"; listen "${this.publishedChannel}"`);
    return connection;
  }

  /**
   * Takes the lock unless another instance holds it, and reads the checkpoint. A checkpoint ahead of the database's
   * transaction ids is refused by every instance, holder or standby (not ready, and the lock is let go of so that the
   * ops command can re-base it).
   */
  private async tryLock(connection: Client): Promise<boolean> {
    const { rows: lock } = await connection.query<{ locked: boolean }>('select pg_try_advisory_lock($1) as locked', [
      this.lockKey,
    ]);
    const locked = lock[0].locked;
    const { outboxCheckpoints } = this.store.names;
    if (locked) {
      await connection.query(`insert into ${outboxCheckpoints} (name) values ($1) on conflict do nothing`, [
        this.options.name,
      ]);
    }
    // Another instance may have published since this one last held the lock.
    const { rows } = await connection.query<{ transaction_id: string; position: string; next_transaction_id: string }>(
      `select last_transaction_id as transaction_id, last_position as position,
              pg_snapshot_xmax(pg_current_snapshot()) as next_transaction_id
       from ${outboxCheckpoints} where name = $1`,
      [this.options.name],
    );
    const saved = rows[0];
    const checkpoint = saved && { transactionId: saved.transaction_id, position: saved.position };
    if (checkpoint && BigInt(checkpoint.transactionId) >= BigInt(saved.next_transaction_id)) {
      if (locked) await connection.query('select pg_advisory_unlock($1)', [this.lockKey]);
      this.refuse({ checkpoint, nextTransactionId: saved.next_transaction_id });
      return false;
    }
    if (this.ahead) {
      this.ahead = undefined;
      this.logger.info({ outbox: this.options.name, checkpoint }, 'outbox checkpoint re-based; publishing again');
    }
    if (!locked) return false;
    this.checkpoint = checkpoint;
    this.waiters.advance(checkpoint);
    this.logger.info({ outbox: this.options.name, checkpoint }, 'outbox publisher took the lock');
    return true;
  }

  private refuse(ahead: CheckpointAhead): void {
    if (this.ahead === undefined) {
      this.logger.error(
        { outbox: this.options.name, ...ahead },
        `${checkpointAheadError(this.options.name, ahead).message}; refusing to publish`,
      );
    }
    this.ahead = ahead;
  }

  private async publishBatch(connection: Client): Promise<number> {
    const checkpoint = this.checkpoint!;
    const { rows } = await connection.query<EventRow>(
      statement(
        this.batchSql,
        [
          checkpoint.transactionId,
          checkpoint.position,
          this.batchSize,
          ...(this.options.eventTypes ? [this.options.eventTypes] : []),
        ],
        { prepared: true },
      ),
    );
    let published: EventRow | undefined;
    const acknowledged = (row: EventRow): void => {
      published = row;
      // Acknowledged by the broker: this process's waiters need not wait for the checkpoint.
      this.waiters.advance({ transactionId: row.transaction_id, position: row.position });
    };
    const inFlight: { readonly row: EventRow; readonly sent: Promise<void> }[] = [];
    try {
      let previous: RecordedEvent | undefined;
      for (const row of rows) {
        if (!this.running) break;
        if (this.eventTypes && !this.eventTypes.has(row.type)) {
          // Passed over, but in order: the checkpoint moves past it once what was sent before it is acknowledged.
          inFlight.push({ row, sent: Promise.resolve() });
          continue;
        }
        const event = toRecordedEvent(row);
        const sent = this.options.publish(event, this.pipelined ? previous : undefined);
        // Settled in order below; a refusal after an earlier one must not be an unhandled rejection.
        sent.catch(() => undefined);
        inFlight.push({ row, sent });
        // The first event of a batch has nothing the broker could check it against: it is acknowledged alone.
        const first = previous === undefined;
        previous = event;
        if (!this.pipelined || first) await this.settle(inFlight, acknowledged);
      }
      await this.settle(inFlight, acknowledged);
    } finally {
      await Promise.allSettled(inFlight.map(({ sent }) => sent));
      if (published) await this.saveCheckpoint(connection, published);
    }
    return rows.length;
  }

  /** Awaits the sent events' acknowledgements in order; the first refusal ends the batch there. */
  private async settle(
    inFlight: { readonly row: EventRow; readonly sent: Promise<void> }[],
    acknowledged: (row: EventRow) => void,
  ): Promise<void> {
    while (inFlight.length > 0) {
      const { row, sent } = inFlight[0];
      try {
        await sent;
      } catch (error) {
        throw new PublishFailed(`Publishing event ${row.event_id} failed`, { cause: error });
      }
      inFlight.shift();
      acknowledged(row);
    }
  }

  /** Whether committed events past the checkpoint exist that the xmin rule does not let through yet. */
  private async hasHeldBackEvents(connection: Client): Promise<boolean> {
    const checkpoint = this.checkpoint!;
    const { rows } = await connection.query<{ held: boolean }>(
      statement(
        `select exists (select 1 from ${this.store.names.events}
                        where (transaction_id, position) > ($1::xid8, $2::bigint)) as held`,
        [checkpoint.transactionId, checkpoint.position],
        { prepared: true },
      ),
    );
    return rows[0].held;
  }

  /** Writes the checkpoint and, in the same statement, tells other instances' waiters how far publishing got. */
  private async saveCheckpoint(connection: Client, row: EventRow): Promise<void> {
    await connection.query(
      statement(
        `with saved as (
           update ${this.store.names.outboxCheckpoints}
           set last_transaction_id = $2::xid8, last_position = $3::bigint, updated_at = now() where name = $1
           returning 1)
         select pg_notify($4, $5) from saved`,
        [
          this.options.name,
          row.transaction_id,
          row.position,
          this.publishedChannel,
          `${this.options.name} ${row.transaction_id} ${row.position}`,
        ],
        { prepared: true },
      ),
    );
    this.checkpoint = { transactionId: row.transaction_id, position: row.position };
  }

  /** A checkpoint NOTIFY: `<name> <transaction id> <position>`; other outboxes of the schema share the channel. */
  private heardPublished(payload: string | undefined): void {
    const [name, transactionId, position] = (payload ?? '').split(' ');
    if (name !== this.options.name || !/^\d+$/.test(transactionId ?? '') || !/^\d+$/.test(position ?? '')) return;
    this.waiters.advance({ transactionId, position });
  }

  /** While anyone waits, reads the checkpoint now and then: a NOTIFY is lost while the LISTEN connection is down. */
  private schedulePublishedPoll(): void {
    if (this.publishedPoll !== undefined) return;
    this.publishedPoll = setTimeout(() => void this.pollPublished(), this.publishedPollMs);
  }

  private async pollPublished(): Promise<void> {
    try {
      // The publishing instance advances its waiters itself, after each acknowledged publish.
      if (!this.holdsLock && this.waiters.size > 0) {
        const [checkpoint] = await this.store.query<{ transaction_id: string; position: string }>(
          // A checkpoint ahead of the database's transaction ids (a restore) vouches for nothing.
          `select last_transaction_id::text as transaction_id, last_position::text as position
           from ${this.store.names.outboxCheckpoints}
           where name = $1 and last_transaction_id < pg_snapshot_xmax(pg_current_snapshot())`,
          [this.options.name],
          { prepared: true },
        );
        if (checkpoint)
          this.waiters.advance({ transactionId: checkpoint.transaction_id, position: checkpoint.position });
      }
    } catch (error) {
      this.logger.warn({ outbox: this.options.name, err: error }, 'could not read the outbox checkpoint');
    } finally {
      this.publishedPoll = undefined;
      if (this.waiters.size > 0 && this.running) this.schedulePublishedPoll();
    }
  }

  /** Closing the session releases the advisory lock with it. */
  private async disconnect(): Promise<void> {
    const connection = this.connection;
    this.connection = undefined;
    if (this.holdsLock) this.logger.info({ outbox: this.options.name }, 'outbox publisher released the lock');
    this.holdsLock = false;
    this.checkpoint = undefined;
    await connection?.end().catch(() => undefined);
  }

  /** Waits `ms`, or less when woken by a NOTIFY, a drain or stop. */
  private pause(ms: number): Promise<void> {
    if (this.wokenEarly || !this.running) {
      this.wokenEarly = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.wakeUp = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakeUp = done;
    });
  }

  private wake(): void {
    if (this.wakeUp) this.wakeUp();
    else this.wokenEarly = true;
  }
}

function checkpointAheadError(name: string, ahead: CheckpointAhead): EventStoreError {
  return new EventStoreError(
    EventStoreErrorCode.CHECKPOINT_AHEAD,
    `Outbox ${name}: its checkpoint (transaction ${ahead.checkpoint.transactionId}, position ` +
      `${ahead.checkpoint.position}) is ahead of the database's next transaction id ${ahead.nextTransactionId}, ` +
      'as after a logical restore: new events would never be published. Run `secrets outbox rebase` ' +
      '(ARCHITECTURE.md §5)',
  );
}

export interface CheckpointRebase {
  /** The checkpoint that was ahead. */
  readonly before: Checkpoint;
  readonly after: Checkpoint;
  /** Events at or before the old checkpoint: published already, now ordered first. */
  readonly published: number;
  /** Events after the old checkpoint whose transaction ids were ahead too: queued before every newer event. */
  readonly queued: number;
}

/** Transaction ids below every id Postgres assigns (the first normal one is 3): the re-based order's first places. */
const REBASED_PUBLISHED = '1';
const REBASED_QUEUED = '2';
/** How long the re-base waits for the outbox lock: longer than an instance holds it to find the checkpoint ahead. */
const REBASE_LOCK_WAIT_MS = 5_000;
/** Postgres: lock_timeout expired. */
const LOCK_NOT_AVAILABLE = '55P03';
/** The re-base rewrites every restored event: no 8 s statement cap (pg reads `query_timeout` per query too). */
const REWRITE_TIMEOUT_MS = 60 * 60 * 1000;

function rewrite(text: string, values: unknown[]): QueryConfig {
  return { text, values, query_timeout: REWRITE_TIMEOUT_MS } as QueryConfig;
}

/**
 * Re-bases an outbox whose checkpoint is ahead of the database's transaction ids (a logical restore into another
 * cluster). Restored events are those at or below the checkpoint's position or the last restored event whose id is
 * ahead (positions come from a sequence restored with them, so events written since are above all of them). In one
 * transaction, the restored events the old checkpoint covered take transaction id 1 (published; their order among
 * themselves is their position), the other restored events take 2 (never published: next, by position), and the
 * checkpoint becomes the last of the first group. Events written since the restore keep their ids (3 and above) and
 * follow, in their order. Refused while a publisher holds the outbox's lock and when the checkpoint is not ahead.
 */
export async function rebaseOutboxCheckpoint(
  store: PostgresEventStore,
  options: { readonly name: string; readonly lockKey?: number; readonly lockWaitMs?: number },
): Promise<CheckpointRebase> {
  const { events, outboxCheckpoints, schema } = store.names;
  const lockKey = options.lockKey ?? advisoryLockKey(`${schema}:outbox:${options.name}`);
  const connection = await store.connectDedicated(`outbox-rebase:${options.name}`);
  try {
    // Refusing instances take the lock only for a moment at a time; a publishing one keeps it.
    await connection.query(`set lock_timeout = ${Math.trunc(options.lockWaitMs ?? REBASE_LOCK_WAIT_MS)}`);
    try {
      await connection.query('select pg_advisory_lock($1)', [lockKey]);
    } catch (error) {
      if ((error as { code?: string }).code !== LOCK_NOT_AVAILABLE) throw error;
      throw new EventStoreError(
        EventStoreErrorCode.INVALID_ARGUMENT,
        `Outbox ${options.name} is publishing (an instance holds its lock), so its checkpoint is not ahead`,
      );
    }
    await connection.query('begin');
    try {
      const { rows } = await connection.query<{ transaction_id: string; position: string; next: string }>(
        `select last_transaction_id as transaction_id, last_position as position,
                pg_snapshot_xmax(pg_current_snapshot()) as next
         from ${outboxCheckpoints} where name = $1 for update`,
        [options.name],
      );
      const before = rows[0] && { transactionId: rows[0].transaction_id, position: rows[0].position };
      if (!before || BigInt(before.transactionId) < BigInt(rows[0].next)) {
        throw new EventStoreError(
          EventStoreErrorCode.INVALID_ARGUMENT,
          `Outbox ${options.name}: the checkpoint is not ahead of the database's transaction ids; nothing to re-base`,
        );
      }
      // Restored events: every one at or below the checkpoint's position or a restored id ahead; events written since
      // the restore come after all of them (the position sequence was restored with them).
      const { rows: bound } = await connection.query<{ restored: string }>(
        `select greatest($1::bigint, coalesce(max(position), 0))::text as restored
         from ${events} where transaction_id >= $2::xid8`,
        [before.position, rows[0].next],
      );
      const restored = bound[0].restored;
      const { rows: published } = await connection.query<{ count: string; last: string | null }>(
        rewrite(
          `with moved as (
             update ${events} set transaction_id = '${REBASED_PUBLISHED}'
             where position <= $3::bigint and (transaction_id, position) <= ($1::xid8, $2::bigint) returning position)
           select count(*)::text as count, max(position)::text as last from moved`,
          [before.transactionId, before.position, restored],
        ),
      );
      const { rowCount: queued } = await connection.query(
        rewrite(
          `update ${events} set transaction_id = '${REBASED_QUEUED}'
           where position <= $3::bigint and (transaction_id, position) > ($1::xid8, $2::bigint)`,
          [before.transactionId, before.position, restored],
        ),
      );
      const after = { transactionId: REBASED_PUBLISHED, position: published[0].last ?? '0' };
      await connection.query(
        `update ${outboxCheckpoints} set last_transaction_id = $2::xid8, last_position = $3::bigint, updated_at = now()
         where name = $1`,
        [options.name, after.transactionId, after.position],
      );
      await connection.query('commit');
      return { before, after, published: Number(published[0].count), queued: queued ?? 0 };
    } catch (error) {
      await connection.query('rollback').catch(() => undefined);
      throw error;
    }
  } finally {
    await connection.end().catch(() => undefined);
  }
}

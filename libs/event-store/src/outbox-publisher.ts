import type { Client } from 'pg';
import { advisoryLockKey } from './advisory-lock-key';
import { EVENT_COLUMNS, type EventRow, toRecordedEvent } from './event-rows';
import { EventStoreError, EventStoreErrorCode } from './event-store.error';
import type { RecordedEvent } from './events';
import type { PostgresEventStore } from './postgres-event-store';
import { statement } from './prepared-statement';
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
  /** Fallback poll when no NOTIFY arrives (default 1,000 ms). */
  pollIntervalMs?: number;
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
  private readonly publishedChannel: string;
  private publishedPoll?: NodeJS.Timeout;

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
    this.publishedChannel = `${store.names.schema}_published`.slice(0, MAX_CHANNEL_LENGTH);
  }

  /** Whether this instance holds the lock and is the one publishing. */
  get isPublishing(): boolean {
    return this.holdsLock;
  }

  /** Starts contending for the lock in the background; resolves at once (failures are logged and retried). */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    // Appends in this process wake the publisher directly; a NOTIFY round trip only for other instances' appends.
    this.stopWatchingCommits = this.store.onCommitted(() => {
      if (this.holdsLock) this.wake();
      return this.holdsLock;
    });
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
      else if (this.holdsLock) this.wake();
    });
    this.connection = connection;
    await connection.query(`listen "${this.store.names.eventsChannel}"; listen "${this.publishedChannel}"`);
    return connection;
  }

  private async tryLock(connection: Client): Promise<boolean> {
    const { rows: lock } = await connection.query<{ locked: boolean }>('select pg_try_advisory_lock($1) as locked', [
      this.lockKey,
    ]);
    if (!lock[0].locked) return false;
    const { outboxCheckpoints } = this.store.names;
    await connection.query(`insert into ${outboxCheckpoints} (name) values ($1) on conflict do nothing`, [
      this.options.name,
    ]);
    // Another instance may have published since this one last held the lock.
    const { rows } = await connection.query<{ transaction_id: string; position: string }>(
      `select last_transaction_id as transaction_id, last_position as position
       from ${outboxCheckpoints} where name = $1`,
      [this.options.name],
    );
    this.checkpoint = { transactionId: rows[0].transaction_id, position: rows[0].position };
    this.waiters.advance(this.checkpoint);
    this.logger.info({ outbox: this.options.name, checkpoint: this.checkpoint }, 'outbox publisher took the lock');
    return true;
  }

  private async publishBatch(connection: Client): Promise<number> {
    const checkpoint = this.checkpoint!;
    const { rows } = await connection.query<EventRow>(
      statement(
        `select ${EVENT_COLUMNS} from ${this.store.names.events}
         where transaction_id < pg_snapshot_xmin(pg_current_snapshot())
           and (transaction_id, position) > ($1::xid8, $2::bigint)
         order by transaction_id, position limit $3`,
        [checkpoint.transactionId, checkpoint.position, this.batchSize],
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
      for (const [index, row] of rows.entries()) {
        if (!this.running) break;
        const event = toRecordedEvent(row);
        const sent = this.options.publish(event, this.pipelined ? previous : undefined);
        // Settled in order below; a refusal after an earlier one must not be an unhandled rejection.
        sent.catch(() => undefined);
        inFlight.push({ row, sent });
        previous = event;
        // The first event of a batch has nothing the broker could check it against: it is acknowledged alone.
        if (!this.pipelined || index === 0) await this.settle(inFlight, acknowledged);
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
          `select last_transaction_id::text as transaction_id, last_position::text as position
           from ${this.store.names.outboxCheckpoints} where name = $1`,
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

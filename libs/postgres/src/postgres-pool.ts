import { Client, type ClientConfig, type CustomTypesConfig, Pool, type PoolClient } from 'pg';
import { isSilentConnection } from './postgres-errors';
import { type QueryOptions, statement } from './prepared-statement';

/** A new connection that hears nothing (a partition, a frozen server) is given up after this. */
export const CONNECT_TIMEOUT_MS = 1_000;
/**
 * A session whose client went silent mid-transaction is ended by the server after this: its open transaction id would
 * otherwise hold back every outbox on the server (their xmin rule) until TCP notices, and writes would wait for it.
 * Far above any pause between the statements of a store's own transactions.
 */
export const IDLE_IN_TRANSACTION_TIMEOUT_MS = 3_000;

/** Where a pool reports what it survives (a pino logger fits). */
export interface PostgresLogger {
  warn(obj: object, msg?: string): void;
}

export interface PostgresPoolOptions {
  /** e.g. `postgresql://postgres@127.0.0.1:5432/secrets`. */
  readonly databaseUrl: string;
  /** Shown in `pg_stat_activity`. */
  readonly applicationName: string;
  readonly poolSize: number;
  /**
   * A statement on a connection that went silent fails after this instead of hanging forever (Postgres's own
   * statement_timeout cannot help: nothing reaches it). Far above any statement the store sends.
   */
  readonly statementTimeoutMs: number;
  /** How long a checkout waits for a free connection before the database counts as unavailable. */
  readonly acquireTimeoutMs: number;
  /** Unqualified names resolve to this schema first (then `public`). */
  readonly schema?: string;
  /** The driver's type parsers, when the store's callers expect other than pg's defaults. */
  readonly types?: CustomTypesConfig;
  /** Receives the failures of idle connections, which would otherwise be dropped. */
  readonly logger?: PostgresLogger;
}

/** The server-side settings of every pooled session. */
export function sessionOptions(schema?: string): string {
  const searchPath = schema === undefined ? '' : `-c search_path=${schema},public `;
  return `${searchPath}-c idle_in_transaction_session_timeout=${IDLE_IN_TRANSACTION_TIMEOUT_MS}`;
}

/**
 * The connections of one store, with the plumbing every store needs once: timeouts, a connection that stopped
 * answering discarded rather than lent out again, transactions, and a bounded health check. Errors are the driver's;
 * a store names "unavailable" with `isUnavailable`.
 */
export class PostgresPool {
  private readonly pool: Pool;

  constructor(private readonly options: PostgresPoolOptions) {
    // The pool's `connectionTimeoutMillis` bounds the wait for a free connection; each new connection has its own.
    const connectTimeout = class extends Client {
      constructor(config?: ClientConfig) {
        super({ ...config, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
      }
    };
    this.pool = new Pool({
      connectionString: options.databaseUrl,
      application_name: options.applicationName,
      max: options.poolSize,
      connectionTimeoutMillis: options.acquireTimeoutMs,
      query_timeout: options.statementTimeoutMs,
      options: sessionOptions(options.schema),
      ...(options.types ? { types: options.types } : {}),
      Client: connectTimeout,
    });
    // An idle connection lost its server; the next checkout reconnects.
    this.pool.on('error', (error) =>
      options.logger?.warn({ component: 'postgres-driver' }, `Connection error (idle): ${error.message}`),
    );
  }

  /**
   * Lends a connection to `work`. One that failed meanwhile (an error event, or a statement that timed out on a
   * silent connection) is discarded, not handed back to the pool.
   */
  async withClient<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    // The pool stops listening to a client it lends out: unheard, a dropped connection would crash the process.
    let lost: Error | undefined;
    const onError = (error: Error): void => {
      lost = error;
    };
    client.on('error', onError);
    try {
      return await work(client);
    } catch (error) {
      if (isSilentConnection(error)) lost = error as Error;
      throw error;
    } finally {
      client.removeListener('error', onError);
      client.release(lost);
    }
  }

  /** Runs `work` in a transaction: committed when it resolves, rolled back when it throws. */
  async transaction<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    return this.withClient(async (client) => {
      await client.query('begin');
      try {
        const result = await work(client);
        await client.query('commit');
        return result;
      } catch (error) {
        // A silent connection cannot roll back: it is discarded and Postgres aborts the transaction.
        if (!isSilentConnection(error)) await client.query('rollback').catch(() => undefined);
        throw error;
      }
    });
  }

  /** One statement outside any transaction; parameters are `$1`, `$2`, …; `prepared` for hot fixed texts. */
  async query<T = Record<string, unknown>>(text: string, params?: unknown[], options?: QueryOptions): Promise<T[]> {
    return this.withClient(async (client) => (await client.query(statement(text, params, options))).rows as T[]);
  }

  /** Whether a trivial statement is answered within `timeoutMs`. */
  async isHealthy(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const check = this.query('select 1', [], { timeoutMs }).then(
      () => true,
      () => false,
    );
    try {
      return await Promise.race([check, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * A connection of its own, outside the pool, with the same timeouts (a LISTEN or a session-level advisory lock);
   * the caller ends it.
   */
  async connectDedicated(applicationName: string, options: { keepAlive?: boolean } = {}): Promise<Client> {
    const client = new Client({
      connectionString: this.options.databaseUrl,
      application_name: applicationName,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      query_timeout: this.options.statementTimeoutMs,
      ...(options.keepAlive ? { keepAlive: true } : {}),
    });
    try {
      await client.connect();
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    return client;
  }

  private closing: Promise<void> | undefined;

  /** Ends every connection; closing again waits for the same end. */
  close(): Promise<void> {
    this.closing ??= this.pool.end();
    return this.closing;
  }
}

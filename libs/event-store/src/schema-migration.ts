import { MikroORM } from '@mikro-orm/postgresql';
import { Migrator } from '@mikro-orm/migrations';
import { advisoryLockKey, CONNECT_TIMEOUT_MS, type PostgresLogger, sessionOptions } from '@platform/postgres';
import { Client } from 'pg';
import { asStoreError } from './database-errors';
import { type MigrationDefinition, eventStoreMigrations, toMikroOrmMigrations } from './migrations';
import { type SchemaNames } from './schema-names';

/** knex's logger hooks: warnings and errors to the store's logger, deprecations and debug output nowhere. */
function driverLog(logger: PostgresLogger | undefined) {
  const warn = (message: unknown): void => logger?.warn({ component: 'postgres-driver' }, String(message));
  return { warn, error: warn, deprecate: () => undefined, debug: () => undefined };
}

/**
 * Creates the database and the schema when missing and runs the pending migrations (the store's, then `extra`),
 * with MikroORM's migrator; the ORM lives only for this run.
 */
export async function migrateSchema(options: {
  readonly databaseUrl: string;
  readonly names: SchemaNames;
  readonly extraMigrations: readonly MigrationDefinition[];
  readonly applicationName: string;
  readonly logger?: PostgresLogger;
}): Promise<void> {
  const { names } = options;
  const migrations = toMikroOrmMigrations([...eventStoreMigrations(names), ...options.extraMigrations]);
  const init = (): Promise<MikroORM> =>
    MikroORM.init({
      clientUrl: options.databaseUrl,
      schema: names.schema,
      entities: [],
      discovery: { warnWhenNoEntities: false },
      extensions: [Migrator],
      debug: false,
      pool: { min: 0, max: 2 },
      driverOptions: {
        connection: {
          // Unqualified names in migrations resolve to the store's schema.
          options: sessionOptions(names.schema),
          application_name: options.applicationName,
          connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
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
    await migrateLocked(orm, options.databaseUrl, names);
  } catch (error) {
    throw asStoreError(error);
  } finally {
    await orm.close(true);
  }
}

/** Serialises instances starting at once: the migration run holds a session lock on its own connection. */
async function migrateLocked(orm: MikroORM, databaseUrl: string, names: SchemaNames): Promise<void> {
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

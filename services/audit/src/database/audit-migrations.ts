import { type MigrationObject, MikroORM } from '@mikro-orm/core';
import { Migration, Migrator } from '@mikro-orm/migrations';
import { PostgreSqlDriver } from '@mikro-orm/postgresql';
import { Client } from 'pg';

/** The audit service's own Postgres schema (ARCHITECTURE.md §9). */
export const AUDIT_SCHEMA = 'audit';

/** Never edit a released migration: add a new class to the list. */
class AuditRecords0001 extends Migration {
  override up(): void {
    this.addSql(`create table audit.records (
      sequence bigint primary key,
      event_id uuid not null constraint records_event_id_unique unique,
      type text not null,
      organization_id text not null,
      customer_organization_id text,
      key text,
      version integer not null,
      actor_sub text not null,
      actor_org text not null,
      actor_role text not null,
      occurred_at timestamptz not null,
      recorded_at timestamptz not null,
      resolved jsonb not null default '[]',
      prev_hash text not null,
      hash text not null
    )`);
    // Queries always name the vendor organization and read newest first.
    this.addSql('create index records_org_sequence on audit.records (organization_id, sequence)');
    this.addSql(
      'create index records_org_customer_sequence on audit.records (organization_id, customer_organization_id, sequence)',
    );
    this.addSql('create index records_org_key_sequence on audit.records (organization_id, key, sequence)');
    this.addSql('create index records_org_actor_sequence on audit.records (organization_id, actor_sub, sequence)');
    this.addSql(
      `create index records_resolved_keys on audit.records using gin (resolved jsonb_path_ops) where resolved <> '[]'`,
    );
    // One row per vendor organization: the end of its hash chain, locked while records are appended.
    this.addSql(`create table audit.chain_heads (
      organization_id text primary key,
      last_sequence bigint not null,
      last_hash text not null,
      record_count bigint not null
    )`);
    // The stream sequence applied so far: every instance applies SECRETS_EVENTS strictly in order after it.
    this.addSql(`create table audit.applied_position (
      id smallint primary key default 1 check (id = 1),
      stream_sequence bigint not null default 0,
      last_occurred_at timestamptz,
      updated_at timestamptz not null default now()
    )`);
    this.addSql('insert into audit.applied_position (id) values (1)');
  }
}

/**
 * Fewer, smaller indexes for the apply path, each still serving a query path (AuditStore.query and verifyChain):
 * - the primary key becomes (organization_id, sequence), which every query and the chain verification read by, so
 *   the separate `records_org_sequence` goes; stream sequences stay unique because the applier takes each one once,
 *   after the applied position and under its row lock;
 * - the customer and key indexes hold only the rows that have a customer or a key: a filter on either is an
 *   equality, which implies not null, so the planner still uses them (the access-event key search uses the GIN).
 */
class AuditLeanerIndexes0002 extends Migration {
  override up(): void {
    this.addSql('alter table audit.records drop constraint records_pkey');
    this.addSql('alter table audit.records add constraint records_pkey primary key (organization_id, sequence)');
    this.addSql('drop index audit.records_org_sequence');
    this.addSql('drop index audit.records_org_customer_sequence');
    this.addSql(
      `create index records_org_customer_sequence on audit.records (organization_id, customer_organization_id, sequence)
        where customer_organization_id is not null`,
    );
    this.addSql('drop index audit.records_org_key_sequence');
    this.addSql(
      'create index records_org_key_sequence on audit.records (organization_id, key, sequence) where key is not null',
    );
  }
}

/**
 * Runs of SECRETS_EVENTS sequences found deleted from the stream. The applier stops at one until ops acknowledge it
 * (`secrets audit acknowledge-gap`); the row keeps who acknowledged it and when.
 */
class AuditStreamGaps0003 extends Migration {
  override up(): void {
    this.addSql(`create table audit.stream_gaps (
      from_sequence bigint primary key,
      to_sequence bigint not null check (to_sequence >= from_sequence),
      detected_at timestamptz not null default now(),
      acknowledged_at timestamptz,
      acknowledged_by text
    )`);
  }
}

/**
 * Attribution of resolves (issue 18): who asked the service that resolved, and for which deployment. Null in every
 * record written before, and in every record but SecretValuesResolved. Queries by actor read either sub; both new
 * indexes hold only the rows that have a value.
 */
class AuditAttribution0004 extends Migration {
  override up(): void {
    this.addSql(`alter table audit.records
      add column requested_by_sub text, add column requested_by_org text, add column requested_by_role text,
      add column deployment_id text`);
    this.addSql(
      `create index records_org_requester_sequence on audit.records (organization_id, requested_by_sub, sequence)
        where requested_by_sub is not null`,
    );
    this.addSql(
      `create index records_org_deployment_sequence on audit.records (organization_id, deployment_id, sequence)
        where deployment_id is not null`,
    );
  }
}

export const AUDIT_MIGRATIONS: readonly MigrationObject[] = [
  { name: 'audit_0001_records', class: AuditRecords0001 },
  { name: 'audit_0002_leaner_indexes', class: AuditLeanerIndexes0002 },
  { name: 'audit_0003_stream_gaps', class: AuditStreamGaps0003 },
  { name: 'audit_0004_attribution', class: AuditAttribution0004 },
];

function databaseNameOf(databaseUrl: string): string {
  return decodeURIComponent(new URL(databaseUrl).pathname.replace(/^\//, '')) || 'postgres';
}

/** Creates the database named in DATABASE_URL when the server does not have it yet. */
async function ensureDatabase(databaseUrl: string): Promise<void> {
  const name = databaseNameOf(databaseUrl);
  const adminUrl = new URL(databaseUrl);
  adminUrl.pathname = '/postgres';
  const admin = new Client({ connectionString: adminUrl.toString() });
  await admin.connect();
  try {
    const { rowCount } = await admin.query('select 1 from pg_database where datname = $1', [name]);
    if (rowCount === 0) {
      await admin.query(`create database "${name.replace(/"/g, '""')}"`).catch((error: { code?: string }) => {
        if (error.code !== '42P04') throw error; // created by a concurrent starter
      });
    }
  } finally {
    await admin.end();
  }
}

/**
 * Creates the database and the `audit` schema if missing and applies pending migrations (MikroORM, recorded in
 * `audit.mikro_orm_migrations`). Safe when several instances start at once: an advisory lock serializes them.
 * `npm run migrate` calls this too.
 *
 * @param options.through stop after this migration (tests of a later migration over data written before it)
 */
export async function migrateAuditDatabase(databaseUrl: string, options: { through?: string } = {}): Promise<string[]> {
  await ensureDatabase(databaseUrl);
  const lock = new Client({ connectionString: databaseUrl });
  await lock.connect();
  try {
    await lock.query(`select pg_advisory_lock(hashtext('audit.migrations'))`);
    await lock.query(`create schema if not exists ${AUDIT_SCHEMA}`);
    const orm = await MikroORM.init<PostgreSqlDriver>({
      driver: PostgreSqlDriver,
      clientUrl: databaseUrl,
      entities: [],
      discovery: { warnWhenNoEntities: false },
      extensions: [Migrator],
      allowGlobalContext: true,
      debug: false,
      migrations: {
        tableName: `${AUDIT_SCHEMA}.mikro_orm_migrations`,
        migrationsList: [...AUDIT_MIGRATIONS],
        transactional: true,
        allOrNothing: true,
        snapshot: false,
        silent: true,
      },
    });
    try {
      const applied = await orm.getMigrator().up(options.through === undefined ? undefined : { to: options.through });
      return applied.map((migration) => migration.name);
    } finally {
      await orm.close(true);
    }
  } finally {
    await lock.query(`select pg_advisory_unlock(hashtext('audit.migrations'))`).catch(() => undefined);
    await lock.end();
  }
}

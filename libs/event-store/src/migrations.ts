import type { MigrationObject } from '@mikro-orm/core';
import { Migration } from '@mikro-orm/migrations';
import { EventStoreError, EventStoreErrorCode } from './event-store.error';
import type { SchemaNames } from './schema-names';

/**
 * One schema change, applied once per schema and recorded by name in `<schema>.mikro_orm_migrations`.
 * Statements run in one transaction with `search_path` = `<schema>, public`, so unqualified names land in the
 * store's schema. Never edit a released migration: add a new one.
 */
export interface MigrationDefinition {
  readonly name: string;
  readonly up: readonly string[];
}

/** The event store's own schema, in order; services append theirs through `extraMigrations`. */
export function eventStoreMigrations(names: SchemaNames): MigrationDefinition[] {
  return [
    {
      name: 'event_store_0001_events',
      up: [
        `create table ${names.events} (
          position bigserial primary key,
          transaction_id xid8 not null default pg_current_xact_id(),
          stream_id text not null,
          stream_version integer not null check (stream_version > 0),
          event_id uuid not null constraint events_event_id_unique unique,
          type text not null,
          data jsonb not null,
          metadata jsonb not null,
          created_at timestamptz not null default now(),
          constraint events_stream_version_unique unique (stream_id, stream_version)
        )`,
        // The outbox reads in commit-safe (transaction_id, position) order.
        `create index events_transaction_order on ${names.events} (transaction_id, position)`,
        `create table ${names.outboxCheckpoints} (
          name text primary key,
          last_transaction_id xid8 not null default '0',
          last_position bigint not null default 0,
          updated_at timestamptz not null default now()
        )`,
      ],
    },
  ];
}

/** Wraps plain SQL definitions as the migration classes MikroORM's migrator runs from `migrationsList`. */
export function toMikroOrmMigrations(definitions: readonly MigrationDefinition[]): MigrationObject[] {
  const seen = new Set<string>();
  return definitions.map((definition) => {
    if (seen.has(definition.name)) {
      throw new EventStoreError(EventStoreErrorCode.INVALID_ARGUMENT, `Duplicate migration name ${definition.name}`);
    }
    seen.add(definition.name);
    const statements = [...definition.up];
    class SqlMigration extends Migration {
      override up(): void {
        for (const statement of statements) this.addSql(statement);
      }
    }
    return { name: definition.name, class: SqlMigration };
  });
}

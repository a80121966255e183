import { type EventStoreLogger, type MigrationDefinition, PostgresEventStore } from '@platform/event-store';
import { customerDataKeysMigration, dataKeyGuardMigration } from './keys/data-key-guard';
import { START_STALE_OUTBOX_AT_SECRETS_OUTBOX } from './outbox/stale-deployments.repository';
import { SecretExposureProjection } from './exposure/secret-exposure.projection';
import { SECRET_EXPOSURE_TABLE } from './exposure/secret-exposure.repository';
import { DeploymentIndexProjection } from './secrets/deployment-index.projection';
import { SecretViewProjection } from './secrets/secret-view.projection';

/** The Postgres schema that holds the secrets service's events and tables (ARCHITECTURE.md §9). */
export const SECRETS_SCHEMA = 'secrets';

/** The service's own tables, run after the event store's in the same migration run. Never edit one: add another. */
export const secretsMigrations: readonly MigrationDefinition[] = [
  {
    name: 'secrets_0001_secret_view',
    up: [
      `create table secret_view (
        stream_id text primary key,
        id uuid not null,
        organization_id text not null,
        customer_id text collate "C" not null,
        key text collate "C" not null,
        version integer not null,
        deleted boolean not null,
        created_at timestamptz not null,
        created_by text not null,
        updated_at timestamptz not null,
        updated_by text not null,
        value text,
        data_key_id uuid
      )`,
      // The listing order and the scope lookups of get/resolve; customer_id '' (vendor-level) sorts first.
      `create unique index secret_view_scope_key on secret_view (organization_id, customer_id, key)`,
    ],
  },
  {
    name: 'secrets_0002_data_key',
    up: [
      `create table data_key (
        id uuid primary key,
        organization_id text not null,
        master_kid text not null,
        wrapped text not null,
        active boolean not null,
        created_at timestamptz not null
      )`,
      // At most one active key per organization: the first writer of a new organization's key wins.
      `create unique index data_key_one_active on data_key (organization_id) where active`,
      `create index data_key_organization on data_key (organization_id)`,
      `create index data_key_master_kid on data_key (master_kid)`,
    ],
  },
  {
    name: 'secrets_0003_idempotency_key',
    up: [
      `create table idempotency_key (
        principal text not null,
        subject text not null,
        idempotency_key text not null,
        request_hash text not null,
        event_id uuid not null,
        expires_at timestamptz not null,
        primary key (principal, subject, idempotency_key)
      )`,
      `create index idempotency_key_expiry on idempotency_key (expires_at)`,
    ],
  },
  dataKeyGuardMigration,
  {
    name: 'secrets_0005_deployment_index',
    up: [
      `create table deployment_index (
        organization_id text not null,
        customer_id text collate "C" not null,
        deployment_id text collate "C" not null,
        last_rendered_at timestamptz not null,
        requested_by jsonb not null,
        refs jsonb not null,
        primary key (organization_id, customer_id, deployment_id)
      )`,
      // "Which deployments received key K": refs @> '[{"key": K}]'.
      `create index deployment_index_refs on deployment_index using gin (refs jsonb_path_ops)`,
    ],
  },
  {
    name: 'secrets_0006_secret_view_expiry',
    up: [
      // When the current value expires; rows of earlier releases have none, as their events have none.
      `alter table secret_view add column expires_at timestamptz`,
      // The expiry scheduler's scan: only rows whose value expires, by when.
      `create index secret_view_expiring on secret_view (expires_at) where expires_at is not null and not deleted`,
    ],
  },
  { name: 'secrets_0007_secret_exposure', up: [SECRET_EXPOSURE_TABLE] },
  {
    name: 'secrets_0008_deployments_stale_outbox',
    up: [START_STALE_OUTBOX_AT_SECRETS_OUTBOX('deployments-stale', 'secrets-events')],
  },
  customerDataKeysMigration,
  {
    name: 'secrets_0010_idempotency_key_scope',
    up: [
      // The scope a write targeted (customer_id '' = vendor level), so a customer purge finds every record of its
      // scope, vendor users' included; null in records of earlier releases, which expire within 24 h.
      `alter table idempotency_key add column organization_id text, add column customer_id text collate "C"`,
      `create index idempotency_key_scope on idempotency_key (organization_id, customer_id)`,
    ],
  },
];

export interface SecretsStoreOptions {
  readonly poolSize?: number;
  readonly applicationName?: string;
  readonly logger?: EventStoreLogger;
}

/** Opens the secrets event store: runs pending migrations and registers the inline `secret_view`, `deployment_index` and `secret_exposure` projections. */
export function openSecretsStore(databaseUrl: string, options: SecretsStoreOptions = {}): Promise<PostgresEventStore> {
  return PostgresEventStore.open({
    databaseUrl,
    schema: SECRETS_SCHEMA,
    projections: [new SecretViewProjection(), new DeploymentIndexProjection(), new SecretExposureProjection()],
    extraMigrations: [...secretsMigrations],
    poolSize: options.poolSize,
    applicationName: options.applicationName ?? 'secrets',
    logger: options.logger,
  });
}

/** For `npm run migrate`: creates the database and schema when missing and applies every pending migration. */
export async function runSecretsMigrations(databaseUrl: string): Promise<void> {
  const store = await openSecretsStore(databaseUrl, { poolSize: 1, applicationName: 'secrets-migrate' });
  await store.close();
}

import { type MigrationDefinition } from '@platform/event-store';

/** The SQLSTATE and constraint of an append refused because its value's data key no longer exists. */
const FOREIGN_KEY_VIOLATION = '23503';
export const DATA_KEY_EXISTS_CONSTRAINT = 'events_data_key_exists';

/**
 * Per-organization advisory lock (two-key form, apart from the store's one-key locks): value appends hold it shared
 * until they commit, a purge holds it exclusively, so an append either commits before the purge deletes its key or
 * checks for the key after the purge committed. Both sides must use this expression.
 */
export const organizationLock = (organizationSql: string) =>
  `hashtext('secrets.data_key'), hashtext(${organizationSql})`;

/**
 * A value event may only be appended while its data key exists (ARCHITECTURE.md §6): otherwise a write racing a
 * purge, or made with a key another instance still caches, would be accepted yet never decryptable. The trigger runs
 * in the append's own transaction (inline statement or not); the function is volatile, so the lookup after the lock
 * sees a purge that committed while the append waited. Rebuilds insert no events and never fire it.
 */
export const dataKeyGuardMigration: MigrationDefinition = {
  name: 'secrets_0004_events_data_key_exists',
  up: [
    `create function assert_data_key_exists() returns trigger language plpgsql volatile as $$
      declare
        organization text := split_part(new.stream_id, ':', 2);
      begin
        perform pg_advisory_xact_lock_shared(${organizationLock('organization')});
        perform 1 from data_key
          where id = (new.data->>'dataKeyId')::uuid and organization_id = organization;
        if not found then
          raise exception 'data key % of organization % does not exist (purged?)', new.data->>'dataKeyId', organization
            using errcode = '${FOREIGN_KEY_VIOLATION}', constraint = '${DATA_KEY_EXISTS_CONSTRAINT}';
        end if;
        return new;
      end $$`,
    `create trigger ${DATA_KEY_EXISTS_CONSTRAINT} before insert on events for each row
      when (new.data->>'dataKeyId' is not null) execute function assert_data_key_exists()`,
  ],
};

/**
 * Data keys per customer scope (ARCHITECTURE.md §6): the vendor level keeps the organization's keys (`customer_id`
 * ''), each customer gets its own, so one customer can be shredded alone. Every existing key becomes the vendor
 * level's; customer values sealed under it before this release keep decrypting until `values rebind` moves them to
 * their customer's key. The guard now also checks that a value's key is its scope's (or, for such earlier values'
 * writers during an upgrade, the vendor level's).
 */
export const customerDataKeysMigration: MigrationDefinition = {
  name: 'secrets_0009_customer_data_keys',
  up: [
    `alter table data_key add column customer_id text collate "C" not null default ''`,
    `drop index data_key_one_active`,
    `create unique index data_key_one_active on data_key (organization_id, customer_id) where active`,
    `create or replace function assert_data_key_exists() returns trigger language plpgsql volatile as $$
      declare
        organization text := split_part(new.stream_id, ':', 2);
        -- A value's scope; a key event (DataKeyRotated on organization:<org>) may name any key of the organization.
        customer text := case when split_part(new.stream_id, ':', 1) = 'secret'
                              then coalesce(nullif(split_part(new.stream_id, ':', 3), '_'), '') end;
      begin
        perform pg_advisory_xact_lock_shared(${organizationLock('organization')});
        perform 1 from data_key
          where id = (new.data->>'dataKeyId')::uuid and organization_id = organization
            and (customer is null or customer_id in ('', customer));
        if not found then
          raise exception 'data key % of organization % does not exist (purged?)', new.data->>'dataKeyId', organization
            using errcode = '${FOREIGN_KEY_VIOLATION}', constraint = '${DATA_KEY_EXISTS_CONSTRAINT}';
        end if;
        return new;
      end $$`,
  ],
};

/** True when an append was refused because its value was encrypted under a data key that was purged. */
export function isPurgedDataKeyError(error: unknown): boolean {
  const { code, constraint } = (error ?? {}) as { code?: unknown; constraint?: unknown };
  return code === FOREIGN_KEY_VIOLATION && constraint === DATA_KEY_EXISTS_CONSTRAINT;
}

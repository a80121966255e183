import { type DataKeyStore, type StoredDataKey } from '@platform/crypto';
import { type PostgresEventStore, type ProjectionContext } from '@platform/event-store';
import { UNIQUE_VIOLATION, sqlState } from '@platform/postgres';
import { organizationLock } from './data-key-guard';

interface DataKeyRow {
  readonly id: string;
  readonly organization_id: string;
  readonly master_kid: string;
  readonly wrapped: string;
  readonly active: boolean;
  readonly created_at: Date | string;
}

const COLUMNS = 'id, organization_id, master_kid, wrapped, active, created_at';

function toStoredDataKey(row: DataKeyRow): StoredDataKey {
  return {
    id: row.id,
    organizationId: row.organization_id,
    masterKid: row.master_kid,
    wrapped: row.wrapped,
    active: row.active,
    createdAt: new Date(row.created_at),
  };
}

/** Wrapped data keys in `secrets.data_key`; the partial unique index on active keys settles races between instances. */
export class PostgresDataKeyStore implements DataKeyStore {
  constructor(private readonly store: PostgresEventStore) {}

  async activeKey(organizationId: string): Promise<StoredDataKey | undefined> {
    const [row] = await this.store.query<DataKeyRow>(
      `select ${COLUMNS} from data_key where organization_id = $1 and active`,
      [organizationId],
    );
    return row && toStoredDataKey(row);
  }

  async keyById(dataKeyId: string): Promise<StoredDataKey | undefined> {
    const [row] = await this.store.query<DataKeyRow>(`select ${COLUMNS} from data_key where id = $1`, [dataKeyId]);
    return row && toStoredDataKey(row);
  }

  async insert(key: StoredDataKey): Promise<void> {
    await this.store.query(
      `insert into data_key (${COLUMNS}) values ($1, $2, $3, $4, true, $5)
       on conflict (organization_id) where active do nothing`,
      [key.id, key.organizationId, key.masterKid, key.wrapped, key.createdAt],
    );
  }

  async replaceActive(key: StoredDataKey): Promise<void> {
    // Two rotations at once: the second one's insert meets the first one's new key; retrying retires that one too.
    for (let attempt = 1; ; attempt++) {
      try {
        await this.store.withTransaction(async (tx) => {
          await tx.execute('update data_key set active = false where organization_id = $1 and active', [
            key.organizationId,
          ]);
          await tx.execute(`insert into data_key (${COLUMNS}) values ($1, $2, $3, $4, true, $5)`, [
            key.id,
            key.organizationId,
            key.masterKid,
            key.wrapped,
            key.createdAt,
          ]);
        });
        return;
      } catch (error) {
        if (sqlState(error) !== UNIQUE_VIOLATION || attempt >= 3) throw error;
      }
    }
  }

  async keysNotWrappedUnder(masterKid: string, limit: number): Promise<readonly StoredDataKey[]> {
    const rows = await this.store.query<DataKeyRow>(
      `select ${COLUMNS} from data_key where master_kid <> $1 order by id limit $2`,
      [masterKid, limit],
    );
    return rows.map(toStoredDataKey);
  }

  async countNotWrappedUnder(masterKid: string): Promise<number> {
    const [{ count }] = await this.store.query<{ count: number }>(
      'select count(*)::int as count from data_key where master_kid <> $1',
      [masterKid],
    );
    return count;
  }

  async rewrap(dataKeyId: string, fromMasterKid: string, to: { masterKid: string; wrapped: string }): Promise<void> {
    await this.store.query('update data_key set master_kid = $3, wrapped = $4 where id = $1 and master_kid = $2', [
      dataKeyId,
      fromMasterKid,
      to.masterKid,
      to.wrapped,
    ]);
  }

  async deleteByOrganization(organizationId: string): Promise<number> {
    // Under the purge lock, so no value append of the organization commits under a key deleted here.
    return this.store.withTransaction((tx) => deleteOrganizationKeys(tx, organizationId));
  }
}

/**
 * For a statement that rewrites values of an organization in place (value rebinding): holds the lock a value append
 * holds, until the caller's transaction ends, and tells whether the data key still exists (else a purge won).
 */
export async function holdLiveDataKey(
  context: ProjectionContext,
  organizationId: string,
  dataKeyId: string,
): Promise<boolean> {
  await context.execute(`select pg_advisory_xact_lock_shared(${organizationLock('$1')})`, [organizationId]);
  const found = await context.execute('select 1 from data_key where id = $1 and organization_id = $2', [
    dataKeyId,
    organizationId,
  ]);
  return found.length > 0;
}

/**
 * Crypto-shredding inside the caller's transaction: waits for the organization's in-flight value appends, keeps new
 * ones out until the commit, and deletes every data key of the organization. Returns how many were deleted.
 */
export async function deleteOrganizationKeys(context: ProjectionContext, organizationId: string): Promise<number> {
  await context.execute(`select pg_advisory_xact_lock(${organizationLock('$1')})`, [organizationId]);
  const deleted = await context.execute('delete from data_key where organization_id = $1 returning id', [
    organizationId,
  ]);
  return deleted.length;
}

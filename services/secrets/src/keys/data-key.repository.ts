import { type DataKeyStore, type StoredDataKey } from '@platform/crypto';
import { type PostgresEventStore, type ProjectionContext } from '@platform/event-store';
import { organizationLock } from './data-key-guard';

interface DataKeyRow {
  readonly id: string;
  readonly organization_id: string;
  /** '' for the vendor level. */
  readonly customer_id: string;
  readonly master_kid: string;
  readonly wrapped: string;
  readonly active: boolean;
  readonly created_at: Date | string;
}

const COLUMNS = 'id, organization_id, customer_id, master_kid, wrapped, active, created_at';
const UNIQUE_VIOLATION = '23505';

function toStoredDataKey(row: DataKeyRow): StoredDataKey {
  return {
    id: row.id,
    organizationId: row.organization_id,
    customerOrganizationId: row.customer_id === '' ? null : row.customer_id,
    masterKid: row.master_kid,
    wrapped: row.wrapped,
    active: row.active,
    createdAt: new Date(row.created_at),
  };
}

function isUniqueViolation(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === UNIQUE_VIOLATION;
}

/**
 * Wrapped data keys in `secrets.data_key`, one active per scope (`customer_id` '' for the vendor level); the partial
 * unique index on active keys settles races between instances.
 */
export class PostgresDataKeyStore implements DataKeyStore {
  constructor(private readonly store: PostgresEventStore) {}

  async activeKey(organizationId: string, customerOrganizationId: string | null): Promise<StoredDataKey | undefined> {
    const [row] = await this.store.query<DataKeyRow>(
      `select ${COLUMNS} from data_key where organization_id = $1 and customer_id = $2 and active`,
      [organizationId, customerOrganizationId ?? ''],
    );
    return row && toStoredDataKey(row);
  }

  async keyById(dataKeyId: string): Promise<StoredDataKey | undefined> {
    const [row] = await this.store.query<DataKeyRow>(`select ${COLUMNS} from data_key where id = $1`, [dataKeyId]);
    return row && toStoredDataKey(row);
  }

  async insert(key: StoredDataKey): Promise<void> {
    await this.store.query(
      `insert into data_key (${COLUMNS}) values ($1, $2, $3, $4, $5, true, $6)
       on conflict (organization_id, customer_id) where active do nothing`,
      [key.id, key.organizationId, key.customerOrganizationId ?? '', key.masterKid, key.wrapped, key.createdAt],
    );
  }

  async replaceActive(key: StoredDataKey): Promise<void> {
    // Two rotations at once: the second one's insert meets the first one's new key; retrying retires that one too.
    for (let attempt = 1; ; attempt++) {
      try {
        await this.store.withTransaction(async (tx) => {
          await tx.execute(
            'update data_key set active = false where organization_id = $1 and customer_id = $2 and active',
            [key.organizationId, key.customerOrganizationId ?? ''],
          );
          await tx.execute(`insert into data_key (${COLUMNS}) values ($1, $2, $3, $4, $5, true, $6)`, [
            key.id,
            key.organizationId,
            key.customerOrganizationId ?? '',
            key.masterKid,
            key.wrapped,
            key.createdAt,
          ]);
        });
        return;
      } catch (error) {
        if (!isUniqueViolation(error) || attempt >= 3) throw error;
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
 * Crypto-shredding of one customer scope inside the caller's transaction, under the lock of its organization's value
 * appends: deletes the customer's data keys, after checking no value of the customer is still sealed under a
 * vendor-level key (written before customers had keys; `values rebind` moves them). Returns how many keys were
 * deleted, or the number of such values (nothing deleted) as `sharedKeyValues`.
 */
export async function deleteCustomerKeys(
  context: ProjectionContext,
  organizationId: string,
  customerOrganizationId: string,
): Promise<{ readonly dataKeysDeleted: number; readonly sharedKeyValues: number }> {
  await context.execute(`select pg_advisory_xact_lock(${organizationLock('$1')})`, [organizationId]);
  const [{ count }] = await context.execute<{ count: number }>(
    `select count(*)::int as count from events e join data_key d on d.id = (e.data->>'dataKeyId')::uuid
     where starts_with(e.stream_id, $1) and e.type in ('SecretCreated', 'SecretValueUpdated') and e.data ? 'value'
       and d.organization_id = $2 and d.customer_id = ''`,
    [`secret:${organizationId}:${customerOrganizationId}:`, organizationId],
  );
  if (count > 0) return { dataKeysDeleted: 0, sharedKeyValues: count };
  const deleted = await context.execute(
    'delete from data_key where organization_id = $1 and customer_id = $2 returning id',
    [organizationId, customerOrganizationId],
  );
  return { dataKeysDeleted: deleted.length, sharedKeyValues: 0 };
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

import { type DataKeyStore, type StoredDataKey } from '@platform/crypto';
import { type PostgresEventStore } from '@platform/event-store';
import { deleteOrganizationKeys } from './data-key-guard';

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

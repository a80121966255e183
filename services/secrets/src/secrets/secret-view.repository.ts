import { type PostgresEventStore } from '@platform/event-store';
import { type Scope } from '@platform/messaging';
import { type SecretSnapshot } from './secret-snapshot';

interface ViewRow {
  readonly stream_id: string;
  readonly organization_id: string;
  readonly customer_id: string;
  readonly key: string;
  readonly version: number;
  readonly created_ms: number;
  readonly created_by: string;
  readonly updated_ms: number;
  readonly updated_by: string;
}

/** A list position: the last row of a page, in (customer, key) order; `''` is the vendor level. */
export interface SecretViewPosition {
  readonly customerId: string;
  readonly key: string;
}

const VIEW_COLUMNS = `stream_id, organization_id, customer_id, key, version,
  extract(epoch from created_at) * 1000 as created_ms, created_by,
  extract(epoch from updated_at) * 1000 as updated_ms, updated_by`;

function isoOf(epochMs: number | string): string {
  return new Date(Math.round(Number(epochMs))).toISOString();
}

function snapshotOfRow(row: ViewRow): SecretSnapshot {
  return {
    streamId: row.stream_id,
    key: row.key,
    scope: { organizationId: row.organization_id, customerOrganizationId: row.customer_id || null },
    version: row.version,
    live: true,
    createdAt: isoOf(row.created_ms),
    createdBy: row.created_by,
    updatedAt: isoOf(row.updated_ms),
    updatedBy: row.updated_by,
  };
}

/** The live secrets of `secret_view` (the read model of ARCHITECTURE.md §5), never a value. */
export class SecretViewRepository {
  constructor(private readonly store: PostgresEventStore) {}

  async findLive(scope: Scope, key: string): Promise<SecretSnapshot | undefined> {
    const [row] = await this.store.query<ViewRow>(
      `select ${VIEW_COLUMNS} from secret_view
       where organization_id = $1 and customer_id = $2 and key = $3 and not deleted`,
      [scope.organizationId, scope.customerOrganizationId ?? '', key],
      { prepared: true },
    );
    return row && snapshotOfRow(row);
  }

  /**
   * Up to `limit` live secrets of an organization in (customer, key) order after `after`: of one partition
   * (`customerId`, `''` for vendor-level), or of every partition when `customerId` is undefined.
   */
  async listLive(query: {
    readonly organizationId: string;
    readonly customerId: string | undefined;
    readonly after: SecretViewPosition | undefined;
    readonly limit: number;
  }): Promise<SecretSnapshot[]> {
    const params: unknown[] = [query.organizationId, query.limit];
    const conditions = ['organization_id = $1', 'not deleted'];
    if (query.customerId !== undefined) {
      params.push(query.customerId);
      conditions.push(`customer_id = $${params.length}`);
    }
    if (query.after) {
      params.push(query.after.customerId, query.after.key);
      conditions.push(`(customer_id, key) > ($${params.length - 1}, $${params.length})`);
    }
    const rows = await this.store.query<ViewRow>(
      `select ${VIEW_COLUMNS} from secret_view where ${conditions.join(' and ')}
       order by customer_id, key limit $2`,
      params,
      // Four texts at most: with or without the customer filter and the page token.
      { prepared: true },
    );
    return rows.map(snapshotOfRow);
  }
}

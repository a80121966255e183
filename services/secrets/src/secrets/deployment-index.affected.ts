import { type PostgresEventStore } from '@platform/event-store';
import { type Scope } from '@platform/messaging';

/** The first page of deployments a write of a key reaches (ARCHITECTURE.md §3, "affected deployments"). */
export const AFFECTED_PAGE_SIZE = 100;

export interface AffectedDeployment {
  readonly deploymentId: string;
  readonly customerOrganizationId: string | null;
  readonly lastRenderedAt: string;
}

export interface AffectedDeployments {
  /** Every affected deployment; `deployments` holds the first `AFFECTED_PAGE_SIZE` of them. */
  readonly count: number;
  readonly deployments: readonly AffectedDeployment[];
}

/**
 * The deployments of `deployment_index` (so not forgotten ones) whose last render received `key` from the stream of
 * `scope`: for a vendor-level key, a reference with scope `vendor` in any deployment of the organization (vendor-level
 * or a customer's); for a customer's key, a reference with scope `customer` in that customer's deployments. A
 * customer deployment that received the vendor value is not affected by the customer's own key, nor the reverse.
 */
const AFFECTED = `
  select deployment_id, customer_id, extract(epoch from last_rendered_at) * 1000 as rendered_ms,
         count(*) over () as total
  from deployment_index
  where organization_id = $1 and ($2::text = '' or customer_id = $2::text)
    and refs @> jsonb_build_array(jsonb_build_object('key', $3::text, 'scope', $4::text))
  order by customer_id, deployment_id
  limit $5`;

export async function affectedDeployments(
  store: PostgresEventStore,
  scope: Scope,
  key: string,
  pageSize = AFFECTED_PAGE_SIZE,
): Promise<AffectedDeployments> {
  const customerId = scope.customerOrganizationId ?? '';
  const rows = await store.query<{
    deployment_id: string;
    customer_id: string;
    rendered_ms: number | string;
    total: number | string;
  }>(AFFECTED, [scope.organizationId, customerId, key, customerId === '' ? 'vendor' : 'customer', pageSize], {
    prepared: true,
  });
  return {
    count: rows.length === 0 ? 0 : Number(rows[0].total),
    deployments: rows.map((row) => ({
      deploymentId: row.deployment_id,
      customerOrganizationId: row.customer_id || null,
      lastRenderedAt: new Date(Math.round(Number(row.rendered_ms))).toISOString(),
    })),
  };
}

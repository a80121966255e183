import { type PostgresEventStore } from '@platform/event-store';
import { type Scope } from '@platform/messaging';
import { DeploymentIndexRepository } from './deployment-index.repository';

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

/** The deployments whose last render received `key` from the stream of `scope` (see `DeploymentIndexRepository`). */
export async function affectedDeployments(
  store: PostgresEventStore,
  scope: Scope,
  key: string,
  pageSize = AFFECTED_PAGE_SIZE,
): Promise<AffectedDeployments> {
  const customerId = scope.customerOrganizationId ?? '';
  const rows = await new DeploymentIndexRepository(store).affected(scope.organizationId, customerId, key, pageSize);
  return {
    count: rows.length === 0 ? 0 : Number(rows[0].total),
    deployments: rows.map((row) => ({
      deploymentId: row.deployment_id,
      customerOrganizationId: row.customer_id || null,
      lastRenderedAt: new Date(Math.round(Number(row.rendered_ms))).toISOString(),
    })),
  };
}

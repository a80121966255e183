import { randomUUID } from 'node:crypto';
import { type ForgetDeploymentRequest, type ListDeploymentsRequest } from '@platform/contracts';
import { type PostgresEventStore } from '@platform/event-store';
import { type Principal, actorOf, assertIdentifier, userScope } from '@platform/messaging';
import { type SecretPublication } from '../outbox/secret-publication';
import { DEPLOYMENT_FORGOTTEN } from './deployment-index.projection';
import { type DeploymentReference, type DeploymentRow, DeploymentIndexRepository } from './deployment-index.repository';
import { type Actor, type EventMetadata } from './secret';
import { assertValidKey } from './secret.decider';
import { deploymentStreamId } from './secret-stream';
import { SecretsError, SecretsErrorCode } from './secrets.error';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from './secrets.service';

export type { DeploymentReference } from './deployment-index.repository';

export interface Deployment {
  readonly deploymentId: string;
  readonly customerOrganizationId: string | null;
  readonly lastRenderedAt: string;
  readonly requestedBy: Actor;
  readonly references: readonly DeploymentReference[];
  readonly stale: boolean;
}

export interface DeploymentPage {
  readonly deployments: readonly Deployment[];
  readonly nextPageToken?: string;
}

export interface DeploymentForgetting {
  readonly deploymentId: string;
  readonly customerOrganizationId: string | null;
  readonly forgottenAt: string;
}

/** `DeploymentForgotten` data; appended to `deployment:<org>:<customer|_>:<deployment>`. */
export interface DeploymentForgottenData {
  readonly organizationId: string;
  readonly customerOrganizationId: string | null;
  readonly deploymentId: string;
}

function pageTokenOf(row: Pick<DeploymentRow, 'customer_id' | 'deployment_id'>): string {
  return Buffer.from(JSON.stringify([row.customer_id, row.deployment_id]), 'utf8').toString('base64url');
}

function parsePageToken(token: string): [string, string] {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    if (Array.isArray(parsed) && parsed.length === 2 && parsed.every((part) => typeof part === 'string')) {
      return [parsed[0] as string, parsed[1] as string];
    }
  } catch {
    // Reported below, without echoing the token.
  }
  throw new SecretsError(SecretsErrorCode.INVALID_ARGUMENT, 'pageToken is not a token this service issued', {
    field: 'pageToken',
  });
}

const deploymentOf = (row: DeploymentRow): Deployment => ({
  deploymentId: row.deployment_id,
  customerOrganizationId: row.customer_id || null,
  lastRenderedAt: new Date(Math.round(Number(row.rendered_ms))).toISOString(),
  requestedBy: row.requested_by,
  references: row.refs,
  stale: row.stale,
});

/**
 * `secrets.v1.deployments` and `secrets.v1.forgetDeployment` (ARCHITECTURE.md §3): where values went and what to
 * redeploy, read from `deployment_index` with the scope rules of `list`.
 */
export class DeploymentIndex {
  private readonly index: DeploymentIndexRepository;

  constructor(
    private readonly store: PostgresEventStore,
    /** Holds a forget's reply until its event is on SECRETS_EVENTS; absent only where nothing consumes them. */
    private readonly publication?: SecretPublication,
    private readonly clock: () => Date = () => new Date(),
  ) {
    this.index = new DeploymentIndexRepository(store);
  }

  /**
   * A vendor user without `customerOrganizationId` sees every deployment of its organization (vendor-level first,
   * then each customer's); with it, or as a customer user, one scope's.
   */
  async list(principal: Principal, request: ListDeploymentsRequest): Promise<DeploymentPage> {
    const scope = userScope(principal, request.customerOrganizationId);
    if (request.key !== undefined) assertValidKey(request.key);
    if (request.deploymentId !== undefined) assertIdentifier('deploymentId', request.deploymentId);
    const pageSize = Math.min(request.pageSize || DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE);
    const wholeOrganization = principal.orgType === 'vendor' && request.customerOrganizationId === undefined;
    const rows = await this.index.page({
      organizationId: scope.organizationId,
      customerId: wholeOrganization ? undefined : (scope.customerOrganizationId ?? ''),
      deploymentId: request.deploymentId,
      key: request.key,
      staleOnly: request.staleOnly === true,
      after: request.pageToken ? parsePageToken(request.pageToken) : undefined,
      limit: pageSize + 1,
    });
    const page = rows.slice(0, pageSize);
    return {
      deployments: page.map(deploymentOf),
      nextPageToken: rows.length > pageSize ? pageTokenOf(page[page.length - 1]) : undefined,
    };
  }

  /** Records that a deployment is gone (`DeploymentForgotten`); it leaves the index in the same transaction. */
  async forget(principal: Principal, request: ForgetDeploymentRequest): Promise<DeploymentForgetting> {
    const scope = userScope(principal, request.customerOrganizationId);
    if (principal.orgType !== 'service' && principal.role === 'read_only') {
      throw new SecretsError(
        SecretsErrorCode.PERMISSION_DENIED,
        'forgetting a deployment needs the read_write or admin role',
      );
    }
    assertIdentifier('deploymentId', request.deploymentId);
    const customerId = scope.customerOrganizationId ?? '';
    if (!(await this.index.exists(scope.organizationId, customerId, request.deploymentId))) {
      throw new SecretsError(
        SecretsErrorCode.NOT_FOUND,
        `deployment ${JSON.stringify(request.deploymentId)} not found in this scope`,
        { deploymentId: request.deploymentId },
      );
    }
    const metadata: EventMetadata = { actor: actorOf(principal), occurredAt: this.clock().toISOString() };
    const data: DeploymentForgottenData = {
      organizationId: scope.organizationId,
      customerOrganizationId: scope.customerOrganizationId,
      deploymentId: request.deploymentId,
    };
    const { events } = await this.store.appendToStream(
      deploymentStreamId(scope, request.deploymentId),
      [{ type: DEPLOYMENT_FORGOTTEN, eventId: randomUUID(), data, metadata }],
      { expectedVersion: 'any' },
    );
    await this.publication?.afterWrite(events[events.length - 1]);
    return {
      deploymentId: request.deploymentId,
      customerOrganizationId: scope.customerOrganizationId,
      forgottenAt: metadata.occurredAt,
    };
  }
}

import { randomUUID } from 'node:crypto';
import { type ForgetDeploymentRequest, type ListDeploymentsRequest } from '@platform/contracts';
import { type PostgresEventStore } from '@platform/event-store';
import { type Principal, actorOf, assertIdentifier, userScope } from '@platform/messaging';
import { type SecretPublication } from '../outbox/secret-publication';
import { DEPLOYMENT_FORGOTTEN } from './deployment-index.projection';
import { type Actor, type EventMetadata } from './secret';
import { assertValidKey } from './secret.decider';
import { deploymentStreamId } from './secret-stream';
import { SecretsError, SecretsErrorCode } from './secrets.error';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from './secrets.service';

/** What a deployment received of one key, beside the key's state now. */
export interface DeploymentReference {
  readonly key: string;
  readonly version: number;
  readonly scope: string;
  readonly latestVersion: number;
  readonly deleted: boolean;
}

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

interface DeploymentRow {
  readonly customer_id: string;
  readonly deployment_id: string;
  readonly rendered_ms: number | string;
  readonly requested_by: Actor;
  readonly refs: DeploymentReference[];
  readonly stale: boolean;
}

/**
 * Each deployment with its references joined to `secret_view` (the referenced stream: vendor-level, or the deployment's
 * customer): a reference is stale when its stream moved past the version received or was deleted; a stream that is
 * gone (purged) counts as deleted.
 */
const DEPLOYMENTS = `
  select d.customer_id, d.deployment_id, extract(epoch from d.last_rendered_at) * 1000 as rendered_ms,
         d.requested_by, r.refs, r.stale
  from deployment_index d
    cross join lateral (
      select coalesce(jsonb_agg(jsonb_build_object(
               'key', e.ref->>'key', 'version', (e.ref->>'version')::int, 'scope', e.ref->>'scope',
               'latestVersion', coalesce(v.version, (e.ref->>'version')::int),
               'deleted', coalesce(v.deleted, true)) order by e.ord), '[]'::jsonb) as refs,
             coalesce(bool_or(v.stream_id is null or v.deleted or v.version > (e.ref->>'version')::int), false) as stale
      from jsonb_array_elements(d.refs) with ordinality as e(ref, ord)
        left join secret_view v on v.organization_id = d.organization_id and v.key = e.ref->>'key'
          and v.customer_id = case when e.ref->>'scope' = 'customer' then d.customer_id else '' end
    ) r`;

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
  constructor(
    private readonly store: PostgresEventStore,
    /** Holds a forget's reply until its event is on SECRETS_EVENTS; absent only where nothing consumes them. */
    private readonly publication?: SecretPublication,
    private readonly clock: () => Date = () => new Date(),
  ) {}

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
    const params: unknown[] = [scope.organizationId, pageSize + 1];
    const conditions = ['d.organization_id = $1'];
    const bind = (value: unknown) => `$${params.push(value)}`;
    if (!wholeOrganization) conditions.push(`d.customer_id = ${bind(scope.customerOrganizationId ?? '')}`);
    if (request.deploymentId !== undefined) conditions.push(`d.deployment_id = ${bind(request.deploymentId)}`);
    if (request.key !== undefined) {
      conditions.push(`d.refs @> jsonb_build_array(jsonb_build_object('key', ${bind(request.key)}::text))`);
    }
    if (request.staleOnly) conditions.push('r.stale');
    if (request.pageToken) {
      const [customerId, deploymentId] = parsePageToken(request.pageToken);
      conditions.push(`(d.customer_id, d.deployment_id) > (${bind(customerId)}, ${bind(deploymentId)})`);
    }
    const rows = await this.store.query<DeploymentRow>(
      `${DEPLOYMENTS} where ${conditions.join(' and ')} order by d.customer_id, d.deployment_id limit $2`,
      params,
    );
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
    const [known] = await this.store.query<{ found: boolean }>(
      `select true as found from deployment_index
       where organization_id = $1 and customer_id = $2 and deployment_id = $3`,
      [scope.organizationId, customerId, request.deploymentId],
    );
    if (!known) {
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

import { type Principal, type Scope, assertIdentifier, hasScope, userScope } from '@platform/messaging';
import { RenderError, RenderErrorCode } from './render.error';

/** The scope fields of a render or validate request. */
export interface ScopeRequest {
  readonly organizationId?: string;
  readonly customerOrganizationId?: string;
}

/**
 * A render's scope. `customerOnly`: only the customer's own secrets, never the vendor's — set for a customer user,
 * who may not see vendor-level values (seed: "As a customer, you can only create and view secrets for your own
 * organization"); vendor values reach a customer's deployments through service renders (`render:any`).
 */
export interface RenderScope extends Scope {
  readonly customerOnly?: true;
}

/**
 * Whose secrets a render may use (ARCHITECTURE.md §4). Users render their own scope: a vendor user its
 * organization with or without one of its customers (customer values winning), a customer user only its own
 * secrets in `(vendor_org, own org)`. A user may name `organizationId` only as the vendor organization it already
 * belongs to, so a client can send the same body whichever token it holds. Services need `render:any` and must name
 * `organizationId`; they get vendor and customer secrets, the customer's winning.
 */
export function renderScope(principal: Principal, request: ScopeRequest): RenderScope {
  if (request.organizationId !== undefined) assertIdentifier('organizationId', request.organizationId);
  if (principal.orgType === 'service') {
    if (!hasScope(principal, 'render:any')) {
      throw new RenderError(RenderErrorCode.PERMISSION_DENIED, 'rendering needs a service token with scope render:any');
    }
    if (request.organizationId === undefined) {
      throw new RenderError(
        RenderErrorCode.INVALID_ARGUMENT,
        'organizationId is required when a service renders (it names the vendor organization)',
        { field: 'organizationId' },
      );
    }
    if (request.customerOrganizationId !== undefined) {
      assertIdentifier('customerOrganizationId', request.customerOrganizationId);
    }
    return { organizationId: request.organizationId, customerOrganizationId: request.customerOrganizationId ?? null };
  }
  const scope = userScope(principal, request.customerOrganizationId);
  if (request.organizationId !== undefined && request.organizationId !== scope.organizationId) {
    throw new RenderError(
      RenderErrorCode.PERMISSION_DENIED,
      'a user can only render its own organization; organizationId is for service tokens with render:any',
    );
  }
  return principal.orgType === 'customer' ? { ...scope, customerOnly: true } : scope;
}

/**
 * Rendering hands out secret values, so a user needs a role that manages them; read_only users see keys only
 * (seed: "All users in an organization can view secret keys (but not values)"). Validation stays open to every role.
 */
export function assertMayRenderValues(principal: Principal): void {
  if (principal.orgType !== 'service' && principal.role === 'read_only') {
    throw new RenderError(
      RenderErrorCode.PERMISSION_DENIED,
      'rendering returns secret values and needs the read_write or admin role',
    );
  }
}

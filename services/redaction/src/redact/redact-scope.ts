import { type RedactRequest } from '@platform/contracts';
import {
  type Principal,
  PlatformError,
  type Scope,
  assertIdentifier,
  assertServiceScope,
  permissionDenied,
  userScope,
} from '@platform/messaging';

/**
 * Whose secrets `redaction.v1.redact` masks (ARCHITECTURE.md §4): a user its own scope (a vendor user may name one
 * of its customers, a customer user only itself); a service any organization it names, with `secrets:resolve-all`
 * — the same scope that reads every value, since redacting a guess reveals whether it is a secret.
 */
export function redactScopeOf(
  principal: Principal,
  request: Pick<RedactRequest, 'organizationId' | 'customerOrganizationId'>,
): Scope {
  if (principal.orgType === 'service') {
    assertServiceScope(principal, 'secrets:resolve-all');
    if (request.organizationId === undefined) {
      throw new PlatformError('INVALID_ARGUMENT', 'organizationId is required with a service token', {
        field: 'organizationId',
      });
    }
    assertIdentifier('organizationId', request.organizationId);
    if (request.customerOrganizationId !== undefined) {
      assertIdentifier('customerOrganizationId', request.customerOrganizationId);
    }
    return { organizationId: request.organizationId, customerOrganizationId: request.customerOrganizationId ?? null };
  }
  const scope = userScope(principal, request.customerOrganizationId);
  // A user's organization comes from its token; naming it again is harmless, naming another is refused.
  if (request.organizationId !== undefined && request.organizationId !== scope.organizationId) {
    throw permissionDenied('organizationId may only be named with a service token');
  }
  return scope;
}

import { type RedactRequest } from '@platform/contracts';
import {
  type Principal,
  PlatformError,
  type Scope,
  type ServiceScope,
  assertIdentifier,
  assertServiceScope,
  permissionDenied,
  userScope,
} from '@platform/messaging';

/** The service scope that opens `redaction.v1.redact` to a service token. */
const REDACT_SCOPE: ServiceScope = 'redaction:redact';

/**
 * Whose secrets `redaction.v1.redact` masks (ARCHITECTURE.md §4). Redacting a guess tells whether it is a value, so
 * only callers who may see values anyway get an answer: vendor users with read_write or admin (their own
 * organization, or one of its customers) and services with `redaction:redact` (any organization they name). A
 * read_only user and every customer user are refused, whatever they name.
 */
export function redactScopeOf(
  principal: Principal,
  request: Pick<RedactRequest, 'organizationId' | 'customerOrganizationId'>,
): Scope {
  switch (principal.orgType) {
    case 'service':
      return serviceScope(principal, request);
    case 'customer':
      throw permissionDenied('redaction.v1.redact is not open to customer users: it would confirm guessed values');
    case 'vendor':
      if (principal.role === 'read_only') {
        throw permissionDenied(
          'redaction.v1.redact needs the read_write or admin role: it would confirm guessed values',
        );
      }
      return vendorScope(principal, request);
    default: {
      const _exhaustive: never = principal;
      return _exhaustive;
    }
  }
}

function serviceScope(
  principal: Principal,
  request: Pick<RedactRequest, 'organizationId' | 'customerOrganizationId'>,
): Scope {
  assertServiceScope(principal, REDACT_SCOPE);
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

function vendorScope(
  principal: Principal,
  request: Pick<RedactRequest, 'organizationId' | 'customerOrganizationId'>,
): Scope {
  const scope = userScope(principal, request.customerOrganizationId);
  // A user's organization comes from its token; naming it again is harmless, naming another is refused.
  if (request.organizationId !== undefined && request.organizationId !== scope.organizationId) {
    throw permissionDenied('organizationId may only be named with a service token');
  }
  return scope;
}

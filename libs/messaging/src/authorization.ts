import { PlatformError } from './errors';
import { IDENTIFIER_PATTERN, type Principal, type ServiceScope } from './principal';

/** A secrets partition: the vendor organization and, for customer secrets, the customer organization. */
export interface Scope {
  readonly organizationId: string;
  readonly customerOrganizationId: string | null;
}

export function permissionDenied(message = 'not allowed'): PlatformError {
  return new PlatformError('PERMISSION_DENIED', message);
}

export function assertIdentifier(field: string, value: string): void {
  if (!IDENTIFIER_PATTERN.test(value)) {
    throw new PlatformError('INVALID_ARGUMENT', `${field} must match ${IDENTIFIER_PATTERN.source}`, { field });
  }
}

/**
 * The scope a user request addresses (ARCHITECTURE.md §4): vendor users their own org with or without
 * a customer; customer users only `(vendor_org, own org)`.
 */
export function userScope(principal: Principal, customerOrganizationId: string | undefined): Scope {
  if (customerOrganizationId !== undefined) assertIdentifier('customerOrganizationId', customerOrganizationId);
  switch (principal.orgType) {
    case 'vendor':
      return { organizationId: principal.org, customerOrganizationId: customerOrganizationId ?? null };
    case 'customer':
      if (customerOrganizationId !== undefined && customerOrganizationId !== principal.org) {
        throw permissionDenied('a customer can only address its own secrets');
      }
      return { organizationId: principal.vendorOrg, customerOrganizationId: principal.org };
    case 'service':
      throw permissionDenied('this subject is for users');
    default: {
      const _exhaustive: never = principal;
      return _exhaustive;
    }
  }
}

/** Writes need `read_write` or `admin`. */
export function assertCanWrite(principal: Principal): void {
  if (principal.orgType === 'service' || principal.role === 'read_only') {
    throw permissionDenied('creating, updating or deleting secrets needs the read_write or admin role');
  }
}

export function hasScope(principal: Principal, scope: ServiceScope): boolean {
  return principal.orgType === 'service' && principal.scopes.has(scope);
}

export function assertServiceScope(principal: Principal, ...anyOf: ServiceScope[]): void {
  if (!anyOf.some((scope) => hasScope(principal, scope))) {
    throw permissionDenied(`this subject needs a service token with scope ${anyOf.join(' or ')}`);
  }
}

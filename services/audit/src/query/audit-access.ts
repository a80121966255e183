import { type Principal, assertIdentifier, permissionDenied } from '@platform/messaging';

/** The records a caller may read: one vendor organization's trail, or one customer's part of it. */
export interface AuditView {
  readonly organizationId: string;
  /** Set when only this customer's records are visible (or asked for). */
  readonly customerOrganizationId?: string;
}

/**
 * Tenancy of `audit.v1.query`: a vendor user (any role) reads its organization and all its customers, optionally
 * narrowed to one customer; a customer user (any role) reads only its own records. Service tokens are refused even
 * with `audit:read`: the request has no field naming the organization, and no service needs every tenant's trail.
 */
export function auditViewOf(principal: Principal, customerOrganizationId: string | undefined): AuditView {
  if (customerOrganizationId !== undefined) assertIdentifier('customerOrganizationId', customerOrganizationId);
  switch (principal.orgType) {
    case 'vendor':
      return customerOrganizationId === undefined
        ? { organizationId: principal.org }
        : { organizationId: principal.org, customerOrganizationId };
    case 'customer':
      if (customerOrganizationId !== undefined && customerOrganizationId !== principal.org) {
        throw permissionDenied('a customer can only read its own audit records');
      }
      return { organizationId: principal.vendorOrg, customerOrganizationId: principal.org };
    case 'service':
      throw permissionDenied('audit.v1.query is for users of an organization; service tokens cannot name one');
    default: {
      const _exhaustive: never = principal;
      return _exhaustive;
    }
  }
}

/**
 * Who may run `audit.v1.verify`: admins of a vendor organization, over their organization's chain. The chain spans
 * every customer of the vendor, so customers may not (its length alone tells about other customers), and it reads
 * the whole chain, so it is kept to admins.
 */
export function chainOwnerOf(principal: Principal): string {
  if (principal.orgType !== 'vendor' || principal.role !== 'admin') {
    throw permissionDenied('verifying the audit chain needs the admin role in a vendor organization');
  }
  return principal.org;
}

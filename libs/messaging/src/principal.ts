import { type ServiceName } from '@platform/config';
import { PlatformError } from './errors';

export const IDENTIFIER_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/;

/**
 * A token subject as actors are recorded: 1 to 256 characters and no control characters, which
 * Postgres text and jsonb cannot hold (NUL) and which would forge line breaks in logs.
 */
export function isSubject(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= 256 && !CONTROL_CHARACTER.test(value);
}

export type OrgType = 'vendor' | 'customer' | 'service';
export type Role = 'read_only' | 'read_write' | 'admin';
export type ServiceScope =
  | 'secrets:resolve'
  | 'secrets:resolve-current'
  | 'secrets:resolve-all'
  | 'render:any'
  | 'redaction:redact'
  | 'secrets:report-exposure'
  | 'audit:read';

const ORG_TYPES: readonly OrgType[] = ['vendor', 'customer', 'service'];
const ROLES: readonly Role[] = ['read_only', 'read_write', 'admin'];
const SCOPES: readonly ServiceScope[] = [
  'secrets:resolve',
  // Every key's current (or pinned) value, never the history of values: render's scope.
  'secrets:resolve-current',
  // Every key with the history of values: redaction's scope.
  'secrets:resolve-all',
  'render:any',
  'redaction:redact',
  // Report that a value was masked in a deployment's log (SecretExposed): redaction's own key only.
  'secrets:report-exposure',
  'audit:read',
];

/**
 * The most each platform service's own key may sign (ARCHITECTURE.md §4): the scopes of its definition. A service
 * refuses to start when its definition asks for more, so the two cannot drift apart unnoticed.
 */
export const PLATFORM_SERVICE_SCOPES: Readonly<Record<ServiceName, readonly ServiceScope[]>> = Object.freeze({
  secrets: [],
  render: ['secrets:resolve', 'secrets:resolve-current'],
  redaction: ['secrets:resolve', 'secrets:resolve-all', 'secrets:report-exposure'],
  audit: [],
});

interface PrincipalBase {
  readonly sub: string;
  readonly org: string;
}
export interface VendorUser extends PrincipalBase {
  readonly orgType: 'vendor';
  readonly role: Role;
}
export interface CustomerUser extends PrincipalBase {
  readonly orgType: 'customer';
  readonly role: Role;
  /** The vendor organization whose partition holds this customer's secrets. */
  readonly vendorOrg: string;
}
export interface ServicePrincipal extends PrincipalBase {
  readonly orgType: 'service';
  readonly scopes: ReadonlySet<ServiceScope>;
  /**
   * The `cnf.jkt` claim (RFC 7800, RFC 7638): the thumbprint of the key this token was minted for. A callee that
   * answers to a caller-chosen key (resolve's reply key) accepts only this one.
   */
  readonly confirmedKey?: string;
  /**
   * The `obo` claim: the base64url SHA-256 of the caller's token a platform service forwards beside this one
   * (`On-Behalf-Of`, ARCHITECTURE.md §4), so the header can be neither stripped nor swapped on the way.
   */
  readonly forwardedTokenDigest?: string;
  /**
   * The platform service whose own key (`signs: service:<name>`) signed this token; absent for a `clients` key's token,
   * whatever its `sub`. Set by the guard, which alone knows the key.
   */
  readonly signedByService?: string;
}
/** Who is calling, from a verified token. */
export type Principal = VendorUser | CustomerUser | ServicePrincipal;

function unauthenticated(reason: string): PlatformError {
  return new PlatformError('UNAUTHENTICATED', `invalid token: ${reason}`);
}

function identifierClaim(claims: Readonly<Record<string, unknown>>, name: string): string {
  const value = claims[name];
  if (typeof value !== 'string' || !IDENTIFIER_PATTERN.test(value))
    throw unauthenticated(`claim "${name}" is missing or malformed`);
  return value;
}

const THUMBPRINT = /^[A-Za-z0-9_-]{43}$/;

/** `cnf.jkt`, a base64url SHA-256 thumbprint, when the token carries one. */
function confirmationClaim(claims: Readonly<Record<string, unknown>>): string | undefined {
  const cnf = claims.cnf;
  if (cnf === undefined) return undefined;
  const jkt = typeof cnf === 'object' && cnf !== null ? (cnf as Record<string, unknown>).jkt : undefined;
  if (typeof jkt !== 'string' || !THUMBPRINT.test(jkt))
    throw unauthenticated('claim "cnf" must be {"jkt": <thumbprint>}');
  return jkt;
}

/** Builds the typed principal from verified claims; anything that does not fit the contract is UNAUTHENTICATED. */
export function principalFromClaims(claims: Readonly<Record<string, unknown>>): Principal {
  const sub = claims.sub;
  if (!isSubject(sub)) throw unauthenticated('claim "sub" is missing or malformed');
  const org = identifierClaim(claims, 'org');
  const orgType = claims.org_type;
  if (typeof orgType !== 'string' || !(ORG_TYPES as readonly string[]).includes(orgType)) {
    throw unauthenticated('claim "org_type" must be vendor, customer or service');
  }
  if (orgType === 'service') {
    const scope = typeof claims.scope === 'string' ? claims.scope.split(' ').filter(Boolean) : [];
    const scopes = new Set(scope.filter((s): s is ServiceScope => (SCOPES as readonly string[]).includes(s)));
    const confirmedKey = confirmationClaim(claims);
    const obo = claims.obo;
    if (obo !== undefined && (typeof obo !== 'string' || !THUMBPRINT.test(obo))) {
      throw unauthenticated('claim "obo" must be a base64url SHA-256 digest');
    }
    return {
      sub,
      org,
      orgType,
      scopes,
      ...(confirmedKey === undefined ? {} : { confirmedKey }),
      ...(obo === undefined ? {} : { forwardedTokenDigest: obo }),
    };
  }
  const role = claims.role;
  if (typeof role !== 'string' || !(ROLES as readonly string[]).includes(role)) {
    throw unauthenticated('claim "role" must be read_only, read_write or admin');
  }
  if (orgType === 'customer')
    return { sub, org, orgType, role: role as Role, vendorOrg: identifierClaim(claims, 'vendor_org') };
  return { sub, org, orgType: 'vendor', role: role as Role };
}

/** The actor recorded on events and audit records. */
export function actorOf(principal: Principal): { sub: string; org: string; role: string } {
  return { sub: principal.sub, org: principal.org, role: principal.orgType === 'service' ? 'service' : principal.role };
}

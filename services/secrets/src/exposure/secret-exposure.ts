import { type SecretScope as ReferenceScope } from '@platform/contracts';
import { NO_CUSTOMER } from '../secrets/secret-stream';
import { type SecretScope } from '../secrets/secret';

/** A deployment's log showed a secret's value: metadata only (ARCHITECTURE.md §3, "Exposure"). */
export const SECRET_EXPOSED = 'SecretExposed';

/**
 * `SecretExposed` data, appended to `exposure:<org>:<customer|_>:<deployment>`. `organizationId` and
 * `customerOrganizationId` are the deployment's scope (its log subject's); `scope` says whose key the value is: the
 * vendor's (`vendor`) or that customer's own (`customer`).
 */
export interface SecretExposedData {
  readonly organizationId: string;
  readonly customerOrganizationId: string | null;
  readonly deploymentId: string;
  readonly key: string;
  readonly scope: ReferenceScope;
  readonly version: number;
  readonly lineCount: number;
  readonly firstSeenAt: string;
  readonly lastSeenAt: string;
}

/** Where a deployment's exposures are appended; one stream per deployment, appended without an expected version. */
export function exposureStreamId(scope: SecretScope, deploymentId: string): string {
  return `exposure:${scope.organizationId}:${scope.customerOrganizationId ?? NO_CUSTOMER}:${deploymentId}`;
}

/** The latest exposed version of a secret and its sightings, as `secret_exposure` keeps it. */
export interface SecretExposure {
  readonly version: number;
  readonly firstSeenAt: string;
  readonly lastSeenAt: string;
  readonly lineCount: number;
}

import { type EventMetadata, type SecretScope } from '../secrets/secret';
import { NO_CUSTOMER } from '../secrets/secret-stream';

export const SECRET_EXPIRING = 'SecretExpiring';
export const SECRET_EXPIRED = 'SecretExpired';

/** What an expiry notice is about: one version's value of a secret, and when it expires. Never a value. */
export interface ExpiryNoticeData {
  readonly organizationId: string;
  readonly customerOrganizationId: string | null;
  readonly key: string;
  /** The secret's version whose value expires. */
  readonly version: number;
  readonly expiresAt: string;
}

export type ExpiryNotice = Readonly<{
  type: typeof SECRET_EXPIRING | typeof SECRET_EXPIRED;
  data: ExpiryNoticeData;
  metadata: EventMetadata;
}>;

/**
 * `expiry:<org>:<customer|_>:<key>:<version>`: the notices of one version's value, `SecretExpiring` at stream version
 * 1 and `SecretExpired` at 2. Appending each at its own expected version is what makes every notice exactly once,
 * however many instances scan and however often they restart.
 */
export function expiryStreamId(scope: SecretScope, key: string, version: number): string {
  return `expiry:${scope.organizationId}:${scope.customerOrganizationId ?? NO_CUSTOMER}:${key}:${version}`;
}

/** Recorded as the secrets service itself: nobody asked; the clock did. */
export const EXPIRY_ACTOR: EventMetadata['actor'] = { sub: 'service:secrets', org: 'platform', role: 'service' };

/**
 * The notices a version still owes at `now`, given how many it has (`sent`: 0, 1 or 2) and the lead time: Expiring
 * once `now` is within `leadMs` of the expiry, Expired once it is past; an Expired due before its Expiring was sent
 * (an expiry set inside the lead time, or every instance down over it) comes right after it, in the same append.
 */
export function dueNotices(
  expiresAt: Date,
  sent: number,
  now: Date,
  leadMs: number,
): (typeof SECRET_EXPIRING | typeof SECRET_EXPIRED)[] {
  const owed: (typeof SECRET_EXPIRING | typeof SECRET_EXPIRED)[] = [];
  if (sent < 1 && now.getTime() >= expiresAt.getTime() - leadMs) owed.push(SECRET_EXPIRING);
  if (sent < 2 && now.getTime() >= expiresAt.getTime()) owed.push(SECRET_EXPIRED);
  return owed;
}

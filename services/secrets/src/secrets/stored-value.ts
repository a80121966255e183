import { CryptoError, CryptoErrorCode, type DataKeyRing, type ValuePlace, valueDigest } from '@platform/crypto';
import { secretStreamId } from './secret-stream';
import { SecretsError, SecretsErrorCode } from './secrets.error';

/** A value's ciphertext as read, with the row it was read from and the digest its event carries. */
export interface StoredValue {
  readonly organizationId: string;
  /** `''` for a vendor-level secret. */
  readonly customerId: string;
  readonly key: string;
  readonly version: number;
  readonly eventId: string;
  /** The JWE read from the row (projection or event). */
  readonly value: string;
  /** `data.digest` of the event at that version; null for events of the previous release. */
  readonly digest: string | null;
}

/** Why a stored value was withheld: its digest differs from its event's, or a binding check failed. */
export type IntegrityReason =
  | 'DIGEST_MISMATCH'
  | CryptoErrorCode.WRONG_STREAM
  | CryptoErrorCode.WRONG_PLACE
  | CryptoErrorCode.WRONG_ORGANIZATION
  | CryptoErrorCode.DECRYPT_FAILED
  | CryptoErrorCode.MALFORMED_CIPHERTEXT;

const INTEGRITY_REASONS: ReadonlySet<string> = new Set<IntegrityReason>([
  'DIGEST_MISMATCH',
  CryptoErrorCode.WRONG_STREAM,
  CryptoErrorCode.WRONG_PLACE,
  CryptoErrorCode.WRONG_ORGANIZATION,
  CryptoErrorCode.DECRYPT_FAILED,
  CryptoErrorCode.MALFORMED_CIPHERTEXT,
]);

/** The place a row's columns say a value lives in; the ciphertext must name the same one. */
export function placeOf(stored: StoredValue): ValuePlace {
  const scope = { organizationId: stored.organizationId, customerOrganizationId: stored.customerId || null };
  return {
    organizationId: stored.organizationId,
    customerOrganizationId: scope.customerOrganizationId,
    streamId: secretStreamId(scope, stored.key),
    version: stored.version,
    eventId: stored.eventId,
  };
}

function integrityError(stored: StoredValue, reason: IntegrityReason): SecretsError {
  return new SecretsError(
    SecretsErrorCode.INTEGRITY_VIOLATION,
    `secret ${JSON.stringify(stored.key)} version ${stored.version} failed its integrity check (${reason}); ` +
      'its value is withheld',
    {
      key: stored.key,
      customerOrganizationId: stored.customerId || null,
      version: stored.version,
      reason,
    },
  );
}

/**
 * Compares a value's ciphertext with its event's digest, then decrypts it bound to the place its row names
 * (ARCHITECTURE.md §6). A ciphertext copied from another version, event, secret, customer or organization is refused
 * with INTEGRITY_VIOLATION, never decrypted into a reply. Values of the previous release (no digest in their event)
 * are accepted unbound; a value without binding in an event that has a digest is refused.
 */
export async function openStoredValue(keyRing: DataKeyRing, stored: StoredValue): Promise<string> {
  if (stored.digest !== null && valueDigest(stored.value) !== stored.digest) {
    throw integrityError(stored, 'DIGEST_MISMATCH');
  }
  try {
    return await keyRing.decryptValue(stored.value, placeOf(stored), { acceptUnbound: stored.digest === null });
  } catch (error) {
    if (error instanceof CryptoError && INTEGRITY_REASONS.has(error.code)) {
      throw integrityError(stored, error.code as IntegrityReason);
    }
    throw error;
  }
}

/** The reason of an integrity refusal, for the log and the metric; undefined for any other error. */
export function integrityReasonOf(error: unknown): IntegrityReason | undefined {
  if (!(error instanceof SecretsError) || error.code !== SecretsErrorCode.INTEGRITY_VIOLATION) return undefined;
  return error.details?.reason as IntegrityReason;
}

import { isRecord } from './base64url';

/** Dev-only key material is marked by a `kid` starting with this prefix (see deploy/dev/ and README). */
export const DEV_KEY_ID_PREFIX = 'dev-';

/**
 * True when a JWK, or any key of a JWKS, is dev key material (its `kid` starts with `dev-`).
 * Services refuse such keys when NODE_ENV=production.
 */
export function isDevKeyMaterial(jwkOrJwks: unknown): boolean {
  if (!isRecord(jwkOrJwks)) return false;
  const keys = Array.isArray(jwkOrJwks.keys) ? (jwkOrJwks.keys as unknown[]) : [jwkOrJwks];
  return keys.some((key) => isRecord(key) && typeof key.kid === 'string' && key.kid.startsWith(DEV_KEY_ID_PREFIX));
}

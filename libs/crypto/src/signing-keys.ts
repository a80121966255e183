import { createPrivateKey, createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { decodeBase64Url, isRecord } from './base64url';
import { TokenError, TokenErrorCode } from './token-error';

/** The only JWS algorithms the platform accepts (ARCHITECTURE.md §4); `none` and everything else are refused. */
export const TOKEN_ALGORITHMS = ['HS256', 'ES256', 'RS256'] as const;
export type TokenAlgorithm = (typeof TOKEN_ALGORITHMS)[number];

export function isTokenAlgorithm(alg: unknown): alg is TokenAlgorithm {
  return (TOKEN_ALGORITHMS as readonly unknown[]).includes(alg);
}

/**
 * What a key may sign, from the platform's `signs` member on the JWK (ARCHITECTURE.md §4): `users` (the default)
 * signs vendor and customer users only; `clients` (an identity provider's key, never mounted into a service) signs
 * reusable service-principal tokens for outside callers; `service:<name>` signs only that platform service's own
 * single-use tokens.
 */
export type KeyPolicy =
  { readonly kind: 'users' } | { readonly kind: 'clients' } | { readonly kind: 'service'; readonly service: string };

/** A JWK checked and imported once, with the single algorithm its key type allows and what it may sign. */
export interface SigningKey {
  readonly kid: string | undefined;
  readonly alg: TokenAlgorithm;
  /** The HMAC secret (HS256), or the public (verifying) or private (signing) key object. */
  readonly key: KeyObject | Buffer;
  readonly policy: KeyPolicy;
}

const SERVICE_POLICY = /^service:([a-z][a-z0-9-]{0,62})$/;

function policyOf(jwk: Record<string, unknown>, name: string): KeyPolicy {
  const signs = jwk.signs;
  if (signs === undefined || signs === 'users') return { kind: 'users' };
  if (signs === 'clients') return { kind: 'clients' };
  const service = typeof signs === 'string' ? SERVICE_POLICY.exec(signs) : null;
  if (service) return { kind: 'service', service: service[1] };
  throw badKey(`${name}: member "signs" must be "users", "clients" or "service:<name>"`);
}

const MIN_HMAC_KEY_BYTES = 32; // RFC 7518 §3.2: a key at least as long as the hash output
const MIN_RSA_MODULUS_BYTES = 256; // 2048 bits

/** The algorithm a JWK's key type allows, or undefined when the key is not a signing key the platform can use. */
function algorithmOf(jwk: Record<string, unknown>): TokenAlgorithm | undefined {
  if (jwk.use !== undefined && jwk.use !== 'sig') return undefined;
  const alg: TokenAlgorithm | undefined =
    jwk.kty === 'oct'
      ? 'HS256'
      : jwk.kty === 'EC' && jwk.crv === 'P-256'
        ? 'ES256'
        : jwk.kty === 'RSA'
          ? 'RS256'
          : undefined;
  if (alg === undefined || (jwk.alg !== undefined && jwk.alg !== alg)) return undefined;
  return alg;
}

function describe(jwk: Record<string, unknown>, index: number): string {
  return typeof jwk.kid === 'string' ? `key "${jwk.kid}"` : `key #${index}`;
}

function badKey(message: string): TokenError {
  return new TokenError(TokenErrorCode.BAD_KEY_MATERIAL, message);
}

function checkMember(
  jwk: Record<string, unknown>,
  member: string,
  name: string,
  exactBytes?: number,
  minBytes = 1,
): void {
  const value = jwk[member];
  const bytes = typeof value === 'string' ? decodeBase64Url(value) : undefined;
  if (bytes === undefined || bytes.length < minBytes || (exactBytes !== undefined && bytes.length !== exactBytes)) {
    throw badKey(`${name}: member "${member}" is missing or malformed`);
  }
}

/** Checks the members the algorithm needs; node-jose imports some malformed keys without complaint. */
function checkShape(jwk: Record<string, unknown>, alg: TokenAlgorithm, name: string, needPrivate: boolean): void {
  if (jwk.kid !== undefined && typeof jwk.kid !== 'string') throw badKey(`${name}: "kid" must be a string`);
  switch (alg) {
    case 'HS256':
      checkMember(jwk, 'k', name, undefined, MIN_HMAC_KEY_BYTES);
      return;
    case 'ES256':
      checkMember(jwk, 'x', name, 32);
      checkMember(jwk, 'y', name, 32);
      if (needPrivate) checkMember(jwk, 'd', name, 32);
      return;
    case 'RS256':
      checkMember(jwk, 'n', name, undefined, MIN_RSA_MODULUS_BYTES);
      checkMember(jwk, 'e', name);
      if (needPrivate) checkMember(jwk, 'd', name);
      return;
    default: {
      const _exhaustive: never = alg;
      return _exhaustive;
    }
  }
}

function importKey(jwk: Record<string, unknown>, alg: TokenAlgorithm, name: string, needPrivate: boolean): SigningKey {
  const policy = policyOf(jwk, name);
  const kid = typeof jwk.kid === 'string' ? jwk.kid : undefined;
  if (alg === 'HS256') return { kid, alg, key: decodeBase64Url(jwk.k as string) as Buffer, policy };
  const { kty, crv, x, y, n, e, d, p, q, dp, dq, qi } = jwk;
  const members = Object.fromEntries(
    Object.entries({ kty, crv, x, y, n, e, d, p, q, dp, dq, qi }).filter(([, value]) => value !== undefined),
  ) as JsonWebKey;
  try {
    const key = needPrivate
      ? createPrivateKey({ key: members, format: 'jwk' })
      : createPublicKey({ key: members, format: 'jwk' });
    return { kid, alg, key, policy };
  } catch {
    throw badKey(`${name}: not a valid ${alg} key`);
  }
}

/**
 * Imports the verification keys of a JWKS. Keys the platform cannot use (other key types or curves, `use: "enc"`)
 * are skipped; a usable key type with malformed or weak members is a configuration error.
 */
export async function importVerificationKeys(
  jwks: unknown,
  options: { refuseSymmetric?: boolean } = {},
): Promise<SigningKey[]> {
  if (!isRecord(jwks) || !Array.isArray(jwks.keys)) throw badKey('JWKS must be an object with a "keys" array');
  const keys: SigningKey[] = [];
  for (const [index, jwk] of (jwks.keys as unknown[]).entries()) {
    if (!isRecord(jwk)) throw badKey(`JWKS key #${index} is not an object`);
    const alg = algorithmOf(jwk);
    if (alg === undefined) continue;
    const name = describe(jwk, index);
    if (alg === 'HS256' && options.refuseSymmetric === true) {
      throw badKey(`${name}: oct (HS256) keys are refused when NODE_ENV=production`);
    }
    checkShape(jwk, alg, name, false);
    keys.push(importKey(jwk, alg, name, false));
  }
  if (keys.length === 0) throw badKey('JWKS has no HS256, ES256 or RS256 signing key');
  return keys;
}

/** Imports the private key a signer uses; it must carry a `kid` so verifiers can pick it without guessing. */
export async function importSigningKey(
  jwk: unknown,
  options: { refuseSymmetric?: boolean } = {},
): Promise<SigningKey & { kid: string }> {
  if (!isRecord(jwk)) throw badKey('signing key must be a JWK object');
  const alg = algorithmOf(jwk);
  if (alg === undefined) throw badKey('signing key must be an oct, EC P-256 or RSA key for signatures');
  if (alg === 'HS256' && options.refuseSymmetric === true) {
    throw badKey('signing key: oct (HS256) keys are refused when NODE_ENV=production');
  }
  const name = describe(jwk, 0);
  checkShape(jwk, alg, name, true);
  if (typeof jwk.kid !== 'string' || jwk.kid === '') throw badKey('signing key must have a "kid"');
  const imported = importKey(jwk, alg, name, true);
  return { ...imported, kid: jwk.kid };
}

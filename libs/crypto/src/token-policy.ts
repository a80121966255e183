import { type KeyPolicy } from './signing-keys';
import { TokenError, TokenErrorCode } from './token-error';

/** Allowed clock skew between the token issuer and this process, for `exp`, `nbf` and `iat`. */
export const CLOCK_LEEWAY_SECONDS = 60;

/** What this callee accepts (ARCHITECTURE.md §4). */
export interface TokenPolicy {
  /** This callee's name; a token's `aud` must include it. */
  readonly audience: string;
  /** The accepted `iss` values. */
  readonly issuers: readonly string[];
  /** Each platform service's scopes: the most its own key may sign. A service key naming another service is refused. */
  readonly serviceScopes: ReadonlyMap<string, readonly string[]>;
  /** Cap on `exp − iat` for users. */
  readonly maxUserLifetimeSeconds: number;
  /** Cap on `exp − iat` for service principals (platform services and outside clients). */
  readonly maxServiceLifetimeSeconds: number;
}

const SERVICE_SUB_PREFIX = 'service:';
const JTI = /^[\x21-\x7e]{8,128}$/;

function refuse(code: TokenErrorCode, message: string): TokenError {
  return new TokenError(code, message);
}

export function numericClaim(
  claims: Readonly<Record<string, unknown>>,
  name: string,
  required: boolean,
): number | undefined {
  const value = claims[name];
  if (value === undefined) {
    if (required) throw refuse(TokenErrorCode.MISSING_CLAIM, `token has no "${name}" claim`);
    return undefined;
  }
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw refuse(TokenErrorCode.MALFORMED, `token "${name}" claim must be a number of seconds`);
  }
  return value;
}

/** `exp` (with leeway) and `nbf`; checked on every presentation, cached or not. */
export function checkTime(claims: Readonly<Record<string, unknown>>, now: number): void {
  const exp = numericClaim(claims, 'exp', true) as number;
  if (now >= exp + CLOCK_LEEWAY_SECONDS) throw refuse(TokenErrorCode.EXPIRED, 'token has expired');
  const nbf = numericClaim(claims, 'nbf', false);
  if (nbf !== undefined && now + CLOCK_LEEWAY_SECONDS < nbf) {
    throw refuse(TokenErrorCode.NOT_YET_VALID, 'token is not valid yet');
  }
}

function audiences(claims: Readonly<Record<string, unknown>>): readonly string[] {
  const aud = claims.aud;
  if (aud === undefined) throw refuse(TokenErrorCode.MISSING_CLAIM, 'token has no "aud" claim');
  const list = Array.isArray(aud) ? (aud as unknown[]) : [aud];
  if (list.length === 0 || !list.every((item): item is string => typeof item === 'string')) {
    throw refuse(TokenErrorCode.MALFORMED, 'token "aud" claim must be a string or a list of strings');
  }
  return list;
}

function scopesOf(claims: Readonly<Record<string, unknown>>): readonly string[] {
  const scope = claims.scope;
  if (scope === undefined) return [];
  if (typeof scope !== 'string') throw refuse(TokenErrorCode.MALFORMED, 'token "scope" claim must be a string');
  return scope.split(' ').filter(Boolean);
}

/** The `jti` of a single-use token: required, printable ASCII, 8 to 128 characters. */
export function jtiOf(claims: Readonly<Record<string, unknown>>): string {
  const jti = claims.jti;
  if (jti === undefined) throw refuse(TokenErrorCode.MISSING_CLAIM, 'service token has no "jti" claim');
  if (typeof jti !== 'string' || !JTI.test(jti)) {
    throw refuse(TokenErrorCode.MALFORMED, 'token "jti" claim must be 8 to 128 printable ASCII characters');
  }
  return jti;
}

function checkKeyPolicy(claims: Readonly<Record<string, unknown>>, key: KeyPolicy, policy: TokenPolicy): void {
  const isService = claims.org_type === 'service';
  const sub = typeof claims.sub === 'string' ? claims.sub : '';
  switch (key.kind) {
    case 'users':
      if (isService || sub.startsWith(SERVICE_SUB_PREFIX)) {
        throw refuse(TokenErrorCode.KEY_POLICY, 'token key signs users only, not service principals');
      }
      return;
    case 'clients':
      if (!isService || !sub.startsWith(SERVICE_SUB_PREFIX)) {
        throw refuse(TokenErrorCode.KEY_POLICY, 'token key signs service principals "service:<name>" only');
      }
      // A platform service's name is its own key's alone: an outside client's token naming it could forge
      // attribution (render forwards who asked) or pass as that service wherever its name is trusted.
      if (
        policy.serviceScopes.has(sub.slice(SERVICE_SUB_PREFIX.length)) ||
        policy.serviceScopes.has(String(claims.org))
      ) {
        throw refuse(
          TokenErrorCode.KEY_POLICY,
          'token key may not sign a platform service ("service:<name>" is its own key\'s)',
        );
      }
      return;
    case 'service': {
      const allowed = policy.serviceScopes.get(key.service);
      if (allowed === undefined) throw refuse(TokenErrorCode.KEY_POLICY, 'token key names no platform service');
      if (!isService || sub !== `${SERVICE_SUB_PREFIX}${key.service}` || claims.org !== key.service) {
        throw refuse(TokenErrorCode.KEY_POLICY, `token key signs only service:${key.service}`);
      }
      if (scopesOf(claims).some((scope) => !allowed.includes(scope))) {
        throw refuse(TokenErrorCode.KEY_POLICY, `token key may not sign scopes beyond service:${key.service}'s own`);
      }
      return;
    }
    default: {
      const _exhaustive: never = key;
      return _exhaustive;
    }
  }
}

/**
 * Everything about a verified signature's claims except time and replay: issuer, audience, lifetime cap and what the
 * signing key may sign. Runs once per token (verified tokens are cached).
 */
export function checkClaims(
  claims: Readonly<Record<string, unknown>>,
  key: KeyPolicy,
  policy: TokenPolicy,
  now: number,
): void {
  const iss = claims.iss;
  if (iss === undefined) throw refuse(TokenErrorCode.MISSING_CLAIM, 'token has no "iss" claim');
  if (typeof iss !== 'string' || !policy.issuers.includes(iss)) {
    throw refuse(TokenErrorCode.WRONG_ISSUER, 'token issuer is not trusted');
  }
  const aud = audiences(claims);
  if (!aud.includes(policy.audience)) {
    throw refuse(TokenErrorCode.WRONG_AUDIENCE, `token audience does not include ${policy.audience}`);
  }
  if (key.kind === 'service' && aud.length !== 1) {
    throw refuse(TokenErrorCode.WRONG_AUDIENCE, 'a platform service token must name exactly one audience');
  }
  const iat = numericClaim(claims, 'iat', true) as number;
  const exp = numericClaim(claims, 'exp', true) as number;
  if (iat > now + CLOCK_LEEWAY_SECONDS) throw refuse(TokenErrorCode.NOT_YET_VALID, 'token "iat" is in the future');
  const cap = claims.org_type === 'service' ? policy.maxServiceLifetimeSeconds : policy.maxUserLifetimeSeconds;
  if (exp - iat > cap) {
    throw refuse(TokenErrorCode.LIFETIME_TOO_LONG, `token lifetime (exp - iat) exceeds ${cap} seconds`);
  }
  checkKeyPolicy(claims, key, policy);
  if (key.kind === 'service') jtiOf(claims);
}

import { JWS } from 'node-jose';
import { decodeJsonObject } from './base64url';
import { BoundedCache } from './bounded-cache';
import { importVerificationKeys, isTokenAlgorithm, SigningKey } from './signing-keys';
import { TokenError, TokenErrorCode } from './token-error';

/** The audience every platform token must name (ARCHITECTURE.md §4). */
export const TOKEN_AUDIENCE = 'secrets-platform';
/** Allowed clock skew between the token issuer and this process, for `exp` and `nbf`. */
export const CLOCK_LEEWAY_SECONDS = 60;

/** The verified payload of a token; deeply frozen, since verified tokens are cached and shared. */
export type TokenClaims = Readonly<Record<string, unknown>>;

export interface TokenVerifierOptions {
  /** How many verified tokens to remember (each until it expires); 0 disables the cache. */
  readonly cacheSize?: number;
}

const DEFAULT_CACHE_SIZE = 10_000;

/**
 * Verifies platform JWTs (JWS compact) against a JWKS. Keys are imported once; a token that verified is remembered by
 * its exact string until it expires, so a caller presenting the same token again costs a map lookup and a clock check.
 */
export class TokenVerifier {
  private readonly verified: BoundedCache<string, TokenClaims> | undefined;

  private constructor(
    private readonly keys: readonly SigningKey[],
    options: TokenVerifierOptions,
  ) {
    const cacheSize = options.cacheSize ?? DEFAULT_CACHE_SIZE;
    this.verified = cacheSize > 0 ? new BoundedCache(cacheSize) : undefined;
  }

  static async fromJwks(jwks: unknown, options: TokenVerifierOptions = {}): Promise<TokenVerifier> {
    return new TokenVerifier(await importVerificationKeys(jwks), options);
  }

  async verify(token: string, options: { now?: number } = {}): Promise<TokenClaims> {
    const now = options.now ?? Date.now() / 1000;
    const remembered = this.verified?.get(token);
    if (remembered !== undefined) {
      checkTime(remembered, now);
      return remembered;
    }
    const claims = await this.verifySignature(token);
    checkTime(claims, now);
    checkAudience(claims);
    const frozen = deepFreeze(claims);
    this.verified?.set(token, frozen, ((claims.exp as number) + CLOCK_LEEWAY_SECONDS) * 1000);
    return frozen;
  }

  private async verifySignature(token: string): Promise<Record<string, unknown>> {
    if (typeof token !== 'string') throw new TokenError(TokenErrorCode.MALFORMED, 'token must be a string');
    const parts = token.split('.');
    if (parts.length !== 3) throw new TokenError(TokenErrorCode.MALFORMED, 'token is not a JWS compact serialization');
    const header = decodeJsonObject(parts[0]);
    const claims = decodeJsonObject(parts[1]);
    if (header === undefined) throw new TokenError(TokenErrorCode.MALFORMED, 'token header is not base64url JSON');
    if (claims === undefined) throw new TokenError(TokenErrorCode.MALFORMED, 'token payload is not a JSON object');
    const alg = header.alg;
    if (!isTokenAlgorithm(alg)) {
      throw new TokenError(TokenErrorCode.ALGORITHM_NOT_ALLOWED, 'token algorithm is not one of HS256, ES256, RS256');
    }
    for (const key of this.candidateKeys(header.kid, alg)) {
      try {
        await JWS.createVerify(key.key, { algorithms: [alg], allowEmbeddedKey: false }).verify(token);
        return claims;
      } catch {
        // Without a kid several keys may fit; the token is refused only when none verifies it.
      }
    }
    throw new TokenError(TokenErrorCode.BAD_SIGNATURE, 'token signature does not verify');
  }

  /** The keys allowed to verify a token with this header: the kid's key, whose type must fit the algorithm. */
  private candidateKeys(kid: unknown, alg: string): readonly SigningKey[] {
    if (kid === undefined) {
      const fitting = this.keys.filter((key) => key.alg === alg);
      if (fitting.length === 0) throw new TokenError(TokenErrorCode.KEY_NOT_FOUND, `no ${alg} key to verify the token`);
      return fitting;
    }
    if (typeof kid !== 'string') throw new TokenError(TokenErrorCode.MALFORMED, 'token "kid" must be a string');
    const named = this.keys.filter((key) => key.kid === kid);
    if (named.length === 0) throw new TokenError(TokenErrorCode.KEY_NOT_FOUND, 'token "kid" names no known key');
    const fitting = named.filter((key) => key.alg === alg);
    if (fitting.length === 0) {
      throw new TokenError(
        TokenErrorCode.ALGORITHM_NOT_ALLOWED,
        `token algorithm ${alg} does not fit the key it names`,
      );
    }
    return fitting;
  }
}

function numericClaim(claims: Record<string, unknown>, name: string, required: boolean): number | undefined {
  const value = claims[name];
  if (value === undefined) {
    if (required) throw new TokenError(TokenErrorCode.MISSING_CLAIM, `token has no "${name}" claim`);
    return undefined;
  }
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new TokenError(TokenErrorCode.MALFORMED, `token "${name}" claim must be a number of seconds`);
  }
  return value;
}

function checkTime(claims: Record<string, unknown>, now: number): void {
  const exp = numericClaim(claims, 'exp', true) as number;
  if (now >= exp + CLOCK_LEEWAY_SECONDS) throw new TokenError(TokenErrorCode.EXPIRED, 'token has expired');
  const nbf = numericClaim(claims, 'nbf', false);
  if (nbf !== undefined && now + CLOCK_LEEWAY_SECONDS < nbf) {
    throw new TokenError(TokenErrorCode.NOT_YET_VALID, 'token is not valid yet');
  }
}

function checkAudience(claims: Record<string, unknown>): void {
  const aud = claims.aud;
  if (aud === undefined) throw new TokenError(TokenErrorCode.MISSING_CLAIM, 'token has no "aud" claim');
  const audiences = Array.isArray(aud) ? aud : [aud];
  if (!audiences.includes(TOKEN_AUDIENCE)) {
    throw new TokenError(TokenErrorCode.WRONG_AUDIENCE, `token audience does not include ${TOKEN_AUDIENCE}`);
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const member of Object.values(value)) deepFreeze(member);
  }
  return value;
}

import { decodeJsonObject } from './base64url';
import { BoundedCache } from './bounded-cache';
import { importVerificationKeys, isTokenAlgorithm, SigningKey } from './signing-keys';
import { TokenError, TokenErrorCode } from './token-error';
import { verifyJws } from './token-jws';
import { CLOCK_LEEWAY_SECONDS, checkClaims, checkTime, jtiOf, type TokenPolicy } from './token-policy';
import { TokenReplayRegistry } from './token-replay';

/** The verified payload of a token; deeply frozen, since verified tokens are cached and shared. */
export type TokenClaims = Readonly<Record<string, unknown>>;

export interface TokenVerifierOptions {
  /** Issuers, audience, lifetime caps and service scopes this callee accepts. */
  readonly policy: TokenPolicy;
  /** How many verified reusable tokens to remember (each until it expires); 0 disables the cache. */
  readonly cacheSize?: number;
  /** How many single-use tokens (platform service tokens) to remember by `jti` until they expire. */
  readonly replayCacheSize?: number;
  /** Refuse `oct` (HS256) keys, in the JWKS given now and in every reload (production). */
  readonly refuseSymmetricKeys?: boolean;
}

const DEFAULT_CACHE_SIZE = 10_000;
const DEFAULT_REPLAY_CACHE_SIZE = 100_000;

interface VerifiedToken {
  readonly claims: TokenClaims;
  /** Signed by a platform service key: its `jti` may be presented once. */
  readonly singleUse: boolean;
  /** The platform service whose own key signed it (`signs: service:<name>`); absent for any other key. */
  readonly service?: string;
}

/**
 * Verifies platform JWTs (JWS compact) against a JWKS whose keys each carry a signing policy (ARCHITECTURE.md §4).
 * A reusable token that verified is remembered by its exact string until it expires or the keys change, so a caller
 * presenting it again costs a map lookup and a clock check. A platform service token is single-use: its `jti` is
 * remembered until the token expires and refused the second time.
 */
export class TokenVerifier {
  private readonly verified: BoundedCache<string, TokenClaims> | undefined;
  private readonly replays: TokenReplayRegistry;

  private constructor(
    private keys: readonly SigningKey[],
    private readonly options: TokenVerifierOptions,
  ) {
    const cacheSize = options.cacheSize ?? DEFAULT_CACHE_SIZE;
    this.verified = cacheSize > 0 ? new BoundedCache(cacheSize) : undefined;
    this.replays = new TokenReplayRegistry(options.replayCacheSize ?? DEFAULT_REPLAY_CACHE_SIZE);
  }

  static async fromJwks(jwks: unknown, options: TokenVerifierOptions): Promise<TokenVerifier> {
    const keys = await importVerificationKeys(jwks, { refuseSymmetric: options.refuseSymmetricKeys });
    return new TokenVerifier(keys, options);
  }

  /** The kids this verifier trusts now, with what each may sign (for start-up checks and logs; no key material). */
  get trustedKeys(): ReadonlyArray<{ kid: string | undefined; signs: string }> {
    return this.keys.map((key) => ({
      kid: key.kid,
      signs: key.policy.kind === 'service' ? `service:${key.policy.service}` : key.policy.kind,
    }));
  }

  /**
   * Swaps in a new JWKS (a reload). A removed key stops verifying at once: remembered tokens are forgotten, since
   * they may have been signed by it. A JWKS that cannot be imported throws and leaves the current keys in place.
   */
  async replaceKeys(jwks: unknown): Promise<void> {
    const keys = await importVerificationKeys(jwks, { refuseSymmetric: this.options.refuseSymmetricKeys });
    this.keys = keys;
    this.verified?.clear();
  }

  async verify(token: string, options: { now?: number } = {}): Promise<TokenClaims> {
    return (await this.verifyWithSigner(token, options)).claims;
  }

  /** As `verify`, and which platform service's own key signed the token, if one did (callers gate on it). */
  async verifyWithSigner(
    token: string,
    options: { now?: number } = {},
  ): Promise<{ readonly claims: TokenClaims; readonly service?: string }> {
    const now = options.now ?? Date.now() / 1000;
    const remembered = this.verified?.get(token);
    if (remembered !== undefined) {
      // Only reusable tokens are remembered: none of them was signed by a platform service key.
      checkTime(remembered, now);
      return { claims: remembered };
    }
    const keys = this.keys;
    const { claims, singleUse, service } = await this.verifySignature(token, keys, now);
    checkTime(claims, now);
    const expiresAtMs = ((claims.exp as number) + CLOCK_LEEWAY_SECONDS) * 1000;
    if (singleUse) {
      this.replays.use(`${String(claims.sub)}\u0000${jtiOf(claims)}`, expiresAtMs, now * 1000);
    } else if (this.keys === keys) {
      // Not cached when a reload raced this verification: the token may be signed by a key just removed.
      this.verified?.set(token, claims, expiresAtMs);
    }
    return { claims, service };
  }

  private async verifySignature(token: string, keys: readonly SigningKey[], now: number): Promise<VerifiedToken> {
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
    if (header.crit !== undefined) {
      throw new TokenError(
        TokenErrorCode.MALFORMED,
        'token header "crit" names extensions this verifier does not know',
      );
    }
    const input = `${parts[0]}.${parts[1]}`;
    for (const key of candidateKeys(keys, header.kid, alg)) {
      // Without a kid several keys may fit; the token is refused only when none verifies it.
      if (!verifyJws(key, input, parts[2])) continue;
      checkClaims(claims, key.policy, this.options.policy, now);
      return {
        claims: deepFreeze(claims),
        singleUse: key.policy.kind === 'service',
        ...(key.policy.kind === 'service' ? { service: key.policy.service } : {}),
      };
    }
    throw new TokenError(TokenErrorCode.BAD_SIGNATURE, 'token signature does not verify');
  }
}

/** The keys allowed to verify a token with this header: the kid's key, whose type must fit the algorithm. */
function candidateKeys(keys: readonly SigningKey[], kid: unknown, alg: string): readonly SigningKey[] {
  if (kid === undefined) {
    const fitting = keys.filter((key) => key.alg === alg);
    if (fitting.length === 0) throw new TokenError(TokenErrorCode.KEY_NOT_FOUND, `no ${alg} key to verify the token`);
    return fitting;
  }
  if (typeof kid !== 'string') throw new TokenError(TokenErrorCode.MALFORMED, 'token "kid" must be a string');
  const named = keys.filter((key) => key.kid === kid);
  if (named.length === 0) throw new TokenError(TokenErrorCode.KEY_NOT_FOUND, 'token "kid" names no known key');
  const fitting = named.filter((key) => key.alg === alg);
  if (fitting.length === 0) {
    throw new TokenError(TokenErrorCode.ALGORITHM_NOT_ALLOWED, `token algorithm ${alg} does not fit the key it names`);
  }
  return fitting;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const member of Object.values(value)) deepFreeze(member);
  }
  return value;
}

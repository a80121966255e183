import { TokenError, TokenErrorCode } from './token-error';

/**
 * Remembers the `jti` of every single-use token seen until it could no longer verify anyway (its `exp` plus leeway),
 * so a token captured on the wire is refused the second time. Memory is bounded: when full of live entries, new
 * tokens are refused (fail closed) rather than older entries forgotten.
 */
export class TokenReplayRegistry {
  /** jti → epoch ms after which the token is expired; insertion order is roughly expiry order (lifetimes are capped). */
  private readonly seen = new Map<string, number>();

  constructor(private readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('capacity must be a positive integer');
  }

  get size(): number {
    return this.seen.size;
  }

  /** Records `jti` until `expiresAtMs`; throws REPLAYED when it is already recorded and still live. */
  use(jti: string, expiresAtMs: number, nowMs: number): void {
    const known = this.seen.get(jti);
    if (known !== undefined && known > nowMs) throw new TokenError(TokenErrorCode.REPLAYED, 'token was already used');
    this.sweepOldest(nowMs);
    if (this.seen.size >= this.capacity) this.sweepAll(nowMs);
    if (this.seen.size >= this.capacity) {
      throw new TokenError(TokenErrorCode.REPLAY_CACHE_FULL, 'too many single-use tokens in flight; retry later');
    }
    this.seen.delete(jti);
    this.seen.set(jti, expiresAtMs);
  }

  private sweepOldest(nowMs: number): void {
    for (const [jti, expiresAt] of this.seen) {
      if (expiresAt > nowMs) return;
      this.seen.delete(jti);
    }
  }

  private sweepAll(nowMs: number): void {
    for (const [jti, expiresAt] of this.seen) if (expiresAt <= nowMs) this.seen.delete(jti);
  }
}

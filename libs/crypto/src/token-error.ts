import { CodedError } from '@platform/contracts';

export enum TokenErrorCode {
  MALFORMED = 'MALFORMED',
  ALGORITHM_NOT_ALLOWED = 'ALGORITHM_NOT_ALLOWED',
  KEY_NOT_FOUND = 'KEY_NOT_FOUND',
  BAD_SIGNATURE = 'BAD_SIGNATURE',
  EXPIRED = 'EXPIRED',
  NOT_YET_VALID = 'NOT_YET_VALID',
  WRONG_AUDIENCE = 'WRONG_AUDIENCE',
  MISSING_CLAIM = 'MISSING_CLAIM',
  WRONG_ISSUER = 'WRONG_ISSUER',
  /** `exp − iat` exceeds the cap for the principal's kind. */
  LIFETIME_TOO_LONG = 'LIFETIME_TOO_LONG',
  /** The key that signed the token may not sign these claims (its `signs` policy). */
  KEY_POLICY = 'KEY_POLICY',
  /** A single-use token (its `jti`) was already presented to this callee. */
  REPLAYED = 'REPLAYED',
  /** Too many single-use tokens are still live to remember another; the caller may retry. */
  REPLAY_CACHE_FULL = 'REPLAY_CACHE_FULL',
  /** The JWKS or JWK handed to TokenVerifier/TokenSigner is unusable (a configuration problem, not a caller's). */
  BAD_KEY_MATERIAL = 'BAD_KEY_MATERIAL',
}

/** Why a token was refused; the message names the rule, never the token or a key. */
export class TokenError extends CodedError<TokenErrorCode> {}

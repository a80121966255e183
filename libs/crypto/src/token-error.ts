export enum TokenErrorCode {
  MALFORMED = 'MALFORMED',
  ALGORITHM_NOT_ALLOWED = 'ALGORITHM_NOT_ALLOWED',
  KEY_NOT_FOUND = 'KEY_NOT_FOUND',
  BAD_SIGNATURE = 'BAD_SIGNATURE',
  EXPIRED = 'EXPIRED',
  NOT_YET_VALID = 'NOT_YET_VALID',
  WRONG_AUDIENCE = 'WRONG_AUDIENCE',
  MISSING_CLAIM = 'MISSING_CLAIM',
  /** The JWKS or JWK handed to TokenVerifier/TokenSigner is unusable (a configuration problem, not a caller's). */
  BAD_KEY_MATERIAL = 'BAD_KEY_MATERIAL',
}

/** Why a token was refused; the message names the rule, never the token or a key. */
export class TokenError extends Error {
  constructor(
    readonly code: TokenErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'TokenError';
  }
}

export { TokenError, TokenErrorCode } from './token-error';
export { TokenVerifier, TOKEN_AUDIENCE, CLOCK_LEEWAY_SECONDS } from './token-verifier';
export type { TokenClaims, TokenVerifierOptions } from './token-verifier';
export { TokenSigner } from './token-signer';
export type { SignOptions } from './token-signer';
export { TOKEN_ALGORITHMS } from './signing-keys';
export type { TokenAlgorithm } from './signing-keys';
export { isDevKeyMaterial, DEV_KEY_ID_PREFIX } from './dev-keys';

export { TokenError, TokenErrorCode } from './token-error';
export { TokenVerifier } from './token-verifier';
export type { TokenClaims, TokenVerifierOptions } from './token-verifier';
export { CLOCK_LEEWAY_SECONDS } from './token-policy';
export type { TokenPolicy } from './token-policy';
export { TokenSigner } from './token-signer';
export type { SignOptions } from './token-signer';
export { TOKEN_ALGORITHMS } from './signing-keys';
export type { TokenAlgorithm } from './signing-keys';
export { isDevKeyMaterial, DEV_KEY_ID_PREFIX } from './dev-keys';
export { CryptoError, CryptoErrorCode } from './crypto-error';
export { MasterKeyRing } from './master-key-ring';
export type { WrappedDataKey } from './master-key-ring';
export type { DataKeyStore, StoredDataKey } from './data-key-store';
export { InMemoryDataKeyStore } from './in-memory-data-key-store';
export { DataKeyRing, valueDigest } from './data-key-ring';
export type { DataKeyRingOptions, DecryptOptions, EncryptedValue, ValuePlace, ValueSealer } from './data-key-ring';
export { ReplyEncrypter, generateReplyKeyPair, encryptForReplyKey, decryptWithReplyKey } from './reply-cipher';
export type { ReplyPrivateKey, ReplyPublicJwk } from './reply-cipher';
export {
  REPLY_NONCE_PATTERN,
  ReplyRefusedError,
  ReplySigner,
  ReplyVerifier,
  newReplyNonce,
  replyKeyThumbprint,
} from './reply-signature';
export type { ReplyBinding, ReplyRefusal } from './reply-signature';

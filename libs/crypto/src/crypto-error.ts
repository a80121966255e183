import { CodedError } from '@platform/contracts';

export enum CryptoErrorCode {
  /** A master key, data key or reply key is malformed or of the wrong type. */
  BAD_KEY_MATERIAL = 'BAD_KEY_MATERIAL',
  /** A data key is wrapped under a master kid that is not configured (keep old masters until `rotate-master` ran). */
  MASTER_KEY_NOT_FOUND = 'MASTER_KEY_NOT_FOUND',
  /** The value's data key does not exist: never created, or purged (crypto-shredding). */
  DATA_KEY_NOT_FOUND = 'DATA_KEY_NOT_FOUND',
  /** Not a JWE compact serialization of the expected algorithms. */
  MALFORMED_CIPHERTEXT = 'MALFORMED_CIPHERTEXT',
  /** The value was encrypted for another stream (its authenticated `sid` differs). */
  WRONG_STREAM = 'WRONG_STREAM',
  /** The value was encrypted for another version or event of its stream, or is unbound where binding is required. */
  WRONG_PLACE = 'WRONG_PLACE',
  /** The value's data key belongs to another organization than the place it was read from. */
  WRONG_ORGANIZATION = 'WRONG_ORGANIZATION',
  /** Authentication failed: tampered ciphertext or header, or the wrong key. */
  DECRYPT_FAILED = 'DECRYPT_FAILED',
  /** A resolve reply whose signature, organization, customer, nonce, reply key or ciphertext does not check out. */
  REPLY_REFUSED = 'REPLY_REFUSED',
}

/** Why encryption or decryption failed; the message never carries plaintext, ciphertext or key bytes. */
export class CryptoError extends CodedError<CryptoErrorCode> {}

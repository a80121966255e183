import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { decodeBase64Url, decodeJsonObject, encodeBase64Url } from './base64url';
import { CryptoError, CryptoErrorCode } from './crypto-error';

/**
 * JWE compact serialization with A256GCM content encryption, done directly with node:crypto (RFC 7516 §5.1–5.2,
 * RFC 7518 §5.3): AAD = the ASCII of the base64url protected header, 96-bit random IV, 128-bit tag. Secret values are
 * decrypted on every render and resolve, and node-jose spends most of its time outside AES-GCM (promise chains, key
 * lookups, header merging), so it runs roughly an order of magnitude slower than node:crypto on the same JWE
 * (`npm run bench -- crypto`). The wire form stays standard: node-jose decrypts what this module encrypts and the
 * reverse, which the interop tests check in both directions, so the choice can be undone without touching data.
 */

export const IV_BYTES = 12;
export const TAG_BYTES = 16;
export const CONTENT_KEY_BYTES = 32;

export interface CompactJwe {
  /** The base64url protected header exactly as received: its ASCII bytes are the AAD. */
  readonly protectedHeader: string;
  readonly header: Readonly<Record<string, unknown>>;
  readonly encryptedKey: string;
  readonly iv: Buffer;
  readonly ciphertext: Buffer;
  readonly tag: Buffer;
}

function malformed(message: string): CryptoError {
  return new CryptoError(CryptoErrorCode.MALFORMED_CIPHERTEXT, message);
}

/** Splits a compact JWE and checks the parts every A256GCM JWE has; algorithm-specific checks are the caller's. */
export function parseCompactJwe(jwe: string): CompactJwe {
  if (typeof jwe !== 'string') throw malformed('ciphertext must be a string');
  const parts = jwe.split('.');
  if (parts.length !== 5) throw malformed('ciphertext is not a JWE compact serialization');
  const [protectedHeader, encryptedKey, ivPart, ciphertextPart, tagPart] = parts;
  const header = decodeJsonObject(protectedHeader);
  if (header === undefined) throw malformed('JWE protected header is not base64url JSON');
  if (header.enc !== 'A256GCM') throw malformed('JWE content encryption must be A256GCM');
  // Compression and critical extensions are never produced here; refusing them keeps decryption one code path.
  if (header.zip !== undefined || header.crit !== undefined) throw malformed('JWE uses an unsupported header');
  const iv = decodeBase64Url(ivPart);
  const ciphertext = decodeBase64Url(ciphertextPart);
  const tag = decodeBase64Url(tagPart);
  if (iv?.length !== IV_BYTES || tag?.length !== TAG_BYTES || ciphertext === undefined) {
    throw malformed('JWE initialization vector, ciphertext or tag is malformed');
  }
  return { protectedHeader, header, encryptedKey, iv, ciphertext, tag };
}

/** Encrypts under `contentKey` with a fresh random IV; the protected header is authenticated as AAD. */
export function sealA256Gcm(contentKey: Buffer, header: Record<string, unknown>, plaintext: Buffer): string {
  const protectedHeader = encodeBase64Url(Buffer.from(JSON.stringify(header), 'utf8'));
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', contentKey, iv);
  cipher.setAAD(Buffer.from(protectedHeader, 'ascii'));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return `${protectedHeader}..${encodeBase64Url(iv)}.${encodeBase64Url(ciphertext)}.${encodeBase64Url(cipher.getAuthTag())}`;
}

export function openA256Gcm(contentKey: Buffer, jwe: CompactJwe): Buffer {
  try {
    const decipher = createDecipheriv('aes-256-gcm', contentKey, jwe.iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(jwe.protectedHeader, 'ascii'));
    decipher.setAuthTag(jwe.tag);
    return Buffer.concat([decipher.update(jwe.ciphertext), decipher.final()]);
  } catch {
    throw new CryptoError(CryptoErrorCode.DECRYPT_FAILED, 'ciphertext failed authentication');
  }
}

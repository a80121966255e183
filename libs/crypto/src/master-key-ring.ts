import { createCipheriv, createDecipheriv } from 'node:crypto';
import { decodeBase64Url, encodeBase64Url, isRecord } from './base64url';
import { CryptoError, CryptoErrorCode } from './crypto-error';

const MASTER_KEY_BYTES = 32;
const DATA_KEY_BYTES = 32;
/** RFC 3394 §2.2.3.1 default initial value. */
const KEY_WRAP_IV = Buffer.from('a6a6a6a6a6a6a6a6', 'hex');

export interface WrappedDataKey {
  readonly masterKid: string;
  /** base64url of the RFC 3394 (A256KW) output: 40 bytes for a 32-byte data key. */
  readonly wrapped: string;
}

function badKey(message: string): CryptoError {
  return new CryptoError(CryptoErrorCode.BAD_KEY_MATERIAL, message);
}

/**
 * The key-encryption keys (ARCHITECTURE.md §6): a JWKS of 256-bit `oct` keys, the first one active. Data keys are
 * wrapped with A256KW (RFC 3394, node:crypto `id-aes256-wrap`), byte-identical to node-jose's A256KW.
 */
export class MasterKeyRing {
  private constructor(
    private readonly keys: ReadonlyMap<string, Buffer>,
    readonly activeKid: string,
  ) {}

  static async fromJwks(jwks: unknown): Promise<MasterKeyRing> {
    if (!isRecord(jwks) || !Array.isArray(jwks.keys) || jwks.keys.length === 0) {
      throw badKey('master keys must be a JWKS with at least one key');
    }
    const keys = new Map<string, Buffer>();
    for (const [index, jwk] of (jwks.keys as unknown[]).entries()) {
      if (!isRecord(jwk) || typeof jwk.kid !== 'string' || jwk.kid === '') {
        throw badKey(`master key #${index} must be a JWK with a "kid"`);
      }
      const name = `master key "${jwk.kid}"`;
      if (keys.has(jwk.kid)) throw badKey(`${name} appears twice`);
      if (jwk.kty !== 'oct') throw badKey(`${name} must be an "oct" key`);
      if (jwk.alg !== undefined && jwk.alg !== 'A256KW') throw badKey(`${name} must be for A256KW`);
      if (jwk.use !== undefined && jwk.use !== 'enc') throw badKey(`${name} must be for encryption`);
      const bytes = typeof jwk.k === 'string' ? decodeBase64Url(jwk.k) : undefined;
      if (bytes?.length !== MASTER_KEY_BYTES) throw badKey(`${name} must be 256 bits`);
      keys.set(jwk.kid, bytes);
    }
    return new MasterKeyRing(keys, keys.keys().next().value as string);
  }

  /** Every configured master kid, the active one first. */
  get kids(): readonly string[] {
    return [...this.keys.keys()];
  }

  async wrap(dataKey: Buffer): Promise<WrappedDataKey> {
    if (dataKey.length !== DATA_KEY_BYTES) throw badKey('a data key must be 256 bits');
    const cipher = createCipheriv('id-aes256-wrap', this.keyFor(this.activeKid), KEY_WRAP_IV);
    const wrapped = Buffer.concat([cipher.update(dataKey), cipher.final()]);
    return { masterKid: this.activeKid, wrapped: encodeBase64Url(wrapped) };
  }

  async unwrap(masterKid: string, wrapped: string): Promise<Buffer> {
    const masterKey = this.keyFor(masterKid);
    const bytes = decodeBase64Url(wrapped);
    if (bytes?.length !== DATA_KEY_BYTES + 8) throw badKey('a wrapped data key must be 40 bytes of base64url');
    try {
      const decipher = createDecipheriv('id-aes256-wrap', masterKey, KEY_WRAP_IV);
      return Buffer.concat([decipher.update(bytes), decipher.final()]);
    } catch {
      throw new CryptoError(CryptoErrorCode.DECRYPT_FAILED, `data key does not unwrap under master key "${masterKid}"`);
    }
  }

  private keyFor(masterKid: string): Buffer {
    const key = this.keys.get(masterKid);
    if (key === undefined) {
      throw new CryptoError(CryptoErrorCode.MASTER_KEY_NOT_FOUND, `master key "${masterKid}" is not configured`);
    }
    return key;
  }
}

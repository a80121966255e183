import { createHmac, sign, timingSafeEqual, verify, type KeyObject } from 'node:crypto';
import { decodeBase64Url } from './base64url';
import { type SigningKey } from './signing-keys';

// JWS compact signing and verification (RFC 7515, 7518 §3) with node:crypto: a service signs and its callee verifies
// a fresh token on every call, where node-jose's pure-JavaScript ECDSA cost milliseconds.

const ES256_SIGNATURE_BYTES = 64;

function hmac(secret: Buffer, input: string): Buffer {
  return createHmac('sha256', secret).update(input, 'ascii').digest();
}

/** The base64url signature of `input` (`<header>.<payload>`) with the key's algorithm. */
export function signJws(key: SigningKey, input: string): string {
  const data = Buffer.from(input, 'ascii');
  switch (key.alg) {
    case 'HS256':
      return hmac(key.key as Buffer, input).toString('base64url');
    case 'ES256':
      return sign('sha256', data, { key: key.key as KeyObject, dsaEncoding: 'ieee-p1363' }).toString('base64url');
    case 'RS256':
      return sign('sha256', data, key.key as KeyObject).toString('base64url');
    default: {
      const _exhaustive: never = key.alg;
      return _exhaustive;
    }
  }
}

/** True when `signature` (base64url) is the key's signature of `input`; false for anything malformed. */
export function verifyJws(key: SigningKey, input: string, signature: string): boolean {
  const bytes = decodeBase64Url(signature);
  if (bytes === undefined || bytes.length === 0) return false;
  const data = Buffer.from(input, 'ascii');
  try {
    switch (key.alg) {
      case 'HS256': {
        const expected = hmac(key.key as Buffer, input);
        return bytes.length === expected.length && timingSafeEqual(bytes, expected);
      }
      case 'ES256':
        return (
          bytes.length === ES256_SIGNATURE_BYTES &&
          verify('sha256', data, { key: key.key as KeyObject, dsaEncoding: 'ieee-p1363' }, bytes)
        );
      case 'RS256':
        return verify('sha256', data, key.key as KeyObject, bytes);
      default: {
        const _exhaustive: never = key.alg;
        return _exhaustive;
      }
    }
  } catch {
    return false;
  }
}

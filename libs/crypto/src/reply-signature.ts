import { type KeyObject, createHash, createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { decodeBase64Url, decodeJsonObject, encodeBase64Url, isRecord } from './base64url';
import { CryptoError, CryptoErrorCode } from './crypto-error';

/**
 * Signatures over resolve replies (ARCHITECTURE.md §6): encrypt-then-sign. The secrets service encrypts the values to
 * the caller's reply key (reply-cipher.ts), then signs, with a key the callers pin, a JWS compact ES256 whose payload
 * names what the reply is for: the organization, the customer, the request's nonce, the reply key's thumbprint and
 * the SHA-256 of the ciphertext. A caller checks all of it before it decrypts anything.
 */

const SIGNATURE_TYPE = 'resolve-reply+jws';
const COORDINATE_BYTES = 32;
/** A nonce is base64url of at least 16 random bytes (128 bits); at most 128 characters. */
export const REPLY_NONCE_PATTERN = /^[A-Za-z0-9_-]{22,128}$/;

/** What a resolve reply answers: checked by the caller against its own request. */
export interface ReplyBinding {
  readonly organizationId: string;
  readonly customerOrganizationId: string | null;
  readonly nonce: string;
  /** RFC 7638 thumbprint of the reply key the ciphertext is encrypted to. */
  readonly replyKeyThumbprint: string;
}

/** Why a reply was refused; a label for the refusal metric, never a value. */
export type ReplyRefusal =
  'malformed' | 'signature' | 'organization' | 'customer' | 'nonce' | 'reply_key' | 'ciphertext';

/** A resolve reply that fails a check: nothing in it may be used. */
export class ReplyRefusedError extends CryptoError {
  constructor(
    readonly reason: ReplyRefusal,
    message: string,
  ) {
    super(CryptoErrorCode.REPLY_REFUSED, message);
    this.name = 'ReplyRefusedError';
  }
}

/** A fresh nonce for one resolve request: 128 random bits, base64url. */
export function newReplyNonce(): string {
  return encodeBase64Url(globalThis.crypto.getRandomValues(new Uint8Array(16)));
}

/**
 * The RFC 7638 SHA-256 thumbprint (base64url) of a public EC P-256 JWK: the hash of its required members in
 * lexicographic order. Throws BAD_KEY_MATERIAL for anything else, including a private key.
 */
export function replyKeyThumbprint(jwk: unknown): string {
  if (!isRecord(jwk) || jwk.kty !== 'EC' || jwk.crv !== 'P-256' || jwk.d !== undefined || !isCoordinates(jwk)) {
    throw new CryptoError(CryptoErrorCode.BAD_KEY_MATERIAL, 'reply key must be a public EC P-256 JWK');
  }
  const canonical = `{"crv":"P-256","kty":"EC","x":"${jwk.x}","y":"${jwk.y}"}`;
  return createHash('sha256').update(canonical, 'utf8').digest('base64url');
}

function isCoordinates(jwk: Record<string, unknown>): jwk is Record<string, unknown> & { x: string; y: string } {
  return [jwk.x, jwk.y].every(
    (member) => typeof member === 'string' && decodeBase64Url(member)?.length === COORDINATE_BYTES,
  );
}

const ciphertextHash = (ciphertext: string): string =>
  createHash('sha256').update(ciphertext, 'utf8').digest('base64url');

function keyIdOf(jwk: Record<string, unknown>): string {
  if (typeof jwk.kid !== 'string' || jwk.kid.length === 0) {
    throw new CryptoError(CryptoErrorCode.BAD_KEY_MATERIAL, 'a reply-signing key needs a "kid"');
  }
  return jwk.kid;
}

type Es256Jwk = Record<string, unknown> & { readonly x: string; readonly y: string };

function assertEs256Key(jwk: unknown, needPrivate: boolean): asserts jwk is Es256Jwk {
  const ok =
    isRecord(jwk) &&
    jwk.kty === 'EC' &&
    jwk.crv === 'P-256' &&
    (jwk.alg === undefined || jwk.alg === 'ES256') &&
    (jwk.use === undefined || jwk.use === 'sig') &&
    isCoordinates(jwk) &&
    (needPrivate ? typeof jwk.d === 'string' && decodeBase64Url(jwk.d)?.length === COORDINATE_BYTES : true);
  if (!ok) {
    throw new CryptoError(
      CryptoErrorCode.BAD_KEY_MATERIAL,
      `a reply-signing key must be an EC P-256 (ES256) ${needPrivate ? 'private' : 'public'} JWK with a "kid"`,
    );
  }
}

/** Signs resolve replies with the secrets service's reply-signing key (a private EC P-256 JWK with a `kid`). */
export class ReplySigner {
  private constructor(
    private readonly key: KeyObject,
    private readonly header: string,
  ) {}

  static fromJwk(jwk: unknown): ReplySigner {
    assertEs256Key(jwk, true);
    const kid = keyIdOf(jwk);
    let key: KeyObject;
    try {
      key = createPrivateKey({
        key: { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y, d: jwk.d as string },
        format: 'jwk',
      });
    } catch {
      throw new CryptoError(CryptoErrorCode.BAD_KEY_MATERIAL, `reply-signing key "${kid}" is not a valid P-256 key`);
    }
    const header = encodeBase64Url(Buffer.from(JSON.stringify({ alg: 'ES256', kid, typ: SIGNATURE_TYPE }), 'utf8'));
    return new ReplySigner(key, header);
  }

  /** The detached-style JWS over `binding` and the ciphertext's hash. */
  sign(binding: ReplyBinding, ciphertext: string): string {
    const payload = {
      org: binding.organizationId,
      cust: binding.customerOrganizationId,
      nonce: binding.nonce,
      jkt: binding.replyKeyThumbprint,
      cth: ciphertextHash(ciphertext),
    };
    const signingInput = `${this.header}.${encodeBase64Url(Buffer.from(JSON.stringify(payload), 'utf8'))}`;
    const signature = sign('sha256', Buffer.from(signingInput, 'ascii'), { key: this.key, dsaEncoding: 'ieee-p1363' });
    return `${signingInput}.${encodeBase64Url(signature)}`;
  }
}

/** Checks resolve replies against the pinned reply-signing public keys (a JWKS: several during a rotation). */
export class ReplyVerifier {
  private constructor(private readonly keys: ReadonlyMap<string, KeyObject>) {}

  /** A JWKS `{keys: [...]}` or a single public JWK; every key needs a `kid`. */
  static fromJwks(json: unknown): ReplyVerifier {
    const list = isRecord(json) && Array.isArray(json.keys) ? (json.keys as unknown[]) : [json];
    if (list.length === 0) throw new CryptoError(CryptoErrorCode.BAD_KEY_MATERIAL, 'no reply-signing public key');
    const keys = new Map<string, KeyObject>();
    for (const jwk of list) {
      assertEs256Key(jwk, false);
      const kid = keyIdOf(jwk);
      if (jwk.d !== undefined) {
        throw new CryptoError(CryptoErrorCode.BAD_KEY_MATERIAL, `reply-signing key "${kid}" must be public (no "d")`);
      }
      if (keys.has(kid))
        throw new CryptoError(CryptoErrorCode.BAD_KEY_MATERIAL, `duplicate reply-signing kid "${kid}"`);
      try {
        keys.set(kid, createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y }, format: 'jwk' }));
      } catch {
        throw new CryptoError(CryptoErrorCode.BAD_KEY_MATERIAL, `reply-signing key "${kid}" is not a valid P-256 key`);
      }
    }
    return new ReplyVerifier(keys);
  }

  /**
   * Throws ReplyRefusedError unless `signature` is a valid ES256 JWS by a pinned key over exactly `expected` and
   * `ciphertext`. Callers run it before decrypting: nothing unauthenticated reaches the key agreement.
   */
  verify(signature: unknown, ciphertext: unknown, expected: ReplyBinding): void {
    const parts = typeof signature === 'string' ? signature.split('.') : [];
    if (parts.length !== 3 || typeof ciphertext !== 'string') {
      throw new ReplyRefusedError('malformed', 'resolve reply carries no well-formed signature');
    }
    const [headerPart, payloadPart, signaturePart] = parts;
    const header = decodeJsonObject(headerPart);
    const key = typeof header?.kid === 'string' ? this.keys.get(header.kid) : undefined;
    if (header?.alg !== 'ES256' || header.typ !== SIGNATURE_TYPE || header.crit !== undefined || key === undefined) {
      throw new ReplyRefusedError('signature', 'resolve reply is not signed by a pinned reply-signing key');
    }
    const bytes = decodeBase64Url(signaturePart);
    const valid =
      bytes?.length === 2 * COORDINATE_BYTES &&
      verify('sha256', Buffer.from(`${headerPart}.${payloadPart}`, 'ascii'), { key, dsaEncoding: 'ieee-p1363' }, bytes);
    if (!valid) throw new ReplyRefusedError('signature', 'resolve reply signature does not verify');
    const payload = decodeJsonObject(payloadPart);
    if (payload === undefined) throw new ReplyRefusedError('malformed', 'resolve reply signature payload is malformed');
    if (payload.org !== expected.organizationId) {
      throw new ReplyRefusedError('organization', 'resolve reply is for another organization');
    }
    if (payload.cust !== expected.customerOrganizationId) {
      throw new ReplyRefusedError('customer', 'resolve reply is for another customer');
    }
    if (payload.nonce !== expected.nonce) throw new ReplyRefusedError('nonce', 'resolve reply answers another request');
    if (payload.jkt !== expected.replyKeyThumbprint) {
      throw new ReplyRefusedError('reply_key', 'resolve reply is for another reply key');
    }
    if (payload.cth !== ciphertextHash(ciphertext)) {
      throw new ReplyRefusedError('ciphertext', 'resolve reply ciphertext is not the one signed');
    }
  }
}

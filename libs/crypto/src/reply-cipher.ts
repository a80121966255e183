import { createECDH, createHash, ECDH } from 'node:crypto';
import { inspect } from 'node:util';
import { decodeBase64Url, encodeBase64Url, isRecord } from './base64url';
import { CryptoError, CryptoErrorCode } from './crypto-error';
import { CompactJwe, openA256Gcm, parseCompactJwe, sealA256Gcm } from './jwe-compact';

/**
 * Replies of `secrets.v1.resolve` (ARCHITECTURE.md §6): JWE compact `ECDH-ES` + `A256GCM` to the caller's ephemeral
 * EC P-256 key. Done with node:crypto ECDH and the Concat KDF of RFC 7518 §4.6 because it runs on every render;
 * interop with node-jose is tested in both directions.
 */

const CURVE = 'prime256v1';
const COORDINATE_BYTES = 32;
const UNCOMPRESSED_POINT = 0x04;

/** A caller's EC P-256 public key, as sent in `replyKey`. */
export interface ReplyPublicJwk {
  readonly kty: 'EC';
  readonly crv: 'P-256';
  readonly x: string;
  readonly y: string;
}

/** The private half of a reply key pair; opaque, never serialized or printed. */
export class ReplyPrivateKey {
  readonly #ecdh: ECDH;

  private constructor(ecdh: ECDH) {
    this.#ecdh = ecdh;
  }

  /** @internal */
  static generate(): ReplyPrivateKey {
    const ecdh = createECDH(CURVE);
    ecdh.generateKeys();
    return new ReplyPrivateKey(ecdh);
  }

  get publicJwk(): ReplyPublicJwk {
    return publicJwkOf(this.#ecdh.getPublicKey());
  }

  /** @internal */
  agree(peerPoint: Buffer): Buffer {
    return this.#ecdh.computeSecret(peerPoint);
  }

  toJSON(): Record<string, never> {
    return {};
  }

  [inspect.custom](): string {
    return 'ReplyPrivateKey { <private> }';
  }
}

export async function generateReplyKeyPair(): Promise<{ publicJwk: ReplyPublicJwk; privateKey: ReplyPrivateKey }> {
  const privateKey = ReplyPrivateKey.generate();
  return { publicJwk: privateKey.publicJwk, privateKey };
}

/** Encrypts `payload` (as JSON) so that only the holder of the private half of `publicJwk` can read it. */
export async function encryptForReplyKey(publicJwk: unknown, payload: unknown): Promise<string> {
  const recipient = pointOf(publicJwk, () => new CryptoError(CryptoErrorCode.BAD_KEY_MATERIAL, badReplyKey));
  const json = JSON.stringify(payload);
  if (json === undefined) throw new TypeError('reply payload must be JSON-serializable');
  const ephemeral = ReplyPrivateKey.generate();
  let sharedSecret: Buffer;
  try {
    sharedSecret = ephemeral.agree(recipient);
  } catch {
    throw new CryptoError(CryptoErrorCode.BAD_KEY_MATERIAL, 'reply key is not a point on P-256');
  }
  const header = { alg: 'ECDH-ES', enc: 'A256GCM', epk: ephemeral.publicJwk };
  return sealA256Gcm(concatKdf(sharedSecret, Buffer.alloc(0), Buffer.alloc(0)), header, Buffer.from(json, 'utf8'));
}

export async function decryptWithReplyKey(privateKey: ReplyPrivateKey, jwe: string): Promise<unknown> {
  const parsed = parseCompactJwe(jwe);
  const { alg, epk } = parsed.header;
  if (alg !== 'ECDH-ES' || parsed.encryptedKey !== '') {
    throw new CryptoError(CryptoErrorCode.MALFORMED_CIPHERTEXT, 'reply is not an ECDH-ES JWE');
  }
  const malformed = () => new CryptoError(CryptoErrorCode.MALFORMED_CIPHERTEXT, 'reply "epk" is not an EC P-256 key');
  const ephemeral = pointOf(epk, malformed);
  let sharedSecret: Buffer;
  try {
    sharedSecret = privateKey.agree(ephemeral);
  } catch {
    throw malformed();
  }
  const contentKey = concatKdf(sharedSecret, partyInfo(parsed, 'apu'), partyInfo(parsed, 'apv'));
  const plaintext = openA256Gcm(contentKey, parsed);
  try {
    return JSON.parse(plaintext.toString('utf8')) as unknown;
  } catch {
    throw new CryptoError(CryptoErrorCode.MALFORMED_CIPHERTEXT, 'reply plaintext is not JSON');
  }
}

const badReplyKey = 'reply key must be a public EC P-256 JWK ({kty: "EC", crv: "P-256", x, y}, no "d")';

/** The uncompressed point of a public EC P-256 JWK; a private key is refused so it is never sent where it leaks. */
function pointOf(jwk: unknown, refuse: () => CryptoError): Buffer {
  if (!isRecord(jwk) || jwk.kty !== 'EC' || jwk.crv !== 'P-256' || jwk.d !== undefined) throw refuse();
  const x = typeof jwk.x === 'string' ? decodeBase64Url(jwk.x) : undefined;
  const y = typeof jwk.y === 'string' ? decodeBase64Url(jwk.y) : undefined;
  if (x?.length !== COORDINATE_BYTES || y?.length !== COORDINATE_BYTES) throw refuse();
  return Buffer.concat([Buffer.of(UNCOMPRESSED_POINT), x, y]);
}

function publicJwkOf(point: Buffer): ReplyPublicJwk {
  return {
    kty: 'EC',
    crv: 'P-256',
    x: encodeBase64Url(point.subarray(1, 1 + COORDINATE_BYTES)),
    y: encodeBase64Url(point.subarray(1 + COORDINATE_BYTES)),
  };
}

function partyInfo(jwe: CompactJwe, member: 'apu' | 'apv'): Buffer {
  const value = jwe.header[member];
  if (value === undefined) return Buffer.alloc(0);
  const bytes = typeof value === 'string' ? decodeBase64Url(value) : undefined;
  if (bytes === undefined)
    throw new CryptoError(CryptoErrorCode.MALFORMED_CIPHERTEXT, `reply "${member}" is malformed`);
  return bytes;
}

function lengthPrefixed(bytes: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

/** RFC 7518 §4.6.2 Concat KDF for direct key agreement with A256GCM: one SHA-256 round gives the 256-bit key. */
function concatKdf(sharedSecret: Buffer, partyUInfo: Buffer, partyVInfo: Buffer): Buffer {
  const keyBits = Buffer.alloc(4);
  keyBits.writeUInt32BE(256);
  return createHash('sha256')
    .update(Buffer.of(0, 0, 0, 1))
    .update(sharedSecret)
    .update(lengthPrefixed(Buffer.from('A256GCM', 'ascii')))
    .update(lengthPrefixed(partyUInfo))
    .update(lengthPrefixed(partyVInfo))
    .update(keyBits)
    .digest();
}

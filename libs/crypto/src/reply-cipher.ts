import { createCipheriv, createECDH, createHash, ECDH, randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { decodeBase64Url, encodeBase64Url, isRecord } from './base64url';
import { BoundedCache } from './bounded-cache';
import { CryptoError, CryptoErrorCode } from './crypto-error';
import { CompactJwe, IV_BYTES, TAG_BYTES, openA256Gcm, parseCompactJwe } from './jwe-compact';

/**
 * Replies of `secrets.v1.resolve` (ARCHITECTURE.md §6): JWE compact `ECDH-ES` + `A256GCM` to the caller's reply key,
 * an EC P-256 key. Done with node:crypto ECDH and the Concat KDF of RFC 7518 §4.6 because it runs on every render;
 * interop with node-jose is tested in both directions.
 *
 * The key agreement (about 0.5 ms of CPU on each side) dominated a render, so its result is reused for a short time:
 * the sender keeps one ephemeral key and its derived content key per recipient key, and the recipient keeps the
 * content key it derived per protected header (which names the sender's `epk`, `apu` and `apv`). A repeated pair
 * then costs one AES-256-GCM operation. Every message still gets a fresh random 96-bit IV, as JWE requires; at any
 * plausible rate a 60 s window stays many orders of magnitude below the 2^32 messages NIST allows per GCM key with
 * random IVs. The cost is forward secrecy at the granularity of the window: whoever reads either process's memory
 * can open the replies of the window still cached (they could read the values in that memory anyway), and nothing
 * older once it has expired.
 */

const CURVE = 'prime256v1';
const COORDINATE_BYTES = 32;
const UNCOMPRESSED_POINT = 0x04;

/** How long a sender reuses one ephemeral key per recipient, and a recipient a derived content key (default). */
export const REPLY_KEY_AGREEMENT_TTL_MS = 60_000;
/** Recipient keys a sender keeps agreements for: a few per render or redaction instance. */
const SENDER_AGREEMENTS = 1024;
/** Sender keys a reply key keeps agreements for: one per secrets instance that answers it. */
const RECIPIENT_AGREEMENTS = 64;

/** A caller's EC P-256 public key, as sent in `replyKey`. */
export interface ReplyPublicJwk {
  readonly kty: 'EC';
  readonly crv: 'P-256';
  readonly x: string;
  readonly y: string;
}

export interface ReplyAgreementOptions {
  /** How long a derived content key is reused (default 60 s; 0 derives anew for every message). */
  readonly ttlMs?: number;
  readonly clock?: () => number;
}

/** A content key derived for one protected header: reused until it expires. */
interface ReceivedAgreement {
  readonly contentKey: Buffer;
  readonly header: Readonly<Record<string, unknown>>;
}

/** The private half of a reply key pair; opaque, never serialized or printed. */
export class ReplyPrivateKey {
  readonly #ecdh: ECDH;
  readonly #agreements: BoundedCache<string, ReceivedAgreement> | undefined;

  private constructor(ecdh: ECDH, options: ReplyAgreementOptions) {
    this.#ecdh = ecdh;
    const ttlMs = options.ttlMs ?? REPLY_KEY_AGREEMENT_TTL_MS;
    this.#agreements = ttlMs > 0 ? new BoundedCache(RECIPIENT_AGREEMENTS, ttlMs, options.clock) : undefined;
  }

  /** @internal */
  static generate(options: ReplyAgreementOptions = {}): ReplyPrivateKey {
    const ecdh = createECDH(CURVE);
    ecdh.generateKeys();
    return new ReplyPrivateKey(ecdh, options);
  }

  get publicJwk(): ReplyPublicJwk {
    return publicJwkOf(this.#ecdh.getPublicKey());
  }

  /** @internal */
  agree(peerPoint: Buffer): Buffer {
    return this.#ecdh.computeSecret(peerPoint);
  }

  /** @internal the content key derived earlier for this exact protected header, if still fresh. */
  receivedAgreement(protectedHeader: string): ReceivedAgreement | undefined {
    return this.#agreements?.get(protectedHeader);
  }

  /** @internal remembered only after a message under it authenticated, so junk headers never fill the cache. */
  rememberAgreement(protectedHeader: string, agreement: ReceivedAgreement): void {
    this.#agreements?.set(protectedHeader, agreement);
  }

  toJSON(): Record<string, never> {
    return {};
  }

  [inspect.custom](): string {
    return 'ReplyPrivateKey { <private> }';
  }
}

/**
 * A fresh reply key pair. Its private half remembers the content keys it derives (per sender key, for
 * `options.ttlMs`), so replies from a sender that reuses its ephemeral key cost no key agreement.
 */
export async function generateReplyKeyPair(
  options: ReplyAgreementOptions = {},
): Promise<{ publicJwk: ReplyPublicJwk; privateKey: ReplyPrivateKey }> {
  const privateKey = ReplyPrivateKey.generate(options);
  return { publicJwk: privateKey.publicJwk, privateKey };
}

/** What a sender reuses for one recipient: the protected header naming its ephemeral key, and the content key. */
interface SentAgreement {
  readonly protectedHeader: string;
  readonly aad: Buffer;
  readonly contentKey: Buffer;
}

/**
 * Encrypts replies to reply keys, reusing one ephemeral key and its derived content key per recipient key for
 * `ttlMs` (bounded LRU over recipients). The secrets service holds one for its resolve replies.
 */
export class ReplyEncrypter {
  private readonly agreements: BoundedCache<string, SentAgreement> | undefined;

  constructor(options: ReplyAgreementOptions & { readonly maxRecipients?: number } = {}) {
    const ttlMs = options.ttlMs ?? REPLY_KEY_AGREEMENT_TTL_MS;
    this.agreements =
      ttlMs > 0 ? new BoundedCache(options.maxRecipients ?? SENDER_AGREEMENTS, ttlMs, options.clock) : undefined;
  }

  /** Encrypts `payload` (as JSON) so that only the holder of the private half of `publicJwk` can read it. */
  encrypt(publicJwk: unknown, payload: unknown): string {
    const recipient = pointOf(publicJwk, () => new CryptoError(CryptoErrorCode.BAD_KEY_MATERIAL, badReplyKey));
    const json = JSON.stringify(payload);
    if (json === undefined) throw new TypeError('reply payload must be JSON-serializable');
    // The decoded point, not the JWK text, names the recipient: two spellings of one key share an agreement.
    const recipientId = recipient.toString('latin1');
    let agreement = this.agreements?.get(recipientId);
    if (agreement === undefined) {
      agreement = newAgreement(recipient);
      this.agreements?.set(recipientId, agreement);
    }
    return sealUnder(agreement, Buffer.from(json, 'utf8'));
  }
}

/** Replies encrypted with `encryptForReplyKey` share this sender's agreements. */
const defaultEncrypter = new ReplyEncrypter();

/** Encrypts `payload` (as JSON) so that only the holder of the private half of `publicJwk` can read it. */
export async function encryptForReplyKey(publicJwk: unknown, payload: unknown): Promise<string> {
  return defaultEncrypter.encrypt(publicJwk, payload);
}

export async function decryptWithReplyKey(privateKey: ReplyPrivateKey, jwe: string): Promise<unknown> {
  const parsed = parseReply(privateKey, jwe);
  const contentKey = parsed.agreement?.contentKey ?? deriveContentKey(privateKey, parsed.jwe);
  const plaintext = openA256Gcm(contentKey, parsed.jwe);
  if (parsed.agreement === undefined) {
    privateKey.rememberAgreement(parsed.jwe.protectedHeader, { contentKey, header: parsed.jwe.header });
  }
  try {
    return JSON.parse(plaintext.toString('utf8')) as unknown;
  } catch {
    throw new CryptoError(CryptoErrorCode.MALFORMED_CIPHERTEXT, 'reply plaintext is not JSON');
  }
}

/** A reply whose protected header was seen before skips the header checks and the key agreement. */
function parseReply(privateKey: ReplyPrivateKey, jwe: string): { jwe: CompactJwe; agreement?: ReceivedAgreement } {
  const parts = typeof jwe === 'string' ? jwe.split('.') : [];
  const agreement = parts.length === 5 && parts[1] === '' ? privateKey.receivedAgreement(parts[0]) : undefined;
  if (agreement === undefined) return { jwe: parseCompactJwe(jwe) };
  const [protectedHeader, , ivPart, ciphertextPart, tagPart] = parts;
  const iv = decodeBase64Url(ivPart);
  const ciphertext = decodeBase64Url(ciphertextPart);
  const tag = decodeBase64Url(tagPart);
  if (iv?.length !== IV_BYTES || tag?.length !== TAG_BYTES || ciphertext === undefined) {
    throw new CryptoError(
      CryptoErrorCode.MALFORMED_CIPHERTEXT,
      'JWE initialization vector, ciphertext or tag is malformed',
    );
  }
  return {
    jwe: { protectedHeader, header: agreement.header, encryptedKey: '', iv, ciphertext, tag },
    agreement,
  };
}

function deriveContentKey(privateKey: ReplyPrivateKey, jwe: CompactJwe): Buffer {
  const { alg, epk } = jwe.header;
  if (alg !== 'ECDH-ES' || jwe.encryptedKey !== '') {
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
  return concatKdf(sharedSecret, partyInfo(jwe, 'apu'), partyInfo(jwe, 'apv'));
}

/** A new ephemeral key agreed with `recipient`; throws BAD_KEY_MATERIAL when the point is not on the curve. */
function newAgreement(recipient: Buffer): SentAgreement {
  const ephemeral = ReplyPrivateKey.generate({ ttlMs: 0 });
  let sharedSecret: Buffer;
  try {
    sharedSecret = ephemeral.agree(recipient);
  } catch {
    throw new CryptoError(CryptoErrorCode.BAD_KEY_MATERIAL, 'reply key is not a point on P-256');
  }
  const header = { alg: 'ECDH-ES', enc: 'A256GCM', epk: ephemeral.publicJwk };
  const protectedHeader = encodeBase64Url(Buffer.from(JSON.stringify(header), 'utf8'));
  return {
    protectedHeader,
    aad: Buffer.from(protectedHeader, 'ascii'),
    contentKey: concatKdf(sharedSecret, Buffer.alloc(0), Buffer.alloc(0)),
  };
}

/** JWE compact A256GCM under an agreement's content key, with a fresh random IV (RFC 7516 §5.1). */
function sealUnder(agreement: SentAgreement, plaintext: Buffer): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', agreement.contentKey, iv);
  cipher.setAAD(agreement.aad);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return `${agreement.protectedHeader}..${encodeBase64Url(iv)}.${encodeBase64Url(ciphertext)}.${encodeBase64Url(cipher.getAuthTag())}`;
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

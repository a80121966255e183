import { type KeyObject, createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { canonicalJson } from '../records/hash-chain';

/**
 * A signed statement of one organization's chain head: after `count` records, the last at stream sequence
 * `sequence`, the chain ends in `hash`. Signed with a key that lives outside the audit database, so whoever can write
 * that database can neither forge one nor make an old one disagree with the records unnoticed.
 */
export interface Checkpoint {
  readonly organizationId: string;
  /** Stream sequence of the organization's last record (0 when it has none). */
  readonly sequence: number;
  /** That record's hash (GENESIS_HASH when it has none). */
  readonly hash: string;
  /** How many records the chain holds up to and including `sequence`. */
  readonly count: number;
  readonly signedAt: Date;
}

/** A checkpoint as read back from AUDIT_CHECKPOINTS, with the key that signed it. */
export interface VerifiedCheckpoint extends Checkpoint {
  readonly keyId: string;
}

export type CheckpointAlgorithm = 'ES256' | 'EdDSA';

/** Why a checkpoint is refused; never carries key material. */
export class CheckpointError extends Error {
  override readonly name = 'CheckpointError';
}

const CHECKPOINT_TYPE = 'audit-checkpoint+jws';
const PAYLOAD_VERSION = 1;
const IDENTIFIER = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
const HASH = /^[0-9a-f]{64}$/;
const KEY_ID = /^[\x21-\x7e]{1,128}$/;
/** A compact JWS of a checkpoint is a few hundred bytes; anything far larger is not one. */
const MAX_CHECKPOINT_BYTES = 4_096;

type Jwk = Record<string, unknown>;

function isRecord(value: unknown): value is Jwk {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function algorithmOf(jwk: Jwk, label: string): CheckpointAlgorithm {
  if (jwk.use !== undefined && jwk.use !== 'sig') throw new CheckpointError(`${label}: "use" must be "sig"`);
  const alg: CheckpointAlgorithm | undefined =
    jwk.kty === 'EC' && jwk.crv === 'P-256'
      ? 'ES256'
      : jwk.kty === 'OKP' && jwk.crv === 'Ed25519'
        ? 'EdDSA'
        : undefined;
  if (alg === undefined)
    throw new CheckpointError(`${label}: only EC P-256 (ES256) and OKP Ed25519 (EdDSA) keys sign checkpoints`);
  if (jwk.alg !== undefined && jwk.alg !== alg) throw new CheckpointError(`${label}: "alg" must be ${alg}`);
  return alg;
}

function keyIdOf(jwk: Jwk, label: string): string {
  if (typeof jwk.kid !== 'string' || !KEY_ID.test(jwk.kid)) {
    throw new CheckpointError(`${label}: "kid" is required (1 to 128 visible ASCII characters)`);
  }
  return jwk.kid;
}

/** The public members only, so a public key set can never carry a private part by mistake into use. */
function publicJwk(jwk: Jwk): Jwk {
  return jwk.kty === 'EC'
    ? { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y }
    : { kty: jwk.kty, crv: jwk.crv, x: jwk.x };
}

function base64url(data: string | Buffer): string {
  return Buffer.from(data).toString('base64url');
}

function signatureOptions(alg: CheckpointAlgorithm, key: KeyObject) {
  return alg === 'ES256' ? { key, dsaEncoding: 'ieee-p1363' as const } : key;
}

/** The JCS payload: what an outside verifier hashes and checks, whatever JWS library it uses. */
function payloadOf(checkpoint: Checkpoint): string {
  return canonicalJson({
    v: PAYLOAD_VERSION,
    organizationId: checkpoint.organizationId,
    sequence: checkpoint.sequence,
    hash: checkpoint.hash,
    count: checkpoint.count,
    signedAt: checkpoint.signedAt.toISOString(),
  });
}

/** Signs checkpoints as compact JWS (RFC 7515) with the private JWK of AUDIT_CHECKPOINT_KEY. */
export class CheckpointSigner {
  private constructor(
    readonly keyId: string,
    readonly algorithm: CheckpointAlgorithm,
    private readonly key: KeyObject,
    /** The public half, for the verifier's key set. */
    readonly publicKey: Jwk,
  ) {}

  static fromJwk(jwk: unknown): CheckpointSigner {
    const label = 'AUDIT_CHECKPOINT_KEY';
    if (!isRecord(jwk)) throw new CheckpointError(`${label}: must be one JWK object`);
    const alg = algorithmOf(jwk, label);
    const kid = keyIdOf(jwk, label);
    if (typeof jwk.d !== 'string') throw new CheckpointError(`${label}: must be a private key (member "d")`);
    let key: KeyObject;
    let publicKey: KeyObject;
    try {
      key = createPrivateKey({ key: jwk as never, format: 'jwk' });
      publicKey = createPublicKey({ key: publicJwk(jwk) as never, format: 'jwk' });
    } catch {
      throw new CheckpointError(`${label}: not a valid ${alg} private key`);
    }
    // Node imports a private part that does not belong to the public point; a probe signature catches it at start.
    const probe = Buffer.from('audit checkpoint key probe');
    const digest = alg === 'ES256' ? 'sha256' : null;
    if (!verify(digest, probe, signatureOptions(alg, publicKey), sign(digest, probe, signatureOptions(alg, key)))) {
      throw new CheckpointError(`${label}: not a valid ${alg} private key (its private and public parts differ)`);
    }
    return new CheckpointSigner(kid, alg, key, { ...publicJwk(jwk), kid });
  }

  sign(checkpoint: Checkpoint): string {
    const header = base64url(JSON.stringify({ alg: this.algorithm, kid: this.keyId, typ: CHECKPOINT_TYPE }));
    const input = `${header}.${base64url(payloadOf(checkpoint))}`;
    const alg = this.algorithm === 'ES256' ? 'sha256' : null;
    return `${input}.${sign(alg, Buffer.from(input), signatureOptions(this.algorithm, this.key)).toString('base64url')}`;
  }
}

interface PublicKeyEntry {
  readonly alg: CheckpointAlgorithm;
  readonly key: KeyObject;
}

/** Checks checkpoints against the public keys verifiers pin (AUDIT_CHECKPOINT_PUBLIC_KEYS). */
export class CheckpointVerifier {
  private constructor(private readonly keys: ReadonlyMap<string, PublicKeyEntry>) {}

  /** @param jwks `{keys: [...]}` of public JWKs, each with a distinct `kid` */
  static fromJwks(jwks: unknown): CheckpointVerifier {
    const label = 'AUDIT_CHECKPOINT_PUBLIC_KEYS';
    if (!isRecord(jwks) || !Array.isArray(jwks.keys) || jwks.keys.length === 0) {
      throw new CheckpointError(`${label}: must be a JWKS ({"keys": [...]}) with at least one key`);
    }
    const keys = new Map<string, PublicKeyEntry>();
    jwks.keys.forEach((jwk: unknown, index) => {
      const keyLabel = `${label} key #${index}`;
      if (!isRecord(jwk)) throw new CheckpointError(`${keyLabel}: must be a JWK object`);
      const alg = algorithmOf(jwk, keyLabel);
      const kid = keyIdOf(jwk, keyLabel);
      if (keys.has(kid)) throw new CheckpointError(`${keyLabel}: kid "${kid}" appears twice`);
      try {
        keys.set(kid, { alg, key: createPublicKey({ key: publicJwk(jwk) as never, format: 'jwk' }) });
      } catch {
        throw new CheckpointError(`${keyLabel}: not a valid ${alg} public key`);
      }
    });
    return new CheckpointVerifier(keys);
  }

  get keyIds(): readonly string[] {
    return [...this.keys.keys()];
  }

  /**
   * The checkpoint a compact JWS states, once its signature verifies with a pinned key and its payload is well
   * formed; throws CheckpointError saying what is wrong otherwise.
   */
  verify(compact: string): VerifiedCheckpoint {
    if (compact.length > MAX_CHECKPOINT_BYTES) throw new CheckpointError('checkpoint is too large');
    const parts = compact.split('.');
    if (parts.length !== 3 || parts.some((part) => !/^[A-Za-z0-9_-]+$/.test(part))) {
      throw new CheckpointError('checkpoint is not a compact JWS');
    }
    const [headerPart, payloadPart, signaturePart] = parts;
    const header = parseJson(headerPart, 'header');
    if (header.typ !== CHECKPOINT_TYPE) throw new CheckpointError('checkpoint header has the wrong type');
    if (typeof header.kid !== 'string') throw new CheckpointError('checkpoint header names no key');
    const entry = this.keys.get(header.kid);
    if (entry === undefined)
      throw new CheckpointError(`checkpoint is signed by an unknown key "${header.kid.slice(0, 128)}"`);
    if (header.alg !== entry.alg) throw new CheckpointError(`checkpoint algorithm is not ${entry.alg}`);
    const input = Buffer.from(`${headerPart}.${payloadPart}`);
    const ok = verify(
      entry.alg === 'ES256' ? 'sha256' : null,
      input,
      signatureOptions(entry.alg, entry.key),
      Buffer.from(signaturePart, 'base64url'),
    );
    if (!ok) throw new CheckpointError(`checkpoint signature does not verify with key "${header.kid}"`);
    return { ...checkpointOf(parseJson(payloadPart, 'payload')), keyId: header.kid };
  }
}

function parseJson(part: string, what: string): Jwk {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch {
    throw new CheckpointError(`checkpoint ${what} is not JSON`);
  }
  if (!isRecord(value)) throw new CheckpointError(`checkpoint ${what} is not a JSON object`);
  return value;
}

function checkpointOf(payload: Jwk): Checkpoint {
  const { v, organizationId, sequence, hash, count, signedAt } = payload;
  const whole = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
  const time = typeof signedAt === 'string' ? new Date(signedAt) : undefined;
  if (
    v !== PAYLOAD_VERSION ||
    typeof organizationId !== 'string' ||
    !IDENTIFIER.test(organizationId) ||
    !whole(sequence) ||
    !whole(count) ||
    typeof hash !== 'string' ||
    !HASH.test(hash) ||
    time === undefined ||
    Number.isNaN(time.getTime())
  ) {
    throw new CheckpointError('checkpoint payload is malformed');
  }
  return { organizationId, sequence, hash, count, signedAt: time };
}

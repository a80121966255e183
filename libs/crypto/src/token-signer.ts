import { importSigningKey, SigningKey } from './signing-keys';
import { signJws } from './token-jws';

export interface SignOptions {
  readonly expiresInSeconds: number;
  /** Epoch seconds; defaults to the current time. */
  readonly now?: number;
}

/** Mints platform JWTs with one private JWK: oct → HS256, EC P-256 → ES256, RSA → RS256. */
export class TokenSigner {
  private constructor(private readonly signingKey: SigningKey & { kid: string }) {}

  /** `refuseSymmetricKeys`: refuse an `oct` key (production). */
  static async fromJwk(privateJwk: unknown, options: { refuseSymmetricKeys?: boolean } = {}): Promise<TokenSigner> {
    return new TokenSigner(await importSigningKey(privateJwk, { refuseSymmetric: options.refuseSymmetricKeys }));
  }

  get kid(): string {
    return this.signingKey.kid;
  }

  get algorithm(): string {
    return this.signingKey.alg;
  }

  /** Signs `claims` with `iat` and `exp`; the caller names `iss`, `aud` and (for single-use tokens) `jti`. */
  async sign(claims: Record<string, unknown>, options: SignOptions): Promise<string> {
    if (!Number.isFinite(options.expiresInSeconds) || options.expiresInSeconds <= 0) {
      throw new RangeError('expiresInSeconds must be a positive number');
    }
    const iat = Math.floor(options.now ?? Date.now() / 1000);
    const payload = {
      ...claims,
      iat,
      exp: iat + Math.ceil(options.expiresInSeconds),
    };
    const header = { alg: this.signingKey.alg, kid: this.signingKey.kid, typ: 'JWT' };
    const input = `${encodeJson(header)}.${encodeJson(payload)}`;
    return `${input}.${signJws(this.signingKey, input)}`;
  }
}

function encodeJson(value: unknown): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TokenSigner } from '@platform/crypto';

type Role = 'read_only' | 'read_write' | 'admin';

const DEV_JWKS = join(__dirname, '../../../deploy/dev/jwks.json');

/** Mints tokens for any principal with the dev HS256 key that services trust by default (deploy/dev/jwks.json). */
export class TestTokens {
  private constructor(private readonly signer: TokenSigner) {}

  static async create(): Promise<TestTokens> {
    const jwks = JSON.parse(readFileSync(DEV_JWKS, 'utf8')) as { keys: Array<{ kty: string }> };
    const oct = jwks.keys.find((key) => key.kty === 'oct');
    if (!oct) throw new Error(`no HS256 (oct) key in ${DEV_JWKS}`);
    return new TestTokens(await TokenSigner.fromJwk(oct));
  }

  mint(claims: Record<string, unknown>, options: { expiresInSeconds?: number; now?: number } = {}): Promise<string> {
    return this.signer.sign(claims, { expiresInSeconds: options.expiresInSeconds ?? 300, now: options.now });
  }

  vendor(org: string, role: Role = 'admin', sub = `${role}@${org}`): Promise<string> {
    return this.mint({ sub, org, org_type: 'vendor', role });
  }

  customer(vendorOrg: string, org: string, role: Role = 'admin', sub = `${role}@${org}`): Promise<string> {
    return this.mint({ sub, org, org_type: 'customer', vendor_org: vendorOrg, role });
  }

  service(name: string, scopes: readonly string[]): Promise<string> {
    return this.mint({ sub: `service:${name}`, org: name, org_type: 'service', scope: scopes.join(' ') });
  }

  /** A token that expired well beyond the 60 s leeway. */
  expired(org: string): Promise<string> {
    const now = Math.floor(Date.now() / 1000) - 3600;
    return this.mint({ sub: `admin@${org}`, org, org_type: 'vendor', role: 'admin' }, { now, expiresInSeconds: 60 });
  }
}

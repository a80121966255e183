import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_TOKEN_ISSUER, SERVICE_NAMES } from '@platform/config';
import { TokenSigner } from '@platform/crypto';

type Role = 'read_only' | 'read_write' | 'admin';

const DEV_DIR = join(__dirname, '../../../deploy/dev');
const DEV_JWKS = join(DEV_DIR, 'jwks.json');

/** Every service: test tokens may be presented anywhere, as a CLI user's are. */
const ALL_SERVICES: readonly string[] = SERVICE_NAMES;

function devKey(signs: string): unknown {
  const jwks = JSON.parse(readFileSync(DEV_JWKS, 'utf8')) as { keys: Array<{ kty: string; signs?: string }> };
  const key = jwks.keys.find((candidate) => candidate.kty === 'oct' && candidate.signs === signs);
  if (!key) throw new Error(`no HS256 (oct) key that signs "${signs}" in ${DEV_JWKS}`);
  return key;
}

/** Throws for a platform service's name: only its own key signs `service:<name>` for it. */
export function assertOutsideClient(name: string): void {
  if (ALL_SERVICES.includes(name)) {
    throw new Error(`"${name}" is a platform service: an outside client's token cannot name it; use platformService`);
  }
}

/**
 * Mints tokens the services trust by default (deploy/dev/jwks.json): users with the dev user key, service principals
 * with the dev clients key (reusable, like an outside caller's), and platform services' own single-use tokens with
 * their dev service keys. Every token names the dev issuer, a fresh `jti`, and (unless given) every service as `aud`.
 */
export class TestTokens {
  private constructor(
    private readonly users: TokenSigner,
    private readonly clients: TokenSigner,
  ) {}

  static async create(): Promise<TestTokens> {
    return new TestTokens(await TokenSigner.fromJwk(devKey('users')), await TokenSigner.fromJwk(devKey('clients')));
  }

  /** Any claims; service principals (`org_type: service`) are signed with the clients key, others with the user key. */
  mint(claims: Record<string, unknown>, options: { expiresInSeconds?: number; now?: number } = {}): Promise<string> {
    const signer = claims.org_type === 'service' ? this.clients : this.users;
    const payload = { iss: DEFAULT_TOKEN_ISSUER, aud: ALL_SERVICES, jti: randomUUID(), ...claims };
    return signer.sign(payload, { expiresInSeconds: options.expiresInSeconds ?? 300, now: options.now });
  }

  vendor(org: string, role: Role = 'admin', sub = `${role}@${org}`): Promise<string> {
    return this.mint({ sub, org, org_type: 'vendor', role });
  }

  customer(vendorOrg: string, org: string, role: Role = 'admin', sub = `${role}@${org}`): Promise<string> {
    return this.mint({ sub, org, org_type: 'customer', vendor_org: vendorOrg, role });
  }

  /**
   * A reusable service-principal token, as an outside caller (a deployer, CI) holds one. A platform service's name is
   * refused here as the services refuse it (ARCHITECTURE.md §4): use `platformService` to act as one.
   */
  service(name: string, scopes: readonly string[]): Promise<string> {
    assertOutsideClient(name);
    return this.mint({ sub: `service:${name}`, org: name, org_type: 'service', scope: scopes.join(' ') });
  }

  /** A token that expired well beyond the 60 s leeway. */
  expired(org: string): Promise<string> {
    const now = Math.floor(Date.now() / 1000) - 3600;
    return this.mint({ sub: `admin@${org}`, org, org_type: 'vendor', role: 'admin' }, { now, expiresInSeconds: 60 });
  }

  /**
   * A platform service's own single-use token, signed with its dev key (deploy/dev/service-key-<service>.json), as
   * its ServiceTokenIssuer mints one: for one callee, with a fresh `jti`. `claims` override or add to them.
   */
  async platformService(
    service: string,
    audience: string,
    scopes: readonly string[],
    claims: Record<string, unknown> = {},
    options: { expiresInSeconds?: number; now?: number } = {},
  ): Promise<string> {
    const jwk: unknown = JSON.parse(readFileSync(join(DEV_DIR, `service-key-${service}.json`), 'utf8'));
    const signer = await TokenSigner.fromJwk(jwk);
    const payload = {
      iss: DEFAULT_TOKEN_ISSUER,
      sub: `service:${service}`,
      org: service,
      org_type: 'service',
      scope: scopes.join(' '),
      aud: audience,
      jti: randomUUID(),
      ...claims,
    };
    return signer.sign(payload, { expiresInSeconds: options.expiresInSeconds ?? 60, now: options.now });
  }
}

import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CliError, EXIT, usage } from '../cli-error';
import { type Command } from '../command';

const ROLES = ['read_only', 'read_write', 'admin'];
const IDENTIFIER = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

export const devTokenCommand: Command = {
  path: ['dev', 'token'],
  usage:
    'dev token --org X [--role admin|read_write|read_only] [--customer-of VENDOR] [--scope "a b"] [--sub SUB] [--ttl SECONDS]',
  summary: 'Mints a token with a dev key in deploy/dev/jwks.json (refused when NODE_ENV=production).',
  details:
    'A vendor user by default; --customer-of V makes a customer user of vendor V; --scope makes a service token.\n' +
    'Users are signed with the dev user key (dev-hs256), service tokens with the dev clients key (dev-clients);\n' +
    'every token names the dev issuer and every service as audience, so one token serves all of them.\n' +
    'Service scopes: secrets:resolve secrets:resolve-current secrets:resolve-all render:any redaction:redact audit:read.\n' +
    'Example: export SECRETS_TOKEN=$(secrets dev token --org acme --role admin)',
  options: {
    org: { type: 'string', description: 'the organization the token is for (required)' },
    role: { type: 'string', description: 'admin (default), read_write or read_only' },
    'customer-of': { type: 'string', description: 'make a customer user of this vendor organization' },
    scope: { type: 'string', description: 'make a service token with these space-separated scopes' },
    sub: { type: 'string', description: 'the subject (default ROLE@ORG; a service: service:NAME)' },
    ttl: {
      type: 'string',
      description: 'lifetime in seconds (default 3600, at most 43200 for users, 300 for services)',
    },
  },
  async run(context) {
    if (context.env.NODE_ENV === 'production') {
      throw new CliError('dev tokens are refused when NODE_ENV=production', EXIT.DENIED);
    }
    const v = context.values;
    const org = v.org as string | undefined;
    if (!org || !IDENTIFIER.test(org)) throw usage('--org must be an organization id such as acme');
    const role = (v.role as string | undefined) ?? 'admin';
    if (!ROLES.includes(role)) throw usage(`--role must be one of ${ROLES.join(', ')}`);
    const vendor = v['customer-of'] as string | undefined;
    if (vendor !== undefined && !IDENTIFIER.test(vendor)) throw usage('--customer-of must be an organization id');
    const service = v.scope !== undefined;
    // The services' default caps on exp - iat (AUTH_MAX_USER_TOKEN_SECONDS, AUTH_MAX_SERVICE_TOKEN_SECONDS).
    const maxTtl = service ? 300 : 43_200;
    const ttl = v.ttl === undefined ? Math.min(3600, maxTtl) : Number(v.ttl);
    if (!Number.isInteger(ttl) || ttl < 1 || ttl > maxTtl) throw usage(`--ttl must be 1 to ${maxTtl} seconds`);
    const sub = v.sub as string | undefined;
    if (service && sub !== undefined && !sub.startsWith('service:'))
      throw usage('--sub of a service must be service:NAME');
    if (!service && sub?.startsWith('service:')) throw usage('--sub of a user must not start with service:');
    const identity: Record<string, unknown> = service
      ? { sub: sub ?? `service:${org}`, org, org_type: 'service', scope: v.scope }
      : vendor !== undefined
        ? { sub: sub ?? `${role}@${org}`, org, org_type: 'customer', vendor_org: vendor, role }
        : { sub: sub ?? `${role}@${org}`, org, org_type: 'vendor', role };
    const [{ DEFAULT_TOKEN_ISSUER, REPO_ROOT, SERVICE_NAMES }, { TokenSigner }] = await Promise.all([
      import('@platform/config'),
      import('@platform/crypto'),
    ]);
    const claims = { iss: DEFAULT_TOKEN_ISSUER, aud: [...SERVICE_NAMES], jti: randomUUID(), ...identity };
    const jwks = JSON.parse(readFileSync(join(REPO_ROOT, 'deploy/dev/jwks.json'), 'utf8')) as {
      keys: Array<{ kty: string; signs?: string }>;
    };
    const signs = service ? 'clients' : 'users';
    const devKey = jwks.keys.find((key) => key.kty === 'oct' && key.signs === signs);
    if (!devKey) throw new CliError(`deploy/dev/jwks.json has no HS256 dev key that signs ${signs}`, EXIT.FAILURE);
    const token = await (await TokenSigner.fromJwk(devKey)).sign(claims, { expiresInSeconds: ttl });
    context.output.out(context.output.json ? JSON.stringify({ token, claims }) : token);
  },
};

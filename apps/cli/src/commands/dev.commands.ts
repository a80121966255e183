import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '@platform/config';
import { TokenSigner } from '@platform/crypto';
import { CliError, EXIT, usage } from '../cli-error';
import { type Command } from '../command';

const ROLES = ['read_only', 'read_write', 'admin'];
const IDENTIFIER = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

export const devTokenCommand: Command = {
  path: ['dev', 'token'],
  usage: 'dev token --org X [--role admin|read_write|read_only] [--customer-of VENDOR] [--scope "a b"] [--ttl SECONDS]',
  summary: 'Mints a token with the dev key in deploy/dev/jwks.json (refused when NODE_ENV=production).',
  details:
    'A vendor user by default; --customer-of V makes a customer user of vendor V; --scope makes a service token.\n' +
    'Service scopes: secrets:resolve secrets:resolve-current secrets:resolve-all render:any redaction:redact audit:read.\n' +
    'Example: export SECRETS_TOKEN=$(secrets dev token --org acme --role admin)',
  options: {
    org: { type: 'string' },
    role: { type: 'string' },
    'customer-of': { type: 'string' },
    scope: { type: 'string' },
    sub: { type: 'string' },
    ttl: { type: 'string' },
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
    const ttl = v.ttl === undefined ? 3600 : Number(v.ttl);
    if (!Number.isInteger(ttl) || ttl < 1 || ttl > 86_400) throw usage('--ttl must be 1 to 86400 seconds');
    const claims: Record<string, unknown> =
      v.scope !== undefined
        ? { sub: (v.sub as string) ?? `service:${org}`, org, org_type: 'service', scope: v.scope }
        : vendor !== undefined
          ? { sub: (v.sub as string) ?? `${role}@${org}`, org, org_type: 'customer', vendor_org: vendor, role }
          : { sub: (v.sub as string) ?? `${role}@${org}`, org, org_type: 'vendor', role };
    const jwks = JSON.parse(readFileSync(join(REPO_ROOT, 'deploy/dev/jwks.json'), 'utf8')) as {
      keys: Array<{ kty: string }>;
    };
    const devKey = jwks.keys.find((key) => key.kty === 'oct');
    if (!devKey) throw new CliError('deploy/dev/jwks.json has no HS256 dev key', EXIT.FAILURE);
    const token = await (await TokenSigner.fromJwk(devKey)).sign(claims, { expiresInSeconds: ttl });
    context.output.out(context.output.json ? JSON.stringify({ token, claims }) : token);
  },
};

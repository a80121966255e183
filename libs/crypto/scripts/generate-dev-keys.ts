// Writes the dev-only key material of deploy/dev/ (ARCHITECTURE.md §4, §6). Every kid starts with `dev-`, which
// services refuse when NODE_ENV=production. Run once: `npx ts-node -T libs/crypto/scripts/generate-dev-keys.ts [--force]`.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const DEV_DIR = join(__dirname, '../../../deploy/dev');
const SERVICES = ['secrets', 'render', 'redaction', 'audit'] as const;

function serviceKey(service: string): Record<string, unknown> {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const { kty, crv, x, y, d } = privateKey.export({ format: 'jwk' });
  return { kty, crv, x, y, d, kid: `dev-service-${service}`, alg: 'ES256', use: 'sig', signs: `service:${service}` };
}

function octKey(kid: string, signs: string): Record<string, unknown> {
  return { kty: 'oct', kid, alg: 'HS256', use: 'sig', signs, k: randomBytes(32).toString('base64url') };
}

function es256Key(kid: string): Record<string, unknown> {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const { kty, crv, x, y, d } = privateKey.export({ format: 'jwk' });
  return { kty, crv, x, y, d, kid, alg: 'ES256', use: 'sig' };
}

function main(): void {
  const force = process.argv.includes('--force');
  const services = SERVICES.map((service) => [service, serviceKey(service)] as const);
  // Resolve replies (ARCHITECTURE.md §6): secrets signs with the private key, render and redaction pin the JWKS.
  const replySigning = es256Key('dev-reply-1');
  const { d: _replyPrivate, ...replyPublic } = replySigning;
  const files: Record<string, unknown> = {
    // The HS256 keys are symmetric: this file also signs dev tokens (`secrets dev token`, tests). Dev only.
    'jwks.json': {
      keys: [
        octKey('dev-hs256', 'users'),
        octKey('dev-clients', 'clients'),
        ...services.map(([, key]) => {
          const { d: _private, ...publicHalf } = key;
          return publicHalf;
        }),
      ],
    },
    ...Object.fromEntries(services.map(([service, key]) => [`service-key-${service}.json`, key])),
    'reply-signing-key.json': replySigning,
    'reply-signing-jwks.json': { keys: [replyPublic] },
    'master-keys.json': {
      keys: [{ kty: 'oct', kid: 'dev-master-1', alg: 'A256KW', use: 'enc', k: randomBytes(32).toString('base64url') }],
    },
  };
  mkdirSync(DEV_DIR, { recursive: true });
  const only = process.argv.includes('--signing-keys-only')
    ? Object.keys(files).filter((name) => name !== 'master-keys.json')
    : Object.keys(files);
  const existing = only.filter((name) => existsSync(join(DEV_DIR, name)));
  if (existing.length > 0 && !force) {
    console.error(`refusing to overwrite ${existing.join(', ')} in ${DEV_DIR}; pass --force to replace them`);
    process.exit(1);
  }
  for (const name of only) {
    writeFileSync(join(DEV_DIR, name), `${JSON.stringify(files[name], null, 2)}\n`);
    console.log(`wrote ${join(DEV_DIR, name)}`);
  }
}

main();

// Writes the dev-only key material of deploy/dev/ (ARCHITECTURE.md §4, §6). Every kid starts with `dev-`, which
// services refuse when NODE_ENV=production. Run once: `npx ts-node -T libs/crypto/scripts/generate-dev-keys.ts [--force]`.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const DEV_DIR = join(__dirname, '../../../deploy/dev');

function es256Key(kid: string): Record<string, unknown> {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const { kty, crv, x, y, d } = privateKey.export({ format: 'jwk' });
  return { kty, crv, x, y, d, kid, alg: 'ES256', use: 'sig' };
}

function main(): void {
  const force = process.argv.includes('--force');
  const service = es256Key('dev-service');
  const { d: _private, ...servicePublic } = service;
  // Resolve replies (ARCHITECTURE.md §6): secrets signs with the private key, render and redaction pin the JWKS.
  const replySigning = es256Key('dev-reply-1');
  const { d: _replyPrivate, ...replyPublic } = replySigning;
  const files: Record<string, unknown> = {
    // The HS256 key is symmetric: this file also signs dev tokens (`secrets dev token`, tests). Dev only.
    'jwks.json': {
      keys: [
        { kty: 'oct', kid: 'dev-hs256', alg: 'HS256', use: 'sig', k: randomBytes(32).toString('base64url') },
        servicePublic,
      ],
    },
    'service-key.json': service,
    'reply-signing-key.json': replySigning,
    'reply-signing-jwks.json': { keys: [replyPublic] },
    'master-keys.json': {
      keys: [{ kty: 'oct', kid: 'dev-master-1', alg: 'A256KW', use: 'enc', k: randomBytes(32).toString('base64url') }],
    },
  };
  mkdirSync(DEV_DIR, { recursive: true });
  const existing = Object.keys(files).filter((name) => existsSync(join(DEV_DIR, name)));
  if (existing.length > 0 && !force) {
    console.error(`refusing to overwrite ${existing.join(', ')} in ${DEV_DIR}; pass --force to replace them`);
    process.exit(1);
  }
  for (const [name, content] of Object.entries(files)) {
    writeFileSync(join(DEV_DIR, name), `${JSON.stringify(content, null, 2)}\n`);
    console.log(`wrote ${join(DEV_DIR, name)}`);
  }
}

main();

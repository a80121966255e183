// `npm run migrate`: applies the secrets and audit schema migrations to DATABASE_URL (the services also run them at start).
import { loadServiceConfig, databaseSettings } from '@platform/config';
import { runSecretsMigrations } from '../services/secrets/src/secrets.migrations';
import { migrateAuditDatabase } from '../services/audit/src/database/audit-migrations';

async function main(): Promise<void> {
  const { databaseUrl } = loadServiceConfig('secrets', databaseSettings);
  await runSecretsMigrations(databaseUrl);
  process.stdout.write('secrets schema: up to date\n');
  const applied = await migrateAuditDatabase(databaseUrl);
  process.stdout.write(`audit schema: up to date${applied.length ? ` (applied ${applied.join(', ')})` : ''}\n`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`migrate failed: ${(error as Error).message}\n`);
    process.exit(1);
  },
);

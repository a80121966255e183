// Runs the README's quick-start and walkthrough commands (its ```sh readme-test blocks) as written, in bash, against
// running services, so the README cannot drift from the CLI.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { auditService } from '../../../services/audit/src/audit.definition';
import { renderService } from '../../../services/render/src/render.definition';
import { secretsService } from '../../../services/secrets/src/secrets.definition';
import {
  type TestDatabase,
  type TestService,
  createTestDatabase,
  startTestService,
  testInfrastructure,
  uniqueSubjectPrefix,
} from '@platform/testing';
import { BIN, type CliRun } from './cli-process';

const ROOT = join(__dirname, '../../..');

/** The bodies of the README's fenced blocks whose info string is `sh readme-test`. */
export function readmeTestBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```sh readme-test\n([\s\S]*?)^```$/gm)].map((m) => m[1]);
}

/** One bash script: each command line as written, followed by a check that names the line if it failed. */
function scriptOf(blocks: readonly string[]): string {
  const lines = blocks.flatMap((b) => b.split('\n')).filter((l) => l.trim() !== '' && !l.trim().startsWith('#'));
  for (const line of lines) expect(line).not.toMatch(/\\$/);
  return lines
    .map((line) => {
      const quoted = `'${line.replace(/'/g, `'\\''`)}'`;
      return `${line}\n__rc=$?; if [ "$__rc" -ne 0 ]; then echo "README command failed (exit $__rc): "${quoted} >&2; exit 1; fi`;
    })
    .join('\n');
}

function bash(script: string, env: Record<string, string>): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', script], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 240_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

describe('README commands', () => {
  const prefix = uniqueSubjectPrefix();
  let database: TestDatabase;
  let services: TestService[] = [];
  let binDir: string;

  beforeAll(async () => {
    database = await createTestDatabase();
    const env = { NATS_SUBJECT_PREFIX: prefix, DATABASE_URL: database.url };
    services = await Promise.all([
      startTestService(secretsService, env),
      startTestService(renderService, env),
      startTestService(auditService, env),
    ]);
    // What `npm link` puts on the PATH: `secrets`, a link to bin/secrets.js.
    binDir = mkdtempSync(join(tmpdir(), 'secrets-readme-'));
    symlinkSync(BIN, join(binDir, 'secrets'));
  });

  afterAll(async () => {
    await Promise.all(services.map((s) => s.close()));
    await database?.drop();
    if (binDir) rmSync(binDir, { recursive: true, force: true });
  });

  it('finds the quick start and the walkthrough, both with commands that exist', () => {
    const blocks = readmeTestBlocks(readFileSync(join(ROOT, 'README.md'), 'utf8'));
    expect(blocks).toHaveLength(2);
    expect(blocks[0]).toMatch(/^export SECRETS_TOKEN=\$\(npx secrets dev token/);
    expect(blocks[1]).toMatch(/secrets import examples\/secrets\.env/);
  });

  it('runs every README command as written, in order, against running services', async () => {
    const blocks = readmeTestBlocks(readFileSync(join(ROOT, 'README.md'), 'utf8'));
    const result = await bash(scriptOf(blocks), {
      PATH: `${binDir}:${process.env.PATH ?? ''}`,
      HOME: process.env.HOME ?? tmpdir(),
      NATS_URL: testInfrastructure().natsUrl,
      NATS_SUBJECT_PREFIX: prefix,
    });
    expect(result.stderr).not.toMatch(/README command failed/);
    expect(result.code).toBe(0);
    const out = result.stdout;
    // What the walkthrough's comments promise.
    expect(out).toMatch(/created API_KEY \(vendor\), version 1/);
    expect(out).toContain('dry run: 4 to create, 0 to update, 0 unchanged; nothing written\n');
    expect(out).toContain('4 created, 0 updated, 0 unchanged\n');
    expect(out).toContain('0 created, 0 updated, 4 unchanged\n');
    expect(out).toContain('STRIPE_API_KEY={{ .Secrets.STRIPE_API_KEY }}\nTLS_CA={{ .Secrets.TLS_CA }}\n');
    expect(out).toMatch(/^references: .*DB_PASSWORD/m);
    expect(out).toContain('DATABASE_URL=postgresql://app:globex-db-password@db.internal:5432/app\n');
    expect(out).toContain('password: "dev-only-db-password"\n');
    expect(out).toContain('    -----END CERTIFICATE-----');
    expect(out).toContain(`\n${'sk_test_example_4242'.length}\n`);
    expect(out).toMatch(/^ok: \d+ records checked/m);
    // Import and export never print a value; render does, by design, only where the README renders.
    const beforeRender = out.slice(0, out.indexOf('DATABASE_URL='));
    for (const value of ['sk_test_example_4242', 'dev-only-db-password', 'mailer:dev-only']) {
      expect(beforeRender).not.toContain(value);
    }
  }, 300_000);
});

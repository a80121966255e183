// The real `secrets` bin (built by `npm run build`, which `npm test` runs first) against running services.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { auditService } from '../../../services/audit/src/audit.definition';
import { renderService } from '../../../services/render/src/render.definition';
import { secretsService } from '../../../services/secrets/src/secrets.definition';
import {
  type TestDatabase,
  TestTokens,
  type TestService,
  createTestDatabase,
  startTestService,
  uniqueSubjectPrefix,
} from '@platform/testing';
import { testInfrastructure } from '@platform/testing';

const BIN = join(__dirname, '../../../bin/secrets.js');

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

describe('secrets CLI', () => {
  const prefix = uniqueSubjectPrefix();
  let database: TestDatabase;
  let services: TestService[] = [];
  let tokens: TestTokens;
  let adminToken: string;
  let workDir: string;

  function cli(
    args: string[],
    options: { token?: string; stdin?: string; env?: Record<string, string> } = {},
  ): Promise<Run> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [BIN, ...args], {
        env: {
          PATH: process.env.PATH,
          NATS_URL: testInfrastructure().natsUrl,
          NATS_SUBJECT_PREFIX: prefix,
          ...(options.token === '' ? {} : { SECRETS_TOKEN: options.token ?? adminToken }),
          ...options.env,
        },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
      child.stdin.end(options.stdin ?? '');
    });
  }

  beforeAll(async () => {
    database = await createTestDatabase();
    const env = { NATS_SUBJECT_PREFIX: prefix, DATABASE_URL: database.url };
    services = await Promise.all([
      startTestService(secretsService, env),
      startTestService(renderService, env),
      startTestService(auditService, env),
    ]);
    tokens = await TestTokens.create();
    adminToken = await tokens.vendor('clivendor', 'admin');
    workDir = mkdtempSync(join(tmpdir(), 'secrets-cli-'));
  });

  afterAll(async () => {
    await Promise.all(services.map((s) => s.close()));
    await database?.drop();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  it('sets a secret from an argument and from stdin, and updates an existing one', async () => {
    expect(await cli(['set', 'API_KEY', 'sk-cli-argument-value'])).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(/created API_KEY \(vendor\), version 1/),
    });
    const fromStdin = await cli(['set', 'DB_PASSWORD', '-'], { stdin: 'pw-from-stdin-9f3\n' });
    expect(fromStdin).toMatchObject({ code: 0, stdout: expect.stringMatching(/created DB_PASSWORD/) });
    expect(await cli(['set', 'API_KEY', 'sk-cli-second-value'])).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(/updated API_KEY \(vendor\), version 2/),
    });
  });

  it('lists keys and metadata without values, as a table and as JSON', async () => {
    const table = await cli(['list']);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^KEY\s+SCOPE\s+VERSION/);
    expect(table.stdout).toMatch(/API_KEY\s+vendor\s+2/);
    const json = await cli(['list', '--json']);
    const parsed = JSON.parse(json.stdout) as { secrets: Array<{ key: string }> };
    expect(parsed.secrets.map((s) => s.key).sort()).toEqual(['API_KEY', 'DB_PASSWORD']);
    for (const output of [table.stdout, json.stdout]) {
      expect(output).not.toContain('sk-cli');
      expect(output).not.toContain('pw-from-stdin');
    }
  });

  it('renders a template file', async () => {
    const file = join(workDir, 'app.env');
    writeFileSync(file, 'DATABASE_URL=postgresql://user:{{ .Secrets.DB_PASSWORD }}@localhost:5432/mydb\n');
    const result = await cli(['render', file, '--format', 'env']);
    expect(result).toMatchObject({
      code: 0,
      stdout: 'DATABASE_URL=postgresql://user:pw-from-stdin-9f3@localhost:5432/mydb\n',
    });
  });

  it('runs a process with the secrets in its environment without printing them', async () => {
    const result = await cli([
      'run',
      '--',
      process.execPath,
      '-e',
      'process.stdout.write(String(process.env.API_KEY === "sk-cli-second-value" && process.env.DB_PASSWORD === "pw-from-stdin-9f3"))',
    ]);
    expect(result).toMatchObject({ code: 0, stdout: 'true', stderr: '' });
  });

  it('refuses to run when a required secret is missing, naming each', async () => {
    const result = await cli([
      'run',
      '--required',
      'API_KEY,STRIPE_API_KEY,SENDGRID_API_KEY',
      '--',
      process.execPath,
      '-e',
      'process.exit(0)',
    ]);
    expect(result.code).toBe(7);
    const named = /missing required secrets: (.*)$/m.exec(result.stderr)?.[1].split(', ').sort();
    expect(named).toEqual(['SENDGRID_API_KEY', 'STRIPE_API_KEY']);
  });

  it('explains an invalid key in one line', async () => {
    const result = await cli(['set', 'API-KEY', 'x']);
    expect(result.code).toBe(5);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/INVALID_ARGUMENT: .*letter/);
  });

  it('explains an expired token', async () => {
    const result = await cli(['list'], { token: await tokens.expired('clivendor') });
    expect(result.code).toBe(4);
    expect(result.stderr).toMatch(/expired/);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('shows history and deletes with --yes; refuses to delete without confirmation', async () => {
    const history = await cli(['history', 'API_KEY']);
    expect(history.stdout).toMatch(/1\s+SecretCreated/);
    expect(history.stdout).toMatch(/2\s+SecretValueUpdated/);
    const unconfirmed = await cli(['delete', 'API_KEY']);
    expect(unconfirmed.code).toBe(2);
    expect(await cli(['delete', 'API_KEY', '--yes'])).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(/deleted API_KEY, version 3/),
    });
    expect(await cli(['get', 'API_KEY'])).toMatchObject({ code: 3 });
  });

  it('queries and verifies the audit trail', async () => {
    let records: Array<{ type: string; key: string | null }> = [];
    for (let attempt = 0; attempt < 100 && records.length < 1; attempt++) {
      const result = await cli(['audit', 'query', '--key', 'DB_PASSWORD', '--json']);
      expect(result).toMatchObject({ code: 0, stderr: '' });
      records = (JSON.parse(result.stdout) as { records: typeof records }).records;
      if (records.length < 1) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(records.map((r) => r.type)).toContain('SecretCreated');
    expect(JSON.stringify(records)).not.toContain('pw-from-stdin');
    expect(await cli(['audit', 'verify'])).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(/^ok: \d+ records checked/),
    });
  });

  it('has --help on every command and a usage error for unknown ones', async () => {
    expect(await cli(['set', '--help'], { token: '' })).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(/^usage: secrets set KEY/),
    });
    expect(await cli(['audit', 'replay', '--help'], { token: '' })).toMatchObject({ code: 0 });
    expect(await cli(['frobnicate'], { token: '' })).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/unknown command/),
    });
  });
});

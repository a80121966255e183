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
  TestNatsClient,
  TestTokens,
  type TestService,
  createTestDatabase,
  startTestService,
  uniqueSubjectPrefix,
} from '@platform/testing';
import { BIN, platformCli } from './cli-process';
import { eventually, testInfrastructure } from '@platform/testing';
import { COMMANDS } from '../src/main';

describe('secrets CLI', () => {
  const prefix = uniqueSubjectPrefix();
  let database: TestDatabase;
  let services: TestService[] = [];
  let tokens: TestTokens;
  let adminToken: string;
  let workDir: string;

  const cli = platformCli(prefix, () => adminToken);

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

  it('runs a process with a secret named like an Object.prototype property in its environment', async () => {
    expect(await cli(['set', 'toString', 'proto-named-value', '--customer', 'protoproof'])).toMatchObject({ code: 0 });
    const result = await cli([
      'run',
      '--customer',
      'protoproof',
      '--',
      process.execPath,
      '-e',
      'process.stdout.write(String(Object.hasOwn(process.env, "toString") && process.env.toString === "proto-named-value"))',
    ]);
    expect(result).toMatchObject({ code: 0, stdout: 'true', stderr: '' });
  });

  it("refuses a customer user's run for another customer, and runs with its own", async () => {
    expect(await cli(['set', 'CUST_ONLY', 'cust-only-value', '--customer', 'runcust'])).toMatchObject({ code: 0 });
    const customerUser = await tokens.customer('clivendor', 'runcust', 'read_write');
    const show = 'process.stdout.write(String(process.env.CUST_ONLY))';
    const other = await cli(['run', '--customer', 'othercust', '--', process.execPath, '-e', show], {
      token: customerUser,
    });
    expect(other).toMatchObject({ code: 4, stdout: '' });
    const own = await cli(['run', '--customer', 'runcust', '--', process.execPath, '-e', show], {
      token: customerUser,
    });
    expect(own).toMatchObject({ code: 0, stdout: 'cust-only-value' });
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

  it('finds a read through render by the user who rendered and by its deployment', async () => {
    const client = await TestNatsClient.connect(prefix);
    try {
      const rendered = await client.request(
        'render.v1.render',
        { template: 'DB={{ .Secrets.DB_PASSWORD }}', format: 'env', deploymentId: 'cli-web' },
        { token: adminToken },
      );
      expect(rendered.status).toBeUndefined();
      await eventually('the read reaches audit', async () => {
        const reply = await client.request<{ records?: unknown[] }>(
          'audit.v1.query',
          { deploymentId: 'cli-web' },
          { token: adminToken },
        );
        return (reply.body.records ?? []).length === 1;
      });
    } finally {
      await client.close();
    }
    const table = await cli(['audit', 'query', '--deployment', 'cli-web']);
    expect(table).toMatchObject({ code: 0, stderr: '' });
    expect(table.stdout).toMatch(/^AT\s+TYPE\s+KEY\s+VERSION\s+SCOPE\s+BY\s+FOR\s+DEPLOYMENT/);
    expect(table.stdout).toMatch(
      /SecretValuesResolved\s+DB_PASSWORD@1\s+-\s+vendor\s+service:render\s+admin@clivendor\s+cli-web/,
    );
    const json = await cli([
      'audit',
      'query',
      '--actor',
      'admin@clivendor',
      '--type',
      'SecretValuesResolved',
      '--json',
    ]);
    const { records } = JSON.parse(json.stdout) as { records: Array<Record<string, unknown>> };
    // Earlier renders and runs of this user are found too, each recorded for the user through render.
    expect(records.length).toBeGreaterThan(1);
    for (const record of records) expect(record.requestedBy).toMatchObject({ sub: 'admin@clivendor' });
    expect(records).toContainEqual(
      expect.objectContaining({
        actor: { sub: 'service:render', org: 'render', role: '' },
        requestedBy: { sub: 'admin@clivendor', org: 'clivendor', role: 'admin' },
        deploymentId: 'cli-web',
        resolved: [{ key: 'DB_PASSWORD', version: 1, scope: 'vendor' }],
      }),
    );
    expect(JSON.stringify(records) + table.stdout).not.toContain('pw-from-stdin');
  });

  it('has --help on every command and a usage error for unknown ones', async () => {
    expect(COMMANDS.length).toBeGreaterThanOrEqual(17);
    // Two at a time: a CLI process costs most of a second of CPU to start, and twenty at once on a loaded two-core
    // machine ran past their kill timer.
    const helps: Awaited<ReturnType<typeof cli>>[] = [];
    for (let i = 0; i < COMMANDS.length; i += 2) {
      const pair = COMMANDS.slice(i, i + 2).map((command) => cli([...command.path, '--help'], { token: '' }));
      helps.push(...(await Promise.all(pair)));
    }
    for (const [i, command] of COMMANDS.entries()) {
      expect([command.path.join(' '), helps[i].code, helps[i].stdout.split('\n')[0]]).toEqual([
        command.path.join(' '),
        0,
        `usage: secrets ${command.usage}`,
      ]);
    }
    expect(await cli(['frobnicate'], { token: '' })).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/unknown command/),
    });
  }, 180_000);

  it("gets a secret's metadata without its value, and scopes every command with --customer", async () => {
    expect(await cli(['set', 'DB_PASSWORD', 'globex-only-pw-77a', '--customer', 'globex'])).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(/created DB_PASSWORD \(globex\), version 1/),
    });
    const vendor = await cli(['get', 'DB_PASSWORD']);
    expect(vendor.code).toBe(0);
    expect(vendor.stdout).toMatch(
      /^KEY\s+SCOPE\s+VERSION\s+UPDATED\s+UPDATED BY\s+EXPIRES\s+EXPOSED\nDB_PASSWORD\s+vendor\s+1\s/,
    );
    const customer = await cli(['get', 'DB_PASSWORD', '--customer', 'globex', '--json']);
    expect(JSON.parse(customer.stdout)).toMatchObject({
      key: 'DB_PASSWORD',
      customerOrganizationId: 'globex',
      version: 1,
    });
    const listed = JSON.parse((await cli(['list', '--customer', 'globex', '--json'])).stdout) as {
      secrets: Array<{ key: string; customerOrganizationId?: string }>;
    };
    expect(listed.secrets).toEqual([expect.objectContaining({ key: 'DB_PASSWORD', customerOrganizationId: 'globex' })]);
    const file = join(workDir, 'customer.env');
    writeFileSync(file, 'DB_PASSWORD={{ .Secrets.DB_PASSWORD }}\n');
    expect(await cli(['render', file, '--format', 'env', '--customer', 'globex'])).toMatchObject({
      code: 0,
      stdout: 'DB_PASSWORD=globex-only-pw-77a\n',
    });
    for (const output of [vendor.stdout, customer.stdout]) {
      expect(output).not.toContain('pw-from-stdin');
      expect(output).not.toContain('globex-only-pw');
    }
  });

  it('renders a pinned version with --pin KEY=VERSION', async () => {
    await cli(['set', 'PINNED', 'pinned-first-value']);
    await cli(['set', 'PINNED', 'pinned-second-value']);
    const file = join(workDir, 'pinned.txt');
    writeFileSync(file, '{{ .Secrets.PINNED }}');
    expect(await cli(['render', file])).toMatchObject({ code: 0, stdout: 'pinned-second-value' });
    expect(await cli(['render', file, '--pin', 'PINNED=1'])).toMatchObject({ code: 0, stdout: 'pinned-first-value' });
    expect(await cli(['render', file, '--pin', 'PINNED'])).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/--pin takes KEY=VERSION/),
    });
  });

  it('validates a template: lists its references and the missing keys, exit 7', async () => {
    const file = join(workDir, 'validate.env');
    writeFileSync(file, 'A={{ .Secrets.DB_PASSWORD }}\nB={{ .Secrets.NOT_SET_YET }}\n');
    const result = await cli(['validate', file, '--format', 'env', '--required', 'ALSO_MISSING']);
    expect(result.code).toBe(7);
    expect(result.stdout).toMatch(/^references: DB_PASSWORD \(vendor, version 1\)/m);
    expect(result.stdout).not.toContain('[object Object]');
    expect(/^missing: (.*)$/m.exec(result.stdout)?.[1].split(', ').sort()).toEqual(['ALSO_MISSING', 'NOT_SET_YET']);
    const json = await cli(['validate', file, '--format', 'env', '--json']);
    expect(json.code).toBe(7);
    expect(JSON.parse(json.stdout)).toMatchObject({ missing: ['NOT_SET_YET'] });
    writeFileSync(file, 'A={{ .Secrets.DB_PASSWORD }}\n');
    expect(await cli(['validate', file, '--format', 'env'])).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(/valid\n$/),
    });
  });

  it('mints a dev token that the services accept, and refuses to under NODE_ENV=production', async () => {
    const minted = await cli(['dev', 'token', '--org', 'devtokenorg', '--role', 'read_only'], { token: '' });
    expect(minted.code).toBe(0);
    const listed = await cli(['list', '--json'], { token: minted.stdout.trim() });
    expect(listed).toMatchObject({ code: 0 });
    expect(JSON.parse(listed.stdout)).toEqual({ secrets: [] });
    expect(await cli(['set', 'X', 'y'], { token: minted.stdout.trim() })).toMatchObject({ code: 4 });
    const refused = await cli(['dev', 'token', '--org', 'acme'], { token: '', env: { NODE_ENV: 'production' } });
    expect(refused).toMatchObject({ code: 4, stdout: '' });
    expect(refused.stderr).toMatch(/refused when NODE_ENV=production/);
  });

  it('explains a missing token (exit 4), an unreachable NATS (exit 6) and a bad SECRETS_TIMEOUT_MS (exit 2)', async () => {
    const noToken = await cli(['list'], { token: '' });
    expect(noToken).toMatchObject({ code: 4, stderr: 'secrets: no token: set SECRETS_TOKEN or pass --token\n' });
    const unreachable = await cli(['list'], { env: { NATS_URL: 'nats://127.0.0.1:1' } });
    expect(unreachable).toMatchObject({ code: 6, stderr: 'secrets: cannot reach NATS at nats://127.0.0.1:1\n' });
    const badTimeout = await cli(['list'], { env: { SECRETS_TIMEOUT_MS: 'soon' } });
    expect(badTimeout).toMatchObject({ code: 2 });
    expect(badTimeout.stderr).toMatch(/SECRETS_TIMEOUT_MS must be a whole number of milliseconds \(got "soon"\)/);
  });

  it('run exits 128 + the signal number when its command is killed, and leaves --json after -- to the command', async () => {
    const killed = await cli(['run', '--', process.execPath, '-e', 'process.kill(process.pid, "SIGTERM")']);
    expect(killed.code).toBe(143);
    const missing = await cli(['run', '--required', 'NEVER_SET', '--', process.execPath, '--json']);
    expect(missing).toMatchObject({ code: 7, stderr: 'secrets: missing required secret: NEVER_SET\n' });
  });

  it('replays SECRETS_EVENTS from a sequence or a time and exits at the end of the stream', async () => {
    type Line = { sequence: number; type: string; key: string | null };
    const parse = (stdout: string) =>
      stdout
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Line);
    let fromStart: Line[] = [];
    for (let attempt = 0; attempt < 50 && !fromStart.some((e) => e.key === 'PINNED'); attempt++) {
      const result = await cli(['audit', 'replay', '--from-seq', '1'], { token: '', timeoutMs: 15_000 });
      expect(result).toMatchObject({ code: 0, stderr: '' });
      fromStart = parse(result.stdout);
      if (!fromStart.some((e) => e.key === 'PINNED')) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(fromStart[0]).toMatchObject({ sequence: 1, type: 'SecretCreated', key: 'API_KEY' });
    expect(fromStart.map((e) => e.sequence)).toEqual(fromStart.map((_, i) => i + 1));
    expect(JSON.stringify(fromStart)).not.toMatch(/sk-cli|pw-from-stdin|pinned-first/);
    const fromThird = parse((await cli(['audit', 'replay', '--from-seq', '3'], { token: '' })).stdout);
    expect(fromThird[0].sequence).toBe(3);
    const future = await cli(['audit', 'replay', '--since', '2999-01-01T00:00:00Z'], { token: '' });
    expect(future).toMatchObject({ code: 0, stdout: '' });
    const past = await cli(['audit', 'replay', '--since', '2000-01-01T00:00:00Z', '--json'], { token: '' });
    expect(parse(past.stdout).length).toBeGreaterThanOrEqual(fromStart.length);
    expect(await cli(['audit', 'replay', '--from-seq', '0'], { token: '' })).toMatchObject({ code: 2 });
  });

  it('keeps printing new events with audit replay --follow until stopped', async () => {
    const follower = spawn(process.execPath, [BIN, 'audit', 'replay', '--from-seq', '1', '--follow'], {
      env: { PATH: process.env.PATH, NATS_URL: testInfrastructure().natsUrl, NATS_SUBJECT_PREFIX: prefix },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    follower.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const exited = new Promise<number | null>((resolve) => follower.on('exit', (code) => resolve(code)));
    try {
      for (let i = 0; i < 150 && !stdout.includes('"sequence":1,'); i++) await new Promise((r) => setTimeout(r, 100));
      expect(await cli(['set', 'FOLLOWED', 'followed-value-3e1'])).toMatchObject({ code: 0 });
      for (let i = 0; i < 150 && !stdout.includes('"key":"FOLLOWED"'); i++)
        await new Promise((r) => setTimeout(r, 100));
      expect(stdout).toMatch(/"type":"SecretCreated".*"key":"FOLLOWED"/);
      expect(stdout).not.toContain('followed-value');
      expect(follower.exitCode).toBeNull();
    } finally {
      follower.kill('SIGTERM');
      await exited;
    }
  });

  it('runs ops commands with --json, and refuses a bad organization as a usage error', async () => {
    const env = { DATABASE_URL: database.url };
    const rebuilt = await cli(['projections', 'rebuild', '--json'], { token: '', env });
    expect(rebuilt.code).toBe(0);
    expect(JSON.parse(rebuilt.stdout)).toMatchObject({ events: expect.any(Number), seconds: expect.any(Number) });
    expect((JSON.parse(rebuilt.stdout) as { events: number }).events).toBeGreaterThanOrEqual(5);
    const rotated = await cli(['keys', 'rotate', '--org', 'clivendor', '--json'], { token: '', env });
    expect(rotated.code).toBe(0);
    expect(JSON.parse(rotated.stdout)).toEqual({ organizationId: 'clivendor', dataKeyId: expect.any(String) });
    const rewrapped = await cli(['keys', 'rotate-master', '--json'], { token: '', env });
    expect(JSON.parse(rewrapped.stdout)).toEqual({ rewrapped: expect.any(Number) });
    // Every value of this suite was written bound to its version and event: nothing to re-seal.
    const rebound = await cli(['values', 'rebind', '--json'], { token: '', env });
    expect(rebound.code).toBe(0);
    expect(JSON.parse(rebound.stdout)).toEqual({ rebound: 0, unrecoverable: 0 });
    const bad = await cli(['keys', 'rotate', '--org', 'bad org'], { token: '', env });
    expect(bad).toMatchObject({ code: 2, stdout: '' });
    expect(bad.stderr).toMatch(/--org must be an organization id/);
    const badJson = await cli(['org', 'purge', 'bad org', '--yes', '--json'], { token: '', env });
    expect(badJson.code).toBe(2);
    expect(JSON.parse(badJson.stderr)).toMatchObject({ exitCode: 2 });
    // The audit service of this suite holds the applier lease, so a rebuild is refused, in one line.
    const rebuild = await cli(['audit', 'rebuild'], { token: '', env });
    expect(rebuild).toMatchObject({ code: 5, stdout: '' });
    expect(rebuild.stderr.trim().split('\n')).toHaveLength(1);
    // This suite's secrets service publishes, so its outbox checkpoint is not ahead: nothing to re-base, refused.
    const rebase = await cli(['outbox', 'rebase'], { token: '', env });
    expect(rebase).toMatchObject({ code: 5, stdout: '' });
    expect(rebase.stderr).toMatch(/Outbox secrets-events is publishing/);
  });

  it('destroys versions with --versions and --yes; refuses without them, twice, or for a non-admin', async () => {
    expect(await cli(['set', 'ROTATED', 'rotated-first-4c1'])).toMatchObject({ code: 0 });
    expect(await cli(['set', 'ROTATED', 'rotated-second-4c2'])).toMatchObject({ code: 0 });
    const unconfirmed = await cli(['destroy', 'ROTATED', '--versions', '1']);
    expect(unconfirmed).toMatchObject({ code: 2, stdout: '' });
    expect(unconfirmed.stderr).toMatch(/repeat with --yes/);
    const badVersions = await cli(['destroy', 'ROTATED', '--versions', '1,x', '--yes']);
    expect(badVersions).toMatchObject({ code: 2, stdout: '' });
    expect(badVersions.stderr).toMatch(/--versions takes a comma-separated list of versions/);
    const writer = await cli(['destroy', 'ROTATED', '--versions', '1', '--yes'], {
      token: await tokens.vendor('clivendor', 'read_write'),
    });
    expect(writer).toMatchObject({ code: 4, stdout: '' });
    expect(writer.stderr).toMatch(/needs the admin role/);
    expect(await cli(['destroy', 'ROTATED', '--versions', '1', '--yes'])).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(/destroyed ROTATED version 1/),
    });
    const again = await cli(['destroy', 'ROTATED', '--versions', '1', '--yes']);
    expect(again).toMatchObject({ code: 5, stdout: '' });
    expect(again.stderr).toMatch(/secret ROTATED version 1 was destroyed/);
    const history = await cli(['history', 'ROTATED']);
    expect(history.stdout).toMatch(/1\s+SecretCreated \(destroyed\)/);
    expect(history.stdout).toMatch(/-\s+SecretVersionsDestroyed 1/);
  });

  it('purges one customer with --yes, leaving the vendor level; refuses without --yes or with a bad id', async () => {
    const env = { DATABASE_URL: database.url };
    expect(await cli(['set', 'OWN', 'cli-customer-value-9d3', '--customer', 'clicust'])).toMatchObject({ code: 0 });
    expect(await cli(['customer', 'purge', 'clivendor', 'clicust'], { token: '', env })).toMatchObject({
      code: 2,
      stdout: '',
      stderr: expect.stringMatching(/repeat with --yes/),
    });
    expect(await cli(['customer', 'purge', 'clivendor', 'bad cust', '--yes'], { token: '', env })).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/CUSTOMER must be an organization id/),
    });
    const purged = await cli(['customer', 'purge', 'clivendor', 'clicust', '--yes', '--json'], { token: '', env });
    expect(purged.code).toBe(0);
    expect(JSON.parse(purged.stdout)).toEqual({
      organizationId: 'clivendor',
      customerOrganizationId: 'clicust',
      dataKeysDeleted: 1,
      secretsRemoved: 1,
    });
    expect(await cli(['get', 'OWN', '--customer', 'clicust'])).toMatchObject({ code: 3 });
    expect(await cli(['get', 'ROTATED'])).toMatchObject({ code: 0 });
  });
});

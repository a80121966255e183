// Issue 20: what a newcomer meets in the first hour, through the real `secrets` bin against running services.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'nats';
import { auditService } from '../../../services/audit/src/audit.definition';
import { renderService } from '../../../services/render/src/render.definition';
import { secretsService } from '../../../services/secrets/src/secrets.definition';
import {
  type TestDatabase,
  TestTokens,
  type TestService,
  createTestDatabase,
  eventually,
  startTestService,
  testInfrastructure,
  uniqueSubjectPrefix,
} from '@platform/testing';
import { type CliRun, platformCli } from './cli-process';

const RENDER_MAIN = join(__dirname, '../../../dist/services/render/src/main.js');

describe('secrets CLI: the first hour (issue 20)', () => {
  const prefix = uniqueSubjectPrefix();
  let database: TestDatabase;
  let services: TestService[] = [];
  let tokens: TestTokens;
  let adminToken: string;
  let workDir: string;

  const cli = platformCli(prefix, () => adminToken);

  function file(name: string, text: string): string {
    const path = join(workDir, name);
    writeFileSync(path, text);
    return path;
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
    adminToken = await tokens.vendor('firsthour', 'admin');
    workDir = mkdtempSync(join(tmpdir(), 'secrets-cli-first-hour-'));
    expect(await cli(['set', 'DB_PASSWORD', 'first-hour-pw-1'])).toMatchObject({ code: 0 });
    expect(await cli(['set', 'DB_PASSWORD', 'first-hour-pw-2'])).toMatchObject({ code: 0 });
  });

  afterAll(async () => {
    await Promise.all(services.map((s) => s.close()));
    await database?.drop();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  it('1. validate agrees with render on the optional pattern: not missing, listed as optional, exit 0', async () => {
    const template = file(
      'optional.env',
      'API_URL={{ if .Secrets.API_URL }}{{ .Secrets.API_URL }}{{ else }}https://api.example.com{{ end }}\n' +
        'DB={{ .Secrets.DB_PASSWORD }}\n',
    );
    expect(await cli(['render', template, '--format', 'env'])).toMatchObject({
      code: 0,
      stdout: 'API_URL=https://api.example.com\nDB=first-hour-pw-2\n',
    });
    const validated = await cli(['validate', template, '--format', 'env']);
    expect(validated).toMatchObject({ code: 0, stderr: '' });
    expect(validated.stdout).not.toMatch(/missing/);
    expect(validated.stdout).toMatch(/^optional, not set \(the template does without\): API_URL$/m);
    expect(validated.stdout).toMatch(/valid\n$/);
    const json = JSON.parse((await cli(['validate', template, '--format', 'env', '--json'])).stdout) as unknown;
    expect(json).toMatchObject({ valid: true, missing: [], optional: ['API_URL'] });
    // Required by name, the optional key is missing again.
    const required = await cli(['validate', template, '--format', 'env', '--required', 'API_URL']);
    expect(required.code).toBe(7);
    expect(required.stdout).toMatch(/^missing: API_URL$/m);
  });

  it('2. a pin of a version that does not exist says so (exit 5)', async () => {
    const template = file('pinned.env', 'DB={{ .Secrets.DB_PASSWORD }}\n');
    expect(await cli(['render', template, '--pin', 'DB_PASSWORD=9'])).toEqual({
      code: 5,
      stdout: '',
      stderr: 'secrets: INVALID_ARGUMENT: secret DB_PASSWORD has no version 9\n',
    });
    expect(await cli(['render', template, '--pin', 'DB_PASSWORD=1'])).toMatchObject({
      code: 0,
      stdout: 'DB=first-hour-pw-1\n',
    });
  });

  it("3. refuses a template over the server's max_payload locally, naming the limit (exit 5)", async () => {
    const connection = await connect({ servers: testInfrastructure().natsUrl });
    const maxPayload = connection.info!.max_payload;
    await connection.close();
    const template = file('huge.txt', 'x'.repeat(maxPayload + 10));
    const result = await cli(['render', template]);
    expect(result).toMatchObject({ code: 5, stdout: '' });
    expect(result.stderr).toMatch(
      new RegExp(
        `^secrets: the render.v1.render request \\(\\d+ bytes and its headers\\) does not fit the NATS server's max_payload of ${maxPayload} bytes`,
      ),
    );
    expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
  });

  it('3. a render whose reply would exceed max_payload is answered PAYLOAD_TOO_LARGE, not silence (exit 5)', async () => {
    const connection = await connect({ servers: testInfrastructure().natsUrl });
    const maxPayload = connection.info!.max_payload;
    await connection.close();
    const template = file('wide.txt', `{{ printf "%${maxPayload + 1}s" "x" }}`);
    const result = await cli(['render', template]);
    expect(result).toMatchObject({ code: 5, stdout: '' });
    expect(result.stderr).toMatch(/^secrets: PAYLOAD_TOO_LARGE: the reply is \d+ bytes, more than the \d+ bytes/);
  });

  it('5. run hands CMD neither the token nor NATS credentials, unless --pass-token', async () => {
    const env = { NATS_USER: 'firsthour', NATS_PASSWORD: 'nats-password-not-for-children' };
    const show =
      'process.stdout.write(JSON.stringify(["SECRETS_TOKEN","NATS_USER","NATS_PASSWORD"].map((n) => process.env[n] ?? null).concat(process.env.DB_PASSWORD)))';
    const withheld = await cli(['run', '--', process.execPath, '-e', show], { env });
    expect(withheld).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(withheld.stdout)).toEqual([null, null, null, 'first-hour-pw-2']);
    const passed = await cli(['run', '--pass-token', '--', process.execPath, '-e', show], { env });
    expect(JSON.parse(passed.stdout)).toEqual([adminToken, env.NATS_USER, env.NATS_PASSWORD, 'first-hour-pw-2']);
    // A token given with --token reaches CMD only with --pass-token, as SECRETS_TOKEN.
    const flagged = await cli(['run', '--token', adminToken, '--pass-token', '--', process.execPath, '-e', show], {
      token: '',
    });
    expect(JSON.parse(flagged.stdout)).toEqual([adminToken, null, null, 'first-hour-pw-2']);
  });

  it('7. audit query --type Bogus is a usage error listing the valid types (exit 2)', async () => {
    const result = await cli(['audit', 'query', '--type', 'Bogus']);
    expect(result).toMatchObject({ code: 2, stdout: '' });
    expect(result.stderr).toMatch(
      /^secrets: --type Bogus is not an event type; use one of SecretCreated, SecretValueUpdated, .*\n$/,
    );
  });

  it('8. says each problem once, in one line', async () => {
    const badKey = await cli(['set', 'API-KEY', 'x']);
    expect(badKey).toEqual({
      code: 5,
      stdout: '',
      stderr:
        'secrets: INVALID_ARGUMENT: key is invalid: it must start with a letter and contain only letters, digits and underscores\n',
    });
    const expired = await cli(['list'], { token: await tokens.expired('firsthour') });
    expect(expired).toEqual({
      code: 4,
      stdout: '',
      stderr: 'secrets: UNAUTHENTICATED: invalid token: token has expired; get a new one (SECRETS_TOKEN or --token)\n',
    });
    expect(await cli(['list', '--bogus-flag'])).toEqual({
      code: 2,
      stdout: '',
      stderr: 'secrets: unknown option --bogus-flag; see secrets list --help\n',
    });
    expect(await cli(['dev', 'token', '--org', 'acme', '--ttl', '-5'], { token: '' })).toEqual({
      code: 2,
      stdout: '',
      stderr:
        'secrets: --ttl needs a value; one that starts with "-" is written --ttl=VALUE; see secrets dev token --help\n',
    });
  });

  it('9. `secrets audit` alone shows the audit commands; --help describes options; dev token shows --sub', async () => {
    const audit = await cli(['audit'], { token: '' });
    expect(audit).toMatchObject({ code: 2, stderr: '' });
    expect(audit.stdout).toMatch(/^usage: secrets audit <command>/);
    expect(audit.stdout).toMatch(/^ {2}query\s+Lists audit records/m);
    const help = await cli(['audit', 'query', '--help'], { token: '' });
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^ {2}--limit <value>\s+at most this many records \(default 100\)$/m);
    const devToken = await cli(['dev', 'token', '--help'], { token: '' });
    expect(devToken.stdout.split('\n')[0]).toMatch(/\[--sub SUB\]/);
  });

  it('11. NATS_URL that is not a URL is a bad setting for the CLI (exit 2), not an unreachable NATS', async () => {
    expect(await cli(['list'], { env: { NATS_URL: 'not a url' } })).toEqual({
      code: 2,
      stdout: '',
      stderr: 'secrets: NATS_URL is not a valid URL\n',
    });
  });

  /** Starts the built render service with `env` and waits for it to exit (it must, on a bad setting). */
  function renderExit(env: Record<string, string>): Promise<CliRun> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [RENDER_MAIN], {
        env: { PATH: process.env.PATH, NATS_SUBJECT_PREFIX: prefix, LOG_LEVEL: 'error', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code: code ?? -1, stdout, stderr });
      });
    });
  }

  it('11. a service whose HTTP_PORT is taken says so, naming HTTP_PORT, and exits as on a bad setting (2)', async () => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, resolve));
    const port = (holder.address() as { port: number }).port;
    try {
      const result = await renderExit({ NATS_URL: testInfrastructure().natsUrl, HTTP_PORT: String(port) });
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(
        `render failed to start: invalid configuration:\n  - HTTP_PORT ${port} is already in use (another service, ` +
          'or an earlier run still listening?); set HTTP_PORT to a free port\n',
      );
      // Its log says the same, for whoever reads the logs rather than the terminal.
      expect(result.stdout).toMatch(/"level":"error".*"httpPort":\d+.*"msg":"HTTP_PORT \d+ is already in use/);
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
  });

  it('11. a service with NATS_URL that is not a URL exits 2, naming it', async () => {
    const result = await renderExit({ NATS_URL: 'not a url', HTTP_PORT: '0' });
    expect(result).toMatchObject({ code: 2, stderr: expect.stringMatching(/NATS_URL is not a valid URL/) });
  });

  it('10. audit query shows a resolve of many keys as a few keys and a count, and - for its version', async () => {
    const keys = Array.from({ length: 12 }, (_, i) => `MANY_${String(i).padStart(2, '0')}`);
    for (const key of keys) expect(await cli(['set', key, `value-of-${key}-123`])).toMatchObject({ code: 0 });
    const template = file('many.txt', keys.map((key) => `{{ .Secrets.${key} }}`).join(','));
    expect(await cli(['render', template])).toMatchObject({ code: 0 });
    let table = '';
    await eventually('the resolve reaches audit', async () => {
      table = (await cli(['audit', 'query', '--type', 'SecretValuesResolved', '--limit', '1'])).stdout;
      return table.includes('MANY_00');
    });
    const row = table.split('\n')[1];
    expect(row).toMatch(/SecretValuesResolved\s+MANY_00@1,MANY_01@1,MANY_02@1 \+9 more \(12 keys\)\s+-\s+vendor\s/);
    expect(row.length).toBeLessThan(200);
    expect(table).not.toContain('value-of');
  });
});

// `secrets import`, `secrets export --template` and `secrets completion` through the real bin against running services.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
import { COMMANDS } from '../src/main';
import { type CliRun, platformCli } from './cli-process';

const VALUES = {
  api: 'sk-import-api-5c1e',
  db: 'db pass with spaces #and hash',
  cert: '-----BEGIN TEST-----\nline-two-7f\n-----END TEST-----',
  quoted: 'say "hi"\tthen $HOME',
  globex: 'globex-import-only-93d',
  changed: 'sk-import-api-CHANGED-2b',
  bad: 'never-written-value-0aa',
};

/** Every value this suite writes; none may appear in any output of import, export or completion. */
function expectNoValue(...runs: CliRun[]): void {
  const printed = runs.map((r) => r.stdout + r.stderr).join('\n');
  for (const value of Object.values(VALUES)) expect(printed).not.toContain(value.split('\n')[0]);
}

describe('secrets import, export --template and completion', () => {
  const prefix = uniqueSubjectPrefix();
  let database: TestDatabase;
  let services: TestService[] = [];
  let tokens: TestTokens;
  let adminToken: string;
  let workDir: string;

  /** `token` '' runs without SECRETS_TOKEN. */
  const asUser = platformCli(prefix, () => adminToken);
  const cli = (args: string[], token = adminToken, env: Record<string, string> = {}) => asUser(args, { token, env });

  function dotenv(name: string, text: string): string {
    const file = join(workDir, name);
    writeFileSync(file, text);
    return file;
  }

  async function versions(args: string[] = [], token = adminToken): Promise<Map<string, number>> {
    const listed = await cli(['list', '--json', ...args], token);
    expect(listed.code).toBe(0);
    const { secrets } = JSON.parse(listed.stdout) as {
      secrets: Array<{ key: string; version: number; customerOrganizationId: string | null }>;
    };
    return new Map(secrets.map((s) => [`${s.customerOrganizationId ?? 'vendor'}:${s.key}`, s.version]));
  }

  async function rendered(template: string, args: string[] = [], token = adminToken): Promise<string> {
    const file = dotenv(`render-${Math.random().toString(36).slice(2)}.txt`, template);
    const result = await cli(['render', file, ...args], token);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    return result.stdout;
  }

  beforeAll(async () => {
    database = await createTestDatabase();
    const env = { NATS_SUBJECT_PREFIX: prefix, DATABASE_URL: database.url };
    services = await Promise.all([startTestService(secretsService, env), startTestService(renderService, env)]);
    tokens = await TestTokens.create();
    adminToken = await tokens.vendor('importvendor', 'admin');
    workDir = mkdtempSync(join(tmpdir(), 'secrets-import-'));
  });

  afterAll(async () => {
    await Promise.all(services.map((s) => s.close()));
    await database?.drop();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  const seedFile = () =>
    dotenv(
      'seed.env',
      [
        '# moved in from the old .env',
        `export API_KEY=${VALUES.api}`,
        '',
        `DB_PASSWORD='${VALUES.db}'   # single quotes keep the hash`,
        `TLS_CERT="${VALUES.cert}"`,
        `QUOTED="say \\"hi\\"\\tthen \\$HOME"`,
        '',
      ].join('\n'),
    );

  it('creates one secret per line with exact values, printing keys and counts only', async () => {
    const result = await cli(['import', seedFile()]);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout.trim().split('\n')).toEqual([
      'created API_KEY, version 1',
      'created DB_PASSWORD, version 1',
      'created TLS_CERT, version 1',
      'created QUOTED, version 1',
      '4 created, 0 updated, 0 unchanged',
    ]);
    expectNoValue(result);
    expect(JSON.parse(await rendered('{{ toJson .Secrets }}'))).toEqual({
      API_KEY: VALUES.api,
      DB_PASSWORD: VALUES.db,
      TLS_CERT: VALUES.cert,
      QUOTED: VALUES.quoted,
    });
  });

  it('writes nothing when run again with unchanged values', async () => {
    const before = await versions();
    const again = await cli(['import', seedFile()]);
    expect(again).toMatchObject({ code: 0, stdout: '0 created, 0 updated, 4 unchanged\n', stderr: '' });
    expect(await versions()).toEqual(before);
    const history = await cli(['history', 'TLS_CERT', '--json']);
    expect((JSON.parse(history.stdout) as { versions: unknown[] }).versions).toHaveLength(1);
  });

  it('reports with --dry-run what would change and writes nothing; then updates only the changed key', async () => {
    const file = dotenv(
      'changed.env',
      `API_KEY=${VALUES.changed}\nDB_PASSWORD='${VALUES.db}'\nNEW_ONE=${VALUES.changed}-new\n`,
    );
    const before = await versions();
    const dry = await cli(['import', file, '--dry-run']);
    expect(dry).toMatchObject({ code: 0, stderr: '' });
    expect(dry.stdout.trim().split('\n')).toEqual([
      'would update API_KEY (line 1)',
      'would create NEW_ONE (line 3)',
      'dry run: 1 to create, 1 to update, 1 unchanged; nothing written',
    ]);
    const dryJson = await cli(['import', file, '--dry-run', '--json']);
    expect(JSON.parse(dryJson.stdout)).toEqual({
      dryRun: true,
      created: ['NEW_ONE'],
      updated: ['API_KEY'],
      unchanged: ['DB_PASSWORD'],
    });
    expect(await versions()).toEqual(before);
    const real = await cli(['import', file, '--json']);
    expect(real.code).toBe(0);
    expect(JSON.parse(real.stdout)).toEqual({
      dryRun: false,
      created: ['NEW_ONE'],
      updated: ['API_KEY'],
      unchanged: ['DB_PASSWORD'],
    });
    const after = await versions();
    expect([after.get('vendor:API_KEY'), after.get('vendor:DB_PASSWORD'), after.get('vendor:NEW_ONE')]).toEqual([
      2, 1, 1,
    ]);
    expect(await rendered('{{ .Secrets.API_KEY }}')).toBe(VALUES.changed);
    expectNoValue(dry, dryJson, real);
  });

  it('stops before any write at a bad line, naming the line and never its text (exit 5)', async () => {
    const before = await versions();
    const cases: Array<[string, string]> = [
      [`FIRST_OK=${VALUES.bad}\nAPI-KEY=${VALUES.bad}\n`, 'line 2: invalid key'],
      [`FIRST_OK=${VALUES.bad}\n\n${VALUES.bad}\n`, 'line 3: expected KEY=VALUE'],
      [`FIRST_OK=${VALUES.bad}\nOPEN="${VALUES.bad}\n`, 'line 2: the double quote is never closed'],
      [`FIRST_OK=${VALUES.bad}\nFIRST_OK=${VALUES.bad}\n`, 'line 2: the same key as line 1'],
      [`FIRST_OK=${VALUES.bad}\nEMPTY=\n`, 'line 2: empty value'],
    ];
    for (const [text, reason] of cases) {
      const file = dotenv('bad.env', text);
      const result = await cli(['import', file]);
      expect([reason, result.code, result.stdout]).toEqual([reason, 5, '']);
      expect(result.stderr.startsWith(`secrets: ${file} line `)).toBe(true);
      expect(result.stderr).toContain(reason);
      expect(result.stderr).toMatch(/nothing imported\n$/);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expectNoValue(result);
    }
    expect(await versions()).toEqual(before);
    expect(await cli(['import', join(workDir, 'no-such.env')])).toMatchObject({
      code: 2,
      stderr: `secrets: cannot read ${join(workDir, 'no-such.env')}\n`,
    });
    expect(await cli(['import'])).toMatchObject({ code: 2 });
  });

  it('refuses callers that may not write or read values (exit 4), writing nothing', async () => {
    const file = dotenv('refused.env', `REFUSED_KEY=${VALUES.bad}\nAPI_KEY=${VALUES.bad}\n`);
    const readOnly = await cli(['import', file], await tokens.vendor('importvendor', 'read_only'));
    expect(readOnly.code).toBe(4);
    expect(readOnly.stderr).toMatch(/^secrets: PERMISSION_DENIED/);
    expect(await cli(['import', file], '')).toMatchObject({
      code: 4,
      stderr: 'secrets: no token: set SECRETS_TOKEN or pass --token\n',
    });
    const otherCustomer = await cli(
      ['import', file, '--customer', 'initech'],
      await tokens.customer('importvendor', 'globex', 'admin'),
    );
    expect(otherCustomer.code).toBe(4);
    expect((await versions()).has('vendor:REFUSED_KEY')).toBe(false);
    expect((await versions(['--customer', 'initech'])).size).toBe(0);
    expectNoValue(readOnly, otherCustomer);
  });

  it('imports into one customer only with --customer, and a customer user into its own scope', async () => {
    const file = dotenv('globex.env', `API_KEY=${VALUES.globex}\nGLOBEX_ONLY=${VALUES.globex}-2\n`);
    const vendorBefore = await versions();
    const result = await cli(['import', file, '--customer', 'globex']);
    expect(result).toMatchObject({ code: 0, stdout: expect.stringMatching(/2 created, 0 updated, 0 unchanged\n$/) });
    const globex = await versions(['--customer', 'globex']);
    expect([...globex.keys()].sort()).toEqual(['globex:API_KEY', 'globex:GLOBEX_ONLY']);
    // The vendor-level API_KEY is untouched although the customer's has the same key.
    expect(await versions()).toEqual(new Map([...vendorBefore, ...globex]));
    expect(await rendered('{{ .Secrets.API_KEY }}')).toBe(VALUES.changed);
    expect(await rendered('{{ .Secrets.API_KEY }}', ['--customer', 'globex'])).toBe(VALUES.globex);

    // The customer's own user sees its values as unchanged: compared within its own scope only.
    const globexUser = await tokens.customer('importvendor', 'globex', 'read_write');
    expect(await cli(['import', file], globexUser)).toMatchObject({
      code: 0,
      stdout: '0 created, 0 updated, 2 unchanged\n',
    });
    // A vendor-level key with the same value is not the customer's: it is created in the customer's scope.
    const own = dotenv('globex-own.env', `DB_PASSWORD='${VALUES.db}'\n`);
    expect(await cli(['import', own], globexUser)).toMatchObject({
      code: 0,
      stdout: 'created DB_PASSWORD, version 1\n1 created, 0 updated, 0 unchanged\n',
    });
    expect((await versions(['--customer', 'globex'])).get('globex:DB_PASSWORD')).toBe(1);
    expect((await versions()).get('vendor:DB_PASSWORD')).toBe(1);
    expectNoValue(result);
  });

  it('exports an env template of every key in scope, sorted, and never a value', async () => {
    const vendor = await cli(['export', '--template']);
    expect(vendor).toMatchObject({ code: 0, stderr: '' });
    expect(vendor.stdout).toBe(
      [
        'API_KEY={{ .Secrets.API_KEY }}',
        'DB_PASSWORD={{ .Secrets.DB_PASSWORD }}',
        'NEW_ONE={{ .Secrets.NEW_ONE }}',
        'QUOTED={{ .Secrets.QUOTED }}',
        'TLS_CERT={{ .Secrets.TLS_CERT }}',
        '',
      ].join('\n'),
    );
    const forGlobex = await cli(['export', '--template', '--customer', 'globex']);
    expect(
      forGlobex.stdout
        .trim()
        .split('\n')
        .map((l) => l.split('=')[0]),
    ).toEqual(['API_KEY', 'DB_PASSWORD', 'GLOBEX_ONLY', 'NEW_ONE', 'QUOTED', 'TLS_CERT']);
    // A customer user's render sees its own secrets only, so its template names those.
    const asGlobex = await cli(['export', '--template'], await tokens.customer('importvendor', 'globex', 'read_only'));
    expect(
      asGlobex.stdout
        .trim()
        .split('\n')
        .map((l) => l.split('=')[0]),
    ).toEqual(['API_KEY', 'DB_PASSWORD', 'GLOBEX_ONLY']);
    expect(
      await cli(['export', '--template', '--customer', 'initech'], await tokens.customer('importvendor', 'globex')),
    ).toMatchObject({ code: 4 });
    // The template renders as it stands: the round trip a user makes with it.
    const template = dotenv('exported.env', vendor.stdout);
    const round = await cli(['render', template, '--format', 'env']);
    expect(round.code).toBe(0);
    expect(round.stdout).toContain(`NEW_ONE=${VALUES.changed}-new`);
    const empty = await cli(['export', '--template'], await tokens.vendor('emptyvendor', 'read_only'));
    expect(empty).toMatchObject({
      code: 0,
      stdout: '',
      stderr: 'secrets: no secrets in this scope; the template is empty\n',
    });
    expect(await cli(['export'])).toMatchObject({ code: 2, stdout: '' });
    expect(await cli(['export', '--template', 'extra'])).toMatchObject({ code: 2 });
    expectNoValue(vendor, forGlobex, asGlobex);
  });

  describe('completion', () => {
    const completion = async (shell: string) => {
      const result = await cli(['completion', shell], '');
      expect(result).toMatchObject({ code: 0, stderr: '' });
      return result.stdout;
    };
    const hasShell = (shell: string) => spawnSync('sh', ['-c', `command -v ${shell}`]).status === 0;

    it('bash completes every command of the table, its subcommands, options and files', async () => {
      const script = dotenv('secrets.bash', await completion('bash'));
      const complete = (...words: string[]) => {
        const run = spawnSync(
          'bash',
          [
            '-c',
            `source "$0"; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _secrets; printf '%s\\n' "\${COMPREPLY[@]}"`,
            script,
            'secrets',
            ...words,
          ],
          { cwd: workDir, encoding: 'utf8' },
        );
        expect(run.stderr).toBe('');
        return run.stdout.split('\n').filter(Boolean).sort();
      };
      for (const command of COMMANDS) {
        const head = command.path.slice(0, -1);
        const last = command.path[command.path.length - 1];
        expect([command.path.join(' '), complete(...head, last.slice(0, 1))]).toEqual([
          command.path.join(' '),
          expect.arrayContaining([last]),
        ]);
      }
      expect(complete('aud')).toEqual(['audit']);
      expect(complete('audit', 'ver')).toEqual(['verify']);
      expect(complete('import', '--d')).toEqual(['--dry-run']);
      expect(complete('import', '--customer', 'globex', '--')).toEqual([
        '--customer',
        '--dry-run',
        '--help',
        '--json',
        '--token',
      ]);
      expect(complete('import', 'seed.')).toEqual(['seed.env']);
      expect(complete('list', 'seed.')).toEqual([]);
      expect(complete('deployments', '')).toEqual(['forget']);
    });

    (hasShell('zsh') ? it : it.skip)('zsh offers the same words', async () => {
      const script = dotenv('secrets.zsh', await completion('zsh'));
      const complete = (...words: string[]) => {
        const run = spawnSync(
          'zsh',
          [
            '-fc',
            'compdef() { :; }; compadd() { shift; print -l -- "$@"; }; _files() { print -- FILES; }; source "$1"; ' +
              'shift; words=("$@"); CURRENT=$#; _secrets',
            'zsh',
            script,
            'secrets',
            ...words,
          ],
          { encoding: 'utf8' },
        );
        expect(run.stderr).toBe('');
        return run.stdout.split('\n').filter(Boolean);
      };
      expect(complete('')).toEqual(expect.arrayContaining(['import', 'export', 'completion', 'audit']));
      expect(complete('audit', '')).toEqual(expect.arrayContaining(['query', 'verify', 'replay']));
      expect(complete('import', '--')).toEqual(expect.arrayContaining(['--dry-run', '--customer']));
      expect(complete('import', 'x')).toContain('FILES');
      expect(complete('list', 'x')).not.toContain('FILES');
    });

    (hasShell('fish') ? it : it.skip)('fish offers the same words', async () => {
      const script = dotenv('secrets.fish', await completion('fish'));
      const complete = (line: string) => {
        const run = spawnSync('fish', ['--no-config', '-c', `source $argv[1]; complete -C "$argv[2]"`, script, line], {
          encoding: 'utf8',
        });
        expect(run.stderr).toBe('');
        return run.stdout
          .split('\n')
          .filter(Boolean)
          .map((l) => l.split('\t')[0]);
      };
      expect(complete('secrets ')).toEqual(expect.arrayContaining(['import', 'export', 'completion', 'audit']));
      expect(complete('secrets audit ')).toEqual(expect.arrayContaining(['query', 'verify']));
      expect(complete('secrets import --d')).toEqual(['--dry-run']);
    });

    it('refuses an unknown shell (exit 2)', async () => {
      expect(await cli(['completion', 'powershell'], '')).toMatchObject({
        code: 2,
        stderr: 'secrets: completion takes one shell: bash, zsh, fish\n',
      });
      expect(await cli(['completion'], '')).toMatchObject({ code: 2 });
    });
  });
});

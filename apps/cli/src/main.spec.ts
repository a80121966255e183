import { SECRET_EVENT_TYPES } from '@platform/contracts';
import { explainWireError } from './cli-error';
import { COMMANDS, runCli } from './main';

interface Ran {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** One CLI invocation that needs no services: what it printed and its exit code. */
async function run(...argv: string[]): Promise<Ran> {
  let stdout = '';
  let stderr = '';
  const out = jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => ((stdout += String(chunk)), true));
  const err = jest.spyOn(process.stderr, 'write').mockImplementation((chunk) => ((stderr += String(chunk)), true));
  try {
    // No NATS is reachable here: a command that tried to connect would fail with exit 6.
    const code = await runCli(argv, { NATS_URL: 'nats://127.0.0.1:1', SECRETS_TOKEN: 'not-used' });
    return { code, stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

describe('secrets CLI, offline', () => {
  it('shows the audit commands for `secrets audit` alone (exit 2) and for `secrets audit --help` (exit 0)', async () => {
    const alone = await run('audit');
    expect(alone).toMatchObject({ code: 2, stderr: '' });
    expect(alone.stdout).toMatch(/^usage: secrets audit <command>/);
    for (const sub of ['query', 'verify', 'replay', 'gaps', 'acknowledge-gap', 'rebuild']) {
      expect(alone.stdout).toMatch(new RegExp(`^  ${sub}\\s+\\S`, 'm'));
    }
    expect(await run('audit', '--help')).toMatchObject({ code: 0, stdout: alone.stdout });
    const devAlone = await run('dev');
    expect(devAlone.stdout).toMatch(/^ {2}token\s+Mints a token/m);
    expect(await run('audit', 'bogus')).toMatchObject({
      code: 2,
      stderr: 'secrets: unknown command "audit bogus"; see secrets audit --help\n',
    });
  });

  it('describes every option of every command in --help', async () => {
    for (const command of COMMANDS) {
      const help = await run(...command.path, '--help');
      expect(help.code).toBe(0);
      const options = help.stdout.split('options:\n')[1].trimEnd().split('\n');
      expect(options.length).toBeGreaterThanOrEqual(3);
      for (const line of options)
        expect([command.path.join(' '), line]).toEqual([
          expect.any(String),
          expect.stringMatching(/^ {2}--\S+.*\S\s{2,}\S.{8,}/),
        ]);
    }
    const devToken = await run('dev', 'token', '--help');
    expect(devToken.stdout.split('\n')[0]).toContain('[--sub SUB]');
    expect(devToken.stdout).toMatch(/^ {2}--sub <value>\s+the subject/m);
  });

  it('refuses an unknown option in one line with balanced quotes (exit 2)', async () => {
    const result = await run('list', '--bogus-flag');
    expect(result).toMatchObject({
      code: 2,
      stdout: '',
      stderr: 'secrets: unknown option --bogus-flag; see secrets list --help\n',
    });
  });

  it('refuses an option value that starts with a dash in one line (exit 2)', async () => {
    const result = await run('dev', 'token', '--org', 'acme', '--ttl', '-5');
    expect(result.code).toBe(2);
    expect(result.stderr.trimEnd().split('\n')).toEqual([
      'secrets: --ttl needs a value; one that starts with "-" is written --ttl=VALUE; see secrets dev token --help',
    ]);
    const negative = await run('dev', 'token', '--org', 'acme', '--ttl=-5');
    expect(negative).toMatchObject({ code: 2, stderr: 'secrets: --ttl must be 1 to 43200 seconds\n' });
  });

  it('refuses an unknown audit event type, listing the valid ones, before connecting (exit 2)', async () => {
    const result = await run('audit', 'query', '--type', 'SecretCreated', '--type', 'Bogus');
    expect(result).toMatchObject({ code: 2, stdout: '' });
    expect(result.stderr).toBe(
      `secrets: --type Bogus is not an event type; use one of ${SECRET_EVENT_TYPES.join(', ')}\n`,
    );
  });
});

describe('explainWireError', () => {
  it('does not repeat what the service said about a key', () => {
    const message = 'key is invalid: it must start with a letter and contain only letters, digits and underscores';
    expect(explainWireError('INVALID_ARGUMENT', message)).toBe(message);
    expect(explainWireError('INVALID_ARGUMENT', 'pins names a key that is not a valid secret key')).toBe(
      'pins names a key that is not a valid secret key — keys start with a letter and contain only letters, digits and underscores (e.g. API_KEY)',
    );
  });

  it('says once that the token has expired, and what to do', () => {
    expect(explainWireError('UNAUTHENTICATED', 'token has expired')).toBe(
      'token has expired; get a new one (SECRETS_TOKEN or --token)',
    );
  });
});

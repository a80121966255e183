// The `secrets` command line: manage secrets, render, run with injected env, audit, and ops.
import { ConfigError, commonSettings, loadConfig } from '@platform/config';
import { CliError, EXIT } from './cli-error';
import { type Command, type CommandContext, argumentProblem, helpText, parseCommandArgs } from './command';
import {
  auditAcknowledgeGapCommand,
  auditGapsCommand,
  auditQueryCommand,
  auditReplayCommand,
  auditVerifyCommand,
} from './commands/audit.commands';
import { completionCommand } from './commands/completion.commands';
import { deploymentsCommand, forgetDeploymentCommand } from './commands/deployments.commands';
import { destroyCommand } from './commands/destroy.commands';
import { restoreCommand, rollbackCommand } from './commands/lifecycle.commands';
import { devTokenCommand } from './commands/dev.commands';
import { exportCommand, importCommand } from './commands/import.commands';
import { OPS_COMMANDS } from './commands/ops.commands';
import { renderCommand, runCommand, validateCommand } from './commands/render.commands';
import { deleteCommand, getCommand, historyCommand, listCommand, setCommand } from './commands/secrets.commands';
import { processOutput } from './output';
import { type PlatformClient } from './platform-client';

export const COMMANDS: readonly Command[] = [
  setCommand,
  getCommand,
  listCommand,
  deleteCommand,
  historyCommand,
  rollbackCommand,
  restoreCommand,
  importCommand,
  exportCommand,
  destroyCommand,
  deploymentsCommand,
  forgetDeploymentCommand,
  renderCommand,
  validateCommand,
  runCommand,
  auditQueryCommand,
  auditReplayCommand,
  auditVerifyCommand,
  auditGapsCommand,
  auditAcknowledgeGapCommand,
  devTokenCommand,
  completionCommand(() => COMMANDS),
  ...OPS_COMMANDS,
];

function overview(): string {
  const width = Math.max(...COMMANDS.map((c) => c.path.join(' ').length));
  return [
    'usage: secrets <command> [options]   (secrets <command> --help for details)',
    '',
    ...COMMANDS.map((c) => `  ${c.path.join(' ').padEnd(width)}  ${c.summary.split('. ')[0].replace(/\.$/, '')}`),
    '',
    'environment: NATS_URL (nats://127.0.0.1:4222), NATS_USER/NATS_PASSWORD, NATS_SUBJECT_PREFIX, SECRETS_TOKEN (or --token),',
    '             SECRETS_TIMEOUT_MS (10000)',
    'global options: --json (machine-readable output), --token TOKEN, --help',
  ].join('\n');
}

/** `secrets audit` alone: the commands under that word, each with its summary. */
function groupOverview(word: string, group: readonly Command[]): string {
  const width = Math.max(...group.map((c) => c.path.slice(1).join(' ').length));
  return [
    `usage: secrets ${word} <command> [options]   (secrets ${word} <command> --help for details)`,
    '',
    ...group.map((c) => `  ${c.path.slice(1).join(' ').padEnd(width)}  ${c.summary.split('. ')[0].replace(/\.$/, '')}`),
  ].join('\n');
}

function findCommand(argv: readonly string[]): { command: Command; rest: string[] } | undefined {
  const matches = COMMANDS.filter((c) => c.path.every((word, i) => argv[i] === word));
  const best = matches.sort((a, b) => b.path.length - a.path.length)[0];
  return best ? { command: best, rest: argv.slice(best.path.length) } : undefined;
}

/** NATS_URL and NATS_SUBJECT_PREFIX checked as the services check them: a bad one is a usage error (exit 2). */
function natsSettingsOf(env: NodeJS.ProcessEnv): { natsUrl: string; subjectPrefix: string } {
  const { natsUrl, subjectPrefix } = commonSettings('secrets');
  try {
    return loadConfig({ natsUrl, subjectPrefix }, env);
  } catch (error) {
    if (error instanceof ConfigError) throw new CliError(error.problems.join('; '), EXIT.USAGE);
    throw error;
  }
}

/** How long a request waits for its reply: SECRETS_TIMEOUT_MS, 10 s by default. */
function timeoutOf(env: NodeJS.ProcessEnv): number {
  const text = env.SECRETS_TIMEOUT_MS ?? '10000';
  const timeoutMs = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(timeoutMs) || timeoutMs < 1) {
    throw new CliError(`SECRETS_TIMEOUT_MS must be a whole number of milliseconds (got "${text}")`, EXIT.USAGE);
  }
  return timeoutMs;
}

/** Runs one CLI invocation and returns its exit code; errors are printed as one line. */
export async function runCli(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  // Only options before `--` are the CLI's own; what follows belongs to `secrets run`'s command.
  const separator = argv.indexOf('--');
  const json = (separator === -1 ? argv : argv.slice(0, separator)).includes('--json');
  const output = processOutput(json);
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    output.out(overview());
    return argv.length === 0 ? EXIT.USAGE : EXIT.OK;
  }
  const found = findCommand(argv);
  const group = found ? [] : COMMANDS.filter((c) => c.path.length > 1 && c.path[0] === argv[0]);
  if (group.length > 0 && (argv.length === 1 || argv[1].startsWith('-'))) {
    output.out(groupOverview(argv[0], group));
    return argv.includes('--help') || argv.includes('-h') ? EXIT.OK : EXIT.USAGE;
  }
  if (!found) {
    output.err(
      `secrets: unknown command "${argv
        .filter((a) => !a.startsWith('-'))
        .slice(0, 2)
        .join(' ')}"; see secrets ${group.length > 0 ? `${argv[0]} ` : ''}--help`,
    );
    return EXIT.USAGE;
  }
  const { command, rest } = found;
  let client: PlatformClient | undefined;
  try {
    let parsed;
    try {
      parsed = parseCommandArgs(command, rest);
    } catch (error) {
      throw new CliError(`${argumentProblem(error)}; see secrets ${command.path.join(' ')} --help`, EXIT.USAGE);
    }
    if (parsed.values.help) {
      output.out(helpText(command));
      return EXIT.OK;
    }
    const token = (parsed.values.token as string | undefined) ?? env.SECRETS_TOKEN;
    const context: CommandContext = {
      args: parsed.positionals,
      values: parsed.values as CommandContext['values'],
      output,
      env,
      stdin: process.stdin,
      async client() {
        // Loaded on first use: NATS and the messaging library cost every offline command (--help, dev token) ~0.3 s.
        const { PlatformClient } = await import('./platform-client');
        client ??= await PlatformClient.connect({
          ...natsSettingsOf(env),
          token,
          natsUser: env.NATS_USER,
          natsPassword: env.NATS_PASSWORD,
          natsTlsCaFile: env.NATS_TLS_CA_FILE,
          natsTlsCertFile: env.NATS_TLS_CERT_FILE,
          natsTlsKeyFile: env.NATS_TLS_KEY_FILE,
          natsNkeySeedFile: env.NATS_NKEY_SEED_FILE,
          natsCredsFile: env.NATS_CREDS_FILE,
          timeoutMs: timeoutOf(env),
        });
        return client;
      },
    };
    return (await command.run(context)) ?? EXIT.OK;
  } catch (error) {
    if (error instanceof CliError) {
      output.err(
        json ? JSON.stringify({ error: error.message, exitCode: error.exitCode }) : `secrets: ${error.message}`,
      );
      return error.exitCode;
    }
    output.err(`secrets: unexpected failure (${(error as Error)?.name ?? 'error'}); nothing secret was printed`);
    return EXIT.FAILURE;
  } finally {
    await client?.close().catch(() => undefined);
  }
}

if (require.main === module) {
  runCli(process.argv.slice(2)).then(
    (code) => process.exit(code),
    () => process.exit(EXIT.FAILURE),
  );
}

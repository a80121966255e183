import { type ParseArgsConfig, parseArgs } from 'node:util';
import { type Output } from './output';
import { type PlatformClient } from './platform-client';

type ParseOption = NonNullable<ParseArgsConfig['options']>[string];
/** An option as parseArgs reads it, and the words `--help` shows for it. */
export type CommandOption = ParseOption & { readonly description: string };
type Options = Readonly<Record<string, CommandOption>>;

export interface CommandContext {
  readonly args: readonly string[];
  readonly values: Record<string, string | boolean | string[] | undefined>;
  readonly output: Output;
  /** Connects lazily: commands that work offline (dev token, --help) never touch NATS. */
  client(): Promise<PlatformClient>;
  readonly env: NodeJS.ProcessEnv;
  readonly stdin: NodeJS.ReadableStream & { isTTY?: boolean };
}

/** One CLI command: its words (`audit query`), usage, options and what it does. */
export interface Command {
  readonly path: readonly string[];
  readonly summary: string;
  readonly usage: string;
  readonly options?: Options;
  /** Free text appended to --help. */
  readonly details?: string;
  run(context: CommandContext): Promise<number | void>;
}

/** Options every command accepts. */
export const GLOBAL_OPTIONS: Options = {
  json: { type: 'boolean', description: 'print the result as JSON (a failure as {"error","exitCode"} on stderr)' },
  token: { type: 'string', description: 'the token to call the services with (default: SECRETS_TOKEN)' },
  help: { type: 'boolean', short: 'h', description: 'show this help' },
};

export function parseCommandArgs(command: Command, argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    options: { ...GLOBAL_OPTIONS, ...command.options },
    allowPositionals: true,
    strict: true,
  });
}

/** parseArgs's refusal as one line (its own can run to three, with quotes it opens and never closes). */
export function argumentProblem(error: unknown): string {
  const { code, message } = error as { code?: string; message?: string };
  const text = message ?? String(error);
  const option = /Option '(--?[^' ]+)/.exec(text)?.[1] ?? /option '(--?[^' ]+)'/i.exec(text)?.[1];
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return `unknown option ${option ?? text.split('.')[0]}`;
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && option) {
    if (/ambiguous/.test(text)) return `${option} needs a value; one that starts with "-" is written ${option}=VALUE`;
    if (/missing/.test(text)) return `${option} needs a value`;
    if (/does not take an argument/.test(text)) return `${option} takes no value`;
  }
  if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') return 'unexpected argument';
  return text.split('\n')[0].replace(/\.$/, '');
}

export function helpText(command: Command): string {
  const entries = Object.entries({ ...command.options, ...GLOBAL_OPTIONS });
  const names = entries.map(
    ([name, o]) => `--${name}${o.short ? `, -${o.short}` : ''}${o.type === 'string' ? ' <value>' : ''}`,
  );
  const width = Math.max(...names.map((n) => n.length));
  const options = entries.map(
    ([, o], i) => `  ${names[i].padEnd(width)}  ${o.description}${o.multiple ? ' (repeatable)' : ''}`,
  );
  return [
    `usage: secrets ${command.usage}`,
    '',
    command.summary,
    ...(command.details ? ['', command.details] : []),
    '',
    'options:',
    ...options,
  ].join('\n');
}

import { type ParseArgsConfig, parseArgs } from 'node:util';
import { type Output } from './output';
import { type PlatformClient } from './platform-client';

type Options = NonNullable<ParseArgsConfig['options']>;

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
  json: { type: 'boolean' },
  token: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

export function parseCommandArgs(command: Command, argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    options: { ...GLOBAL_OPTIONS, ...command.options },
    allowPositionals: true,
    strict: true,
  });
}

export function helpText(command: Command): string {
  const options = Object.entries({ ...command.options, ...GLOBAL_OPTIONS }).map(
    ([name, o]) =>
      `  --${name}${o.short ? `, -${o.short}` : ''}${o.type === 'string' ? ' <value>' : ''}${o.multiple ? ' (repeatable)' : ''}`,
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

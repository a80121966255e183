// Runs the real `secrets` bin (built by `npm run build`) as a child process, as a user's shell would.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { testInfrastructure } from '@platform/testing';

export const BIN = join(__dirname, '../../../bin/secrets.js');

export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CliOptions {
  /** The whole environment of the child besides PATH. */
  readonly env: Record<string, string | undefined>;
  readonly stdin?: string;
  readonly cwd?: string;
  readonly timeoutMs?: number;
}

export function runBin(args: readonly string[], options: CliOptions): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: Object.fromEntries(
        Object.entries({ PATH: process.env.PATH, ...options.env }).filter(([, v]) => v !== undefined),
      ),
      cwd: options.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // A command that never exits fails its test instead of hanging it.
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
    child.stdin.end(options.stdin ?? '');
  });
}

export interface PlatformCliOptions {
  /** The token to send as SECRETS_TOKEN; '' sends none; the default is `defaultToken()`. */
  readonly token?: string;
  readonly stdin?: string;
  readonly env?: Record<string, string>;
  readonly timeoutMs?: number;
}

/** The bin against the test NATS server under `prefix`, as the holder of `defaultToken()` unless told otherwise. */
export function platformCli(
  prefix: string,
  defaultToken: () => string,
): (args: readonly string[], options?: PlatformCliOptions) => Promise<CliRun> {
  return (args, options = {}) =>
    runBin(args, {
      env: {
        NATS_URL: testInfrastructure().natsUrl,
        NATS_SUBJECT_PREFIX: prefix,
        ...(options.token === '' ? {} : { SECRETS_TOKEN: options.token ?? defaultToken() }),
        ...options.env,
      },
      stdin: options.stdin,
      timeoutMs: options.timeoutMs,
    });
}

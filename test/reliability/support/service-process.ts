import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, until } from './wait';

import { type ServiceName as PlatformServiceName } from '@platform/config';

export type { PlatformServiceName };

export const REPO_ROOT = join(__dirname, '../../..');
const START_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 10_000;

/** Every child still running, killed should the test process exit without cleaning up (a failed suite, Ctrl-C). */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export interface Readiness {
  readonly status: number;
  readonly body: { ready?: boolean; checks?: Record<string, boolean> };
}

/**
 * One platform service as its own process, from the build output (`npm run build`), as production runs it: so it
 * can be killed with SIGKILL and started again on the same HTTP port with the same environment.
 */
export class ServiceProcess {
  /** Every line the service wrote to stdout or stderr, across restarts (pino JSON and start-up failures). */
  readonly output: string[] = [];
  private child?: ChildProcess;
  private exited?: Promise<void>;
  private starts = 0;

  private constructor(
    readonly name: PlatformServiceName,
    readonly httpPort: number,
    private readonly env: Record<string, string>,
    private readonly readyTimeoutMs: number,
  ) {}

  /** Starts the service and waits until `/readyz` answers 200. */
  static async start(
    name: PlatformServiceName,
    env: Record<string, string>,
    options: { readyTimeoutMs?: number } = {},
  ): Promise<ServiceProcess> {
    const service = new ServiceProcess(name, await freePort(), env, options.readyTimeoutMs ?? START_TIMEOUT_MS);
    await service.restart();
    return service;
  }

  get isRunning(): boolean {
    return this.child !== undefined;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Starts the process again (it must not be running) and waits until it is ready. */
  async restart(): Promise<void> {
    if (this.child) throw new Error(`${this.name} is already running`);
    const main = join(REPO_ROOT, 'dist/services', this.name, 'src/main.js');
    if (!existsSync(main)) throw new Error(`${main} is missing: run "npm run build" first (npm test does)`);
    this.starts++;
    const child = spawn(process.execPath, [main], {
      cwd: REPO_ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        NODE_ENV: 'test',
        LOG_LEVEL: 'warn',
        ...this.env,
        HTTP_PORT: String(this.httpPort),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    running.add(child);
    const label = `[${this.name}#${this.starts}]`;
    for (const stream of [child.stdout!, child.stderr!]) {
      let partial = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        const lines = (partial + chunk).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) this.output.push(`${label} ${line}`);
      });
      stream.on('end', () => partial && this.output.push(`${label} ${partial}`));
    }
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        running.delete(child);
        if (this.child === child) this.child = undefined;
        this.output.push(`${label} exited with ${signal ?? code}`);
        resolve();
      });
    });
    try {
      await until(
        async () => {
          if (this.child !== child) throw new Error(`${this.name} exited while starting:\n${this.tail()}`);
          return (await this.readiness()).status === 200;
        },
        `${this.name} to become ready`,
        this.readyTimeoutMs,
      );
    } catch (error) {
      await this.kill();
      if (this.output.at(-1)?.includes('exited while starting')) throw error;
      throw new Error(`${(error as Error).message}; its last words:\n${this.tail()}`, { cause: error });
    }
  }

  /** `GET /readyz`; status 0 when nothing answers. */
  async readiness(): Promise<Readiness> {
    try {
      const response = await fetch(`http://127.0.0.1:${this.httpPort}/readyz`, { signal: AbortSignal.timeout(5_000) });
      return { status: response.status, body: (await response.json()) as Readiness['body'] };
    } catch {
      return { status: 0, body: {} };
    }
  }

  /** `GET /metrics` as Prometheus text. */
  async metrics(): Promise<string> {
    return (await fetch(`http://127.0.0.1:${this.httpPort}/metrics`)).text();
  }

  /** SIGKILL: no shutdown hook runs, in-flight requests and transactions are cut off where they are. */
  async kill(): Promise<void> {
    this.child?.kill('SIGKILL');
    await this.exited;
  }

  /** SIGSTOP: the process is frozen as by a long GC pause or a starved CPU; its sockets keep filling up meanwhile. */
  freeze(): void {
    this.child?.kill('SIGSTOP');
  }

  /** SIGCONT after `freeze()`: the process reads everything that arrived meanwhile at once. */
  thaw(): void {
    this.child?.kill('SIGCONT');
  }

  /** SIGTERM (a clean shutdown), then SIGKILL if it has not exited within the grace period. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill('SIGCONT');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    await this.exited;
    clearTimeout(timer);
  }

  /** The last output lines, for failure messages. */
  tail(lines = 40): string {
    return this.output.slice(-lines).join('\n');
  }
}

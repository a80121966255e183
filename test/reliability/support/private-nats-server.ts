import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { natsServerBinary } from '@platform/testing';
import { freePort } from './wait';

const READY_TIMEOUT_MS = 30_000;

/** Servers still running, stopped should the test process exit without cleaning up. */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/**
 * A nats-server of this test's own (JetStream, file storage in a temporary directory), so a broker outage can be
 * staged by stopping it and starting it again on the same port and store without touching the shared server.
 */
export class PrivateNatsServer {
  /** Everything the server logged, across restarts. */
  readonly output: string[] = [];
  private child?: ChildProcess;
  private exited?: Promise<void>;

  private constructor(
    readonly port: number,
    readonly storeDir: string,
  ) {}

  static async start(): Promise<PrivateNatsServer> {
    const server = new PrivateNatsServer(await freePort(), mkdtempSync(join(tmpdir(), 'reliability-nats-')));
    try {
      await server.restart();
    } catch (error) {
      rmSync(server.storeDir, { recursive: true, force: true });
      throw error;
    }
    return server;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  get isRunning(): boolean {
    return this.child !== undefined;
  }

  /** Starts the server (same port, same store) and resolves once it accepts clients. */
  async restart(): Promise<void> {
    if (this.child) throw new Error('the private nats-server is already running');
    const child = spawn(natsServerBinary(), ['-js', '-sd', this.storeDir, '-a', '127.0.0.1', '-p', String(this.port)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    running.add(child);
    this.exited = new Promise((resolve) => {
      child.once('exit', () => {
        running.delete(child);
        if (this.child === child) this.child = undefined;
        resolve();
      });
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error('nats-server did not report ready')), READY_TIMEOUT_MS);
      const fail = (error: Error): void => {
        clearTimeout(timer);
        child.kill('SIGKILL');
        reject(new Error(`${error.message}:\n${this.output.slice(-20).join('\n')}`));
      };
      child.once('error', fail);
      child.once('exit', (code) => fail(new Error(`nats-server exited with ${code} while starting`)));
      for (const stream of [child.stdout!, child.stderr!]) {
        stream.setEncoding('utf8');
        stream.on('data', (chunk: string) => {
          this.output.push(...chunk.split('\n').filter(Boolean));
          if (chunk.includes('Server is ready')) {
            clearTimeout(timer);
            child.removeAllListeners('error');
            resolve();
          }
        });
      }
    });
  }

  /** A clean stop (SIGTERM): clients see the connection drop and start reconnecting. */
  async stop(): Promise<void> {
    this.child?.kill('SIGTERM');
    await this.exited;
  }

  /** Stops the server and deletes its store. */
  async dispose(): Promise<void> {
    this.child?.kill('SIGKILL');
    await this.exited;
    rmSync(this.storeDir, { recursive: true, force: true });
  }
}

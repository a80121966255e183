// Child processes of the compiled services (`npm run build` first) and request load, for the benchmarks that run
// the platform as deployed: scaling and cluster.
import { type ChildProcess, spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { type JetStreamManager, type NatsConnection, headers as natsHeaders } from 'nats';

const ROOT = join(__dirname, '..');
const STARTUP_TIMEOUT_MS = 60_000;
const CARRIER_EVERY = 100;
const encoder = new TextEncoder();

export interface Throughput {
  readonly perSecond: number;
  readonly failures: number;
  /** 1-minute load average when the measurement ended. */
  readonly load: number;
}

export type ServiceName = 'secrets' | 'render' | 'redaction';

/** Starts the compiled service and resolves once it logged that it is ready (it logs nothing else at info). */
export async function startService(name: ServiceName, env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(process.execPath, [`dist/services/${name}/src/main.js`], {
    cwd: ROOT,
    env: { ...process.env, ...env, NODE_ENV: 'test', HTTP_PORT: '0', LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${name} not ready within ${STARTUP_TIMEOUT_MS} ms`)),
      STARTUP_TIMEOUT_MS,
    );
    let seen = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      if (seen === 'ready') return;
      seen = (seen + chunk.toString()).slice(-4096);
      if (seen.includes('service ready')) {
        seen = 'ready';
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code} before it was ready`));
    });
  });
  return child;
}

export async function stopService(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

/** Deletes every stream created under `prefix`, so reruns leave nothing behind on the shared server. */
export async function deleteStreams(manager: JetStreamManager, prefix: string): Promise<void> {
  const streamPrefix = prefix.replace(/\./g, '_');
  for await (const name of manager.streams.names()) {
    if (name.startsWith(streamPrefix)) await manager.streams.delete(name);
  }
}

export async function request(
  nats: NatsConnection,
  subject: string,
  token: string,
  body: unknown,
  timeout = 5000,
): Promise<boolean> {
  const headers = natsHeaders();
  headers.set('Authorization', `Bearer ${token}`);
  try {
    const reply = await nats.request(subject, encoder.encode(JSON.stringify(body)), { timeout, headers });
    return !reply.headers?.get('Nats-Service-Error-Code');
  } catch {
    return false;
  }
}

/** `inFlight` workers each sending one request after another for `ms`. */
export async function load(send: () => Promise<boolean>, inFlight: number, ms: number): Promise<Throughput> {
  let completed = 0;
  let failures = 0;
  const started = performance.now();
  const until = started + ms;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (performance.now() < until) {
        if (!(await send())) failures++;
        completed++;
      }
    }),
  );
  return { perSecond: (completed * 1000) / (performance.now() - started), failures, load: loadavg()[0] };
}

/** ~150-byte log lines; every 100th carries one of the scope's values. */
export function logLine(index: number, values: readonly string[]): Uint8Array {
  const secret = index % CARRIER_EVERY === 0 ? ` password=${values[index % values.length]}` : '';
  const head = `2025-01-01T00:00:00.000Z INFO [agent-${index % 7}] request completed upstream health check passed`;
  return encoder.encode(`${head} request_id=${index.toString(16).padStart(12, '0')}${secret}`);
}

export async function storedIn(manager: JetStreamManager, stream: string): Promise<number> {
  return (await manager.streams.info(stream)).state.messages;
}

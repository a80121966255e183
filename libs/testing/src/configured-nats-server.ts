import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { type Server, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'nats';
import { eventually } from './eventually';

/** A TCP port nothing listens on right now. */
export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  return port;
}

/** `count` distinct TCP ports nothing listens on right now (all held open until each is chosen, so none repeats). */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<Server>((resolve, reject) => {
          const server = createServer();
          server.unref();
          server.once('error', reject);
          server.listen(0, '127.0.0.1', () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((server) => (server.address() as { port: number }).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

export interface ConfiguredNatsServerOptions {
  /** The nats-server executable. */
  readonly binary: string;
  /** A user of the configuration whose connection tells that the server is up. */
  readonly probeUser: string;
  readonly probePassword: string;
  /** How long the server may take to accept the probe user. Default 10 s. */
  readonly readyTimeoutMs?: number;
  /**
   * A directory with `ca.pem`, `server.pem` and `server-key.pem` for the configuration's `tls { … }` block, in place
   * of its /etc/nats/tls/; clients (and the probe) then need TLS with that CA. Without it the tls block is dropped and
   * clients connect in plain text, as tests of permissions alone do.
   */
  readonly tlsDir?: string;
}

export interface ConfiguredNatsServer {
  readonly url: string;
  /** Stops the server and deletes its store directory. */
  stop(): Promise<void>;
}

/**
 * A private nats-server running a deployment configuration (users, permissions, JetStream) unchanged but for its
 * port, HTTP monitor and store directory, so a test can check the configuration without the shared server.
 */
export async function startConfiguredNatsServer(
  confPath: string,
  { binary, probeUser, probePassword, readyTimeoutMs = 10_000, tlsDir }: ConfiguredNatsServerOptions,
): Promise<ConfiguredNatsServer> {
  const port = await freePort();
  const url = `nats://127.0.0.1:${port}`;
  const storeDir = mkdtempSync(join(tmpdir(), 'configured-nats-'));
  const conf = readFileSync(confPath, 'utf8')
    .replace(/^port: \d+$/m, `port: ${port}`)
    .replace(/^http_port: \d+$/m, '')
    .replace(/store_dir: \S+/, `store_dir: ${JSON.stringify(storeDir)}`)
    .replace(/^tls \{\n[\s\S]*?^\}\n/m, (block) =>
      tlsDir ? block.replace(/\/etc\/nats\/tls\/([\w.-]+)/g, (_path, file: string) => join(tlsDir, file)) : '',
    );
  writeFileSync(join(storeDir, 'nats-server.conf'), conf);
  const child = spawn(binary, ['-c', join(storeDir, 'nats-server.conf'), '-a', '127.0.0.1'], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', () => resolve());
  });
  const stop = async (): Promise<void> => {
    child.kill();
    await exited;
    rmSync(storeDir, { recursive: true, force: true });
  };
  const accepts = () =>
    connect({
      servers: url,
      user: probeUser,
      pass: probePassword,
      maxReconnectAttempts: 0,
      ...(tlsDir ? { tls: { caFile: join(tlsDir, 'ca.pem') } } : {}),
    }).then(
      (connection) => connection.close().then(() => true),
      () => false,
    );
  try {
    await eventually(`nats-server with ${confPath} accepts ${probeUser}`, accepts, {
      timeoutMs: readyTimeoutMs,
      intervalMs: 100,
    });
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, stop };
}

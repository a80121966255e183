import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'nats';
import { freePorts } from './configured-nats-server';
import { natsServerBinary } from './nats-server-binary';
import { eventually } from './eventually';

/** Generous: three servers electing on a loaded two-core machine. */
const ELECTION_TIMEOUT_MS = 60_000;

/** Servers still running, killed should the test process exit without stopping them. */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** One server of a test cluster: its own client port, route port and JetStream store, kept across restarts. */
export class ClusterNode {
  /** Everything the server logged, across restarts. */
  readonly output: string[] = [];
  private child?: ChildProcess;
  private exited?: Promise<void>;

  constructor(
    readonly name: string,
    readonly port: number,
    readonly routePort: number,
    readonly monitorPort: number,
    private readonly routes: readonly string[],
    private readonly clusterName: string,
    readonly storeDir: string,
  ) {}

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  get isRunning(): boolean {
    return this.child !== undefined;
  }

  /** Starts the server on its port and store; resolves once it accepts clients (JetStream may still be electing). */
  async start(): Promise<void> {
    if (this.child) throw new Error(`${this.name} is already running`);
    const args = [
      ...['-js', '-sd', this.storeDir, '-a', '127.0.0.1', '-p', String(this.port), '-m', String(this.monitorPort)],
      ...['--server_name', this.name, '--cluster_name', this.clusterName],
      ...['--cluster', `nats://127.0.0.1:${this.routePort}`, '--routes', this.routes.join(',')],
    ];
    const child = spawn(natsServerBinary(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    running.add(child);
    for (const stream of [child.stdout!, child.stderr!]) {
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => this.output.push(...chunk.split('\n').filter(Boolean)));
    }
    this.exited = new Promise((resolve) => {
      child.once('exit', () => {
        running.delete(child);
        if (this.child === child) this.child = undefined;
        resolve();
      });
      child.once('error', (error) => this.output.push(`spawn failed: ${error.message}`));
    });
    await eventually(`${this.name} to accept clients`, async () => {
      if (this.child !== child) throw new Error(`${this.name} exited:\n${this.output.slice(-20).join('\n')}`);
      return connect({ servers: this.url, maxReconnectAttempts: 0 }).then(
        (connection) => connection.close().then(() => true),
        () => false,
      );
    });
  }

  /** The names of the client connections this server holds now (its `/connz` monitoring endpoint). */
  async connectionNames(): Promise<string[]> {
    const response = await fetch(`http://127.0.0.1:${this.monitorPort}/connz?limit=4096`);
    const { connections = [] } = (await response.json()) as { connections?: { name?: string }[] };
    return connections.map((connection) => connection.name ?? '');
  }

  /** SIGKILL: no goodbye to the cluster or the clients. */
  async kill(): Promise<void> {
    this.child?.kill('SIGKILL');
    await this.exited;
  }
}

/** Three (or `size`) nats-server processes on loopback ports, routed to each other, with clustered JetStream. */
export class NatsCluster {
  private constructor(readonly nodes: readonly ClusterNode[]) {}

  static async start(size = 3): Promise<NatsCluster> {
    const clusterName = `test-${process.pid}`;
    const allPorts = await freePorts(3 * size);
    const ports = allPorts.slice(0, size);
    const routePorts = allPorts.slice(size, 2 * size);
    const monitorPorts = allPorts.slice(2 * size);
    const routes = routePorts.map((port) => `nats://127.0.0.1:${port}`);
    const nodes = ports.map(
      (port, i) =>
        new ClusterNode(
          `n${i + 1}`,
          port,
          routePorts[i],
          monitorPorts[i],
          routes,
          clusterName,
          mkdtempSync(join(tmpdir(), 'nats-n-')),
        ),
    );
    const cluster = new NatsCluster(nodes);
    try {
      await Promise.all(nodes.map((node) => node.start()));
      await cluster.jetStreamReady();
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  /** Every node's URL, comma-separated: a NATS_URL for the whole cluster. */
  get url(): string {
    return this.nodes.map((node) => node.url).join(',');
  }

  /** Resolves once the cluster answers JetStream API requests (a meta leader is elected). */
  async jetStreamReady(): Promise<void> {
    await eventually(
      'the cluster to elect a JetStream meta leader',
      async () => {
        const connection = await connect({ servers: this.url, maxReconnectAttempts: 0 }).catch(() => undefined);
        if (!connection) return false;
        try {
          await (await connection.jetstreamManager({ timeout: 2_000 })).getAccountInfo();
          return true;
        } catch {
          return false;
        } finally {
          await connection.close();
        }
      },
      { timeoutMs: ELECTION_TIMEOUT_MS },
    );
  }

  node(name: string): ClusterNode {
    const node = this.nodes.find((candidate) => candidate.name === name);
    if (!node) throw new Error(`no cluster node named ${name}`);
    return node;
  }

  /** Kills every node and deletes their stores. */
  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.kill()));
    for (const node of this.nodes) rmSync(node.storeDir, { recursive: true, force: true });
  }
}

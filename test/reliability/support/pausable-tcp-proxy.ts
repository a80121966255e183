import { type Server, type Socket, connect, createServer } from 'node:net';

/**
 * How an outage looks to the clients: `reset` cuts every connection at once (the server died, ports closed) and
 * refuses new ones; `drop` silently stops forwarding in both directions, no RST and no FIN (a partition or a
 * frozen server): nothing arrives, so a client learns of it only from its own timeouts. New connections are accepted
 * and then hear nothing.
 */
export type OutageMode = 'reset' | 'drop';

interface ProxiedConnection {
  readonly client: Socket;
  upstream?: Socket;
}

/**
 * A TCP proxy in front of a server (here the shared Postgres) that can stage an outage for the clients pointed at it
 * and no one else: `pause(mode)` starts it, `resume()` ends it.
 */
export class PausableTcpProxy {
  private readonly connections = new Set<ProxiedConnection>();
  private mode: OutageMode | undefined;
  private refused = 0;
  private stalled = 0;

  private constructor(
    private readonly server: Server,
    readonly port: number,
    private readonly target: { host: string; port: number },
  ) {}

  static async start(target: { host: string; port: number }): Promise<PausableTcpProxy> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', resolve);
    });
    const proxy = new PausableTcpProxy(server, (server.address() as { port: number }).port, target);
    server.on('connection', (client) => proxy.accept(client));
    return proxy;
  }

  /** The same URL with its host and port replaced by the proxy's. */
  proxiedUrl(url: string): string {
    const proxied = new URL(url);
    proxied.hostname = '127.0.0.1';
    proxied.port = String(this.port);
    return proxied.toString();
  }

  /** Connections currently open through the proxy. */
  get openConnections(): number {
    return this.connections.size;
  }

  /** Connection attempts refused while reset. */
  get refusedConnections(): number {
    return this.refused;
  }

  /** Connections (old or new) that went silent while dropping. */
  get stalledConnections(): number {
    return this.stalled;
  }

  /** Starts the outage; see `OutageMode`. */
  pause(mode: OutageMode = 'reset'): void {
    this.mode = mode;
    for (const connection of this.connections) {
      if (mode === 'reset') this.cut(connection, true);
      else this.stall(connection);
    }
  }

  /** Ends the outage. Connections that went silent stay silent: their bytes are gone, as after a real partition. */
  resume(): void {
    this.mode = undefined;
  }

  async close(): Promise<void> {
    this.mode = 'reset';
    for (const connection of this.connections) this.cut(connection, true);
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    if (this.mode === 'reset') {
      this.refused++;
      client.resetAndDestroy();
      return;
    }
    const connection: ProxiedConnection = { client };
    this.connections.add(connection);
    client.on('error', () => this.cut(connection, false)).on('close', () => this.cut(connection, false));
    if (this.mode === 'drop') {
      this.stall(connection);
      return;
    }
    const upstream = connect(this.target.port, this.target.host);
    connection.upstream = upstream;
    upstream.on('error', () => this.cut(connection, false)).on('close', () => this.cut(connection, false));
    client.pipe(upstream);
    upstream.pipe(client);
  }

  /** Stops forwarding without telling either side: whatever arrives from now on is read and discarded. */
  private stall(connection: ProxiedConnection): void {
    this.stalled++;
    const { client, upstream } = connection;
    if (upstream) {
      client.unpipe(upstream);
      upstream.unpipe(client);
      upstream
        .removeAllListeners('data')
        .on('data', () => undefined)
        .resume();
    }
    // unpipe leaves the socket paused; reading on means a close by the client is still noticed (and passed on).
    client
      .removeAllListeners('data')
      .on('data', () => undefined)
      .resume();
  }

  private cut(connection: ProxiedConnection, reset: boolean): void {
    if (!this.connections.delete(connection)) return;
    for (const socket of [connection.client, connection.upstream]) {
      if (!socket) continue;
      if (reset) socket.resetAndDestroy();
      else socket.destroy();
    }
  }
}

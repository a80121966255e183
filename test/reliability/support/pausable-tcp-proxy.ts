import { type Server, type Socket, connect, createServer } from 'node:net';

/**
 * A TCP proxy in front of a server (here the shared Postgres) that can stage an outage for the clients pointed at it
 * and no one else: `pause()` cuts every proxied connection and refuses new ones until `resume()`.
 */
export class PausableTcpProxy {
  private readonly sockets = new Set<Socket>();
  private paused = false;
  private refused = 0;

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(target: { host: string; port: number }): Promise<PausableTcpProxy> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', resolve);
    });
    const proxy = new PausableTcpProxy(server, (server.address() as { port: number }).port);
    server.on('connection', (client) => proxy.accept(client, target));
    return proxy;
  }

  /** The same URL with its host and port replaced by the proxy's. */
  proxiedUrl(url: string): string {
    const proxied = new URL(url);
    proxied.hostname = '127.0.0.1';
    proxied.port = String(this.port);
    return proxied.toString();
  }

  /** Connections currently proxied (each counted once, client side). */
  get openConnections(): number {
    return this.sockets.size / 2;
  }

  /** Connection attempts refused while paused. */
  get refusedConnections(): number {
    return this.refused;
  }

  /** The outage: every proxied connection is cut (a reset, as when the server dies) and new ones are refused. */
  pause(): void {
    this.paused = true;
    for (const socket of this.sockets) socket.resetAndDestroy();
    this.sockets.clear();
  }

  resume(): void {
    this.paused = false;
  }

  async close(): Promise<void> {
    this.pause();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket, target: { host: string; port: number }): void {
    if (this.paused) {
      this.refused++;
      client.resetAndDestroy();
      return;
    }
    const upstream = connect(target.port, target.host);
    this.sockets.add(client);
    this.sockets.add(upstream);
    const close = (): void => {
      this.sockets.delete(client);
      this.sockets.delete(upstream);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
    client.pipe(upstream);
    upstream.pipe(client);
  }
}

import { connect, createServer, type Server, type Socket } from 'node:net';

// A TCP proxy in front of a real server (PostgreSQL or Redis) that a test switches between
// forwarding, refusing (open connections cut, new ones closed at once) and blackholing (open
// connections cut, new ones accepted but never answered: a partition).
export class TcpProxy {
  private mode: 'forward' | 'refuse' | 'blackhole' = 'forward';
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    private readonly target: URL,
  ) {
    server.on('connection', (client) => this.accept(client));
  }

  static async start(target: URL): Promise<TcpProxy> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return new TcpProxy(server, target);
  }

  // `serverUrl` with its host replaced by the proxy's.
  url(serverUrl: string): string {
    const url = new URL(serverUrl);
    url.host = `127.0.0.1:${(this.server.address() as { port: number }).port}`;
    return url.toString();
  }

  // Leaving "forward" also cuts every open connection, as a dead server or network would.
  switchTo(mode: TcpProxy['mode']): void {
    this.mode = mode;
    if (mode !== 'forward') for (const socket of this.sockets) socket.destroy();
  }

  close(): Promise<void> {
    this.switchTo('refuse');
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    this.track(client);
    if (this.mode === 'refuse') return void client.destroy();
    if (this.mode === 'blackhole') return void client.resume();
    const upstream = connect(Number(this.target.port || (this.target.protocol.startsWith('redis') ? 6379 : 5432)), this.target.hostname);
    this.track(upstream);
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  }

  private track(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
  }
}

import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP load balancer in front of the nodes of one provider, as HAProxy would be: its address is the provider's
 * public URL, and each connection goes to the preferred node or, if that one refuses it, to the next in order
 * (so once a node is gone its clients reach another). A test may choose the preferred node.
 */
export class Balancer {
  private first = 0;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly targets: number[],
  ) {
    server.on('connection', (inbound) => this.relay(inbound));
  }

  /** Listens on `port` (any free one by default) for the nodes listening on `targets` (loopback). */
  static async start(targets: number[], port = 0): Promise<Balancer> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    return new Balancer(server, targets);
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
  }

  /**
   * New connections go to node `i` first; those open now are cut unless `cut` is false, and the client is given a
   * moment to see them closed (a pooled keep-alive connection it still believed open would fail its next request).
   */
  async use(i: number, cut = true): Promise<void> {
    this.first = i;
    if (!cut || !this.sockets.size) return;
    for (const s of this.sockets) s.destroy();
    await new Promise((r) => setTimeout(r, 50));
  }

  private relay(inbound: Socket): void {
    this.sockets.add(inbound);
    inbound.on('close', () => this.sockets.delete(inbound));
    inbound.on('error', () => inbound.destroy());
    inbound.pause();
    const attempt = (k: number): void => {
      if (k >= this.targets.length) return void inbound.destroy();
      const out = connect(this.targets[(this.first + k) % this.targets.length]!, '127.0.0.1');
      out.once('error', () => attempt(k + 1));
      out.once('connect', () => {
        out.removeAllListeners('error');
        this.sockets.add(out);
        out.on('close', () => this.sockets.delete(out));
        out.on('error', () => inbound.destroy());
        inbound.on('close', () => out.destroy());
        out.on('close', () => inbound.destroy());
        inbound.pipe(out);
        out.pipe(inbound);
        inbound.resume();
      });
    };
    attempt(0);
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

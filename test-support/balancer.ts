import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP load balancer in front of the nodes of one provider: its address is the provider's public URL, and a test
 * chooses which node the next connections reach. Switching cuts the connections open now, so a client's pooled
 * keep-alive connection cannot carry its next request to the node it used before.
 */
export class Balancer {
  private target: number;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
    readonly nodes: number[],
  ) {
    this.target = nodes[0]!;
  }

  /** Listens on `port` for the nodes listening on `nodes` (loopback), sending to the first until told otherwise. */
  static async start(port: number, nodes: number[]): Promise<Balancer> {
    const server = createServer();
    const balancer = new Balancer(server, port, nodes);
    server.on('connection', (inbound) => balancer.relay(inbound));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    return balancer;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /**
   * New connections go to node `i`; those open now are cut unless `cut` is false, and the client is given a moment
   * to see them closed (a pooled connection it still believed open would fail its next request).
   */
  async use(i: number, cut = true): Promise<void> {
    this.target = this.nodes[i]!;
    if (!cut || !this.sockets.size) return;
    for (const s of this.sockets) s.destroy();
    await new Promise((r) => setTimeout(r, 50));
  }

  private relay(inbound: Socket): void {
    const outbound = connect(this.target, '127.0.0.1');
    for (const s of [inbound, outbound]) {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
      s.on('error', () => {});
    }
    inbound.pipe(outbound);
    outbound.pipe(inbound);
    inbound.on('close', () => outbound.destroy());
    outbound.on('close', () => inbound.destroy());
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

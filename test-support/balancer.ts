import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP load balancer in front of a provider's nodes, as HAProxy would be: each connection goes to the first node
 * (in the order given) that accepts it, so while the first node lives every session is there, and once it is gone
 * they reach the next.
 */
export class Balancer {
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly targets: number[],
  ) {
    server.on('connection', (inbound) => this.relay(inbound));
  }

  static async start(targets: number[]): Promise<Balancer> {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    return new Balancer(server, targets);
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
  }

  private relay(inbound: Socket): void {
    this.sockets.add(inbound);
    inbound.on('close', () => this.sockets.delete(inbound));
    inbound.on('error', () => inbound.destroy());
    inbound.pause();
    const attempt = (i: number): void => {
      if (i >= this.targets.length) return void inbound.destroy();
      const out = connect(this.targets[i]!, '127.0.0.1');
      out.once('error', () => attempt(i + 1));
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

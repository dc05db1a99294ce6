import { createServer, connect, type Server, type Socket } from 'node:net';
import { MessageEnds } from './ws-frames.js';

/**
 * A TCP relay in front of a server that counts every byte both ways (WebSocket handshakes and framing
 * included), so the wire cost of a scenario is measured the same way for every system.
 */
export class CountingProxy {
  bytes = 0;
  /**
   * With `stamp`: per connection, in the order they opened, when each WebSocket data message from the server
   * had crossed the relay (performance.timeOrigin + performance.now(), comparable across processes).
   */
  readonly downstream: MessageEnds[] = [];
  lastByteAt = performance.now();
  private readonly sockets = new Set<Socket>();

  private readonly server: Server;
  port = 0;

  private constructor(target: number, stamp?: { keepalive: string }) {
    this.server = createServer((inbound) => {
      const outbound = connect(target, '127.0.0.1');
      if (stamp) {
        const messages = new MessageEnds(Buffer.from(stamp.keepalive));
        this.downstream.push(messages);
        outbound.on('data', (d: Buffer) => messages.push(d, performance.timeOrigin + performance.now()));
      }
      for (const s of [inbound, outbound]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => {});
        s.on('data', (d: Buffer) => {
          this.bytes += d.length;
          this.lastByteAt = performance.now();
        });
      }
      inbound.pipe(outbound);
      outbound.pipe(inbound);
      inbound.on('close', () => outbound.destroy());
      outbound.on('close', () => inbound.destroy());
    });
  }

  /** `stamp`: note when server messages cross, `keepalive` being how the server's keepalive messages begin. */
  static async start(target: number, stamp?: { keepalive: string }): Promise<CountingProxy> {
    const proxy = new CountingProxy(target, stamp);
    await new Promise<void>((r) => proxy.server.listen(0, '127.0.0.1', r));
    proxy.port = (proxy.server.address() as { port: number }).port;
    return proxy;
  }

  reset(): void {
    this.bytes = 0;
    this.lastByteAt = performance.now();
  }

  /** Cuts every connection through the relay, which keeps listening: both ends see a dropped connection. */
  drop(): void {
    for (const s of this.sockets) s.destroy();
  }

  /** Resolves once no byte has crossed for `quietMs`; returns when the last byte crossed. */
  async quiet(quietMs = 1000): Promise<number> {
    while (performance.now() - this.lastByteAt < quietMs) await new Promise((r) => setTimeout(r, 50));
    return this.lastByteAt;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((r) => this.server.close(r));
  }
}

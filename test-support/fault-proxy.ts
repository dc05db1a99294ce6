import { connect, createServer, type Server, type Socket } from 'node:net';

/** What the proxy does to the traffic it relays; change it at any time with `set`. */
export interface Faults {
  /** Each chunk waits a random 0..delayMs before it is passed on (order kept within a direction). */
  delayMs: number;
  /** Chance that a new connection is cut at a random moment within its first `cutWithinMs`. */
  dropRate: number;
  cutWithinMs: number;
  /** New connections are refused (closed at once) while set: a partition. */
  refuse: boolean;
  /** Connections asking for a WebSocket upgrade are closed while set; plain HTTP requests pass. */
  refuseUpgrades: boolean;
}

export const NO_FAULTS: Faults = { delayMs: 0, dropRate: 0, cutWithinMs: 0, refuse: false, refuseUpgrades: false };

/** One direction of a connection: chunks wait their turn and their delay, so a delay never reorders bytes. */
class DelayedPipe {
  private readonly queue: { chunk: Buffer; at: number }[] = [];
  private pumping = false;

  constructor(
    private readonly to: Socket,
    private readonly delay: () => number,
  ) {}

  write(chunk: Buffer): void {
    const ms = this.delay();
    if (ms <= 0 && !this.queue.length) return void this.to.write(chunk);
    this.queue.push({ chunk, at: Date.now() + ms });
    if (!this.pumping) void this.pump();
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    while (this.queue.length) {
      const next = this.queue[0]!;
      const wait = next.at - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      this.queue.shift();
      if (!this.to.destroyed) this.to.write(next.chunk);
    }
    this.pumping = false;
  }
}

/**
 * A TCP relay in front of a server that misbehaves like a bad network: it delays chunks, cuts connections at
 * random or all at once, and refuses new ones during a partition. Decisions come from the `random` it is given,
 * so a seeded run makes the same choices. It listens on a fixed port and outlives its target: while the target
 * is down, connections through it fail as they would to the server itself.
 */
export class FaultProxy {
  private faults: Faults = { ...NO_FAULTS };
  private readonly sockets = new Set<Socket>();
  /** Open connections, each with whether it went silent (see strand). */
  private readonly open = new Set<{ silent: boolean }>();
  private readonly server: Server;
  /** `bytes`: what was relayed, both ways. */
  readonly stats = { connections: 0, refused: 0, cut: 0, bytes: 0 };

  private constructor(
    readonly port: number,
    readonly target: number,
    private readonly random: () => number,
  ) {
    this.server = createServer((inbound) => this.relay(inbound));
  }

  static async start(port: number, target: number, random: () => number): Promise<FaultProxy> {
    const proxy = new FaultProxy(port, target, random);
    await new Promise<void>((resolve, reject) => {
      proxy.server.once('error', reject);
      proxy.server.listen(port, '127.0.0.1', () => resolve());
    });
    return proxy;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  set(faults: Partial<Faults>): void {
    this.faults = { ...this.faults, ...faults };
  }

  /** Cuts every connection open through the proxy now. */
  cutAll(): void {
    for (const s of this.sockets) s.destroy();
    this.stats.cut += this.sockets.size;
  }

  /**
   * Every connection open now goes silent for good: what either end sends is swallowed, and neither end is told
   * when the other closes, as when a NAT forgets a connection or a machine vanishes. New connections work.
   */
  strand(): void {
    for (const c of this.open) c.silent = true;
  }

  private relay(inbound: Socket): void {
    this.stats.connections++;
    if (this.faults.refuse) {
      this.stats.refused++;
      return void inbound.destroy();
    }
    const outbound = connect(this.target, '127.0.0.1');
    const delay = () => (this.faults.delayMs > 0 ? this.random() * this.faults.delayMs : 0);
    const toTarget = new DelayedPipe(outbound, delay);
    const toClient = new DelayedPipe(inbound, delay);
    const conn = { silent: false };
    this.open.add(conn);
    for (const s of [inbound, outbound]) {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
      s.on('error', () => {});
    }
    let first = true;
    inbound.on('data', (d: Buffer) => {
      if (first && this.faults.refuseUpgrades && /\r\nupgrade:\s*websocket/i.test(d.toString('latin1'))) {
        this.stats.refused++;
        return void inbound.destroy();
      }
      first = false;
      this.stats.bytes += d.length;
      if (!conn.silent) toTarget.write(d);
    });
    outbound.on('data', (d: Buffer) => {
      this.stats.bytes += d.length;
      if (!conn.silent) toClient.write(d);
    });
    inbound.on('close', () => {
      this.open.delete(conn);
      if (!conn.silent) outbound.destroy();
    });
    outbound.on('close', () => conn.silent || inbound.destroy());
    if (this.random() < this.faults.dropRate) {
      const timer = setTimeout(() => {
        this.stats.cut++;
        inbound.destroy();
      }, this.random() * this.faults.cutWithinMs);
      inbound.on('close', () => clearTimeout(timer));
    }
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((r) => this.server.close(r));
  }
}

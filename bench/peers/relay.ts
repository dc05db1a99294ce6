import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { stopProcess } from './process.js';
import type { FanoutWrite } from './system.js';

const CHILD = fileURLToPath(new URL('./servers/relay.ts', import.meta.url));

/** The byte-counting relay in its own process (servers/relay.ts), stamping the messages the server sends each client. */
export class StampingRelay {
  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
  ) {}

  static async start(target: number, keepalive = ''): Promise<StampingRelay> {
    const child = fork(CHILD, [String(target), keepalive], { execArgv: ['--import', 'tsx'] });
    const port = await new Promise<number>((resolve, reject) => {
      child.once('message', (m) => resolve(m as number));
      child.once('exit', (c) => reject(new Error(`relay exited ${c}`)));
    });
    return new StampingRelay(child, port);
  }

  /** Per connection, when each message from the server had crossed the relay, on this process's performance.now(). */
  async stamps(): Promise<number[][]> {
    const got = new Promise<number[][]>((resolve) => this.child.once('message', (m) => resolve(m as number[][])));
    this.child.send('stamps');
    const offset = performance.timeOrigin;
    return (await got).map((c) => c.map((t) => t - offset));
  }

  close(): Promise<void> {
    return stopProcess(this.child);
  }
}

/**
 * Server-side fan-out latency: per subscriber connection and write, from the writer sending it until the copy
 * has left the server. Writes go one at a time, the next only once every subscriber has the last, so a copy
 * leaves within [sent, delivered] of its write. Keepalives left out, the last message there is the copy: what
 * comes before it belongs with it (Freehold sends an author's identity log ahead of their first entry,
 * automerge-repo sometimes a sync message without the change). `extra` counts messages beyond one per copy.
 */
export function departures(stamps: number[][], writes: FanoutWrite[]): { latencies: number[]; extra: number } {
  const latencies: number[] = [];
  let extra = 0;
  for (const conn of stamps) {
    for (const w of writes) {
      const inside = conn.filter((t) => t >= w.sent && t <= w.delivered);
      if (!inside.length) continue;
      latencies.push(inside[inside.length - 1]! - w.sent);
      extra += inside.length - 1;
    }
  }
  return { latencies, extra };
}

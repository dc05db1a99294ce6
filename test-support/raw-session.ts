import WebSocket from 'ws';
import { decodeFrame, encodeFrame, type Frame } from '@freehold/core';

/** A bare WebSocket session as an attacker's script would open one: no client library, frames by hand. */
export class RawSession {
  private readonly inbox: Frame[] = [];
  private waiter: (() => void) | undefined;
  closed = false;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (d: Buffer) => {
      this.inbox.push(decodeFrame(new Uint8Array(d)));
      this.waiter?.();
    });
    ws.on('close', () => {
      this.closed = true;
      this.waiter?.();
    });
    ws.on('error', () => {});
  }

  /** Opens a session and reads the provider's challenge. */
  static async open(url: string): Promise<{ session: RawSession; challenge: Frame }> {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/v1/sync`);
    // Listening before the socket opens: the challenge may arrive in the same read as the handshake.
    const session = new RawSession(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return { session, challenge: await session.next() };
  }

  send(f: Frame | Uint8Array): void {
    this.ws.send(f instanceof Uint8Array ? f : encodeFrame(f));
  }

  async next(timeoutMs = 30_000): Promise<Frame> {
    const end = Date.now() + timeoutMs;
    while (!this.inbox.length) {
      if (this.closed) throw new Error('session closed');
      if (Date.now() > end) throw new Error('no frame from the provider in time');
      await new Promise<void>((r) => {
        this.waiter = r;
        setTimeout(r, 200);
      });
    }
    return this.inbox.shift()!;
  }

  /** Sends a barrier and collects every frame up to its echo. */
  async barrier(n: number, timeoutMs = 60_000): Promise<Frame[]> {
    this.send(['sync', n]);
    const got: Frame[] = [];
    for (;;) {
      const f = await this.next(timeoutMs);
      if (f[0] === 'synced' && f[1] === n) return got;
      got.push(f);
    }
  }

  close(): void {
    this.ws.close();
  }
}

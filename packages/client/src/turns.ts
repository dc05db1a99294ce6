import type { Channel } from '@freehold/core';
import type { ProviderLink } from './link.js';

/** Frames handed to the conversation that has the link; rejects once the link is gone. */
class Inbox {
  private readonly frames: Uint8Array[] = [];
  private waiter: { resolve: (b: Uint8Array) => void; reject: (e: Error) => void } | undefined;
  private failed: Error | undefined;

  put(b: Uint8Array): void {
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w.resolve(b);
    } else this.frames.push(b);
  }

  fail(e: Error): void {
    this.failed = e;
    this.waiter?.reject(e);
    this.waiter = undefined;
  }

  next(): Promise<Uint8Array> {
    const b = this.frames.shift();
    if (b) return Promise.resolve(b);
    if (this.failed) return Promise.reject(this.failed);
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  /** What arrived after the conversation stopped reading. */
  rest(): Uint8Array[] {
    return this.frames.splice(0);
  }
}

/**
 * One open link shared by conversations that take turns. A conversation (a reconciliation, a push of new
 * entries, a subscription) has every incoming frame to itself until it ends; between conversations, incoming
 * frames are live pushes and go to `live`, in the order they came, before the next conversation starts. The
 * provider answers frames in order, so a conversation that ends at the answer to its own barrier has seen
 * every answer to what it sent, and nothing is misrouted.
 */
export class Turns {
  private chain: Promise<unknown> = Promise.resolve();
  private current: Inbox | undefined;
  private readonly pending: Uint8Array[] = [];
  private error: Error | undefined;
  /** When the provider last sent anything. */
  lastHeard = Date.now();
  /** Settles with the reason once the link is gone. */
  readonly ended: Promise<Error>;

  constructor(
    private readonly link: ProviderLink,
    private readonly live: (frame: Uint8Array) => Promise<void>,
  ) {
    this.ended = this.pump();
  }

  private async pump(): Promise<Error> {
    for (;;) {
      let b: Uint8Array;
      try {
        b = await this.link.next();
      } catch (e) {
        this.error = e instanceof Error ? e : new Error(String(e));
        this.current?.fail(this.error);
        return this.error;
      }
      this.lastHeard = Date.now();
      if (this.current) this.current.put(b);
      else {
        this.pending.push(b);
        if (this.pending.length === 1) void this.queue(() => this.drain()).catch(() => {});
      }
    }
  }

  private async drain(): Promise<void> {
    for (let b = this.pending.shift(); b; b = this.pending.shift()) await this.live(b);
  }

  /** Runs after everything queued before it. Any failure closes the link: what it left unread is unknown. */
  private queue<T>(f: () => Promise<T>): Promise<T> {
    const run = this.chain.then(() => {
      if (this.error) throw this.error;
      return f();
    });
    this.chain = run.catch((e: unknown) => {
      if (e !== this.error) this.link.close(4000, e instanceof Error ? e.message : 'bad frame');
    });
    return run;
  }

  /** Gives `f` the link to itself: what it sends goes out, and every frame that comes in is its to read. */
  run<T>(f: (channel: Channel) => Promise<T>): Promise<T> {
    return this.queue(async () => {
      await this.drain();
      const inbox = new Inbox();
      this.current = inbox;
      try {
        return await f({ send: (b) => this.link.send(b), next: () => inbox.next() });
      } finally {
        this.pending.unshift(...inbox.rest());
        this.current = undefined;
        if (this.pending.length) void this.queue(() => this.drain()).catch(() => {});
      }
    });
  }
}

import { decodeEntry, type Frame } from '@freehold/core';
import type { Provider } from './provider.js';

/**
 * The outbox's bookkeeping on one session with a peer provider, whichever side opened it: per entries frame sent,
 * in order, the entries in mirrored spaces it carried. The peer handles a session's frames in order and
 * acknowledges each entries frame once durable, so each acknowledgement settles the oldest frame: what it took
 * is delivered, what it refused failed with the peer's reason.
 */
export class DeliveryTracker {
  private awaiting: Uint8Array[][] = [];

  constructor(
    private readonly provider: Provider,
    private readonly url: string,
  ) {}

  /** Entries frames sent and not yet acknowledged. */
  get inFlight(): number {
    return this.awaiting.length;
  }

  sent(f: Frame): void {
    if (f[0] !== 'entries') return;
    this.awaiting.push(f[1].map((bytes) => {
      const e = decodeEntry(bytes);
      return this.provider.mirrors.get(e.space) ? e.id : new Uint8Array(0);
    }));
  }

  async acked(rejected: [number, string, string][]): Promise<void> {
    const ids = this.awaiting.shift() ?? [];
    const refused = new Map(rejected.map(([i, reason, message]) => [i, { reason, message }]));
    for (let i = 0; i < ids.length; i++) {
      if (!ids[i]!.length) continue;
      const r = refused.get(i);
      // Waiting for a dependency is not a refusal: the next reconciliation sends it again.
      if (r?.reason === 'missing-dependency') continue;
      await this.provider.mirrors.setDelivery(
        ids[i]!,
        r && r.reason !== 'duplicate' ? { state: 'failed', reason: r.reason, message: r.message, to: this.url } : { state: 'delivered', at: Date.now(), to: this.url },
      );
    }
  }
}

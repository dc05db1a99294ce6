import { decodeFrame, decodeUnhashed, entryId, equal, isEntriesFrame, toHex, type Frame, type Outgoing } from '@freehold/core';
import type { Provider } from './provider.js';

const NONE = new Uint8Array(0);

/** An entry as the sessions carrying it know it without hashing it again: its device's chain position. */
const carried = (e: { device: Uint8Array; seq: number }): string => `${toHex(e.device)}:${e.seq}`;

/**
 * Which of this provider's sessions with each peer provider carries an entry the peer has not acknowledged yet.
 * Two providers linked both ways reconcile twice when they first share an account (each link leads once), and
 * the one holding the data would send all of it on both sessions; a session leaves out what another carries.
 * If that session ends before the peer took it, the peer's next reconciliation (a link always reconnects) asks
 * for it again.
 */
export class InFlight {
  private readonly byPeer = new Map<string, Map<string, DeliveryTracker>>();

  to(peer: string): Map<string, DeliveryTracker> {
    let m = this.byPeer.get(peer);
    if (!m) this.byPeer.set(peer, (m = new Map()));
    return m;
  }

  /** Drops an emptied peer's map. */
  tidy(peer: string): void {
    if (this.byPeer.get(peer)?.size === 0) this.byPeer.delete(peer);
  }
}

/**
 * Bookkeeping of entries sent on one session with a peer provider, whichever side opened it: per entries frame
 * sent, in order, the entries it carried. The peer handles a session's frames in order and acknowledges each
 * entries frame once durable, so each acknowledgement settles the oldest frame: those entries are no longer in
 * flight, and the outbox's entries among them (those in mirrored spaces) are delivered, or failed with the
 * peer's reason.
 */
export class DeliveryTracker {
  private awaiting: { keys: string[]; outbox: Uint8Array[] }[] = [];
  /** What this session claimed and the peer has not acknowledged. */
  private readonly claimed = new Set<string>();
  /**
   * What claim let through and no frame sent has carried yet, in order: entries frames carry them in this order,
   * so a frame sent is matched to them without decoding (or hashing) its entries again.
   */
  private framing: { key: string; outbox: Uint8Array; signature: Uint8Array }[] = [];

  constructor(
    private readonly provider: Provider,
    private readonly url: string,
  ) {}

  /** Entries frames sent and not yet acknowledged. */
  get inFlight(): number {
    return this.awaiting.length;
  }

  /** Whether this session sent the entry and the peer has not acknowledged it. */
  carries(e: { device: Uint8Array; seq: number }): boolean {
    return this.claimed.has(carried(e));
  }

  /** The entries this session sends: those no other session with the same peer carries. */
  claim<E extends Outgoing>(entries: E[]): E[] {
    const flying = this.provider.inFlight.to(this.url);
    return entries.filter((e) => {
      const k = carried(e);
      const by = flying.get(k);
      if (by && by !== this) return false;
      flying.set(k, this);
      this.claimed.add(k);
      // An entry's signature is its encoding's last 64 bytes.
      this.framing.push({ key: k, outbox: this.provider.mirrors.get(e.space) ? e.id : NONE, signature: e.bytes.subarray(e.bytes.length - 64) });
      return true;
    });
  }

  sent(frame: Frame | Uint8Array): void {
    if (frame instanceof Uint8Array && !isEntriesFrame(frame)) return;
    const f = frame instanceof Uint8Array ? decodeFrame(frame) : frame;
    if (f[0] !== 'entries') return;
    const n = f[1].length;
    const last = f[1][n - 1];
    const next = this.framing[n - 1];
    // The frame's last entry confirms the match.
    if (last && next && equal(last.subarray(last.length - 64), next.signature)) {
      const carried = this.framing.splice(0, n);
      return void this.awaiting.push({ keys: carried.map((c) => c.key), outbox: carried.map((c) => c.outbox) });
    }
    this.framing = [];
    const keys: string[] = [];
    const outbox: Uint8Array[] = [];
    for (const bytes of f[1]) {
      const e = decodeUnhashed(bytes);
      keys.push(carried(e));
      outbox.push(this.provider.mirrors.get(e.space) ? entryId(e.header, e.payload) : NONE);
    }
    this.awaiting.push({ keys, outbox });
  }

  async acked(rejected: [number, string, string][]): Promise<void> {
    const { keys = [], outbox = [] } = this.awaiting.shift() ?? {};
    this.release(keys);
    const refused = new Map(rejected.map(([i, reason, message]) => [i, { reason, message }]));
    for (let i = 0; i < outbox.length; i++) {
      if (!outbox[i]!.length) continue;
      const r = refused.get(i);
      // Waiting for a dependency is not a refusal: the next reconciliation sends it again.
      if (r?.reason === 'missing-dependency') continue;
      await this.provider.mirrors.setDelivery(
        outbox[i]!,
        r && r.reason !== 'duplicate' ? { state: 'failed', reason: r.reason, message: r.message, to: this.url } : { state: 'delivered', at: Date.now(), to: this.url },
      );
    }
  }

  /** The session ended: what it carried unacknowledged may be sent by another. */
  close(): void {
    this.release([...this.claimed]);
    this.awaiting = [];
    this.framing = [];
  }

  private release(keys: Iterable<string>): void {
    const flying = this.provider.inFlight.to(this.url);
    for (const k of keys) {
      this.claimed.delete(k);
      if (flying.get(k) === this) flying.delete(k);
    }
    this.provider.inFlight.tidy(this.url);
  }
}

import {
  reject,
  takeToken,
  type Bucket,
  type BucketRate,
  type PairingBounds,
  type PairingFull,
  type PairingOpen,
  type PairingSlot,
  type SharedState,
} from '@freehold/core';

interface Pairing {
  id: string;
  owner: string;
  network: string;
  expires: number;
  boxes: Partial<Record<PairingSlot, Uint8Array>>;
}

/**
 * SharedState of a provider that runs as one node (SQLite): in process memory, lost on restart like the sessions
 * it limits. Buckets are kept in order of last use and the least recently used is dropped past `maxBuckets`; a
 * dropped bucket restarts full, which only helps a client that already holds that many networks. Counts are kept
 * the same way (a dropped one is counted from the store again).
 */
export class MemorySharedState implements SharedState {
  private readonly buckets = new Map<string, Bucket>();
  private readonly counts = new Map<string, number>();
  /** In order of opening, which (one TTL for all) is the order of expiry. */
  private readonly pairings = new Map<string, Pairing>();
  private readonly byNetwork = new Map<string, Pairing[]>();
  private readonly byOwner = new Map<string, Pairing[]>();

  /** `maxBuckets`: buckets, and likewise counts, kept at most. */
  constructor(private readonly maxBuckets = 100_000) {}

  take(key: string, rate: BucketRate, now: number): Promise<number> {
    return Promise.resolve(this.takeNow(key, rate, now));
  }

  /** take, for a caller on this node that cannot wait (see the server's RateLimiter). */
  takeNow(key: string, rate: BucketRate, now: number): number {
    const { bucket, wait } = takeToken(this.buckets.get(key), rate, now);
    this.buckets.delete(key);
    this.buckets.set(key, bucket);
    if (this.buckets.size > this.maxBuckets) this.buckets.delete(this.buckets.keys().next().value!);
    return wait;
  }

  async add(key: string, n: number, cap: number, start: () => Promise<number>): Promise<boolean> {
    let held = this.counts.get(key);
    if (held === undefined) {
      held = await start();
      // Another add may have started the count meanwhile: its figure includes what it added.
      held = this.counts.get(key) ?? held;
    }
    this.counts.delete(key);
    this.counts.set(key, held);
    if (this.counts.size > this.maxBuckets) this.counts.delete(this.counts.keys().next().value!);
    if (held + n > cap) return false;
    this.counts.set(key, held + n);
    return true;
  }

  async forget(key: string): Promise<void> {
    this.counts.delete(key);
  }

  async openPairing(o: PairingOpen, bounds: PairingBounds, now: number): Promise<{ expires: number } | PairingFull> {
    this.expire(now);
    if (this.pairings.has(o.id)) reject('duplicate', 'that linking code is already in use');
    // An account's newest code replaces its oldest one past the cap: only its own devices can open them.
    const mine = this.byOwner.get(o.owner) ?? [];
    const replaced = mine.length >= bounds.perAccount ? mine[0] : undefined;
    const near = (this.byNetwork.get(o.network) ?? []).filter((q) => q !== replaced);
    if (near.length >= bounds.perNetwork) return { full: 'network', retryAfterMs: near[0]!.expires - now };
    if (this.pairings.size - (replaced ? 1 : 0) >= bounds.maxPairings) {
      return { full: 'provider', retryAfterMs: this.pairings.values().next().value!.expires - now };
    }
    if (replaced) this.remove(replaced);
    const p: Pairing = { id: o.id, owner: o.owner, network: o.network, expires: now + bounds.ttlMs, boxes: { offer: o.offer } };
    this.pairings.set(p.id, p);
    this.byOwner.set(p.owner, [...(this.byOwner.get(p.owner) ?? []), p]);
    this.byNetwork.set(p.network, [...(this.byNetwork.get(p.network) ?? []), p]);
    return { expires: p.expires };
  }

  async putPairing(id: string, slot: 'request' | 'answer', box: Uint8Array, now: number): Promise<void> {
    this.expire(now);
    const p = this.pairings.get(id);
    if (!p) return reject('not-found', 'no device is showing that linking code (it may have expired)');
    if (p.boxes[slot]) reject('duplicate', 'that linking code was already used');
    if (slot === 'answer' && !p.boxes.request) reject('invalid-argument', 'there is no request to answer yet');
    p.boxes[slot] = box;
  }

  async getPairing(id: string, slot: PairingSlot, now: number): Promise<Uint8Array | undefined> {
    this.expire(now);
    return this.pairings.get(id)?.boxes[slot];
  }

  async sweep(now: number): Promise<void> {
    this.expire(now);
  }

  private expire(now: number): void {
    for (const p of this.pairings.values()) {
      if (p.expires > now) break;
      this.remove(p);
    }
  }

  private remove(p: Pairing): void {
    this.pairings.delete(p.id);
    without(this.byOwner, p.owner, p);
    without(this.byNetwork, p.network, p);
  }
}

function without(index: Map<string, Pairing[]>, key: string, p: Pairing): void {
  const rest = (index.get(key) ?? []).filter((q) => q !== p);
  if (rest.length) index.set(key, rest);
  else index.delete(key);
}

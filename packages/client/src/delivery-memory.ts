import { asArray, asBytes, asRecord, asString, asUint, decode, encode, fromHex, toHex, type Store } from '@freehold/core';
import type { Refusal } from './link-options.js';

const META = 'deliveries';
/** Refusals and delivered places remembered at most; the oldest are forgotten first. */
const MAX_REFUSALS = 200;
const MAX_DELIVERED = 500;

/** A provider's refusal of one of this device's entries. */
export interface ProviderRefusal {
  url: string;
  reason: string;
  message: string;
}

/** Drops the oldest keys of a map past `max`. */
function bound<V>(map: Map<string, V>, max: number): void {
  for (const k of map.keys()) {
    if (map.size <= max) return;
    map.delete(k);
  }
}

/**
 * What a device remembers of its sends across reloads, in its own store: per provider of its own, the sequence
 * number up to which that provider answered its entries (a device's entries are one chain), which entries were
 * refused and why, and which places were reported delivered (final, so not asked about again). An entry past
 * every provider's number is on this device only.
 */
export class DeliveryMemory {
  private constructor(
    private readonly store: Store,
    private readonly acked: Map<string, number>,
    private readonly refused: Map<string, ProviderRefusal>,
    private readonly delivered: Map<string, { at: number; to: string }>,
  ) {}

  static async open(store: Store): Promise<DeliveryMemory> {
    const m = new DeliveryMemory(store, new Map(), new Map(), new Map());
    try {
      const raw = await store.getMeta(META);
      if (raw) m.read(asRecord(decode(raw, META), META));
    } catch {
      // Unreadable: the device learns it again from its providers.
      m.acked.clear();
      m.refused.clear();
      m.delivered.clear();
    }
    return m;
  }

  private read(kept: Record<string, unknown>): void {
    for (const pair of asArray(kept.acked, 'acked', 1024)) {
      const [url, seq] = asArray(pair, 'acked[]', 2);
      this.acked.set(asString(url, 'acked url', 512), asUint(seq, 'acked seq'));
    }
    for (const item of asArray(kept.refused, 'refused', MAX_REFUSALS)) {
      const [entry, url, reason, message] = asArray(item, 'refused[]', 4);
      const r = { url: asString(url, 'refused url', 512), reason: asString(reason, 'refused reason', 64), message: asString(message, 'refused message', 1024) };
      this.refused.set(toHex(asBytes(entry, 'refused entry', 32)), r);
    }
    for (const item of asArray(kept.delivered, 'delivered', MAX_DELIVERED)) {
      const [place, at, to] = asArray(item, 'delivered[]', 3);
      this.delivered.set(asString(place, 'delivered place', 128), { at: asUint(at, 'delivered at'), to: asString(to, 'delivered to', 512) });
    }
  }

  private save(): Promise<void> {
    return this.store.setMeta(
      META,
      encode({
        acked: [...this.acked],
        refused: [...this.refused].map(([entry, r]) => [fromHex(entry), r.url, r.reason, r.message]),
        delivered: [...this.delivered].map(([place, d]) => [place, d.at, d.to]),
      }),
    );
  }

  /** The highest sequence number any provider has answered up to. */
  get upTo(): number {
    return Math.max(0, ...this.acked.values());
  }

  refusal(entry: Uint8Array): ProviderRefusal | undefined {
    return this.refused.get(toHex(entry));
  }

  /** Where a place (see Deliveries) was delivered, if a provider said so. */
  deliveredAt(place: string): { at: number; to: string } | undefined {
    return this.delivered.get(place);
  }

  /** Records what a provider answered (a flush's or a reconciliation's report), kept if anything is new. */
  async note(url: string, acked: number | undefined, refusals: Refusal[]): Promise<void> {
    let changed = false;
    if (acked !== undefined && acked > (this.acked.get(url) ?? 0)) {
      this.acked.set(url, acked);
      changed = true;
    }
    for (const r of refusals) {
      if (!r.entry) continue;
      this.refused.delete(toHex(r.entry));
      this.refused.set(toHex(r.entry), { url, reason: r.reason, message: r.message });
      changed = true;
    }
    bound(this.refused, MAX_REFUSALS);
    if (changed) await this.save();
  }

  /** Records places reported delivered. */
  async noteDelivered(places: (readonly [string, { at: number; to: string }])[]): Promise<void> {
    const fresh = places.filter(([k]) => !this.delivered.has(k));
    if (!fresh.length) return;
    for (const [k, d] of fresh) this.delivered.set(k, d);
    bound(this.delivered, MAX_DELIVERED);
    await this.save();
  }
}

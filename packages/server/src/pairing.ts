import { reject } from '@freehold/core';
import { RetryLater, waitText } from './rate-limit.js';

/** The three one-time slots of a pairing, in the order they are filled. */
export type Slot = 'offer' | 'request' | 'answer';

export interface PairingLimits {
  /** How long a pairing lives after it is opened. */
  ttlMs: number;
  /** Pairings held at once on this node … */
  maxPairings: number;
  /** … by the devices of one client network (an IPv4 address or an IPv6 /64) … */
  perNetwork: number;
  /** … and by one account (opening one more closes its oldest). */
  perAccount: number;
  /** The largest box a slot holds, in bytes. */
  maxBox: number;
  /** Writes (opens and boxes, refused ones included) per client network: a rate per minute and a burst. */
  writesPerMinute: number;
  writeBurst: number;
}

export const DEFAULT_PAIRING_LIMITS: PairingLimits = {
  ttlMs: 10 * 60_000,
  maxPairings: 10_000,
  perNetwork: 16,
  perAccount: 3,
  maxBox: 1024,
  writesPerMinute: 30,
  writeBurst: 20,
};

interface Pairing {
  id: string;
  owner: string;
  network: string;
  expires: number;
  boxes: Partial<Record<Slot, Uint8Array>>;
}

/**
 * The provider's half of device linking: per linking code, one pairing of three one-time slots holding sealed
 * boxes (the account's offer, the new device's request, the account's answer) that the provider cannot read
 * or forge without the code. Only an account hosted here opens a pairing, so strangers can hold nothing, and
 * each network and account holds a small share of the whole. The state is in memory on one node; these few
 * operations are what a shared table would implement for several.
 */
export class PairingMailbox {
  /** In order of opening, which (one TTL for all) is the order of expiry. */
  private readonly pairings = new Map<string, Pairing>();
  private readonly byNetwork = new Map<string, Pairing[]>();
  private readonly byOwner = new Map<string, Pairing[]>();

  constructor(
    readonly limits: PairingLimits = DEFAULT_PAIRING_LIMITS,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    this.expire();
    return this.pairings.size;
  }

  /** Opens pairing `id` for `owner` with its offer box; returns when it expires. */
  open(id: string, owner: string, network: string, offer: Uint8Array): number {
    this.expire();
    if (this.pairings.has(id)) reject('duplicate', 'that linking code is already in use');
    this.checkBox(offer);
    const now = this.now();
    // An account's newest code replaces its oldest one past the cap: only its own devices can open them.
    const mine = this.byOwner.get(owner) ?? [];
    const replaced = mine.length >= this.limits.perAccount ? mine[0] : undefined;
    const near = (this.byNetwork.get(network) ?? []).filter((q) => q !== replaced);
    if (near.length >= this.limits.perNetwork) {
      const wait = near[0]!.expires - now;
      throw new RetryLater('rate-limited', `too many linking codes open from this network; try again in ${waitText(wait)}`, wait);
    }
    if (this.pairings.size - (replaced ? 1 : 0) >= this.limits.maxPairings) {
      const wait = this.pairings.values().next().value!.expires - now;
      throw new RetryLater('unavailable', `this provider holds too many linking codes; try again in ${waitText(wait)}`, wait);
    }
    if (replaced) this.remove(replaced);
    const p: Pairing = { id, owner, network, expires: now + this.limits.ttlMs, boxes: { offer } };
    this.pairings.set(id, p);
    this.byOwner.set(owner, [...(this.byOwner.get(owner) ?? []), p]);
    this.byNetwork.set(network, [...(this.byNetwork.get(network) ?? []), p]);
    return p.expires;
  }

  /** Fills a slot of an open pairing, once. */
  put(id: string, slot: 'request' | 'answer', box: Uint8Array): void {
    this.expire();
    const p = this.pairings.get(id);
    if (!p) return reject('not-found', 'no device is showing that linking code (it may have expired)');
    this.checkBox(box);
    if (p.boxes[slot]) reject('duplicate', 'that linking code was already used');
    if (slot === 'answer' && !p.boxes.request) reject('invalid-argument', 'there is no request to answer yet');
    p.boxes[slot] = box;
  }

  get(id: string, slot: Slot): Uint8Array | undefined {
    this.expire();
    return this.pairings.get(id)?.boxes[slot];
  }

  private checkBox(box: Uint8Array): void {
    if (box.length === 0 || box.length > this.limits.maxBox) reject('too-large', `a linking box holds 1 to ${this.limits.maxBox} bytes`);
  }

  private expire(): void {
    const now = this.now();
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

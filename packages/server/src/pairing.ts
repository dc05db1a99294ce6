import { reject, type PairingSlot, type SharedState } from '@freehold/core';
import { RetryLater, waitText } from './rate-limit.js';

export interface PairingLimits {
  /** How long a pairing lives after it is opened. */
  ttlMs: number;
  /** Pairings held at once by the provider … */
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

/**
 * The provider's half of device linking: per linking code, one pairing of three one-time slots holding sealed
 * boxes (the account's offer, the new device's request, the account's answer) that the provider cannot read
 * or forge without the code. Only an account hosted here opens a pairing, so strangers can hold nothing, and
 * each network and account holds a small share of the whole. The pairings are kept in the SharedState, so a
 * code shown through one node is answered through any other.
 */
export class PairingMailbox {
  constructor(
    private readonly state: SharedState,
    readonly limits: PairingLimits = DEFAULT_PAIRING_LIMITS,
    private readonly now: () => number = Date.now,
  ) {}

  /** Opens pairing `id` for `owner` with its offer box; returns when it expires. */
  async open(id: string, owner: string, network: string, offer: Uint8Array): Promise<number> {
    this.checkBox(offer);
    const opened = await this.state.openPairing({ id, owner, network, offer }, this.limits, this.now());
    if ('expires' in opened) return opened.expires;
    const wait = opened.retryAfterMs;
    if (opened.full === 'network') throw new RetryLater('rate-limited', `too many linking codes open from this network; try again in ${waitText(wait)}`, wait);
    throw new RetryLater('unavailable', `this provider holds too many linking codes; try again in ${waitText(wait)}`, wait);
  }

  /** Fills a slot of an open pairing, once. */
  async put(id: string, slot: 'request' | 'answer', box: Uint8Array): Promise<void> {
    this.checkBox(box);
    await this.state.putPairing(id, slot, box, this.now());
  }

  get(id: string, slot: PairingSlot): Promise<Uint8Array | undefined> {
    return this.state.getPairing(id, slot, this.now());
  }

  private checkBox(box: Uint8Array): void {
    if (box.length === 0 || box.length > this.limits.maxBox) reject('too-large', `a linking box holds 1 to ${this.limits.maxBox} bytes`);
  }
}

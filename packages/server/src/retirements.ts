import { asUint, decode, encode, toHex, type Store } from '@freehold/core';

const DAY_MS = 24 * 3600_000;
/** How long a provider keeps answering for an account whose log dropped it, unless the operator says otherwise. */
export const DEFAULT_RETIRED_GRACE_MS = 30 * DAY_MS;

const key = (account: string) => `retired:${account}`;

/**
 * Accounts that were hosted here and whose newest identity log no longer lists this provider (they moved away),
 * each with when this provider first saw that. For the grace period it goes on hosting them as before (its peer
 * links pass on what it holds, it serves their newest log and handles) and tells whoever comes asking where
 * they live now; afterwards it no longer hosts them. One meta record per account, read at start only for
 * accounts whose log does not list this provider.
 */
export class Retirements {
  private readonly since = new Map<string, number>();

  private constructor(
    private readonly store: Store,
    readonly graceMs: number,
  ) {}

  /** `moved`: hosted accounts whose stored log does not list this provider (retired now if not already). */
  static async open(store: Store, graceMs: number, moved: Uint8Array[], now = Date.now()): Promise<Retirements> {
    const r = new Retirements(store, graceMs);
    for (const account of moved) {
      const raw = await store.getMeta(key(toHex(account)));
      // A record of null is a retirement undone (the account came back), so this one is new.
      const at = raw ? decode(raw, 'retired') : null;
      if (at !== null) r.since.set(toHex(account), asUint(at, 'retired'));
      else await r.retire(account, now);
    }
    return r;
  }

  /** When this provider first saw the account's log drop it, if it has. */
  at(account: Uint8Array): number | undefined {
    return this.since.get(toHex(account));
  }

  /** Retired and past the grace period: no longer hosted here. */
  expired(account: Uint8Array, now = Date.now()): boolean {
    const at = this.at(account);
    return at !== undefined && now >= at + this.graceMs;
  }

  /** Records the retirement (the first time seen is kept); answers whether it is new. */
  async retire(account: Uint8Array, now = Date.now()): Promise<boolean> {
    const k = toHex(account);
    if (this.since.has(k)) return false;
    this.since.set(k, now);
    await this.store.setMeta(key(k), encode(now));
    return true;
  }

  /** The account's log lists this provider again (it moved back); answers whether it had been retired. */
  async restore(account: Uint8Array): Promise<boolean> {
    const k = toHex(account);
    if (!this.since.delete(k)) return false;
    await this.store.setMeta(key(k), encode(null));
    return true;
  }

  /** Accounts whose grace period ended by `now`. */
  ended(now = Date.now()): string[] {
    return [...this.since].filter(([, at]) => now >= at + this.graceMs).map(([k]) => k);
  }
}

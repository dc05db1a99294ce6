import { asBytes, compare, fingerprint, reject, toHex, toId, verifyRequest } from '@freehold/core';
import type { Provider } from './provider.js';
import { RateLimiter, RetryLater, waitText } from './rate-limit.js';

/** Spaces one answer covers at most, and entry keys it reads at most (a space is never cut in two). */
export interface FingerprintPage {
  spaces: number;
  keys: number;
}
export const FINGERPRINT_PAGE: FingerprintPage = { spaces: 512, keys: 250_000 };

/**
 * What a provider holds of one space: its entry count and the reconciliation fingerprint over all its entries
 * (left out when only counts were asked for: a device watching a copy grow asks often, and counting reads no entry).
 */
export interface SpaceFingerprint {
  space: string;
  entries: number;
  fingerprint?: string;
}

/**
 * Answers an account's signed request for the fingerprints of the spaces it created, as held here: what a device
 * moving to (or away from) this provider compares with its own replica's to know that every entry arrived. Only
 * hosted accounts may ask (within their grace period for one that moved away); answers come a page at a time,
 * in space id order from after `after`, and each account may ask 30 times a minute (bursts of 20).
 */
export class FingerprintService {
  private readonly asked = new RateLimiter(30, 20);

  constructor(
    private readonly provider: Provider,
    private readonly page: FingerprintPage = FINGERPRINT_PAGE,
  ) {}

  async answer(request: Uint8Array, now = Date.now()): Promise<{ spaces: SpaceFingerprint[]; next?: string }> {
    const p = this.provider;
    const r = verifyRequest(request, 'fingerprints', p.host, now);
    const account = r.account.account;
    if (!p.isRegistered(account)) reject('not-hosted', `${toId(account)} is not hosted at ${p.host}`);
    const wait = this.asked.take(toHex(account), now);
    if (wait > 0) throw new RetryLater('rate-limited', `too many fingerprint requests; try again in ${waitText(wait)}`, wait);
    const after = r.payload.after === undefined ? undefined : asBytes(r.payload.after, 'after', 32);
    if (r.payload.counts !== undefined && r.payload.counts !== true) reject('invalid-argument', 'counts is true or absent');
    const countsOnly = r.payload.counts === true;
    const spaces: SpaceFingerprint[] = [];
    let keys = 0;
    const created = (await p.store.spacesOf(account)).filter((n) => n.creator && (!after || compare(n.space, after) > 0));
    for (const { space } of created) {
      if (spaces.length >= this.page.spaces || keys >= this.page.keys) return { spaces, next: spaces[spaces.length - 1]!.space };
      if (countsOnly) {
        spaces.push({ space: toId(space), entries: await p.store.countEntries(space) });
        continue;
      }
      const held = await p.store.keys(space);
      keys += held.length;
      spaces.push({ space: toId(space), entries: held.length, fingerprint: toHex(fingerprint(held, 0, held.length)) });
    }
    return { spaces };
  }
}

import type { Frame } from '@freehold/core';

/** Who a session is, as far as its share of the provider goes. */
export type BudgetTier = 'anonymous' | 'authenticated' | 'hosted';

/** Bytes of frame that count as one more unit of work (decoding, hashing). */
const BYTES_PER_UNIT = 4096;

/**
 * The work a frame asks of the provider, in units of roughly one store lookup: a signature check or a
 * membership load costs several, an identity log a chain of signature checks.
 */
export function frameCost(f: Frame, size: number): number {
  const bytes = Math.floor(size / BYTES_PER_UNIT);
  switch (f[0]) {
    case 'entries':
      return 1 + bytes + 4 * f[1].length;
    case 'cards':
      return 1 + bytes + 16 * f[1].length;
    case 'hello':
      return 1 + bytes + 4 * f[2].length + 16 * f[3].length;
    case 'sub':
      return 1 + bytes + 4 * f[1].length;
    case 'mirror':
      return 1 + bytes + 4 * f[1].length + 16 * f[3].length;
    case 'peer':
      return 32 + bytes;
    case 'want':
      return 1 + bytes + f[1].length;
    case 'auth':
      return 32 + bytes;
    default:
      return 1 + bytes;
  }
}

/**
 * A session's work budget: a token bucket refilled per second by tier. Spending never fails: it tells how long
 * the session must wait before its frame is handled, so a busy session slows down instead of others.
 */
export class WorkBudget {
  private tokens: number;
  private at = Date.now();

  constructor(private readonly perSecond: Record<BudgetTier, number>) {
    this.tokens = perSecond.anonymous;
  }

  /** Milliseconds to wait before doing `units` of work at this tier (and takes them). */
  spend(tier: BudgetTier, units: number): number {
    const now = Date.now();
    const rate = this.perSecond[tier];
    // Two seconds' worth is the burst a session may save up.
    this.tokens = Math.min(rate * 2, this.tokens + ((now - this.at) / 1000) * rate);
    this.at = now;
    this.tokens -= units;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens / rate) * 1000);
  }
}

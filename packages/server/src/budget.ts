import { LRUCache } from 'lru-cache';
import type { Frame } from '@freehold/core';

/**
 * Who a session is, as far as its share of the provider goes. A peer provider's session carries every account
 * both are home to (a whole account's copy when one moves), so it gets more than one account's.
 */
export type BudgetTier = 'anonymous' | 'authenticated' | 'hosted' | 'peer';

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
    case 'rec':
      // Reconciliation messages are parsed range by range: about 40 ms a MiB of worst-case input here.
      return 1 + Math.floor(size / 256);
    case 'sum':
      // A summary message is parsed like a reconciliation one; each space it names is one to reconcile.
      return 1 + Math.floor(size / 256) + 4 * f[2].length;
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

/**
 * Work budgets shared by every anonymous session from one network (an IPv4 address or IPv6 /64), so opening
 * more connections does not buy more: anonymous sessions from one network together get this many units a second.
 */
export class NetworkBudgets {
  private readonly budgets: LRUCache<string, WorkBudget>;

  constructor(private readonly perSecond: number) {
    this.budgets = new LRUCache({ max: 100_000 });
  }

  /** Milliseconds an anonymous frame from this network must wait (and takes its units). */
  spend(network: string, units: number): number {
    let b = this.budgets.get(network);
    if (!b) this.budgets.set(network, (b = new WorkBudget({ anonymous: this.perSecond, authenticated: this.perSecond, hosted: this.perSecond, peer: this.perSecond })));
    return b.spend('anonymous', units);
  }
}

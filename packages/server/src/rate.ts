import { LRUCache } from 'lru-cache';

/** Token buckets by key, bounded in how many keys they remember (a forgotten key starts with a full bucket). */
export class RateLimiter {
  private readonly buckets: LRUCache<string, { tokens: number; at: number }>;

  constructor(
    private readonly perMinute: number,
    private readonly burst: number,
    keys = 100_000,
  ) {
    this.buckets = new LRUCache({ max: keys });
  }

  /** Takes `n` tokens if the key has them; returns whether it did. */
  take(key: string, now: number, n = 1): boolean {
    const b = this.buckets.get(key) ?? { tokens: this.burst, at: now };
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 60_000) * this.perMinute);
    b.at = now;
    this.buckets.set(key, b);
    if (b.tokens < n) return false;
    b.tokens -= n;
    return true;
  }
}

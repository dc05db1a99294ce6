import { FreeholdError, type RejectReason } from '@freehold/core';
import { isIPv4, isIPv6 } from 'node:net';

/** A refusal that tells the client when to try again: HTTP answers it with Retry-After. */
export class RetryLater extends FreeholdError {
  constructor(
    reason: RejectReason,
    message: string,
    readonly retryAfterMs: number,
  ) {
    super(reason, message);
  }
}

/** "3 minutes", "20 seconds": for messages that tell a person how long to wait. */
export const waitText = (ms: number): string =>
  ms >= 90_000 ? `${Math.ceil(ms / 60_000)} minutes` : `${Math.max(1, Math.ceil(ms / 1000))} seconds`;

/**
 * Token buckets by key. Buckets are kept in order of last use and the least recently used is dropped past
 * `maxKeys`; a dropped bucket restarts full, which only helps a client that already holds that many networks.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    readonly perMinute: number,
    readonly burst: number,
    private readonly maxKeys = 100_000,
  ) {}

  /** Takes one token for `key`: 0 if granted, else the milliseconds until one is due. */
  take(key: string, now: number): number {
    const b = this.buckets.get(key) ?? { tokens: this.burst, at: now };
    b.tokens = Math.min(this.burst, b.tokens + (Math.max(0, now - b.at) * this.perMinute) / 60_000);
    b.at = now;
    this.buckets.delete(key);
    this.buckets.set(key, b);
    if (this.buckets.size > this.maxKeys) this.buckets.delete(this.buckets.keys().next().value!);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - b.tokens) * 60_000) / this.perMinute);
  }
}

/**
 * The unit anonymous clients are bounded by: an IPv4 address, or an IPv6 /64 (a host can take any address of
 * its /64 at will). It is the socket's peer address: behind a reverse proxy every client shares the proxy's.
 */
export function clientNetwork(address = ''): string {
  const a = address.replace(/%.*$/, '');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(a);
  if (mapped) return mapped[1]!;
  if (isIPv4(a) || !isIPv6(a)) return a;
  const [head = '', tail = ''] = a.split('::');
  const part = (s: string) => (s ? s.split(':').flatMap((g) => (g.includes('.') ? ['0', '0'] : [g])) : []);
  const h = part(head);
  const t = part(tail);
  const groups = [...h, ...Array<string>(Math.max(0, 8 - h.length - t.length)).fill('0'), ...t];
  return `${groups
    .slice(0, 4)
    .map((g) => parseInt(g, 16).toString(16))
    .join(':')}::/64`;
}

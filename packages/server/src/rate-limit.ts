import { FreeholdError, type BucketRate, type RejectReason, type SharedState } from '@freehold/core';
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
 * Takes a token from a bucket every node of the provider shares (see SharedState), throwing `rate-limited` with
 * when to try again if there is none: `what` says what there were too many of.
 */
export async function takeShared(state: SharedState, key: string, rate: BucketRate, what: string): Promise<void> {
  const wait = await state.take(key, rate, Date.now());
  if (wait > 0) throw new RetryLater('rate-limited', `too many ${what}; try again in ${waitText(wait)}`, wait);
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

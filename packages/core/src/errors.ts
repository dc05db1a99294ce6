/**
 * Every rejection in Freehold carries one of these codes so callers (CLI, server, tests) can react to the
 * reason rather than to a message string.
 */
export const REJECT_REASONS = [
  'malformed',
  'unsupported-version',
  'too-large',
  'bad-signature',
  'bad-id',
  'unknown-author',
  'revoked-device',
  'not-member',
  'forbidden-role',
  'removed-member',
  'missing-dependency',
  'duplicate',
  'fork',
  'bad-chain',
  'bad-epoch',
  'clock-skew',
  'decrypt-failed',
  'foreign-client-id',
  'bad-phrase',
  'not-found',
  'invalid-argument',
  'no-key',
  'quota-exceeded',
  'rate-limited',
  'not-hosted',
  /** An inbox's owner cleared what strangers left before this message. */
  'purged',
  /** A prune its author's account (or an admin) wrote took this blob chunk out of the space. */
  'pruned',
  'unauthenticated',
  'unavailable',
  /** What a write was validated against changed meanwhile (through another node of the provider): validate again. */
  'stale',
  'damaged',
  /** The account no longer lives at this provider: its newest identity log (sent along) names where it does. */
  'moved',
] as const;

export type RejectReason = (typeof REJECT_REASONS)[number];

export const isRejectReason = (r: string): r is RejectReason => (REJECT_REASONS as readonly string[]).includes(r);

export class FreeholdError extends Error {
  constructor(
    readonly reason: RejectReason,
    message: string,
  ) {
    super(message);
    this.name = 'FreeholdError';
  }
}

export function reject(reason: RejectReason, message: string): never {
  throw new FreeholdError(reason, message);
}

export function isFreeholdError(e: unknown, reason?: RejectReason): e is FreeholdError {
  return e instanceof FreeholdError && (reason === undefined || e.reason === reason);
}

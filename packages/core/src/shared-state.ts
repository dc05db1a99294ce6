/**
 * What every node of one provider must see alike besides the store's records: rate-limit buckets and running
 * counts, which an attacker would otherwise multiply by the number of nodes, and the device-linking mailbox, whose
 * code is posted to one node and read through another. One node keeps it in memory; nodes sharing PostgreSQL keep it there.
 * Every implementation passes the one conformance suite in @freehold/stores (state-conformance.ts). One that
 * cannot reach where it keeps the state refuses with `unavailable` (a client tries again later).
 */
export interface SharedState {
  /**
   * Takes one token from the bucket `key` (refilled at `rate.perMinute`, holding at most `rate.burst`, full when
   * first used): 0 if granted, else the milliseconds until one is due. A refused take leaves the bucket as it was.
   */
  take(key: string, rate: BucketRate, now: number): Promise<number>;
  /**
   * Adds `n` to the count `key` unless that would pass `cap`: whether it was added. A count not held starts at what
   * `start` says (counted from the store, which a count only saves reading again), so one dropped loses nothing.
   */
  add(key: string, n: number, cap: number, start: () => Promise<number>, now: number): Promise<boolean>;
  /** Drops a count: the next add counts from the store again. */
  forget(key: string): Promise<void>;
  /**
   * Opens pairing `p.id` with its offer box, under the bounds: an owner past `perAccount` has its oldest pairing
   * closed; a network past `perNetwork`, or the whole past `maxPairings`, is refused with when a slot frees.
   * An id already open is a `duplicate` FreeholdError.
   */
  openPairing(p: PairingOpen, bounds: PairingBounds, now: number): Promise<{ expires: number } | PairingFull>;
  /**
   * Fills the request or answer slot of an open pairing, once: `not-found` if none is open, `duplicate` if the
   * slot is filled, `invalid-argument` for an answer before the request.
   */
  putPairing(id: string, slot: 'request' | 'answer', box: Uint8Array, now: number): Promise<void>;
  getPairing(id: string, slot: PairingSlot, now: number): Promise<Uint8Array | undefined>;
  /**
   * Drops expired pairings, buckets that have refilled (a full bucket is the same as none) and counts unused for
   * COUNT_IDLE_MS, or, in memory, whatever is past a bound.
   */
  sweep(now: number): Promise<void>;
}

/** How long a count nobody added to is kept. */
export const COUNT_IDLE_MS = 3600_000;

/** A token bucket's refill rate and size. */
export interface BucketRate {
  perMinute: number;
  burst: number;
}

/** The three one-time slots of a pairing, in the order they are filled. */
export type PairingSlot = 'offer' | 'request' | 'answer';

export interface PairingOpen {
  id: string;
  owner: string;
  network: string;
  offer: Uint8Array;
}

export interface PairingBounds {
  ttlMs: number;
  maxPairings: number;
  perNetwork: number;
  perAccount: number;
}

/** An open refused for room: the network's share, or the whole provider's, is taken until `retryAfterMs` from now. */
export interface PairingFull {
  full: 'network' | 'provider';
  retryAfterMs: number;
}

/** A token bucket as stored: what it held at `at` (ms). */
export interface Bucket {
  tokens: number;
  at: number;
}

/**
 * One take from a bucket (undefined: never used, so full) at `now`: the bucket after it, and 0 if a token was
 * granted or else the milliseconds until one is due. Every SharedState implements exactly this arithmetic.
 */
export function takeToken(b: Bucket | undefined, rate: BucketRate, now: number): { bucket: Bucket; wait: number } {
  const at = Math.max(now, b?.at ?? now);
  const tokens = b ? Math.min(rate.burst, b.tokens + (Math.max(0, now - b.at) * rate.perMinute) / 60_000) : rate.burst;
  if (tokens >= 1) return { bucket: { tokens: tokens - 1, at }, wait: 0 };
  return { bucket: { tokens, at }, wait: Math.ceil(((1 - tokens) * 60_000) / rate.perMinute) };
}

/** When a bucket has refilled to its burst, and can be forgotten. */
export const bucketFullAt = (b: Bucket, rate: BucketRate): number => b.at + Math.ceil(((rate.burst - b.tokens) * 60_000) / rate.perMinute);

import { LRUCache } from 'lru-cache';
import { fromHex, reject, toHex, type Store } from '@freehold/core';

/** How long an account the store did not hold is taken as not registered by lookups that may be stale. */
export const ABSENT_TTL_MS = 10_000;

/**
 * The accounts registered with this provider, as this node knows them. Nodes sharing one store register accounts
 * independently, so a node that has not seen an account asks the store before it calls it a stranger.
 *
 * An account that acts as itself (a session signing in, a signed request) is always looked up on a miss, so an
 * account registered through one node can use any other at once. Lookups for entries pushed by others (a peer
 * provider relaying what strangers wrote) may take a recent "not held" answer instead, for ABSENT_TTL_MS, so a
 * stream of strangers' entries costs the store one lookup per stranger per interval, not one per entry. Either
 * way the store answers at most a couple of queries at once, each for many accounts (PostgresStore coalesces).
 */
export class Registrations {
  private readonly known: Set<string>;
  private readonly absent = new LRUCache<string, true>({ max: 100_000, ttl: ABSENT_TTL_MS });
  private readonly asking = new Map<string, Promise<boolean>>();

  constructor(
    private readonly store: Store,
    known: Iterable<string>,
  ) {
    this.known = new Set(known);
  }

  static async open(store: Store): Promise<Registrations> {
    return new Registrations(store, (await store.accounts()).map((a) => toHex(a.account)));
  }

  /** Registered, as far as this node has seen. */
  has(account: Uint8Array | string): boolean {
    return this.known.has(typeof account === 'string' ? account : toHex(account));
  }

  /** Registered through any node: asks the store on a miss (`recent`: a recent "not held" answer will do). */
  async check(account: Uint8Array, recent = false): Promise<boolean> {
    const k = toHex(account);
    if (this.known.has(k)) return true;
    if (recent && this.absent.has(k)) return false;
    let asked = this.asking.get(k);
    if (!asked) {
      asked = this.store.getAccount(account).then(
        (row) => {
          if (row) this.add(k);
          else this.absent.set(k, true);
          return row !== undefined;
        },
        (e: unknown) => reject('unavailable', `cannot look the account up in the store: ${(e as Error).message}`),
      );
      this.asking.set(k, asked);
      void asked.finally(() => this.asking.delete(k)).catch(() => {});
    }
    return asked;
  }

  /** Noted once this node stored the account (or found it stored). */
  add(account: Uint8Array | string): void {
    const k = typeof account === 'string' ? account : toHex(account);
    this.known.add(k);
    this.absent.delete(k);
  }

  /** The account deleted itself. */
  remove(account: Uint8Array): void {
    const k = toHex(account);
    this.known.delete(k);
    this.absent.set(k, true);
  }

  /** Every account this node knows to be registered. */
  all(): Uint8Array[] {
    return [...this.known].map(fromHex);
  }
}

import { toHex, type Entry, type IdentityState } from '@freehold/core';

/** Receives the entries of spaces a session subscribed to. */
export interface Subscriber {
  readonly account: Uint8Array | null;
  /** The peer provider's canonical URL, for a session another provider opened. */
  readonly peer?: string;
  push(space: Uint8Array, entries: Entry[]): void;
  /** Let into a space it was refused: it should reconcile again to take what the space already holds. */
  admitted(space: Uint8Array): void;
  /** The owner of spaces it subscribed to moved away from this provider: `log` names where it lives now. */
  moved(log: IdentityState): void;
}

/**
 * Who gets live pushes of each space, and the peer sessions refused a space, which a membership change may let
 * in later (they are told, so their provider reconciles it).
 */
export class Subscriptions {
  private readonly subscribed = new Map<string, Set<Subscriber>>();
  private readonly refused = new Map<string, Set<Subscriber>>();

  subscribe(space: Uint8Array, s: Subscriber): void {
    add(this.subscribed, space, s);
  }

  refuse(space: Uint8Array, s: Subscriber): void {
    add(this.refused, space, s);
  }

  unsubscribeAll(s: Subscriber): void {
    for (const map of [this.subscribed, this.refused]) {
      for (const [k, set] of map) {
        set.delete(s);
        if (set.size === 0) map.delete(k);
      }
    }
  }

  of(space: Uint8Array): Iterable<Subscriber> {
    return this.subscribed.get(toHex(space)) ?? [];
  }

  hasRefused(space: Uint8Array): boolean {
    return this.refused.has(toHex(space));
  }

  /** Tells the sessions refused this space that `mayNow` lets in, and forgets them. */
  async admit(space: Uint8Array, mayNow: (s: Subscriber) => Promise<boolean>): Promise<void> {
    const k = toHex(space);
    const set = this.refused.get(k);
    for (const s of set ?? []) {
      if (!(await mayNow(s))) continue;
      set!.delete(s);
      s.admitted(space);
    }
    if (set?.size === 0) this.refused.delete(k);
  }
}

function add(map: Map<string, Set<Subscriber>>, space: Uint8Array, s: Subscriber): void {
  const k = toHex(space);
  let set = map.get(k);
  if (!set) map.set(k, (set = new Set()));
  set.add(s);
}

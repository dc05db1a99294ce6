import { fromHex, toHex, type Entry, type IdentityState } from '@freehold/core';

/** Receives the entries of spaces a session subscribed to. */
export interface Subscriber {
  readonly account: Uint8Array | null;
  /** The peer provider's canonical URL, for a session another provider opened. */
  readonly peer?: string;
  /**
   * New entries of a space it subscribed to; `framed`, when they fit one entries frame, is that frame encoded once
   * for every subscriber.
   */
  push(space: Uint8Array, entries: Entry[], framed?: () => Uint8Array): void;
  /** Let into a space it was refused: it should reconcile again to take what the space already holds. */
  admitted(space: Uint8Array): void;
  /** The owner of spaces it subscribed to moved away from this provider: `log` names where it lives now. */
  moved(log: IdentityState): void;
  /** It may have missed pushes: it should reconnect (to any node) and reconcile. */
  reconnect(reason: string): void;
}

/** Hears which spaces have a subscriber here at all (a node listens for other nodes' entries of those). */
export interface SpaceWatcher {
  watch(space: Uint8Array): void;
  unwatch(space: Uint8Array): void;
}

/**
 * Who gets live pushes of each space, and the peer sessions refused a space, which a membership change may let
 * in later (they are told, so their provider reconciles it).
 */
export class Subscriptions {
  private readonly subscribed = new Map<string, Set<Subscriber>>();
  private readonly refused = new Map<string, Set<Subscriber>>();

  constructor(private readonly watcher?: SpaceWatcher) {}

  subscribe(space: Uint8Array, s: Subscriber): void {
    if (add(this.subscribed, space, s)) this.watcher?.watch(space);
  }

  refuse(space: Uint8Array, s: Subscriber): void {
    add(this.refused, space, s);
  }

  unsubscribeAll(s: Subscriber): void {
    for (const map of [this.subscribed, this.refused]) {
      for (const [k, set] of map) {
        set.delete(s);
        if (set.size > 0) continue;
        map.delete(k);
        if (map === this.subscribed) this.watcher?.unwatch(fromHex(k));
      }
    }
  }

  /** Asks the sessions subscribed to a space (or to anything) to reconnect and reconcile. */
  resync(reason: string, space?: Uint8Array): void {
    const sets = space ? [this.subscribed.get(toHex(space)) ?? new Set<Subscriber>()] : this.subscribed.values();
    const all = new Set<Subscriber>();
    for (const set of sets) for (const s of set) all.add(s);
    for (const s of all) s.reconnect(reason);
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

/** Adds a subscriber to a space's set; true if the space had none. */
function add(map: Map<string, Set<Subscriber>>, space: Uint8Array, s: Subscriber): boolean {
  const k = toHex(space);
  const set = map.get(k);
  if (set) {
    set.add(s);
    return false;
  }
  map.set(k, new Set([s]));
  return true;
}

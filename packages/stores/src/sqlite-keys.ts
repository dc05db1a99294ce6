import { LRUCache } from 'lru-cache';
import { toHex, type EntryKey } from '@freehold/core';

/** Keys kept in all, across spaces: about 100 bytes each. */
const MAX_KEYS = 500_000;

/**
 * Each space's keys as last read, until something writes to that space. Every session summary, reconciliation
 * and fingerprint reads all of a space's keys, and a move or a round of reconnects asks for the same spaces
 * several times over while they do not change. Writes through this connection say which spaces they touch; a
 * commit by any other connection to the file (another process) changes SQLite's `data_version` and empties it.
 */
export class KeyCache {
  private readonly spaces = new LRUCache<string, EntryKey[]>({ maxSize: MAX_KEYS, sizeCalculation: (keys) => Math.max(1, keys.length) });
  private seen: number;

  constructor(private readonly dataVersion: () => number) {
    this.seen = dataVersion();
  }

  /** The keys of a space, read with `read` unless held; a copy, so a caller may sort or change it. */
  get(space: Uint8Array, read: () => EntryKey[]): EntryKey[] {
    const version = this.dataVersion();
    if (version !== this.seen) {
      this.spaces.clear();
      this.seen = version;
    }
    const k = toHex(space);
    let keys = this.spaces.get(k);
    if (!keys) this.spaces.set(k, (keys = read()));
    return keys.slice();
  }

  /** Something was written to (or deleted from) this space. */
  changed(space: Uint8Array): void {
    this.spaces.delete(toHex(space));
  }

  /** Entries were deleted from spaces not named. */
  clear(): void {
    this.spaces.clear();
  }
}

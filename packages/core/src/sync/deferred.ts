import { toHex } from '../bytes.js';
import { decodeUnhashed } from '../entry.js';

/**
 * Entries a session received before what they depend on, kept by space. `missing-dependency` only ever means a
 * membership operation of the entry's own space is unknown (the create, an entry's basis, an op's parents), so
 * nothing but a membership operation stored in that space can let one in. Retrying every waiting entry whenever
 * anything was stored cost a provider a full validation of each of them per acknowledgement: about 2 s a post
 * once 10k entries of spaces it would never host were waiting.
 */
export class Deferred {
  /** Space (hex) → entry id (hex) → the entry's bytes: an entry sent again while it waits is held once. */
  private readonly bySpace = new Map<string, Map<string, Uint8Array>>();

  get size(): number {
    let n = 0;
    for (const entries of this.bySpace.values()) n += entries.size;
    return n;
  }

  /** `id`: the entry's id in hex, as the replica's ingest result names it. */
  add(bytes: Uint8Array, id: string): void {
    const space = toHex(decodeUnhashed(bytes).space);
    let entries = this.bySpace.get(space);
    if (!entries) this.bySpace.set(space, (entries = new Map()));
    entries.set(id, bytes);
  }

  /** Removes and answers the entries waiting in these spaces (hex). */
  take(spaces: Iterable<string>): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (const space of spaces) {
      const entries = this.bySpace.get(space);
      if (!entries) continue;
      this.bySpace.delete(space);
      out.push(...entries.values());
    }
    return out;
  }

  /** Removes and answers every waiting entry. */
  takeAll(): Uint8Array[] {
    return this.take([...this.bySpace.keys()]);
  }
}

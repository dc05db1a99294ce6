import { compare, toHex } from '../bytes.js';
import { signedId } from '../signed.js';
import type { EntryKey } from '../store.js';
import { fingerprint, Reconciler } from './reconcile.js';

/** What one digest of a summary stands for: a space's entries, or an account's identity log. */
export type Summarised = { space: Uint8Array } | { account: Uint8Array };

/**
 * A summary of everything one side shares with a peer: a digest per space (over the entries it shows of it) and
 * per identity log of those spaces' members (over the log's head). Two sides reconcile their summaries the way
 * they reconcile a space's entries, so when nothing differs one exchange of a few dozen bytes settles them
 * however many spaces they share; what a side holds that the other's summary lacks is a space to reconcile or a
 * log to send.
 */
export class Summary {
  readonly reconciler: Reconciler;
  private readonly items = new Map<string, Summarised>();

  constructor(spaces: { space: Uint8Array; keys: EntryKey[] }[], logs: { account: Uint8Array; head: Uint8Array }[]) {
    const keys: EntryKey[] = [];
    const add = (id: Uint8Array, item: Summarised) => {
      this.items.set(toHex(id), item);
      keys.push({ time: 0, id });
    };
    for (const { space, keys: k } of spaces) add(signedId('summary/space', space, fingerprint(k, 0, k.length)), { space });
    for (const { account, head } of logs) add(signedId('summary/log', account, head), { account });
    keys.sort((a, b) => compare(a.id, b.id));
    this.reconciler = new Reconciler(keys);
  }

  /** What the given digests (this side's) stand for. */
  resolve(ids: Uint8Array[]): { spaces: Uint8Array[]; accounts: Uint8Array[] } {
    const spaces: Uint8Array[] = [];
    const accounts: Uint8Array[] = [];
    for (const id of ids) {
      const item = this.items.get(toHex(id));
      if (item && 'space' in item) spaces.push(item.space);
      else if (item) accounts.push(item.account);
    }
    return { spaces, accounts };
  }
}

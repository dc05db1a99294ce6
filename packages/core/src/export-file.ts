import { asArray, asBytes, asRecord, decode, encode } from './codec.js';
import { Kind } from './entry.js';
import { reject } from './errors.js';
import type { Store } from './store.js';

/** The format of an export file: one CBOR map of the account, the identity logs and every entry held. */
export const EXPORT_FORMAT = 'freehold-export/1';

export interface ExportFile {
  account: Uint8Array;
  cards: Uint8Array[];
  entries: Uint8Array[];
}

/** Everything a replica holds (entries, identity and membership logs; never a secret key), as one file. */
export async function exportReplica(store: Store, account: Uint8Array): Promise<{ bytes: Uint8Array; entries: number; cards: number }> {
  const entries: Uint8Array[] = [];
  for (const space of await store.spaces()) {
    const rows = await store.spaceEntries(space);
    // Membership first, so an import can check each entry against what came before it.
    for (const r of rows) if (r.kind === Kind.membership) entries.push(r.bytes);
    for (const r of rows) if (r.kind !== Kind.membership) entries.push(r.bytes);
  }
  const cards = (await store.cards()).map((c) => c.card);
  return { bytes: encode({ format: EXPORT_FORMAT, account, cards, entries }), entries: entries.length, cards: cards.length };
}

/** Reads an export file; anything else is refused as `malformed`. */
export function readExport(bytes: Uint8Array, what = 'export file'): ExportFile {
  const r = asRecord(decode(bytes, what), what);
  if (r.format !== EXPORT_FORMAT) reject('malformed', `${what} is not a Freehold export`);
  return {
    account: asBytes(r.account, 'account', 32),
    cards: asArray(r.cards, 'cards', 1_000_000).map((c, i) => asBytes(c, `cards[${i}]`)),
    entries: asArray(r.entries, 'entries', 100_000_000).map((e, i) => asBytes(e, `entries[${i}]`)),
  };
}

import { storedEntry, Kind, type Entry } from '../entry.js';
import type { EntryRow, SpaceName, Store } from '../store.js';
import { readMembershipOp } from './ops.js';

/** Set in a store's metadata once every membership entry it holds is indexed by the account it names. */
export const SPACE_INDEX_META = 'space-index';

/** Membership rows re-put per write while filling the index. */
const FILL_BATCH = 1000;

/** The account a membership entry names (see SpaceName); undefined for other entries and for a key rotation. */
export function spaceNameOf(e: Entry): SpaceName | undefined {
  if (e.kind !== Kind.membership) return undefined;
  const op = readMembershipOp(e.payload);
  if (op.t === 'create') return { account: op.creator!, creator: true };
  return op.account ? { account: op.account, creator: false } : undefined;
}

/** A damaged row names nobody: the provider still starts, and the space's graph reports it when loaded. */
function nameOfStored(row: EntryRow): SpaceName | undefined {
  try {
    return spaceNameOf(storedEntry(row));
  } catch {
    return undefined;
  }
}

/**
 * Indexes, once, the spaces of a store written before stores kept the index: every membership entry held is put
 * again with the account it names (putting a held row only adds its index row). The mark is set only after the
 * last batch, so an interrupted fill starts over at the next open; every row written meanwhile carries its name.
 */
export async function fillSpaceIndex(store: Store): Promise<void> {
  if (await store.getMeta(SPACE_INDEX_META)) return;
  let batch: EntryRow[] = [];
  const flush = async () => {
    if (batch.length) await store.putEntries(batch);
    batch = [];
  };
  for (const space of await store.spaces()) {
    for (const row of await store.spaceEntries(space, Kind.membership)) {
      const names = nameOfStored(row);
      if (names) batch.push({ ...row, names });
    }
    if (batch.length >= FILL_BATCH) await flush();
  }
  await flush();
  await store.setMeta(SPACE_INDEX_META, new Uint8Array([1]));
}

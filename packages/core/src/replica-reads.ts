import { equal, toHex } from './bytes.js';
import { storedEntry, Kind, type Entry } from './entry.js';
import type { IdentityState } from './identity/state.js';
import type { SpaceGraph } from './space/graph.js';
import { canAppend, canWrite, type MembershipOp } from './space/ops.js';
import type { Store } from './store.js';

/**
 * The stored entries at the sequence numbers a batch takes and follows (keyed `device hex:seq`), asked all at
 * once: a store that merges concurrent reads (PostgreSQL) answers a whole batch in one round trip rather than one
 * per entry.
 */
export async function storedSeqs(store: Store, entries: Entry[]): Promise<Map<string, Uint8Array>> {
  const keys = new Map<string, { device: Uint8Array; seq: number }>();
  for (const { device, seq } of entries) {
    const hex = toHex(device);
    keys.set(`${hex}:${seq}`, { device, seq });
    if (seq > 1) keys.set(`${hex}:${seq - 1}`, { device, seq: seq - 1 });
  }
  const ids = await Promise.all([...keys.values()].map((k) => store.idBySeq(k.device, k.seq)));
  const stored = new Map<string, Uint8Array>();
  [...keys.keys()].forEach((k, i) => ids[i] && stored.set(k, ids[i]));
  return stored;
}

/**
 * What a demotion (`op`, in `space`) takes away: the entries the demoted account's own devices (`owns`) wrote
 * after their cut that the graph now cuts off. It may have arrived after them.
 */
export async function demotedEntries(
  store: Store,
  space: Uint8Array,
  graph: SpaceGraph,
  op: MembershipOp,
  account: IdentityState,
  owns: (device: Uint8Array) => boolean,
): Promise<Uint8Array[]> {
  const drop: Uint8Array[] = [];
  for (const d of account.devices.values()) {
    if (!owns(d.device)) continue;
    // Entries up to the cut stay; any other demotion that cut them was applied when it arrived.
    const cut = op.cuts?.find(([device]) => equal(device, d.device))?.[1] ?? 0;
    for (const row of await store.deviceEntries(space, d.device, cut)) {
      if (row.kind === Kind.membership) continue;
      const entry = storedEntry(row);
      const basis = graph.nodes.get(toHex(entry.basis));
      const allowed = entry.kind === Kind.append ? canAppend : canWrite;
      if (basis && graph.isCut(toHex(account.account), entry.device, entry.seq, basis, allowed)) drop.push(entry.id);
    }
  }
  return drop;
}

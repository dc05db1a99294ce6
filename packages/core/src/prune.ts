import { equal, fromHex, toHex } from './bytes.js';
import { asArray, asBytes, decode, encode } from './codec.js';
import { reject } from './errors.js';
import { storedEntry, Kind, type Entry } from './entry.js';
import type { OpNode, SpaceGraph } from './space/graph.js';
import type { EntryRow, Store } from './store.js';

/**
 * Prunes: how a blob's chunks leave every replica once nothing names the blob (a deleted post's images). A
 * prune is an entry of the blob's document whose payload lists the ids of the chunks to drop. It is signed and
 * checked like any content entry (its author writes in the space), and it travels like one, to the account's
 * providers, the mirrors followers' providers keep and the followers' devices, so each of them drops the chunks
 * too. Its payload is plaintext even in a private space: providers, which hold no key, must apply it, and an
 * entry id says nothing of what the entry holds.
 *
 * A prune takes out only blob chunks of its own document that its author's account wrote, or any chunk there if
 * its author was an admin at its basis. That is decided from the prune and the chunk alone, so every replica
 * decides alike whichever of the two it receives first: one holding both drops the chunk, one holding the prune
 * refuses the chunk (`pruned`), so a replica that still holds it cannot bring it back.
 */

/** Ids one prune names: a blob of the largest size has 256 chunks, and a few writers may each have stored it. */
export const MAX_PRUNED = 1024;

export const encodePrune = (ids: Uint8Array[]): Uint8Array => encode(ids);

/** Checked by every replica: a prune names 1 to MAX_PRUNED entry ids. */
export function decodePrune(payload: Uint8Array): Uint8Array[] {
  const ids = asArray(decode(payload, 'prune'), 'prune', MAX_PRUNED).map((id, i) => asBytes(id, `prune[${i}]`, 32));
  if (!ids.length) reject('malformed', 'a prune names no entry');
  return ids;
}

/** A stored prune as it applies: what it names, in which document, and with whose authority. */
export interface Prune {
  space: Uint8Array;
  doc: Uint8Array;
  ids: Set<string>;
  /** The account that wrote it. */
  account: Uint8Array;
  /** Whether that account was an admin of the space at the prune's basis. */
  admin: boolean;
}

/** Which account owns a device key (see Replica.authorOf). */
export type OwnerOf = (device: Uint8Array) => Uint8Array | undefined;

/** The prune an entry (already valid) stands for; undefined while its author or basis is unknown here. */
export function pruneOf(e: Entry, graph: SpaceGraph, ownerOf: OwnerOf): Prune | undefined {
  const account = ownerOf(e.device);
  const basis: OpNode | undefined = graph.nodes.get(toHex(e.basis));
  if (!account || !basis) return undefined;
  const admin = graph.roleAt(basis, toHex(account), false) === 'admin';
  return { space: e.space, doc: e.doc, ids: new Set(decodePrune(e.payload).map(toHex)), account, admin };
}

/** Whether a prune takes this entry out: a blob chunk it names, of its document, that its authority covers. */
export function prunes(p: Prune, row: Pick<EntryRow, 'id' | 'space' | 'doc' | 'kind' | 'device'>, ownerOf: OwnerOf): boolean {
  if (row.kind !== Kind.blob || !p.ids.has(toHex(row.id)) || !equal(row.space, p.space) || !equal(row.doc, p.doc)) return false;
  if (p.admin) return true;
  const owner = ownerOf(row.device);
  return owner !== undefined && equal(owner, p.account);
}

/** The prunes held in a space: read by kind, so neither the chunks nor the documents are read. */
export async function prunesIn(store: Store, graph: SpaceGraph, ownerOf: OwnerOf): Promise<Prune[]> {
  const out: Prune[] = [];
  for (const r of await store.spaceEntries(graph.space, Kind.prune)) {
    const p = pruneOf(storedEntry(r), graph, ownerOf);
    if (p) out.push(p);
  }
  return out;
}

/** The held entries a prune takes out. */
export async function prunedBy(store: Store, p: Prune, ownerOf: OwnerOf): Promise<EntryRow[]> {
  const rows = await store.getEntries([...p.ids].map(fromHex));
  return rows.filter((r): r is EntryRow => r !== undefined && prunes(p, r, ownerOf));
}

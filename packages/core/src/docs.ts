import * as Y from 'yjs';
import { compare, toHex } from './bytes.js';
import { FreeholdError, reject } from './errors.js';
// Entries read back from the replica's own store were validated (signature included) when they were stored.
import { Kind, storedEntry, type Entry } from './entry.js';
import { clientIdOf, decodeSnapshot, decodeUpdate, encodeSnapshot, encodeUpdate } from './doc-payload.js';
import type { Device } from './device.js';
import type { Replica } from './replica.js';
import type { EntryRow, Store } from './store.js';
import { publicDocId } from './space/keyring.js';

/** After this many update entries on top of the latest snapshot, a writer that opens the document snapshots it. */
export const SNAPSHOT_AFTER = 64;

/**
 * A Yjs document inside a space. Local edits collect until flush(), which writes them as one entry (encrypting
 * many tiny updates separately would waste space and signatures).
 */
export class DocHandle {
  private pending: Uint8Array[] = [];
  /** Update entries whose ops this document holds: what a snapshot written now covers. */
  private readonly applied = new Set<string>();
  private readonly appliedIds: Uint8Array[] = [];

  constructor(
    readonly device: Device,
    readonly space: Uint8Array,
    readonly name: string,
    readonly docId: Uint8Array,
    readonly doc: Y.Doc,
  ) {
    // A handle is made once the stored state is applied: every update from here on is a local edit.
    doc.on('update', (update: Uint8Array) => this.pending.push(update));
  }

  markApplied(ids: Uint8Array[]): void {
    for (const id of ids) {
      const k = toHex(id);
      if (!this.applied.has(k)) {
        this.applied.add(k);
        this.appliedIds.push(id);
      }
    }
  }

  async flush(): Promise<Entry | undefined> {
    if (this.pending.length === 0) return undefined;
    const update = this.pending.length === 1 ? this.pending[0]! : Y.mergeUpdates(this.pending);
    this.pending = [];
    const e = await this.device.write(this.space, Kind.update, this.docId, encodeUpdate({ name: this.name, update }));
    this.markApplied([e.id]);
    return e;
  }

  async snapshot(): Promise<Entry> {
    await this.flush();
    const payload = encodeSnapshot({ name: this.name, state: Y.encodeStateAsUpdate(this.doc), covers: this.appliedIds });
    return this.device.write(this.space, Kind.snapshot, this.docId, payload);
  }

  /** The root map as plain JSON. */
  toJSON(): Record<string, unknown> {
    return this.doc.getMap('root').toJSON();
  }

  /** Sets the given top-level fields (a shallow merge), as one local transaction. */
  merge(fields: Record<string, unknown>): void {
    const root = this.doc.getMap('root');
    this.doc.transact(() => {
      for (const [k, v] of Object.entries(fields)) {
        if (v === null) root.delete(k);
        else root.set(k, v);
      }
    });
  }
}

/** Plaintext of an entry: decrypted by a member, or as stored in a public space; undefined if unreadable here. */
type Opener = (e: Entry) => Promise<Uint8Array | undefined>;

/** Builds a document's state from the latest snapshot plus the updates it does not cover. */
async function assemble(rows: EntryRow[], doc: Y.Doc, open: Opener): Promise<{ covers: Uint8Array[]; tail: Uint8Array[] }> {
  const snapshots = rows.filter((r) => r.kind === Kind.snapshot);
  const latest = snapshots[snapshots.length - 1];
  const covered = new Set<string>();
  let covers: Uint8Array[] = [];
  const snapshot = latest && (await open(storedEntry(latest)));
  if (snapshot) {
    const snap = decodeSnapshot(snapshot);
    Y.applyUpdate(doc, snap.state);
    covers = snap.covers;
    for (const c of covers) covered.add(toHex(c));
  }
  const tail: Uint8Array[] = [];
  const updates: Uint8Array[] = [];
  for (const r of rows) {
    if (r.kind !== Kind.update || covered.has(toHex(r.id))) continue;
    const plaintext = await open(storedEntry(r));
    if (!plaintext) continue;
    updates.push(decodeUpdate(plaintext).update);
    tail.push(r.id);
  }
  if (updates.length) Y.applyUpdate(doc, updates.length === 1 ? updates[0]! : Y.mergeUpdates(updates));
  return { covers, tail };
}

/**
 * Opens a document from the latest snapshot plus the updates it does not cover, so opening costs the current
 * state, not the whole history.
 */
export async function openDoc(device: Device, space: Uint8Array, name: string, opts: { autoSnapshot?: boolean } = {}): Promise<DocHandle> {
  if (!(await device.canRead(space))) reject('forbidden-role', 'this account cannot read that space');
  const docId = await device.docId(space, name);
  return build(device, space, name, docId, await device.store.docEntries(space, docId), opts);
}

async function build(device: Device, space: Uint8Array, name: string, docId: Uint8Array, rows: EntryRow[], opts: { autoSnapshot?: boolean }): Promise<DocHandle> {
  // The document id as its guid: Yjs would otherwise draw a random one for each document opened.
  const doc = new Y.Doc({ guid: toHex(docId) });
  const { covers, tail } = await assemble(rows, doc, (e) => readable(device, e));
  const handle = new DocHandle(device, space, name, docId, doc);
  handle.markApplied(covers);
  handle.markApplied(tail);
  // Only now: applying our own earlier ops as remote would make Yjs pick a new client id.
  doc.clientID = clientIdOf(device.id);
  if ((opts.autoSnapshot ?? true) && tail.length >= SNAPSHOT_AFTER && (await device.canWrite(space))) await handle.snapshot();
  return handle;
}

/** Entries written after this device lost access (a removed member's replica) are skipped, not fatal. */
export async function readable(device: Device, e: Entry): Promise<Uint8Array | undefined> {
  try {
    return await device.decrypt(e);
  } catch (err) {
    if (err instanceof FreeholdError && err.reason === 'no-key') return undefined;
    throw err;
  }
}

/**
 * Opens a document known by id (from an index walk): its name is read from its newest readable entry. A caller
 * that read every entry of the document already (in the store's order) passes them, saving a read per document.
 */
export async function openDocById(device: Device, space: Uint8Array, docId: Uint8Array, entries?: EntryRow[]): Promise<DocHandle | undefined> {
  const rows = entries ?? (await device.store.docEntries(space, docId));
  for (const r of [...rows].reverse()) {
    const e = storedEntry(r);
    const plaintext = await readable(device, e);
    if (!plaintext) continue;
    const name = e.kind === Kind.update ? decodeUpdate(plaintext).name : decodeSnapshot(plaintext).name;
    return build(device, space, name, docId, rows, { autoSnapshot: false });
  }
  return undefined;
}

/** Reads a document of a public space without any key (a provider rendering a public profile, say). */
export async function readPublicDoc(replica: Replica, space: Uint8Array, name: string): Promise<Record<string, unknown> | undefined> {
  const graph = await replica.graph(space);
  if (!graph.created || !graph.isPublic) return undefined;
  const rows = await replica.store.docEntries(space, publicDocId(space, name));
  if (!rows.length) return undefined;
  const doc = new Y.Doc();
  await assemble(rows, doc, async (e) => e.payload);
  return doc.getMap('root').toJSON();
}

/**
 * The update and snapshot entries of a space, in (time, id) order: read by kind so that what walks documents does
 * not read the space's blobs.
 */
export async function documentEntries(store: Store, space: Uint8Array): Promise<EntryRow[]> {
  const rows = [...(await store.spaceEntries(space, Kind.update)), ...(await store.spaceEntries(space, Kind.snapshot))];
  return rows.sort((a, b) => a.time - b.time || compare(a.id, b.id));
}

/** Names of the documents of a public space. */
export async function listPublicDocs(replica: Replica, space: Uint8Array): Promise<string[]> {
  const graph = await replica.graph(space);
  if (!graph.created || !graph.isPublic) return [];
  const names = new Set<string>();
  for (const r of await documentEntries(replica.store, space)) {
    if (r.kind === Kind.update) names.add(decodeUpdate(storedEntry(r).payload).name);
    else if (r.kind === Kind.snapshot) names.add(decodeSnapshot(storedEntry(r).payload).name);
  }
  return [...names].sort();
}

/**
 * Names of the documents in a space this device can read. A document is named inside its encrypted entries, so
 * the newest entry this device can open names it (a removed member still names what it could read before).
 */
export async function listDocs(device: Device, space: Uint8Array): Promise<string[]> {
  const byDoc = new Map<string, EntryRow[]>();
  for (const r of await documentEntries(device.store, space)) {
    const k = toHex(r.doc);
    byDoc.set(k, [...(byDoc.get(k) ?? []), r]);
  }
  const names: string[] = [];
  for (const rows of byDoc.values()) {
    for (const r of rows.reverse()) {
      const e = storedEntry(r);
      const plaintext = await readable(device, e);
      if (!plaintext) continue;
      names.push(e.kind === Kind.update ? decodeUpdate(plaintext).name : decodeSnapshot(plaintext).name);
      break;
    }
  }
  return names.sort();
}

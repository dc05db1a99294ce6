import { equal, toHex } from './bytes.js';
import { reject } from './errors.js';
import { storedEntry, Kind, type Entry } from './entry.js';
import { BLOB_CHUNK, blobId, blobName, decodeBlobChunk, encodeBlobChunk, MAX_BLOB } from './blob-payload.js';
import { readable } from './docs.js';
import { encodePrune, MAX_PRUNED } from './prune.js';
import { publicDocId } from './space/keyring.js';
import type { Device } from './device.js';
import type { Replica } from './replica.js';
import type { EntryRow } from './store.js';

/**
 * Blobs: bytes too large for a document (images), stored as blob-kind entries of the space they belong to, so
 * they are encrypted, signed, access-checked, synced and charged like every other entry. A blob is named by the
 * hash of its bytes (the same bytes are stored once per space) and split into chunks of at most BLOB_CHUNK bytes,
 * each chunk payload `CBOR[blob id, offset, blob size, bytes]`. Its chunks share one document id, derived from
 * `blob/<hex id>` as any document name is (keyed in a private space: the provider cannot test a known image's
 * hash against what it holds), so a reader fetches them with one lookup.
 */

/** The blob's document id in a space this device can read. */
const blobDoc = (device: Device, space: Uint8Array, id: Uint8Array): Promise<Uint8Array> => device.docId(space, blobName(id));

type Opener = (e: Entry) => Promise<Uint8Array | undefined>;

/**
 * The blob's bytes from its chunk rows, checked against its id; undefined while a chunk is missing (still
 * syncing). Chunks that do not name this blob, or disagree on its size, are refused as `bad-id`.
 */
async function assemble(rows: EntryRow[], id: Uint8Array, open: Opener): Promise<Uint8Array | undefined> {
  const at = new Map<number, Uint8Array>();
  let size: number | undefined;
  for (const r of rows) {
    if (r.kind !== Kind.blob) continue;
    const plaintext = await open(storedEntry(r));
    if (!plaintext) continue;
    const c = decodeBlobChunk(plaintext);
    if (toHex(c.blob) !== toHex(id) || (size !== undefined && c.size !== size)) reject('bad-id', 'a chunk of the blob names another blob');
    size = c.size;
    at.set(c.offset, c.bytes);
  }
  if (size === undefined) return undefined;
  const out = new Uint8Array(size);
  for (let offset = 0; offset < size; ) {
    const chunk = at.get(offset);
    if (!chunk) return undefined;
    out.set(chunk, offset);
    offset += chunk.length;
  }
  if (toHex(blobId(out)) !== toHex(id)) reject('bad-id', 'the blob’s bytes do not match its id');
  return out;
}

/**
 * Stores bytes as a blob of a space (encrypted unless the space is public) and returns its id. Bytes already
 * held there whole are not written again.
 */
export async function writeBlob(device: Device, space: Uint8Array, bytes: Uint8Array): Promise<Uint8Array> {
  if (bytes.length < 1 || bytes.length > MAX_BLOB) reject('too-large', `a blob of ${bytes.length} bytes is outside 1 to ${MAX_BLOB}`);
  const id = blobId(bytes);
  const doc = await blobDoc(device, space, id);
  if (await assemble(await device.store.docEntries(space, doc), id, (e) => readable(device, e))) return id;
  for (let offset = 0; offset < bytes.length; offset += BLOB_CHUNK) {
    const chunk = bytes.subarray(offset, offset + BLOB_CHUNK);
    await device.write(space, Kind.blob, doc, encodeBlobChunk({ blob: id, offset, size: bytes.length, bytes: chunk }));
  }
  return id;
}

/**
 * Takes a blob out of a space at every replica (see prune.ts): writes prunes naming the chunks of it held here
 * that this account wrote (every chunk, for an admin of the space). The caller makes sure first that nothing
 * still names the blob. Returns how many chunks the prunes name.
 */
export async function pruneBlob(device: Device, space: Uint8Array, id: Uint8Array): Promise<number> {
  const doc = await blobDoc(device, space, id);
  const admin = (await device.replica.graph(space)).current().roles.get(toHex(device.account)) === 'admin';
  const ours = (r: EntryRow) => admin || equal(device.replica.authorOf(r.device)?.account.account ?? new Uint8Array(0), device.account);
  const ids = (await device.store.docEntries(space, doc)).filter((r) => r.kind === Kind.blob && ours(r)).map((r) => r.id);
  for (let i = 0; i < ids.length; i += MAX_PRUNED) await device.write(space, Kind.prune, doc, encodePrune(ids.slice(i, i + MAX_PRUNED)));
  return ids.length;
}

/** A blob of a space this device can read, verified against its id; `not-found` while it is not all here. */
export async function readBlob(device: Device, space: Uint8Array, id: Uint8Array): Promise<Uint8Array> {
  if (!(await device.canRead(space))) reject('forbidden-role', 'this account cannot read that space');
  const rows = await device.store.docEntries(space, await blobDoc(device, space, id));
  return (await assemble(rows, id, (e) => readable(device, e))) ?? reject('not-found', `blob ${toHex(id).slice(0, 12)} is not (all) in this replica`);
}

/** A blob of a public space, read without any key (a provider rendering a public page). */
export async function readPublicBlob(replica: Replica, space: Uint8Array, id: Uint8Array): Promise<Uint8Array | undefined> {
  const graph = await replica.graph(space);
  if (!graph.created || !graph.isPublic) return undefined;
  return assemble(await replica.store.docEntries(space, publicDocId(space, blobName(id))), id, async (e) => e.payload);
}

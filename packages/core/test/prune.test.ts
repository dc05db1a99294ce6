import { describe, expect, it } from 'vitest';
import { BLOB_CHUNK, encode, encodePrune, Kind, pruneBlob, readBlob, writeBlob, type Device } from '@freehold/core';
import { introduce, newUser, sync } from './helpers.js';

const bytesOf = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);
const chunksIn = (d: Device, space: Uint8Array) => d.store.spaceEntries(space, Kind.blob);

/** Alice administers a private space in which Mallory writes and Carol reads. */
async function sharedSpace() {
  const [alice, mallory, carol] = await Promise.all([newUser('alice'), newUser('mallory'), newUser('carol')]);
  await introduce(alice.device, mallory.device, carol.device);
  const space = await alice.device.createSpace(false);
  await alice.device.setRole(space, mallory.device.account, 'writer');
  await alice.device.setRole(space, carol.device.account, 'reader');
  return { alice: alice.device, mallory: mallory.device, carol: carol.device, space };
}

describe('pruning a blob: its chunks leave every replica, and only on the word of their writer or an admin', () => {
  it('a replica that takes the prune drops the chunks, and one holding the prune refuses them offered again', async () => {
    const { alice, carol, space } = await sharedSpace();
    const image = bytesOf(2 * BLOB_CHUNK + 9, 1);
    const id = await writeBlob(alice, space, image);
    await sync(alice, carol);
    const chunks = await chunksIn(carol, space);
    expect(chunks.length).toBe(3);

    expect(await pruneBlob(alice, space, id)).toBe(3);
    expect(await chunksIn(alice, space)).toEqual([]);
    await expect(readBlob(alice, space, id)).rejects.toMatchObject({ reason: 'not-found' });
    const again = await alice.replica.ingest(chunks.map((c) => c.bytes));
    expect(again.map((r) => r.reason)).toEqual(['pruned', 'pruned', 'pruned']);
    // Carol still holds the chunks and offers them as she syncs: she takes the prune instead, and drops them.
    await sync(carol, alice);
    expect(await chunksIn(carol, space)).toEqual([]);
    expect(await chunksIn(alice, space)).toEqual([]);

    // The same bytes stored again are new chunks, which no prune names.
    await writeBlob(alice, space, image);
    await sync(alice, carol);
    expect(await readBlob(carol, space, id)).toEqual(image);
  });

  it('a writer cannot prune another member’s blob, before or after it arrives; an admin can, and so can its writer', async () => {
    const { alice, mallory, carol, space } = await sharedSpace();
    const image = bytesOf(BLOB_CHUNK + 3, 2);
    const id = await writeBlob(alice, space, image);
    const [first, second] = await chunksIn(alice, space);
    await sync(alice, mallory);
    // Mallory names Alice's chunks in a prune of her own: a valid entry that takes nothing out, anywhere.
    await mallory.write(space, Kind.prune, first!.doc, encodePrune([first!.id, second!.id]));
    expect(await readBlob(mallory, space, id)).toEqual(image);
    await sync(mallory, alice);
    expect(await readBlob(alice, space, id)).toEqual(image);
    // Carol gets the prune before the chunks: they are stored all the same.
    const membership = (await alice.store.spaceEntries(space, Kind.membership)).map((r) => r.bytes);
    const prune = (await mallory.store.spaceEntries(space, Kind.prune)).map((r) => r.bytes);
    expect((await carol.replica.ingest([...membership, ...prune])).every((r) => r.ok)).toBe(true);
    expect((await carol.replica.ingest([first!.bytes, second!.bytes])).every((r) => r.ok)).toBe(true);
    expect(await readBlob(carol, space, id)).toEqual(image);
    // Pruning what she may not, Mallory's client names nothing; her own blob she prunes.
    expect(await pruneBlob(mallory, space, id)).toBe(0);
    const hers = await writeBlob(mallory, space, bytesOf(10, 3));
    expect(await pruneBlob(mallory, space, hers)).toBe(1);
    // Alice, an admin, prunes Mallory's next blob.
    const next = await writeBlob(mallory, space, bytesOf(10, 4));
    await sync(mallory, alice);
    expect(await pruneBlob(alice, space, next)).toBe(1);
    await sync(alice, mallory);
    await expect(readBlob(mallory, space, next)).rejects.toMatchObject({ reason: 'not-found' });
    expect(await readBlob(mallory, space, id)).toEqual(image);
  });

  it('refuses a prune that names nothing, and a reader’s prune', async () => {
    const { alice, carol, space } = await sharedSpace();
    await writeBlob(alice, space, bytesOf(10, 5));
    const [chunk] = await chunksIn(alice, space);
    await expect(alice.write(space, Kind.prune, chunk!.doc, encode([]))).rejects.toMatchObject({ reason: 'malformed' });
    await expect(alice.write(space, Kind.prune, chunk!.doc, encode([new Uint8Array(5)]))).rejects.toMatchObject({ reason: 'malformed' });
    await sync(alice, carol);
    await expect(carol.write(space, Kind.prune, chunk!.doc, encodePrune([chunk!.id]))).rejects.toMatchObject({ reason: 'forbidden-role' });
  });
});

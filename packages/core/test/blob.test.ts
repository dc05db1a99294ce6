import { describe, expect, it } from 'vitest';
import { BLOB_CHUNK, blobId, encodeBlobChunk, Kind, listDocs, readBlob, readEntry, readPublicBlob, toHex, writeBlob } from '@freehold/core';
import { introduce, newUser, put, sync } from './helpers.js';

const bytesOf = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);

describe('blobs: chunked, content-addressed blob entries of a space', () => {
  it('splits into chunks, reads back verified for a member, and is ciphertext to everyone else', async () => {
    const alice = await newUser('alice');
    const bob = await newUser('bob');
    const eve = await newUser('eve');
    await introduce(alice.device, bob.device);
    await introduce(alice.device, eve.device);
    const space = await alice.device.createSpace(false);
    await alice.device.setRole(space, bob.device.account, 'reader');
    const image = bytesOf(2 * BLOB_CHUNK + 5, 7);
    const id = await writeBlob(alice.device, space, image);
    expect(id).toEqual(blobId(image));
    const chunks = await alice.device.store.spaceEntries(space, Kind.blob);
    expect(chunks.length).toBe(3);
    // The same bytes again are not stored twice, and blobs are not documents.
    await writeBlob(alice.device, space, image);
    expect((await alice.device.store.spaceEntries(space, Kind.blob)).length).toBe(3);
    await put(alice.device, space, 'doc', { a: 1 });
    expect(await listDocs(alice.device, space)).toEqual(['doc']);

    await sync(alice.device, bob.device);
    expect(await readBlob(bob.device, space, id)).toEqual(image);
    // A non-member holding the entries (a relay) sees ciphertext only.
    const stolen = await eve.device.replica.ingest((await alice.device.store.spaceEntries(space)).map((r) => r.bytes));
    expect(stolen.every((r) => r.ok)).toBe(true);
    await expect(readBlob(eve.device, space, id)).rejects.toMatchObject({ reason: 'forbidden-role' });
    const marker = image.subarray(BLOB_CHUNK + 100, BLOB_CHUNK + 132);
    const hex = toHex(marker);
    expect(toHex(image)).toContain(hex);
    for (const c of chunks) expect(toHex(c.bytes)).not.toContain(hex);
  });

  it('a blob missing a chunk is not found, and a chunk naming the blob with other bytes is refused on read', async () => {
    const alice = await newUser('alice');
    const bob = await newUser('bob');
    await introduce(alice.device, bob.device);
    const space = await alice.device.createSpace(true);
    const image = bytesOf(BLOB_CHUNK + 1, 3);
    const id = await writeBlob(alice.device, space, image);
    expect(await readPublicBlob(bob.device.replica, space, id)).toBeUndefined();
    const [first, second] = await alice.device.store.spaceEntries(space, Kind.blob);
    const firstEntry = readEntry(first!.bytes);
    const held = await bob.device.replica.ingest([(await alice.device.store.spaceEntries(space, Kind.membership))[0]!.bytes, first!.bytes]);
    expect(held.every((r) => r.ok)).toBe(true);
    await expect(readBlob(bob.device, space, id)).rejects.toMatchObject({ reason: 'not-found' });
    expect(readEntry(second!.bytes).doc).toEqual(firstEntry.doc);

    // A writer of the space forges the second chunk: right blob id and size, other bytes.
    const forged = bytesOf(1, 99);
    forged[0] = image[BLOB_CHUNK]! ^ 1;
    await alice.device.write(space, Kind.blob, firstEntry.doc, encodeBlobChunk({ blob: id, offset: BLOB_CHUNK, size: image.length, bytes: forged }));
    await sync(alice.device, bob.device);
    await expect(readBlob(bob.device, space, id)).rejects.toMatchObject({ reason: 'bad-id' });
  });

  it('every replica refuses a blob entry whose chunk lies outside its blob', async () => {
    const alice = await newUser('alice');
    const space = await alice.device.createSpace(false);
    const bad = encodeBlobChunk({ blob: blobId(new Uint8Array(1)), offset: 4, size: 4, bytes: new Uint8Array(1) });
    await expect(alice.device.write(space, Kind.blob, new Uint8Array(16), bad)).rejects.toMatchObject({ reason: 'malformed' });
    await expect(writeBlob(alice.device, space, new Uint8Array(0))).rejects.toMatchObject({ reason: 'too-large' });
  });
});

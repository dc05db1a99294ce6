import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BLOB_CHUNK,
  createEntry,
  decodeFrame,
  encode,
  encodeCard,
  encodeFrame,
  encodePrune,
  Kind,
  pruneBlob,
  randomBytes,
  readBlob,
  writeBlob,
  type Device,
  type EntryRow,
} from '@freehold/core';
import { ProviderLink } from '@freehold/client';
import type { RunningServer } from '@freehold/server';
import { join_, newDevice, startServer, syncWith, tempDir, WS } from './helpers.js';

const tmp = tempDir('attack-prune');
let server: RunningServer;
let alice: Device;
let mallory: Device;
/** Alice administers it; Mallory is a writer. */
let space: Uint8Array;
const image = Uint8Array.from({ length: BLOB_CHUNK + 1000 }, (_, i) => (i * 31) & 0xff);
let id: Uint8Array;
let chunks: EntryRow[];

beforeAll(async () => {
  server = await startServer({ data: tmp.dir });
  alice = await newDevice(tmp.dir, 'alice');
  mallory = await newDevice(tmp.dir, 'mallory');
  for (const d of [alice, mallory]) await join_(d, server.url);
  await alice.replica.addCard(encodeCard(mallory.identity()));
  await mallory.replica.addCard(encodeCard(alice.identity()));
  space = await alice.createSpace(false);
  await alice.setRole(space, mallory.account, 'writer');
  id = await writeBlob(alice, space, image);
  chunks = await alice.store.spaceEntries(space, Kind.blob);
  await syncWith(alice, server.url);
  await syncWith(mallory, server.url);
});
afterAll(async () => {
  await server.close();
  tmp.cleanup();
});

const usedBy = async (d: Device) => (await server.provider.store.getAccount(d.account))!.used;
const held = async () => Promise.all(chunks.map((c) => server.provider.store.hasEntry(c.id)));

/** An entry signed by Mallory's device that her own client would not write, pushed over her session by hand. */
async function pushForged(into: Uint8Array, doc: Uint8Array, payload: Uint8Array): Promise<string | undefined> {
  const basis = (await mallory.replica.graph(into)).latest!.entryId;
  const seq = (await mallory.store.maxSeq(mallory.id)) + 1;
  const prev = (await mallory.store.idBySeq(mallory.id, seq - 1))!;
  const forged = createEntry({ kind: Kind.prune, space: into, doc, device: mallory.id, seq, prev, basis, time: Date.now() }, mallory.keys.sign, payload.length, () => payload);
  const link = await ProviderLink.connect(server.url, mallory, WS);
  try {
    link.send(encodeFrame(['entries', [forged.bytes]]));
    const ack = decodeFrame(await link.next());
    expect(ack[0]).toBe('ack');
    return ack[0] === 'ack' ? ack[2][0]?.[1] : undefined;
  } finally {
    link.close();
  }
}

describe('a member cannot make the provider delete someone else’s blob', () => {
  it('a writer’s prune naming another member’s chunks is stored and takes nothing out, at the provider or at the owner', async () => {
    const before = await usedBy(alice);
    await mallory.write(space, Kind.prune, chunks[0]!.doc, encodePrune(chunks.map((c) => c.id)));
    expect((await syncWith(mallory, server.url)).rejected).toEqual([]);
    expect(await held()).toEqual([true, true]);
    expect(await usedBy(alice)).toBe(before);
    await syncWith(alice, server.url);
    expect(await readBlob(alice, space, id)).toEqual(image);
  });

  it('a prune forged around the client is refused: in a space the attacker is not a member of, or naming nothing', async () => {
    const pub = await alice.createSpace(true);
    await writeBlob(alice, pub, randomBytes(500));
    const [theirs] = await alice.store.spaceEntries(pub, Kind.blob);
    await syncWith(alice, server.url);
    await syncWith(mallory, server.url, [pub]);
    expect(await pushForged(pub, theirs!.doc, encodePrune([theirs!.id]))).toBe('not-member');
    expect(await server.provider.store.hasEntry(theirs!.id)).toBe(true);
    expect(await pushForged(space, chunks[0]!.doc, encode([]))).toBe('malformed');
  });

  it('the writer’s own prune empties the provider of the chunks, gives the quota back and refuses them offered again', async () => {
    const before = await usedBy(alice);
    expect(await pruneBlob(alice, space, id)).toBe(2);
    await syncWith(alice, server.url);
    expect(await held()).toEqual([false, false]);
    // Less the prune itself, a few hundred bytes.
    expect(before - (await usedBy(alice))).toBeGreaterThan(image.length - 1000);
    // Mallory's replica still holds the chunks: her sync offers them, and takes the prune that drops them.
    expect(await mallory.store.hasEntry(chunks[0]!.id)).toBe(true);
    await syncWith(mallory, server.url);
    expect(await mallory.store.hasEntry(chunks[0]!.id)).toBe(false);
    expect(await held()).toEqual([false, false]);
    // Offered again over a session, a chunk is refused.
    const link = await ProviderLink.connect(server.url, mallory, WS);
    try {
      link.send(encodeFrame(['entries', [chunks[1]!.bytes]]));
      const ack = decodeFrame(await link.next());
      expect(ack[0] === 'ack' && ack[2].map((r) => r[1])).toEqual(['pruned']);
    } finally {
      link.close();
    }
    expect(await held()).toEqual([false, false]);
  });
});

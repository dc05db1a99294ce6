import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEntry, Kind, Replica, SyncSession, syncPair, toHex, encodeCard, type Device, type Entry, type EntryRow, type Store } from '@freehold/core';
import { SqliteStore } from '@freehold/stores';
import { installNativeCrypto } from '@freehold/node';
import { newUser } from './helpers.js';

const N = 100_000;
const root = mkdtempSync(join(tmpdir(), 'freehold-rbsr-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Signs `count` entries in a public space as the given device, continuing its sequence. */
function entries(author: Device, space: Uint8Array, basis: Uint8Array, startSeq: number, prev: Uint8Array, count: number, timeOf: (i: number) => number): Entry[] {
  const out: Entry[] = [];
  for (let i = 0; i < count; i++) {
    const payload = new TextEncoder().encode(`post ${startSeq + i}`);
    const e = createEntry(
      { kind: Kind.update, space, doc: new Uint8Array(16).fill(i % 251), device: author.id, seq: startSeq + i, prev, basis, time: timeOf(i) },
      author.keys.sign,
      payload.length,
      () => payload,
    );
    prev = e.id;
    out.push(e);
  }
  return out;
}

const row = (e: Entry): EntryRow => ({ id: e.id, space: e.space, doc: e.doc, kind: e.kind, device: e.device, seq: e.seq, time: e.time, bytes: e.bytes });

describe('reconciliation cost at 100k entries', () => {
  let a: Replica;
  let b: Replica;
  let author: Device;
  let space: Uint8Array;
  let basis: Uint8Array;
  let last: Entry;
  let t0: number;

  beforeAll(async () => {
    installNativeCrypto();
    author = (await newUser('poster', new SqliteStore(join(root, 'author.db')))).device;
    space = await author.createSpace(true);
    basis = (await author.replica.graph(space)).root!.entryId;
    const create = (await author.store.spaceEntries(space))[0]!;
    t0 = Date.now() - N;
    const bulk = entries(author, space, basis, 2, create.id, N - 1, (i) => t0 + Math.floor(i / 3));
    last = bulk[bulk.length - 1]!;
    const stores: Store[] = [new SqliteStore(join(root, 'a.db')), new SqliteStore(join(root, 'b.db'))];
    for (const s of stores) {
      await s.putCard(author.account, encodeCard(author.identity()));
      await s.putEntries([create, ...bulk.map(row)]);
    }
    a = await Replica.open(stores[0]!);
    b = await Replica.open(stores[1]!);
  }, 120_000);

  const run = async () => {
    const left = new SyncSession(a, { account: author.account });
    const right = new SyncSession(b, { account: author.account });
    const { roundTrips } = await syncPair(left, right);
    return { roundTrips, bytes: left.stats.bytesSent + right.stats.bytesSent, left: left.stats, right: right.stats };
  };

  it('two replicas holding the same 100k entries confirm they are in sync exchanging < 2 KB', async () => {
    expect(await a.store.countEntries()).toBe(N);
    const r = await run();
    expect(r.left.entriesSent + r.right.entriesSent).toBe(0);
    console.log(`in sync at ${N}: ${r.bytes} bytes, ${r.roundTrips} round trips (including the contact-card hello)`);
    // The hellos carry contact cards; reconciliation itself is what must be tiny.
    const cards = (await a.store.cards()).reduce((n, c) => n + c.card.length, 0) * 2;
    expect(r.bytes - cards).toBeLessThan(2048);
  });

  it('a difference of 10 entries costs < 10 KB beyond the entries themselves', async () => {
    // Spread evenly over the key range, so each difference sits in its own part of the tree.
    const span = N / 3;
    const spread = entries(author, space, basis, N + 1, last.id, 10, (k) => t0 + Math.floor(((k + 0.5) * span) / 10));
    expect((await a.ingest(spread.slice(0, 5).map((e) => e.bytes))).every((r) => r.ok)).toBe(true);
    expect((await b.ingest(spread.slice(5).map((e) => e.bytes))).filter((r) => !r.ok).map((r) => r.reason)).toEqual([]);
    const r = await run();
    const entryBytes = spread.reduce((n, e) => n + e.bytes.length, 0);
    const cards = (await a.store.cards()).reduce((n, c) => n + c.card.length, 0) * 2;
    const overhead = r.bytes - entryBytes - cards;
    console.log(`10 differences at ${N}: ${overhead} bytes beyond entries and cards, ${r.roundTrips} round trips`);
    expect(r.left.entriesReceived + r.right.entriesReceived).toBe(10);
    expect(overhead).toBeLessThan(10 * 1024);
    const ka = (await a.store.keys(space)).map((k) => toHex(k.id));
    const kb = (await b.store.keys(space)).map((k) => toHex(k.id));
    expect(ka).toEqual(kb);
  });
});

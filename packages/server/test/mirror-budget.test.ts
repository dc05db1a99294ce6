import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { installNativeCrypto } from '@freehold/node';
import { outbox, ProviderLink, register } from '@freehold/client';
import { decodeFrame, encode, encodeCard, encodeFrame, Kind, toHex, toId, type Device } from '@freehold/core';
import { blobEntries, newDevice, syncWith, tempDir, until, WS } from './helpers.js';
import { refusedStart } from './process.js';
import { ProviderNode } from './provider-node.js';

installNativeCrypto();
const tmp = tempDir('mirror-budget');
afterAll(() => tmp.cleanup());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const BOARD_ENTRIES = 60;

/** An account living at one provider. */
async function account(name: string, node: ProviderNode): Promise<Device> {
  const d = await newDevice(tmp.dir, name);
  await d.setProviders([node.url]);
  await register(node.url, d);
  return d;
}

/** A public space of the device's with BOARD_ENTRIES entries, sent to its provider. */
async function board(d: Device, url: string): Promise<Uint8Array> {
  const space = await d.createSpace(true);
  for (const e of await blobEntries(d, space, BOARD_ENTRIES)) await d.replica.ingestOwn(e);
  await syncWith(d, url);
  return space;
}

/** What a space takes in a replica's store: what a provider mirroring all of it counts against its budget. */
const sizeOf = async (d: Device, space: Uint8Array, kind?: number) =>
  (await d.store.spaceEntries(space, kind)).reduce((n, r) => n + r.bytes.length, 0);

/** A session of the device's that reads one space (reconciles it) and sends nothing back. */
async function read(d: Device, url: string, space: Uint8Array): Promise<void> {
  const link = await ProviderLink.connect(url, d, WS);
  try {
    await link.sync(d, { interest: [space], offerable: async () => [], offer: async () => false });
  } finally {
    link.close();
  }
  await sleep(20);
}

async function mirror(d: Device, url: string, space: Uint8Array, owner: Device): Promise<void> {
  await d.replica.addCard(encodeCard(owner.identity()));
  const link = await ProviderLink.connect(url, d, WS);
  try {
    await link.mirror(d, [{ space, owner: owner.account }]);
  } finally {
    link.close();
  }
  await sleep(20);
}

/** The spaces a provider evicted so far, in order, by the names the test gave them. */
function evictions(node: ProviderNode, names: Record<string, Uint8Array>): string[] {
  const byId = new Map(Object.entries(names).map(([name, space]) => [toId(space), name]));
  return node.output().split('\n').flatMap((line) => {
    try {
      const j = JSON.parse(line) as { event?: string; space?: string };
      return j.event === 'mirror-evict' ? [byId.get(j.space!) ?? j.space!] : [];
    } catch {
      return [];
    }
  });
}

const metric = (text: string, name: string): number => Number(new RegExp(`^${name.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);

describe('mirrors live in a cache with a budget', () => {
  it('evicts least recently read first, keeps and delivers what users wrote, refills on reading, charges no one', async () => {
    const p1 = await ProviderNode.create('P1', { dir: join(tmp.dir, 'p1') }, Math.random);
    const p2 = await ProviderNode.create('P2', { dir: join(tmp.dir, 'p2') }, Math.random);
    const p3 = await ProviderNode.create('P3', { dir: join(tmp.dir, 'p3') }, Math.random);
    try {
      await Promise.all([p1.start(), p2.start()]);
      const alice = await account('alice', p1);
      const [a, b, c] = [await board(alice, p1.url), await board(alice, p1.url), await board(alice, p1.url)];
      const inbox = await alice.createSpace(false, { inbox: true });
      await syncWith(alice, p1.url);
      const carol = await account('carol', p2);
      const k = await board(carol, p2.url);
      const names = { a, b, c, inbox, k };
      // Boards differ by a few bytes (sequence numbers grow).
      const size = { a: await sizeOf(alice, a), b: await sizeOf(alice, b), c: await sizeOf(alice, c), k: await sizeOf(carol, k) };
      // Of Alice's inbox, Bob's provider mirrors its membership log (and what Bob sends, which is his).
      const inboxLog = await sizeOf(alice, inbox, Kind.membership);
      const largest = Math.max(...Object.values(size));
      expect(inboxLog).toBeLessThan(Math.min(...Object.values(size)) / 4);
      // Room for two and a half boards and the inbox's log.
      const budget = Math.floor(2.5 * largest) + inboxLog;
      await p3.start(['--mirror-budget', String(budget), '--metrics', '127.0.0.1:0']);
      const bob = await account('bob', p3);
      const used0 = (await register(p3.url, bob)).used;

      // Read order (oldest first): B, inbox, A; then C comes in and B goes.
      for (const s of [a, b, inbox]) await mirror(bob, p3.url, s, alice);
      await read(bob, p3.url, a);
      await mirror(bob, p3.url, c, alice);
      await until(async () => (await p3.peek(b)).size === 0, 10_000);
      expect(evictions(p3, names)).toEqual(['b']);
      for (const s of [a, c]) expect((await p3.peek(s)).size).toBe(BOARD_ENTRIES + 1);

      // Bob writes to Alice while her provider is down: his provider keeps it to deliver.
      await read(bob, p3.url, inbox);
      await p1.stop();
      const dm = await bob.write(inbox, Kind.append, new Uint8Array(16), new TextEncoder().encode('hi Alice, while you were away'));
      const link = await ProviderLink.connect(p3.url, bob, WS);
      link.send(encodeFrame(['entries', [dm.bytes]]));
      const ack = await until(async () => {
        const f = decodeFrame(await link.next());
        return f[0] === 'ack' ? f : undefined;
      });
      link.close();
      expect(ack).toEqual(['ack', 1, []]);
      const used1 = (await register(p3.url, bob)).used;
      expect(used1).toBe(used0 + dm.bytes.length);
      const dmState = async () => (await outbox(p3.url, bob)).find((i) => i.entry === toHex(dm.id))?.delivery.state;
      expect(await dmState()).toBe('pending');

      // Carol's board comes in from P2: the inbox (least recently read) and then A make room for it.
      await read(bob, p3.url, a);
      await read(bob, p3.url, c);
      await mirror(bob, p3.url, k, carol);
      await until(async () => evictions(p3, names).length === 3, 10_000);
      expect(evictions(p3, names)).toEqual(['b', 'inbox', 'a']);
      expect([...(await p3.peek(inbox))]).toEqual([toHex(dm.id)]);
      expect((await p3.peek(a)).size).toBe(0);
      expect(await dmState()).toBe('pending');

      // Alice's provider is back: Bob's message reaches it, and nothing evicted is refilled unasked.
      await p1.start();
      await until(async () => (await dmState()) === 'delivered', 40_000);
      await until(async () => {
        await syncWith(alice, p1.url);
        return alice.store.hasEntry(dm.id);
      }, 10_000);
      expect([...(await p3.peek(inbox))]).toEqual([toHex(dm.id)]);
      expect((await p3.peek(a)).size).toBe(0);

      // Reading B again refills it from Alice's provider, and C (least recently read now) goes.
      await read(bob, p3.url, b);
      await until(async () => (await p3.peek(b)).size === BOARD_ENTRIES + 1, 15_000);
      await until(async () => evictions(p3, names).length === 4, 10_000);
      expect(evictions(p3, names)).toEqual(['b', 'inbox', 'a', 'c']);
      await read(bob, p3.url, b);
      expect((await bob.store.keys(b)).length).toBe(BOARD_ENTRIES + 1);

      // Mirrors are nobody's to pay for: Bob's usage is his message, whatever was mirrored, evicted and refilled.
      expect((await register(p3.url, bob)).used).toBe(used1);
      const text = await (await fetch(p3.metricsUrl!)).text();
      expect(metric(text, 'freehold_mirror_bytes')).toBe(size.b + size.k);
      expect(metric(text, 'freehold_mirror_budget_bytes')).toBe(budget);
      expect(metric(text, 'freehold_mirror_evictions_total')).toBe(4);
      expect(metric(text, 'freehold_mirror_refills_total')).toBe(1);
      expect(metric(text, 'freehold_mirror_spaces{state="live"}')).toBe(2);
      expect(metric(text, 'freehold_mirror_evicted_bytes_total')).toBe(size.b + inboxLog + size.a + size.c);
    } finally {
      for (const n of [p1, p2, p3]) await n.dispose();
    }
  }, 120_000);

  it('keeps read times and sizes across a restart, and a lower budget at start evicts the least recently read', async () => {
    const p1 = await ProviderNode.create('P1', { dir: join(tmp.dir, 'r1') }, Math.random);
    const p3 = await ProviderNode.create('P3', { dir: join(tmp.dir, 'r3') }, Math.random);
    try {
      await Promise.all([p1.start(), p3.start()]);
      const alice = await account('alice-r', p1);
      const [a, b] = [await board(alice, p1.url), await board(alice, p1.url)];
      const bob = await account('bob-r', p3);
      // Asked for A first, then B; then A is read, which only the read times (written back at stop) remember.
      await mirror(bob, p3.url, a, alice);
      await mirror(bob, p3.url, b, alice);
      await read(bob, p3.url, a);
      await p3.stop();
      await p3.start(['--mirror-budget', String(Math.floor(1.5 * (await sizeOf(alice, a))))]);
      expect(evictions(p3, { a, b })).toEqual(['b']);
      expect((await p3.peek(a)).size).toBe(BOARD_ENTRIES + 1);
      expect((await p3.peek(b)).size).toBe(0);

      // A store written before mirrors had sizes lists [space, owner] only: its mirrors are measured at start.
      await p3.stop();
      const store = await p3.openStore();
      await store.setMeta('mirrors', encode([[a, alice.account]]));
      await store.close();
      await p3.start(['--mirror-budget', String(Math.floor((await sizeOf(alice, a)) / 2))]);
      expect(evictions(p3, { a, b })).toEqual(['b', 'a']);
      expect((await p3.peek(a)).size).toBe(0);
    } finally {
      for (const n of [p1, p3]) await n.dispose();
    }
  }, 60_000);

  it('refuses a malformed or oversized --mirror-budget with a clear error', async () => {
    const data = join(tmp.dir, 'refused');
    for (const [value, says] of [
      ['lots', '--mirror-budget: "lots" is not a size'],
      ['-1GiB', '--mirror-budget'],
      ['2PiB', '--mirror-budget 2PiB is more than 1.0 PiB'],
      ['99999999999999999999GiB', 'is more than 1.0 PiB'],
    ]) {
      const r = await refusedStart(['--port', '0', '--data', data, '--mirror-budget', value!]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(says);
    }
  });
});

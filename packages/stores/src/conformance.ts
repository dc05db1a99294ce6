import { createEntry, Kind, newSigningKey, toHex, type EntryRow, type Header, type Store } from '@freehold/core';

/** The matchers the suite uses: vitest's expect in Node, the standalone `expect` package in a browser. */
interface Matchers {
  toBe(v: unknown): void;
  toEqual(v: unknown): void;
  toMatchObject(v: object): void;
  toBeInstanceOf(c: unknown): void;
  toBeUndefined(): void;
  rejects: { toThrow(): Promise<void>; toMatchObject(v: object): Promise<void> };
}

/** A test framework's describe/it, so the same suite runs under vitest and in a browser page. */
export interface TestApi {
  describe(name: string, body: () => void): void;
  it(name: string, body: () => Promise<void>): void;
  afterEach(body: () => Promise<void>): void;
  expect(actual: unknown): Matchers;
}

export interface StoreFactory {
  /** Opens the store (again): a second open must see what the first one made durable. */
  open(): Promise<Store>;
  cleanup(): Promise<void>;
}

const b = (...xs: number[]) => new Uint8Array(xs);
const id32 = (n: number) => {
  const a = new Uint8Array(32);
  a[0] = n >> 8;
  a[1] = n & 255;
  a[31] = 7;
  return a;
};
const SPACE_A = id32(1000);
const SPACE_B = id32(2000);
const DEV = id32(3000);
const DEV2 = id32(3001);

function row(n: number, over: Partial<EntryRow> = {}): EntryRow {
  return { id: id32(n), space: SPACE_A, doc: new Uint8Array(16), kind: 1, device: DEV, seq: n, time: 1000 + (n % 5), bytes: b(n & 255, 1, 2, 3), ...over };
}

const hexes = (xs: Uint8Array[]) => xs.map(toHex);

/** A signed entry as a row, with the header's fields: what a store that packs entries packs. */
function signed(h: Partial<Header> & Pick<Header, 'kind' | 'seq' | 'time'>, payload = 40): EntryRow {
  const key = newSigningKey();
  const doc = h.kind === Kind.membership ? new Uint8Array(0) : id32(7).subarray(0, 16);
  const basis = h.kind === Kind.membership ? new Uint8Array(0) : id32(8);
  const header = { space: SPACE_A, doc, device: key.publicKey, prev: h.seq === 1 ? new Uint8Array(0) : id32(9), basis, ...h };
  const e = createEntry(header, key, payload, () => new Uint8Array(payload).fill(5));
  return { id: e.id, space: e.space, doc: e.doc, kind: e.kind, device: e.device, seq: e.seq, time: e.time, bytes: e.bytes };
}

/** The one suite every Store implementation must pass. */
export function storeConformance(name: string, makeFactory: () => Promise<StoreFactory>, t: TestApi): void {
  const { describe, it, afterEach, expect } = t;
  describe(`Store conformance: ${name}`, () => {
    let factory: StoreFactory | undefined;
    let open: Store[] = [];
    const fresh = async () => {
      factory = await makeFactory();
      const s = await factory.open();
      open.push(s);
      return s;
    };
    const reopen = async () => {
      const s = await factory!.open();
      open.push(s);
      return s;
    };
    afterEach(async () => {
      for (const s of open) await s.close().catch(() => {});
      open = [];
      await factory?.cleanup();
    });

    it('stores entries idempotently and reads them back as plain bytes', async () => {
      const s = await fresh();
      await s.putEntries([row(1), row(2)]);
      await s.putEntries([row(1)]);
      expect(await s.countEntries()).toBe(2);
      expect(await s.countEntries(SPACE_A)).toBe(2);
      expect(await s.countEntries(SPACE_B)).toBe(0);
      const [a, missing] = await s.getEntries([id32(1), id32(99)]);
      expect(a).toEqual(row(1));
      expect(missing).toBeUndefined();
      expect(await s.hasEntry(id32(2))).toBe(true);
      expect(await s.hasEntry(id32(3))).toBe(false);
    });

    it('reads signed entries back byte for byte, and sizes them whole', async () => {
      const s = await fresh();
      const rows = [
        signed({ kind: Kind.membership, seq: 1, time: 1_800_000_000_000 }),
        signed({ kind: Kind.update, seq: 1, time: 1_800_000_000_001 }),
        signed({ kind: Kind.update, seq: 300, time: 1_800_000_000_002 }, 1000),
        signed({ kind: Kind.snapshot, seq: 70_000, time: 5 }),
        signed({ kind: Kind.update, seq: 2, time: 1_800_000_000_003 }, 0),
      ];
      await s.putEntries(rows);
      expect(await s.getEntries(rows.map((r) => r.id))).toEqual(rows);
      expect(await s.spaceEntries(SPACE_A)).toEqual([...rows].sort((a, b) => a.time - b.time));
      expect(await s.docEntries(SPACE_A, rows[1]!.doc)).toEqual(rows.slice(1).sort((a, b) => a.time - b.time));
      expect(await s.deviceEntries(null, rows[2]!.device, 0)).toEqual([rows[2]]);
      expect((await s.recentEntries([SPACE_A], 1))[0]).toEqual(rows[4]);
      const usage = await s.spaceUsage(SPACE_A);
      expect(usage.reduce((n, u) => n + u.bytes, 0)).toBe(rows.reduce((n, r) => n + r.bytes.length, 0));
    });

    it('orders keys by (time, id) and filters by space, kind, document and device', async () => {
      const s = await fresh();
      const rows = [row(5), row(1), row(3, { kind: 0 }), row(4, { space: SPACE_B }), row(2, { doc: new Uint8Array(16).fill(9) }), row(6, { device: DEV2, seq: 1 })];
      await s.putEntries(rows);
      const keys = await s.keys(SPACE_A);
      const expected = rows.filter((r) => toHex(r.space) === toHex(SPACE_A)).sort((x, y) => x.time - y.time || (toHex(x.id) < toHex(y.id) ? -1 : 1));
      expect(hexes(keys.map((k) => k.id))).toEqual(hexes(expected.map((r) => r.id)));
      expect(keys.map((k) => k.time)).toEqual(expected.map((r) => r.time));
      expect(hexes((await s.spaceEntries(SPACE_A, 0)).map((r) => r.id))).toEqual([toHex(id32(3))]);
      expect((await s.spaceEntries(SPACE_B)).map((r) => r.seq)).toEqual([4]);
      expect(hexes((await s.docEntries(SPACE_A, new Uint8Array(16).fill(9))).map((r) => r.id))).toEqual([toHex(id32(2))]);
      const dev = await s.deviceEntries(SPACE_A, DEV, 2);
      expect(dev.map((r) => r.seq).sort()).toEqual([3, 5]);
      const everywhere = await s.deviceEntries(null, DEV, 2);
      expect(everywhere.map((r) => r.seq).sort()).toEqual([3, 4, 5]);
      const full = (await s.spaceEntries(SPACE_A))[0]!;
      expect(full.space).toBeInstanceOf(Uint8Array);
      expect(full.doc.length).toBe(16);
      expect(hexes(await s.spaces()).sort()).toEqual(hexes([SPACE_A, SPACE_B]).sort());
    });

    it('reads the newest entries across spaces, newest first, before a time', async () => {
      const s = await fresh();
      const rows = [row(1, { time: 10 }), row(2, { time: 30 }), row(3, { time: 20, space: SPACE_B }), row(4, { time: 40, space: id32(9) }), row(5, { time: 50 })];
      await s.putEntries(rows);
      const seqs = async (limit: number, before?: number) => (await s.recentEntries([SPACE_A, SPACE_B], limit, before)).map((r) => r.seq);
      expect(await seqs(10)).toEqual([5, 2, 3, 1]);
      expect(await seqs(2)).toEqual([5, 2]);
      expect(await seqs(10, 30)).toEqual([3, 1]);
      expect(await s.recentEntries([], 5)).toEqual([]);
    });

    it('reads the newest entries of some kinds only, passing over the others', async () => {
      const s = await fresh();
      const rows = [row(1, { time: 10, kind: 1 }), row(2, { time: 20, kind: 3 }), row(3, { time: 30, kind: 2, space: SPACE_B }), row(4, { time: 40, kind: 3 }), row(5, { time: 50, kind: 3 })];
      await s.putEntries(rows);
      const seqs = async (limit: number, before?: number) => (await s.recentEntries([SPACE_A, SPACE_B], limit, before, [1, 2])).map((r) => r.seq);
      expect(await seqs(10)).toEqual([3, 1]);
      expect(await seqs(1)).toEqual([3]);
      expect(await seqs(10, 30)).toEqual([1]);
      expect((await s.recentEntries([SPACE_A, SPACE_B], 2, undefined, [3])).map((r) => r.seq)).toEqual([5, 4]);
    });

    it('reads the newest entries when one space holds most of them and times tie', async () => {
      const s = await fresh();
      const spaces = [SPACE_A, SPACE_B, id32(3), id32(4)];
      // Space A holds 60 rows, the others a few; times repeat so ids decide the order.
      const rows = Array.from({ length: 80 }, (_, i) => row(i + 1, { space: spaces[i < 60 ? 0 : 1 + (i % 3)]!, time: 100 + ((i * 7) % 23) }));
      await s.putEntries(rows);
      const order = (x: EntryRow, y: EntryRow) => y.time - x.time || (toHex(y.id) < toHex(x.id) ? -1 : 1);
      const asked = [SPACE_A, SPACE_B, id32(3)];
      for (const [limit, before] of [[1, undefined], [7, undefined], [50, undefined], [100, undefined], [10, 110], [30, 105]] as const) {
        const expected = rows
          .filter((r) => asked.some((a) => toHex(a) === toHex(r.space)) && r.time < (before ?? Infinity))
          .sort(order)
          .slice(0, limit);
        expect(hexes((await s.recentEntries(asked, limit, before)).map((r) => r.id))).toEqual(hexes(expected.map((r) => r.id)));
        expect(hexes((await s.recentEntries(asked, limit, before, [1, 2])).map((r) => r.id))).toEqual(hexes(expected.map((r) => r.id)));
      }
    });

    it('reads the newest entries of a few spaces behind thousands of newer ones in another', async () => {
      const s = await fresh();
      const other = id32(9);
      const mine = [row(1, { time: 5 }), row(2, { time: 7, space: SPACE_B }), row(3, { time: 6 })];
      const newer = Array.from({ length: 2500 }, (_, i) => row(10 + i, { time: 100 + i, space: other }));
      await s.putEntries([...mine, ...newer]);
      expect((await s.recentEntries([SPACE_A, SPACE_B], 2, undefined, [1, 2])).map((r) => r.seq)).toEqual([2, 3]);
      expect((await s.recentEntries([SPACE_A, other], 2, 2000, [1])).map((r) => r.seq)).toEqual([1909, 1908]);
    });

    it('finds entries by device sequence and knows the highest sequence', async () => {
      const s = await fresh();
      await s.putEntries([row(1), row(2), row(7)]);
      expect(toHex((await s.idBySeq(DEV, 2))!)).toBe(toHex(id32(2)));
      expect(await s.idBySeq(DEV, 3)).toBeUndefined();
      expect(await s.maxSeq(DEV)).toBe(7);
      expect(await s.maxSeq(DEV2)).toBe(0);
    });

    it('refuses a whole batch when one entry takes a sequence number already signed for another', async () => {
      const s = await fresh();
      await s.putEntries([row(1)]);
      await expect(s.putEntries([row(2), row(50, { seq: 1 })])).rejects.toMatchObject({ reason: 'fork' });
      expect(await s.countEntries()).toBe(1);
      expect(await s.hasEntry(id32(2))).toBe(false);
    });

    it('answers keys read before a write, a deletion or a removed device with what the store holds after it', async () => {
      const s = await fresh();
      const ids = async (space: Uint8Array) => hexes((await s.keys(space)).map((k) => k.id)).sort();
      await s.putEntries([row(1), row(2)]);
      expect(await ids(SPACE_A)).toEqual(hexes([id32(1), id32(2)]).sort());
      expect(await ids(SPACE_B)).toEqual([]);
      await s.putEntries([row(3), row(4, { space: SPACE_B })]);
      expect(await ids(SPACE_A)).toEqual(hexes([id32(1), id32(2), id32(3)]).sort());
      expect(await ids(SPACE_B)).toEqual([toHex(id32(4))]);
      await s.deleteEntries([id32(2)]);
      expect(await ids(SPACE_A)).toEqual(hexes([id32(1), id32(3)]).sort());
      await s.deleteDeviceEntries(SPACE_B, [DEV]);
      expect(await ids(SPACE_B)).toEqual([]);
      // What a caller does with the list it got does not change what the next caller gets.
      (await s.keys(SPACE_A)).length = 0;
      expect(await ids(SPACE_A)).toEqual(hexes([id32(1), id32(3)]).sort());
    });

    it('deletes entries and frees their sequence numbers', async () => {
      const s = await fresh();
      await s.putEntries([row(1), row(2)]);
      await s.deleteEntries([id32(1), id32(42)]);
      expect(await s.countEntries()).toBe(1);
      expect(await s.idBySeq(DEV, 1)).toBeUndefined();
      await s.putEntries([row(3, { space: SPACE_B })]);
      await s.deleteEntries([id32(3)]);
      expect(hexes(await s.spaces())).toEqual(hexes([SPACE_A]));
    });

    it('indexes spaces by the accounts their membership entries name, in the same transaction', async () => {
      const s = await fresh();
      const [alice, bob] = [id32(600), id32(601)];
      const named = async (a: Uint8Array) => (await s.spacesOf(a)).map((n) => [toHex(n.space), n.creator]);
      // A create names its creator; an op naming the creator again in the same batch leaves it the creator.
      await s.putEntries([
        row(1, { kind: 0, names: { account: alice, creator: true } }),
        row(2, { kind: 0, names: { account: alice, creator: false } }),
        row(3, { kind: 0, names: { account: bob, creator: false } }),
        row(4),
      ]);
      expect(await named(alice)).toEqual([[toHex(SPACE_A), true]]);
      expect(await named(bob)).toEqual([[toHex(SPACE_A), false]]);
      expect(await named(id32(602))).toEqual([]);
      // A refused batch indexes nothing.
      await expect(s.putEntries([row(5, { space: SPACE_B, kind: 0, names: { account: bob, creator: true } }), row(51, { seq: 1 })])).rejects.toMatchObject({
        reason: 'fork',
      });
      expect(await named(bob)).toEqual([[toHex(SPACE_A), false]]);
      // A row already held, put again with its name, is indexed (how an older store is filled).
      await s.putEntries([row(6, { space: SPACE_B, kind: 0 })]);
      await s.putEntries([row(6, { space: SPACE_B, kind: 0, names: { account: bob, creator: true } })]);
      expect(await s.countEntries()).toBe(5);
      expect(await named(bob)).toEqual([
        [toHex(SPACE_A), false],
        [toHex(SPACE_B), true],
      ]);
      // Stores do not hand the name back with the row.
      expect((await s.spaceEntries(SPACE_A, 0))[0]!.names).toBeUndefined();
      await s.close();
      open = open.filter((x) => x !== s);
      const again = await reopen();
      expect((await again.spacesOf(bob)).map((n) => [toHex(n.space), n.creator])).toEqual([
        [toHex(SPACE_A), false],
        [toHex(SPACE_B), true],
      ]);
    });

    it('sizes a space per device and deletes what chosen devices signed in it, durably', async () => {
      const s = await fresh();
      await s.putEntries([
        row(1),
        row(2, { bytes: b(1, 2, 3, 4, 5, 6) }),
        row(3, { device: DEV2, seq: 1 }),
        row(4, { space: SPACE_B }),
        row(5, { device: DEV2, seq: 2, space: SPACE_B }),
      ]);
      const usage = async (space: Uint8Array) => (await s.spaceUsage(space)).map((u) => [toHex(u.device), u.entries, u.bytes]).sort();
      expect(await usage(SPACE_A)).toEqual([[toHex(DEV), 2, 10], [toHex(DEV2), 1, 4]].sort());
      expect(await usage(id32(77))).toEqual([]);
      await s.deleteDeviceEntries(SPACE_A, [DEV2, id32(99)]);
      expect(await usage(SPACE_A)).toEqual([[toHex(DEV), 2, 10]]);
      expect(await s.idBySeq(DEV2, 1)).toBeUndefined();
      // Other spaces keep what the same device signed there.
      expect(hexes((await s.keys(SPACE_B)).map((k) => k.id)).sort()).toEqual(hexes([id32(4), id32(5)]).sort());
      await s.deleteDeviceEntries(SPACE_A, []);
      await s.deleteDeviceEntries(SPACE_A, [DEV]);
      expect(hexes(await s.spaces())).toEqual(hexes([SPACE_B]));
      await s.close();
      open = open.filter((x) => x !== s);
      const again = await reopen();
      expect(await again.countEntries()).toBe(2);
      expect(await again.spaceUsage(SPACE_A)).toEqual([]);
    });

    it('replaces contact cards per account and keeps local metadata', async () => {
      const s = await fresh();
      await s.putCard(id32(1), b(1));
      await s.putCard(id32(2), b(2));
      await s.putCard(id32(1), b(1, 1));
      expect([...(await s.getCard(id32(1)))!]).toEqual([1, 1]);
      expect(await s.getCard(id32(3))).toBeUndefined();
      expect((await s.cards()).map((c) => [toHex(c.account), [...c.card]])).toEqual([
        [toHex(id32(1)), [1, 1]],
        [toHex(id32(2)), [2]],
      ]);
      await s.setMeta('k', b(9));
      await s.setMeta('k', b(8));
      expect([...(await s.getMeta('k'))!]).toEqual([8]);
      expect(await s.getMeta('nope')).toBeUndefined();
    });

    it('charges the payers of the rows it inserts atomically and refuses a batch over quota', async () => {
      const s = await fresh();
      const acct = id32(500);
      const pays = (bytes: number, account = acct) => ({ charge: { account, bytes } });
      await s.putAccount({ account: acct, quota: 100, used: 0, created: 1 });
      await s.putEntries([row(1, pays(60))]);
      expect((await s.getAccount(acct))!.used).toBe(60);
      await expect(s.putEntries([row(2, pays(20)), row(3, pays(21))])).rejects.toMatchObject({ reason: 'quota-exceeded' });
      // Charges to one account add up.
      await expect(s.putEntries([row(2, pays(30)), row(3, pays(30))])).rejects.toMatchObject({ reason: 'quota-exceeded' });
      expect(await s.countEntries()).toBe(1);
      expect((await s.getAccount(acct))!.used).toBe(60);
      await expect(s.putEntries([row(4, pays(1, id32(501)))])).rejects.toMatchObject({ reason: 'not-hosted' });
      expect(await s.hasEntry(id32(4))).toBe(false);
      // A row held already is not paid for again, alone or beside new ones.
      await s.putEntries([row(1, pays(60))]);
      await s.putEntries([row(1, pays(60)), row(7, pays(40))]);
      expect((await s.getAccount(acct))!.used).toBe(100);
      // Raising the quota keeps the usage.
      await s.putAccount({ account: acct, quota: 1000, used: 0, created: 2 });
      expect(await s.getAccount(acct)).toMatchObject({ quota: 1000, used: 100, created: 1 });
      await s.putEntries([row(2, pays(41))]);
      expect((await s.accounts()).map((a) => [toHex(a.account), a.used])).toEqual([[toHex(acct), 141]]);
      expect(await s.getAccount(id32(502))).toBeUndefined();
    });

    it('prunes content entries, giving back once what each was charged', async () => {
      const s = await fresh();
      const acct = id32(500);
      const refund = (bytes: number) => ({ account: acct, bytes });
      await s.putAccount({ account: acct, quota: 1000, used: 0, created: 1 });
      const op = { kind: Kind.membership, doc: new Uint8Array(0), charge: refund(10) };
      await s.putEntries([row(1, { charge: refund(100) }), row(2, { charge: refund(50) }), row(3, op), row(4)]);
      await s.pruneEntries([{ id: id32(1), refund: refund(100) }, { id: id32(3), refund: refund(10) }, { id: id32(42), refund: refund(7) }]);
      // Pruned again, a row gives nothing back; a membership operation is left, and gives nothing back either.
      await s.pruneEntries([{ id: id32(1), refund: refund(100) }, { id: id32(4) }]);
      expect(hexes((await s.keys(SPACE_A)).map((k) => k.id)).sort()).toEqual(hexes([id32(2), id32(3)]).sort());
      expect(await s.idBySeq(DEV, 1)).toBeUndefined();
      expect((await s.getAccount(acct))!.used).toBe(60);
      await s.pruneEntries([{ id: id32(2), refund: refund(500) }]);
      expect((await s.getAccount(acct))!.used).toBe(0);
      expect(await s.countEntries()).toBe(1);
    });

    it('forgets a deleted account\'s registration, not another account\'s', async () => {
      const s = await fresh();
      const [gone, kept] = [id32(510), id32(511)];
      for (const a of [gone, kept]) await s.putAccount({ account: a, quota: 100, used: 0, created: 1 });
      await s.putEntries([row(1, { charge: { account: gone, bytes: 10 } })]);
      await s.deleteAccount(gone);
      expect(await s.getAccount(gone)).toBeUndefined();
      expect((await s.accounts()).map((a) => toHex(a.account))).toEqual([toHex(kept)]);
      // Nothing is charged to it any more: a row it would pay for is refused.
      await expect(s.putEntries([row(2, { charge: { account: gone, bytes: 10 } })])).rejects.toMatchObject({ reason: 'not-hosted' });
    });

    it('charges a row put twice at the same moment once', async () => {
      const s = await fresh();
      const acct = id32(500);
      await s.putAccount({ account: acct, quota: 1000, used: 0, created: 1 });
      const r = row(1, { charge: { account: acct, bytes: 60 } });
      await Promise.all([s.putEntries([r]), s.putEntries([r, row(2, { charge: { account: acct, bytes: 5 } })]), s.putEntries([r])]);
      expect(await s.countEntries()).toBe(2);
      expect((await s.getAccount(acct))!.used).toBe(65);
    });

    it('decides each of several batches put at once on its own, in the order they were put', async () => {
      const s = await fresh();
      const acct = id32(500);
      await s.putAccount({ account: acct, quota: 100, used: 0, created: 1 });
      await s.putEntries([row(1)]);
      const settled = await Promise.allSettled([
        s.putEntries([row(2, { charge: { account: acct, bytes: 60 } })]),
        s.putEntries([row(3), row(50, { seq: 1 })]),
        s.putEntries([row(4, { charge: { account: acct, bytes: 41 } })]),
        s.putEntries([row(5, { charge: { account: id32(501), bytes: 1 } })]),
        s.putEntries([row(6, { space: SPACE_B, kind: 0, names: { account: id32(600), creator: true }, charge: { account: acct, bytes: 40 } })]),
      ]);
      const outcomes = settled.map((r) => (r.status === 'fulfilled' ? 'stored' : (r.reason as { reason?: string }).reason));
      expect(outcomes).toEqual(['stored', 'fork', 'quota-exceeded', 'not-hosted', 'stored']);
      expect(hexes((await s.keys(SPACE_A)).map((k) => k.id)).sort()).toEqual(hexes([id32(1), id32(2)]).sort());
      expect(hexes((await s.keys(SPACE_B)).map((k) => k.id))).toEqual([toHex(id32(6))]);
      expect((await s.getAccount(acct))!.used).toBe(100);
      expect((await s.spacesOf(id32(600))).map((n) => [toHex(n.space), n.creator])).toEqual([[toHex(SPACE_B), true]]);
    });

    const open_ = { max: 3, releasedBefore: 0 };
    const names = (rows: { name: string }[]) => rows.map((h) => h.name);

    it('gives a handle to the first account that claims it', async () => {
      const s = await fresh();
      expect(await s.claimHandle('alice', id32(1), open_)).toBe('claimed');
      expect(await s.claimHandle('alice', id32(1), open_)).toBe('claimed');
      expect(await s.claimHandle('alice', id32(2), open_)).toBe('taken');
      const held = (await s.handle('alice'))!;
      expect([held.name, toHex(held.account), held.dropped]).toEqual(['alice', toHex(id32(1)), undefined]);
      expect(await s.handle('bob')).toBeUndefined();
    });

    it('caps the names one account holds, counting dropped names until they are released', async () => {
      const s = await fresh();
      for (const n of ['a-1', 'a_2', 'a3']) expect(await s.claimHandle(n, id32(1), open_)).toBe('claimed');
      expect(await s.claimHandle('a4', id32(1), open_)).toBe('over-limit');
      expect(await s.handle('a4')).toBeUndefined();
      // A name the account already holds is not a new one.
      expect(await s.claimHandle('a3', id32(1), open_)).toBe('claimed');
      expect(await s.claimHandle('b1', id32(2), { max: 1, releasedBefore: 0 })).toBe('claimed');
      expect(await s.claimHandle('b2', id32(2), { max: 1, releasedBefore: 0 })).toBe('over-limit');
      await s.markHandleDropped('a3', id32(1), 100);
      expect(await s.claimHandle('a4', id32(1), { max: 3, releasedBefore: 99 })).toBe('over-limit');
      expect(await s.claimHandle('a4', id32(1), { max: 3, releasedBefore: 100 })).toBe('claimed');
      expect(names(await s.handlesOf(id32(1)))).toEqual(['a-1', 'a3', 'a4', 'a_2']);
      expect(names(await s.handlesOf(id32(3)))).toEqual([]);
    });

    it('releases a dropped name to another account only after the grace period', async () => {
      const s = await fresh();
      await s.claimHandle('alice', id32(1), open_);
      // Only the holder's drop counts, and the first time seen is kept.
      await s.markHandleDropped('alice', id32(2), 50);
      expect((await s.handle('alice'))!.dropped).toBeUndefined();
      await s.markHandleDropped('alice', id32(1), 100);
      await s.markHandleDropped('alice', id32(1), 200);
      expect((await s.handle('alice'))!.dropped).toBe(100);
      expect(await s.claimHandle('alice', id32(2), { max: 3, releasedBefore: 99 })).toBe('taken');
      // Claimed again by its log: no longer dropped.
      await s.markHandleDropped('alice', id32(1), null);
      expect((await s.handle('alice'))!.dropped).toBeUndefined();
      expect(await s.claimHandle('alice', id32(2), { max: 3, releasedBefore: 1000 })).toBe('taken');
      await s.markHandleDropped('alice', id32(1), 300);
      expect(await s.claimHandle('alice', id32(2), { max: 3, releasedBefore: 300 })).toBe('claimed');
      const now = (await s.handle('alice'))!;
      expect([toHex(now.account), now.dropped]).toEqual([toHex(id32(2)), undefined]);
      expect(names(await s.handlesOf(id32(1)))).toEqual([]);
      // The holder re-claiming its own dropped name clears the drop.
      await s.markHandleDropped('alice', id32(2), 400);
      expect(await s.claimHandle('alice', id32(2), { max: 3, releasedBefore: 0 })).toBe('claimed');
      expect((await s.handle('alice'))!.dropped).toBeUndefined();
    });

    it('keeps everything it acknowledged across a reopen', async () => {
      const s = await fresh();
      await s.putEntries([row(1), row(2)]);
      await s.putCard(id32(1), b(1));
      await s.setMeta('seq', b(2));
      await s.claimHandle('alice', id32(1), open_);
      await s.markHandleDropped('alice', id32(1), 123);
      await s.close();
      open = open.filter((x) => x !== s);
      const again = await reopen();
      expect(await again.countEntries()).toBe(2);
      expect([...(await again.getCard(id32(1)))!]).toEqual([1]);
      expect([...(await again.getMeta('seq'))!]).toEqual([2]);
      expect((await again.handle('alice'))!.dropped).toBe(123);
    });
  });
}

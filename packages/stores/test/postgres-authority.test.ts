import { afterAll, describe, expect, it } from 'vitest';
import { isFreeholdError, toHex, type EntryRow } from '@freehold/core';
import { PostgresStore } from '@freehold/stores';

const PG_URL = process.env.FREEHOLD_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';
const schema = `fh_authority_${process.pid}`;
afterAll(async () => {
  const s = await PostgresStore.open(PG_URL, schema);
  await s.drop();
  await s.close();
});

const key = (n: number): Uint8Array => new Uint8Array(32).fill(n);
let next = 1;
/** A row of `kind` (0: membership) in `space` by a device of its own. */
const row = (space: Uint8Array, kind = 1): EntryRow => {
  const n = next++;
  const id = new Uint8Array(32);
  new DataView(id.buffer).setUint32(0, n);
  return { id, space, doc: new Uint8Array(kind === 0 ? 0 : 16), kind, device: id, seq: 1, time: n, bytes: new Uint8Array(8) };
};
const hexes = (xs: Uint8Array[]) => xs.map(toHex).sort();

describe('PostgreSQL authority versions: what several nodes sharing one store validate against', () => {
  it('tells what changed after a version, and refuses stale a batch validated before a change it depends on', async () => {
    // Two stores on one schema: two nodes.
    const one = await PostgresStore.open(PG_URL, schema);
    const two = await PostgresStore.open(PG_URL, schema);
    try {
      const start = (await two.changesSince()).version;
      expect(await two.changesSince(start)).toEqual({ version: start, spaces: [], accounts: [] });

      // Node one: a membership entry in space 1 and a new identity log of account 7.
      await one.putEntries([row(key(1), 0)]);
      await one.putCard(key(7), new Uint8Array([1, 2, 3]));
      const seen = await two.changesSince(start);
      expect(seen.version).toBeGreaterThan(start);
      expect(hexes(seen.spaces)).toEqual(hexes([key(1)]));
      expect(hexes(seen.accounts)).toEqual(hexes([key(7)]));
      // Content is no change of authority.
      await one.putEntries([row(key(1))]);
      expect(await two.changesSince(seen.version)).toEqual({ version: seen.version, spaces: [], accounts: [] });

      // Node two validated at `start`: a batch in space 1, or by account 7, is stale; others are not.
      const refused = async (p: Promise<void>) => p.then(() => 'stored', (e: unknown) => (isFreeholdError(e, 'stale') ? 'stale' : String(e)));
      expect(await refused(two.putEntries([row(key(1))], { version: start, accounts: [] }))).toBe('stale');
      expect(await refused(two.putEntries([row(key(2))], { version: start, accounts: [key(7)] }))).toBe('stale');
      expect(await refused(two.putEntries([row(key(2))], { version: start, accounts: [key(8)] }))).toBe('stored');
      // Caught up, the same batches go through.
      expect(await refused(two.putEntries([row(key(1))], { version: seen.version, accounts: [key(7)] }))).toBe('stored');

      // A stale batch changes nothing: not its entries, nor the version.
      const before = await one.countEntries();
      const stale = row(key(1));
      expect(await refused(two.putEntries([stale], { version: start, accounts: [] }))).toBe('stale');
      expect(await one.hasEntry(stale.id)).toBe(false);
      expect(await one.countEntries()).toBe(before);

      // Deleting a membership entry is a change of its space.
      const op = row(key(3), 0);
      await one.putEntries([op]);
      const after = (await two.changesSince()).version;
      await one.deleteEntries([op.id]);
      expect(hexes((await two.changesSince(after)).spaces)).toEqual(hexes([key(3)]));
    } finally {
      await one.close();
      await two.close();
    }
  });
});

describe('PostgreSQL: one entry stored through two nodes at the same moment', () => {
  it('is stored once and acknowledged by both, never refused as a fork', async () => {
    const one = await PostgresStore.open(PG_URL, schema);
    const two = await PostgresStore.open(PG_URL, schema);
    try {
      const answers = new Map<string, number>();
      // The window is narrow (both insert before either commits), so it takes many rounds to meet it.
      for (let i = 0; i < 300; i++) {
        const r = row(key(9));
        for (const p of await Promise.allSettled([one.putEntries([r]), two.putEntries([r])])) {
          const k = p.status === 'fulfilled' ? 'stored' : isFreeholdError(p.reason) ? p.reason.reason : String(p.reason);
          answers.set(k, (answers.get(k) ?? 0) + 1);
        }
      }
      expect(Object.fromEntries(answers)).toEqual({ stored: 600 });
    } finally {
      await one.close();
      await two.close();
    }
  });
});

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Device, Replica, SyncSession, syncPair, toHex, encodeCard, type Store } from '@freehold/core';
import { SqliteStore } from '@freehold/stores';
import { get, introduce, newUser, put } from './helpers.js';

const root = mkdtempSync(join(tmpdir(), 'freehold-converge-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let fileNo = 0;
const sqlite = (): Store => new SqliteStore(join(root, `r${fileNo++}.db`));

const DOCS = ['a', 'b', 'c'];
type Action =
  | { t: 'edit'; who: number; doc: number; key: string; value: number }
  | { t: 'sync'; from: number; to: number }
  | { t: 'deliver'; from: number; to: number; pick: number[]; dup: boolean }
  | { t: 'backup'; who: number }
  | { t: 'restore'; who: number };

const action: fc.Arbitrary<Action> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ t: fc.constant('edit' as const), who: fc.integer({ min: 0, max: 2 }), doc: fc.integer({ min: 0, max: 2 }), key: fc.constantFrom('x', 'y', 'z'), value: fc.integer() }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('sync' as const), from: fc.integer({ min: 0, max: 4 }), to: fc.integer({ min: 0, max: 4 }) }) },
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant('deliver' as const),
      from: fc.integer({ min: 0, max: 4 }),
      to: fc.integer({ min: 0, max: 4 }),
      pick: fc.array(fc.nat(), { maxLength: 12 }),
      dup: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('backup' as const), who: fc.integer({ min: 3, max: 4 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('restore' as const), who: fc.integer({ min: 3, max: 4 }) }) },
);

async function copyStore(from: Store): Promise<Store> {
  const to = sqlite();
  for (const c of await from.cards()) await to.putCard(c.account, c.card);
  for (const s of await from.spaces()) await to.putEntries(await from.spaceEntries(s));
  return to;
}

async function allKeys(r: Replica): Promise<string[]> {
  const out: string[] = [];
  for (const s of await r.store.spaces()) out.push(...(await r.store.keys(s)).map((k) => toHex(k.id)));
  return out.sort();
}

describe('convergence', () => {
  it('replicas end identical after random edits, partial, duplicated and reordered deliveries and restored backups', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(action, { minLength: 5, maxLength: 30 }), async (actions) => {
        // Three writers, a reader whose replica can be restored from a backup, and a provider-like relay.
        const users = await Promise.all(['alice', 'bob', 'carol', 'dave'].map(async (n) => (await newUser(n, sqlite())).device));
        await introduce(...users);
        const [alice, bob, carol, dave] = users as [Device, Device, Device, Device];
        const space = await alice.createSpace(false);
        await alice.setRole(space, bob.account, 'writer');
        await alice.setRole(space, carol.account, 'writer');
        await alice.setRole(space, dave.account, 'reader');
        const relayStore = sqlite();
        for (const u of users) await relayStore.putCard(u.account, encodeCard(u.identity()));
        let relay = await Replica.open(relayStore);
        const replicas = (): Replica[] => [alice.replica, bob.replica, carol.replica, users[3]!.replica, relay];
        const backups = new Map<number, Store>();
        const offerAll = { offer: async () => 'all' as const };
        const syncReplicas = async (a: Replica, b: Replica) => {
          await syncPair(new SyncSession(a, { account: new Uint8Array(32), ...offerAll }), new SyncSession(b, { account: new Uint8Array(32), ...offerAll }));
        };
        // Everyone starts from Alice's membership ops.
        for (const r of replicas().slice(1)) await syncReplicas(alice.replica, r);

        for (const a of actions) {
          if (a.t === 'edit') await put(users[a.who]!, space, DOCS[a.doc]!, { [a.key]: a.value });
          else if (a.t === 'sync' && a.from !== a.to) await syncReplicas(replicas()[a.from]!, replicas()[a.to]!);
          else if (a.t === 'deliver' && a.from !== a.to) {
            const rows = await replicas()[a.from]!.store.spaceEntries(space);
            if (!rows.length) continue;
            const batch = a.pick.map((i) => rows[i % rows.length]!.bytes);
            if (a.dup) batch.push(...batch.slice().reverse());
            await replicas()[a.to]!.ingest(batch);
          } else if (a.t === 'backup') backups.set(a.who, await copyStore(replicas()[a.who]!.store));
          else if (a.t === 'restore' && backups.has(a.who)) {
            const restored = await copyStore(backups.get(a.who)!);
            if (a.who === 4) relay = await Replica.open(restored);
            else users[3] = await Device.open(restored, dave.keys, dave.account);
          }
        }
        // Quiescence: a few rounds of full syncs in a ring.
        for (let round = 0; round < 2; round++) {
          const rs = replicas();
          for (let i = 0; i < rs.length; i++) await syncReplicas(rs[i]!, rs[(i + 1) % rs.length]!);
        }
        const keys = await Promise.all(replicas().map(allKeys));
        for (const k of keys) expect(k).toEqual(keys[0]);
        for (const doc of DOCS) {
          const views = await Promise.all(users.map((u) => get(u, space, doc)));
          for (const v of views) expect(v).toEqual(views[0]);
        }
        for (const r of replicas()) await r.store.close();
      }),
      { numRuns: 12 },
    );
  });
});

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { installNativeCrypto } from '@freehold/node';
import { ProviderLink, register } from '@freehold/client';
import { Device, encodeCard, fingerprint, Kind, newDeviceKeys, possessionProof, toHex, utf8, type Entry } from '@freehold/core';
import { SqliteStore } from '@freehold/stores';
import { NO_FAULTS } from '../../../test-support/fault-proxy.js';
import { get, newDevice, put, tempDir, WS } from './helpers.js';
import { ProviderNode } from './provider-node.js';

installNativeCrypto();
const tmp = tempDir('fedfault');
afterAll(() => tmp.cleanup());

/** Rerun a failure with FREEHOLD_FAULT_SEED=<the printed seed>. */
const SEED = Number(process.env.FREEHOLD_FAULT_SEED ?? Math.floor(Math.random() * 2 ** 31));
const STEPS = Number(process.env.FREEHOLD_FAULT_STEPS ?? 40);
const rng = new fc.Random(xoroshiro128plus(SEED));
const pick = <T>(list: readonly T[]): T => list[rng.nextInt(0, list.length - 1)]!;
function shuffled<T>(list: readonly T[]): T[] {
  const out = [...list];
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.nextInt(0, i);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Client {
  name: string;
  device: Device;
  homes: ProviderNode[];
  /** Spaces it writes documents into, inboxes it appends to, and private spaces it administers. */
  writes: Uint8Array[];
  appends: Uint8Array[];
  owns: Uint8Array[];
  /** Others' spaces it reads or writes to: its providers mirror them, and its syncs ask for them. */
  others: { space: Uint8Array; owner: Uint8Array }[];
  /** Written, not yet acknowledged by a provider. */
  unacked: Entry[];
  n: number;
}

/** A space and the providers that must end up holding all of it (`partial`: only what their accounts wrote). */
interface Placement {
  name: string;
  space: Uint8Array;
  full: ProviderNode[];
  partial: ProviderNode[];
  /** Client replicas that read it whole. */
  readers: Client[];
}

/** Entries a provider acknowledged: id → the space and the provider. */
const acked = new Map<string, { space: string; by: ProviderNode }>();

async function syncVia(c: Client, node: ProviderNode, timeoutMs = 20_000): Promise<boolean> {
  let link: ProviderLink | undefined;
  const timeout = sleep(timeoutMs).then(() => {
    throw new Error(`sync of ${c.name} with ${node.name} timed out`);
  });
  try {
    const rejected: [number, string, string][] = [];
    await Promise.race([
      (async () => {
        link = await ProviderLink.connect(node.url, c.device, WS, 5_000);
        await link.sync(c.device, { interest: c.others.map((o) => o.space), onAck: (_n, r) => rejected.push(...r) });
      })(),
      timeout,
    ]);
    if (rejected.length) throw new Error(`${node.name} refused entries of ${c.name}: ${JSON.stringify(rejected)}`);
    for (const e of c.unacked) acked.set(toHex(e.id), { space: toHex(e.space), by: node });
    c.unacked = [];
    return true;
  } catch (e) {
    if (/refused entries/.test(String(e))) throw e;
    return false;
  } finally {
    link?.close();
  }
}

/** What one client writes in a step, drawn before anything runs, so concurrent writers keep the schedule fixed. */
interface Plan {
  client: Client;
  writes: ({ append: Uint8Array } | { rotate: Uint8Array } | { space: Uint8Array; doc: string })[];
  via: ProviderNode;
}

function plan(c: Client): Plan {
  const writes: Plan['writes'] = [];
  for (let k = rng.nextInt(1, 4); k > 0; k--) {
    const roll = rng.nextInt(0, 19);
    // Now and then a new epoch: what follows is sealed under a key other replicas must learn first.
    if (c.owns.length && roll < 2) writes.push({ rotate: pick(c.owns) });
    else if (c.appends.length && roll < 7) writes.push({ append: pick(c.appends) });
    else writes.push({ space: pick(c.writes), doc: `${c.name}/${rng.nextInt(0, 5)}` });
  }
  return { client: c, writes, via: pick(c.homes) };
}

async function write({ client: c, writes, via }: Plan): Promise<void> {
  for (const w of writes) {
    const n = c.n++;
    if ('append' in w) c.unacked.push(await c.device.write(w.append, Kind.append, new Uint8Array(16), utf8(`message ${n} from ${c.name}`)));
    else if ('rotate' in w) c.unacked.push(await c.device.rotate(w.rotate));
    else c.unacked.push(await put(c.device, w.space, w.doc, { [`n${n}`]: n }));
  }
  await syncVia(c, via);
}

/** What is wrong with the providers' copies now (empty once they agree and hold every acknowledged entry). */
async function disagreements(placements: Placement[], read: (node: ProviderNode, space: Uint8Array) => Promise<Set<string>>): Promise<string[]> {
  const problems: string[] = [];
  for (const p of placements) {
    const copies = new Map<ProviderNode, Set<string>>();
    for (const node of [...p.full, ...p.partial]) copies.set(node, await read(node, p.space));
    const [first, ...rest] = p.full;
    const reference = copies.get(first!)!;
    for (const node of rest) {
      const ids = copies.get(node)!;
      const missing = [...reference].filter((id) => !ids.has(id)).length;
      const extra = [...ids].filter((id) => !reference.has(id)).length;
      if (missing || extra) problems.push(`${p.name}: ${node.name} lacks ${missing} of ${first!.name}'s ${reference.size} entries and has ${extra} it lacks`);
    }
    for (const node of p.partial) {
      const extra = [...copies.get(node)!].filter((id) => !reference.has(id)).length;
      if (extra) problems.push(`${p.name}: ${node.name} holds ${extra} entries ${first!.name} lacks`);
    }
    for (const [id, a] of acked) {
      if (a.space !== toHex(p.space)) continue;
      for (const node of [...p.full, ...(p.partial.includes(a.by) ? [a.by] : [])]) {
        if (!copies.get(node)!.has(id)) problems.push(`${p.name}: ${node.name} lacks entry ${id.slice(0, 12)} acknowledged by ${a.by.name}`);
      }
    }
  }
  return problems;
}

async function converge(placements: Placement[], ms: number): Promise<number> {
  const t = Date.now();
  let problems: string[] = [];
  while (Date.now() - t < ms) {
    problems = await disagreements(placements, (node, space) => node.peek(space));
    if (!problems.length) return Date.now() - t;
    await sleep(250);
  }
  throw new Error(`providers did not converge within ${ms} ms (seed ${SEED}):\n${problems.slice(0, 20).join('\n')}`);
}

describe('federation under faults', () => {
  it('random writes, kill -9 and restarts, a network that drops and delays: every copy converges, nothing acknowledged is lost', async () => {
    console.log(`federation faults: seed ${SEED}, ${STEPS} steps (rerun with FREEHOLD_FAULT_SEED=${SEED})`);
    // Each proxy draws from a generator of its own: how much traffic it sees varies from run to run, and must not
    // shift the schedule of steps.
    const random = (i: number) => {
      const own = new fc.Random(xoroshiro128plus(SEED + i));
      return () => own.nextDouble();
    };
    const p1 = await ProviderNode.create('P1', { dir: join(tmp.dir, 'p1') }, random(1));
    const p2 = await ProviderNode.create('P2', { schema: `fh_fedfault_${process.pid}` }, random(2));
    const p3 = await ProviderNode.create('P3', { dir: join(tmp.dir, 'p3') }, random(3));
    const nodes = [p1, p2, p3];
    try {
      await Promise.all(nodes.map((n) => n.start()));

      // Alice lives on P1 and P2 with two devices, Bob on P2 and P3 (P2 is PostgreSQL), Carol on P3 alone.
      const alice = await newDevice(tmp.dir, 'alice');
      const phoneKeys = newDeviceKeys();
      await alice.addDevice({ sign: phoneKeys.sign.publicKey, box: phoneKeys.box.publicKey, name: 'phone', proof: possessionProof(alice.account, phoneKeys) });
      const bob = await newDevice(tmp.dir, 'bob');
      const carol = await newDevice(tmp.dir, 'carol');
      const homes = new Map<Device, ProviderNode[]>([
        [alice, [p1, p2]],
        [bob, [p2, p3]],
        [carol, [p3]],
      ]);
      for (const [d, at] of homes) {
        await d.setProviders(at.map((n) => n.url));
        for (const n of at) await register(n.url, d);
      }
      const phoneStore = new SqliteStore(join(tmp.dir, 'alice-phone.db'));
      await phoneStore.putCard(alice.account, encodeCard(alice.identity()));
      const phone = await Device.open(phoneStore, phoneKeys, alice.account);
      const devices = [alice, phone, bob, carol];
      for (const d of devices) for (const o of [alice, bob, carol]) if (o.account !== d.account) await d.replica.addCard(encodeCard(o.identity()));

      // Alice's notes (Bob writes too), her public board (Carol follows) and inbox (Bob and Carol write to it);
      // Bob's shared space (Alice writes, Carol reads); Carol's journal (Alice reads, Bob writes).
      const aNotes = await alice.createSpace(false);
      await alice.setRole(aNotes, bob.account, 'writer');
      const aBoard = await alice.createSpace(true);
      const aInbox = await alice.createSpace(false, { inbox: true });
      const bShared = await bob.createSpace(false);
      await bob.setRole(bShared, alice.account, 'writer');
      await bob.setRole(bShared, carol.account, 'reader');
      const cJournal = await carol.createSpace(false);
      await carol.setRole(cJournal, alice.account, 'reader');
      await carol.setRole(cJournal, bob.account, 'writer');

      const client = (
        name: string,
        device: Device,
        at: ProviderNode[],
        spaces: { writes: Uint8Array[]; appends?: Uint8Array[]; owns?: Uint8Array[] },
        others: Client['others'],
      ): Client => ({
        name,
        device,
        homes: at,
        writes: spaces.writes,
        appends: spaces.appends ?? [],
        owns: spaces.owns ?? [],
        others,
        unacked: [],
        n: 0,
      });
      const aliceReads = [
        { space: bShared, owner: bob.account },
        { space: cJournal, owner: carol.account },
      ];
      const clients = [
        client('alice', alice, [p1, p2], { writes: [aNotes, aBoard, bShared], owns: [aNotes] }, aliceReads),
        client('phone', phone, [p1, p2], { writes: [aNotes, aBoard, bShared], owns: [aNotes] }, aliceReads),
        client('bob', bob, [p2, p3], { writes: [aNotes, bShared, cJournal], appends: [aInbox], owns: [bShared] }, [
          { space: aNotes, owner: alice.account },
          { space: aInbox, owner: alice.account },
          { space: cJournal, owner: carol.account },
        ]),
        client('carol', carol, [p3], { writes: [cJournal], appends: [aInbox], owns: [cJournal] }, [
          { space: aBoard, owner: alice.account },
          { space: aInbox, owner: alice.account },
          { space: bShared, owner: bob.account },
        ]),
      ];
      const [cAlice, cPhone, cBob, cCarol] = clients as [Client, Client, Client, Client];
      // Each owner's first sync, then every client asks its providers to mirror what it reads of others.
      for (const c of [cAlice, cBob, cCarol]) expect(await syncVia(c, c.homes[0]!)).toBe(true);
      for (const c of clients) {
        for (const n of c.homes) {
          const link = await ProviderLink.connect(n.url, c.device, WS);
          await link.mirror(c.device, c.others);
          link.close();
        }
      }
      const placements: Placement[] = [
        { name: 'alice/notes', space: aNotes, full: [p1, p2, p3], partial: [], readers: [cAlice, cPhone, cBob] },
        { name: 'alice/board', space: aBoard, full: [p1, p2, p3], partial: [], readers: [cAlice, cPhone, cCarol] },
        { name: 'alice/inbox', space: aInbox, full: [p1, p2], partial: [p3], readers: [cAlice, cPhone] },
        { name: 'bob/shared', space: bShared, full: [p2, p3, p1], partial: [], readers: [cAlice, cPhone, cBob, cCarol] },
        { name: 'carol/journal', space: cJournal, full: [p3, p1, p2], partial: [], readers: [cAlice, cPhone, cBob, cCarol] },
      ];
      await converge(placements, 30_000);
      for (const c of clients) for (const n of c.homes) expect(await syncVia(c, n)).toBe(true);

      // The random part.
      const tally = { writes: 0, rotations: 0, kills: 0, restarts: 0, cuts: 0, weather: 0, partitions: 0 };
      /** Documents written, by space (hex): at the end every reader of the space must see each the same. */
      const docs = new Map<string, Set<string>>();
      const downAt = new Map<ProviderNode, number>();
      const partitionUntil = new Map<ProviderNode, number>();
      const started = Date.now();
      for (let step = 0; step < STEPS; step++) {
        // Nothing stays broken for long: downtime and partitions end within a few steps.
        for (const [n, at] of downAt) {
          if (step - at >= 4 || (step > at && rng.nextInt(0, 2) === 0)) {
            await n.start();
            downAt.delete(n);
            tally.restarts++;
          }
        }
        for (const [n, until] of partitionUntil) {
          if (step >= until) {
            n.proxy.set({ refuse: false });
            partitionUntil.delete(n);
          }
        }
        const roll = rng.nextInt(0, 99);
        if (roll < 55) {
          // One to three clients write at once, each syncing with one of its providers.
          const plans = shuffled(clients).slice(0, rng.nextInt(1, 3)).map(plan);
          for (const w of plans.flatMap((p) => p.writes)) {
            if ('rotate' in w) tally.rotations++;
            if ('doc' in w) docs.set(toHex(w.space), (docs.get(toHex(w.space)) ?? new Set()).add(w.doc));
          }
          await Promise.all(plans.map(write));
          tally.writes += plans.length;
        } else if (roll < 65) {
          const up = nodes.filter((n) => n.running);
          if (up.length) {
            const n = pick(up);
            await n.stop('SIGKILL');
            downAt.set(n, step);
            tally.kills++;
          }
        } else if (roll < 75) {
          pick(nodes).proxy.cutAll();
          tally.cuts++;
        } else if (roll < 88) {
          pick(nodes).proxy.set({ delayMs: pick([0, 0, 20, 100, 300]), dropRate: pick([0, 0.1, 0.3]), cutWithinMs: 3000 });
          tally.weather++;
        } else if (roll < 93) {
          const n = pick(nodes);
          n.proxy.set({ refuse: true });
          partitionUntil.set(n, step + rng.nextInt(1, 3));
          tally.partitions++;
        }
        await sleep(rng.nextInt(0, 400));
      }
      const faultMs = Date.now() - started;

      // The weather clears: every provider up, the network clean. The providers converge by themselves.
      for (const n of nodes) {
        n.proxy.set(NO_FAULTS);
        if (!n.running) await n.start();
      }
      const settled = await converge(placements, 60_000);
      // Clients send what was never acknowledged, and read back everything.
      for (let round = 0; round < 2; round++) {
        for (const c of clients) for (const n of c.homes) expect(await syncVia(c, n), `${c.name} syncs with ${n.name}`).toBe(true);
        await converge(placements, 30_000);
      }
      const cut = nodes.reduce((s, n) => s + n.proxy.stats.cut, 0);
      console.log(
        `federation faults: ${JSON.stringify(tally)}, ${cut} connections cut, ${acked.size} entries acknowledged, ` +
          `faults for ${faultMs} ms; providers converged ${settled} ms after the faults stopped`,
      );

      // Stopped, every provider's store and every replica agree space by space: same fingerprint over the whole
      // space, and every acknowledged entry in it.
      for (const n of nodes) await n.stop();
      const stores = new Map(await Promise.all(nodes.map(async (n) => [n, await n.openStore()] as const)));
      try {
        const ids = async (node: ProviderNode, space: Uint8Array) => new Set((await stores.get(node)!.keys(space)).map((k) => toHex(k.id)));
        expect(await disagreements(placements, ids)).toEqual([]);
        for (const p of placements) {
          const print = async (keys: { time: number; id: Uint8Array }[]) => toHex(fingerprint(keys, 0, keys.length));
          const expected = await print(await stores.get(p.full[0]!)!.keys(p.space));
          for (const n of p.full) expect(await print(await stores.get(n)!.keys(p.space)), `${p.name} at ${n.name}`).toBe(expected);
          for (const c of p.readers) expect(await print(await c.device.store.keys(p.space)), `${p.name} at ${c.name}`).toBe(expected);
          expect((await stores.get(p.full[0]!)!.keys(p.space)).length).toBeGreaterThan(0);
        }
        // Every write was acknowledged in the end (the checks above found each at every provider of its space).
        expect(clients.map((c) => c.unacked.length)).toEqual([0, 0, 0, 0]);
        expect(acked.size).toBeGreaterThan(STEPS / 4);
        // And every reader decrypts the same documents, whatever epochs were rotated in between.
        for (const p of placements) {
          for (const doc of docs.get(toHex(p.space)) ?? []) {
            const [first, ...rest] = await Promise.all(p.readers.map((c) => get(c.device, p.space, doc)));
            expect(Object.keys(first!).length, `${p.name} ${doc}`).toBeGreaterThan(0);
            for (const [i, view] of rest.entries()) expect(view, `${p.name} ${doc} at ${p.readers[i + 1]!.name}`).toEqual(first);
          }
        }
      } finally {
        for (const s of stores.values()) await s.close();
      }
    } catch (e) {
      // The providers' logs outlive the test's folder, for the post-mortem.
      const logs = mkdtempSync(join(tmpdir(), `freehold-fedfault-${SEED}-`));
      for (const n of nodes) writeFileSync(join(logs, `${n.name}.log`), n.output());
      console.log(`federation faults failed with seed ${SEED}; providers' logs in ${logs} (${nodes.map((n) => `${n.name} ${n.url}`).join(', ')})`);
      throw e;
    } finally {
      for (const n of nodes) await n.dispose();
    }
  }, 150_000);
});

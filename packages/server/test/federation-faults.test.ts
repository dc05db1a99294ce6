import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { WebSocketServer } from 'ws';
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { installNativeCrypto } from '@freehold/node';
import { ProviderLink, register } from '@freehold/client';
import { decodeFrame, Device, encodeCard, encodeFrame, fingerprint, Kind, newDeviceKeys, possessionProof, toHex, utf8, type Entry } from '@freehold/core';
import { SqliteStore } from '@freehold/stores';
import { NO_FAULTS } from '../../../test-support/fault-proxy.js';
import { newDevice, put, syncWith, tempDir, until, WS } from './helpers.js';
import { ProviderNode } from './provider-node.js';

installNativeCrypto();
const tmp = tempDir('fedfault');
afterAll(() => tmp.cleanup());

/** Rerun a failure with FREEHOLD_FAULT_SEED=<the printed seed>. */
const SEED = Number(process.env.FREEHOLD_FAULT_SEED ?? Math.floor(Math.random() * 2 ** 31));
const STEPS = Number(process.env.FREEHOLD_FAULT_STEPS ?? 40);
const rng = new fc.Random(xoroshiro128plus(SEED));
const pick = <T>(list: readonly T[]): T => list[rng.nextInt(0, list.length - 1)]!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const hex = toHex;

interface Client {
  name: string;
  device: Device;
  homes: ProviderNode[];
  /** Spaces it writes documents into, and inboxes it appends to. */
  writes: Uint8Array[];
  appends: Uint8Array[];
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
    for (const e of c.unacked) acked.set(hex(e.id), { space: hex(e.space), by: node });
    c.unacked = [];
    return true;
  } catch (e) {
    if (/refused entries/.test(String(e))) throw e;
    return false;
  } finally {
    link?.close();
  }
}

async function write(c: Client): Promise<void> {
  for (let k = rng.nextInt(1, 4); k > 0; k--) {
    if (c.appends.length && rng.nextInt(0, 3) === 0) {
      c.unacked.push(await c.device.write(pick(c.appends), Kind.append, new Uint8Array(16), utf8(`message ${c.n++} from ${c.name}`)));
    } else {
      c.unacked.push(await put(c.device, pick(c.writes), `${c.name}/${rng.nextInt(0, 5)}`, { [`n${c.n}`]: c.n++ }));
    }
  }
  await syncVia(c, pick(c.homes));
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
      if (a.space !== hex(p.space)) continue;
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
    const random = () => rng.nextDouble();
    const p1 = await ProviderNode.create('P1', { dir: join(tmp.dir, 'p1') }, random);
    const p2 = await ProviderNode.create('P2', { schema: `fh_fedfault_${process.pid}` }, random);
    const p3 = await ProviderNode.create('P3', { dir: join(tmp.dir, 'p3') }, random);
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

      const client = (name: string, device: Device, at: ProviderNode[], writes: Uint8Array[], appends: Uint8Array[], others: Client['others']): Client => ({
        name,
        device,
        homes: at,
        writes,
        appends,
        others,
        unacked: [],
        n: 0,
      });
      const aliceReads = [
        { space: bShared, owner: bob.account },
        { space: cJournal, owner: carol.account },
      ];
      const clients = [
        client('alice', alice, [p1, p2], [aNotes, aBoard, bShared], [], aliceReads),
        client('phone', phone, [p1, p2], [aNotes, aBoard, bShared], [], aliceReads),
        client('bob', bob, [p2, p3], [aNotes, bShared, cJournal], [aInbox], [
          { space: aNotes, owner: alice.account },
          { space: aInbox, owner: alice.account },
          { space: cJournal, owner: carol.account },
        ]),
        client('carol', carol, [p3], [cJournal], [aInbox], [
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
      const tally = { writes: 0, kills: 0, restarts: 0, cuts: 0, weather: 0, partitions: 0 };
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
          const writers = [...clients].sort(() => rng.nextDouble() - 0.5).slice(0, rng.nextInt(1, 3));
          await Promise.all(writers.map((c) => write(c)));
          tally.writes += writers.length;
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
        const ids = async (node: ProviderNode, space: Uint8Array) => new Set((await stores.get(node)!.keys(space)).map((k) => hex(k.id)));
        expect(await disagreements(placements, ids)).toEqual([]);
        for (const p of placements) {
          const print = async (keys: { time: number; id: Uint8Array }[]) => hex(fingerprint(keys, 0, keys.length));
          const expected = await print(await stores.get(p.full[0]!)!.keys(p.space));
          for (const n of p.full) expect(await print(await stores.get(n)!.keys(p.space)), `${p.name} at ${n.name}`).toBe(expected);
          for (const c of p.readers) expect(await print(await c.device.store.keys(p.space)), `${p.name} at ${c.name}`).toBe(expected);
          expect((await stores.get(p.full[0]!)!.keys(p.space)).length).toBeGreaterThan(0);
        }
        // Every write was acknowledged in the end (the checks above found each at every provider of its space).
        expect(clients.map((c) => c.unacked.length)).toEqual([0, 0, 0, 0]);
        expect(acked.size).toBeGreaterThan(STEPS / 4);
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

  /** Writes into a space through one provider, one entry per sync, for `ms`. */
  async function writeFor(d: Device, space: Uint8Array, url: string, ms: number): Promise<number> {
    const end = Date.now() + ms;
    let n = 0;
    for (; Date.now() < end; n++) {
      await put(d, space, `burst/${n % 4}`, { [`n${n}`]: n });
      await syncWith(d, url);
    }
    return n;
  }

  /** Waits until two providers hold the same entries of a space; says how far apart they are if they do not. */
  async function same(a: ProviderNode, b: ProviderNode, space: Uint8Array, ms: number): Promise<void> {
    const agree = async () => {
      const [x, y] = [await a.peek(space), await b.peek(space)];
      return x.size > 0 && x.size === y.size && [...x].every((id) => y.has(id));
    };
    await until(agree, ms).catch(async () => {
      throw new Error(`${b.name} holds ${(await b.peek(space)).size} entries of the space, ${a.name} ${(await a.peek(space)).size}`);
    });
  }

  it('what a provider stores while its link to a peer reconciles reaches the peer, with no further reconnect', async () => {
    const p1 = await ProviderNode.create('P1', { dir: join(tmp.dir, 'lead-p1') }, Math.random);
    const p2 = await ProviderNode.create('P2', { dir: join(tmp.dir, 'lead-p2') }, Math.random);
    try {
      await Promise.all([p1.start(), p2.start()]);
      const alice = await newDevice(tmp.dir, 'alice-lead');
      await alice.setProviders([p1.url, p2.url]);
      for (const n of [p1, p2]) await register(n.url, alice);
      const space = await alice.createSpace(false);
      await put(alice, space, 'first', { n: 0 });
      await syncWith(alice, p1.directUrl);
      await same(p1, p2, space, 15_000);
      // P1's link to P2 drops and reconciles again over a slow network while Alice keeps writing through P1.
      // P2's own link to P1 stays up and subscribes to nothing: only P1's link carries her entries to P2.
      p2.proxy.set({ delayMs: 200 });
      p2.proxy.cutAll();
      const written = await writeFor(alice, space, p1.directUrl, 4000);
      p2.proxy.set(NO_FAULTS);
      expect(written).toBeGreaterThan(5);
      await same(p1, p2, space, 5000);
    } finally {
      for (const n of [p1, p2]) await n.dispose();
    }
  }, 60_000);

  it('what the owner’s provider stores while a mirror’s link reconciles reaches the mirror, with no further reconnect', async () => {
    const p1 = await ProviderNode.create('P1', { dir: join(tmp.dir, 'sub-p1') }, Math.random);
    const p3 = await ProviderNode.create('P3', { dir: join(tmp.dir, 'sub-p3') }, Math.random);
    try {
      await Promise.all([p1.start(), p3.start()]);
      const alice = await newDevice(tmp.dir, 'alice-sub');
      await alice.setProviders([p1.url]);
      await register(p1.url, alice);
      const board = await alice.createSpace(true);
      await put(alice, board, 'first', { n: 0 });
      await syncWith(alice, p1.directUrl);
      const bob = await newDevice(tmp.dir, 'bob-sub');
      await bob.setProviders([p3.url]);
      await register(p3.url, bob);
      await bob.replica.addCard(encodeCard(alice.identity()));
      const link = await ProviderLink.connect(p3.directUrl, bob, WS);
      await link.mirror(bob, [{ space: board, owner: alice.account }]);
      link.close();
      await same(p1, p3, board, 15_000);
      // P3's link to P1 (the only link: P1 mirrors nothing of P3's) drops and reconciles again slowly while
      // Alice writes through P1; P3 then subscribes to the board again, and nothing may fall between.
      p1.proxy.set({ delayMs: 200 });
      p1.proxy.cutAll();
      const written = await writeFor(alice, board, p1.directUrl, 4000);
      p1.proxy.set(NO_FAULTS);
      expect(written).toBeGreaterThan(5);
      await same(p1, p3, board, 5000);
    } finally {
      for (const n of [p1, p3]) await n.dispose();
    }
  }, 60_000);

  it('a provider closes each session a peer refuses, and exits at once on SIGTERM', async () => {
    // A peer that answers this provider's key with a refusal and then leaves the socket open, as a rate-limited
    // peer does.
    const peer = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise((r) => peer.once('listening', r));
    const peerUrl = `http://127.0.0.1:${(peer.address() as AddressInfo).port}`;
    let attempts = 0;
    let mostOpen = 0;
    peer.on('connection', (ws) => {
      attempts++;
      mostOpen = Math.max(mostOpen, peer.clients.size);
      ws.send(encodeFrame(['challenge', randomBytes(32), new URL(peerUrl).host]));
      ws.on('message', (d: Buffer) => {
        if (decodeFrame(new Uint8Array(d))[0] === 'peer') ws.send(encodeFrame(['error', 'rate-limited', 'too many provider sessions from this network']));
      });
    });
    const p1 = await ProviderNode.create('P1', { dir: join(tmp.dir, 'refused-p1') }, Math.random);
    try {
      await p1.start();
      const alice = await newDevice(tmp.dir, 'alice-refused');
      await alice.setProviders([p1.url, peerUrl]);
      await register(p1.url, alice);
      await until(() => attempts >= 4, 15_000);
      expect(mostOpen).toBe(1);
      const t = Date.now();
      await p1.stop();
      expect(Date.now() - t).toBeLessThan(5000);
    } finally {
      await p1.dispose();
      for (const ws of peer.clients) ws.terminate();
      await new Promise((r) => peer.close(r));
    }
  }, 60_000);

  it('a mirror asked for while the link to the owner’s provider is reconciling fills', async () => {
    // Every chunk to and from P1 waits exactly delayMs (the proxy's random draw is always 1).
    const p1 = await ProviderNode.create('P1', { dir: join(tmp.dir, 'kick-p1') }, () => 1);
    const p3 = await ProviderNode.create('P3', { dir: join(tmp.dir, 'kick-p3') }, Math.random);
    try {
      await Promise.all([p1.start(), p3.start()]);
      const alice = await newDevice(tmp.dir, 'alice-kick');
      await alice.setProviders([p1.url]);
      await register(p1.url, alice);
      const boards = [await alice.createSpace(true), await alice.createSpace(true)];
      await syncWith(alice, p1.directUrl);
      const bob = await newDevice(tmp.dir, 'bob-kick');
      await bob.setProviders([p3.url]);
      await register(p3.url, bob);
      await bob.replica.addCard(encodeCard(alice.identity()));
      const follow = async (board: Uint8Array) => {
        const link = await ProviderLink.connect(p3.directUrl, bob, WS);
        await link.mirror(bob, [{ space: board, owner: alice.account }]);
        link.close();
      };
      // Bob follows one board: P3 links to P1 over a slow network. P1 logs when it lets the link in; its answer
      // reaches P3 300 ms later, and the reconciliation that follows takes several 600 ms round trips. Bob
      // follows the second board in the middle of it.
      p1.proxy.set({ delayMs: 300 });
      await follow(boards[0]!);
      await until(() => p1.output().includes('"event":"peer-auth"'), 10_000);
      await sleep(700);
      await follow(boards[1]!);
      p1.proxy.set(NO_FAULTS);
      for (const board of boards) await same(p1, p3, board, 10_000);
    } finally {
      for (const n of [p1, p3]) await n.dispose();
    }
  }, 60_000);
});

import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installNativeCrypto } from '@freehold/node';
import { ProviderLink, register } from '@freehold/client';
import {
  createEntry,
  decodeFrame,
  Device,
  encode,
  encodeCard,
  encodeFrame,
  Kind,
  SPACE_INDEX_META,
  spaceIdOf,
  toHex,
  type Entry,
} from '@freehold/core';
import { SqliteStore } from '@freehold/stores';
import { freePort } from '../../../test-support/net.js';
import { get, newDevice, put, startServer, syncWith, tempDir, until, WS } from './helpers.js';
import type { RunningServer } from '../src/index.js';

installNativeCrypto();
const tmp = tempDir('session-cost');

/** Spaces of other accounts the provider holds: a session must not cost in proportion to them. */
const CROWD_ACCOUNTS = 4;
const CROWD_SPACES = 5000;

/** Create operations of `count` public spaces, signed by a device that holds none of them (fast: no store). */
function publicCreates(d: Device, count: number): Entry[] {
  const out: Entry[] = [];
  let prev: Uint8Array = new Uint8Array(0);
  for (let seq = 1; seq <= count; seq++) {
    const nonce = crypto.getRandomValues(new Uint8Array(16));
    const payload = encode({ t: 'create', deps: [], creator: d.account, nonce, public: true });
    const space = spaceIdOf(d.account, nonce, true);
    const e = createEntry({ kind: Kind.membership, space, doc: new Uint8Array(0), device: d.id, seq, prev, basis: new Uint8Array(0), time: Date.now() }, d.keys.sign, payload.length, () => payload);
    prev = e.id;
    out.push(e);
  }
  return out;
}

/** Sends entries in frames of 100, four unacknowledged at a time, and checks that every one was stored. */
async function pushAll(url: string, d: Device, entries: Entry[]): Promise<void> {
  const link = await ProviderLink.connect(url, d, WS);
  try {
    const frames = Array.from({ length: Math.ceil(entries.length / 100) }, (_, i) => encodeFrame(['entries', entries.slice(i * 100, i * 100 + 100).map((e) => e.bytes)]));
    let sent = 0;
    while (sent < Math.min(4, frames.length)) link.send(frames[sent++]!);
    for (let acked = 0; acked < frames.length; ) {
      const f = decodeFrame(await link.next());
      if (f[0] !== 'ack') continue;
      expect(f[2]).toEqual([]);
      acked++;
      if (sent < frames.length) link.send(frames[sent++]!);
    }
  } finally {
    link.close();
  }
}

/** Spaces the provider looked at for sessions of this kind so far (Connection counts every offer check). */
async function offerChecks(server: RunningServer, peer: 'client' | 'provider'): Promise<number> {
  const { values } = await server.provider.opts.metrics.offerChecks.get();
  return values.find((v) => v.labels.peer === peer)?.value ?? 0;
}

const hexes = (xs: Uint8Array[]) => xs.map(toHex).sort();

describe('a session costs what its account has, not what the provider holds', () => {
  const port = { p1: 0 };
  const data = join(tmp.dir, 'p1');
  let p1: RunningServer;
  let url: string;
  let alice: Device;
  const own: Uint8Array[] = [];
  let shared: Uint8Array;
  let bobInbox: Uint8Array;
  let carolBoard: Uint8Array;

  /** Alice's keys on a new, empty replica: what it holds after one sync is what the provider offered. */
  async function freshAlice(): Promise<Device> {
    const store = new SqliteStore(join(tmp.dir, `alice-fresh-${Math.random().toString(36).slice(2)}.db`));
    await store.putCard(alice.account, encodeCard(alice.identity()));
    return Device.open(store, alice.keys, alice.account);
  }

  /** Connects a fresh replica of Alice's asking for what she follows; returns it, the time and the checks made. */
  async function connect(): Promise<{ d: Device; ms: number; checks: number; loads: number }> {
    const d = await freshAlice();
    const before = { checks: await offerChecks(p1, 'client'), loads: p1.provider.replica.graphLoads };
    const t = performance.now();
    const { rejected } = await syncWith(d, url, [bobInbox, carolBoard]);
    const ms = performance.now() - t;
    expect(rejected).toEqual([]);
    return { d, ms, checks: (await offerChecks(p1, 'client')) - before.checks, loads: p1.provider.replica.graphLoads - before.loads };
  }

  /** Everything Alice should receive: her spaces, the one she was added to, the inbox she wrote to, the board she follows. */
  async function receivedEverything(d: Device): Promise<void> {
    expect(hexes(await d.store.spaces())).toEqual(hexes([...own, shared, bobInbox, carolBoard]));
    expect(await get(d, own[0]!, 'note')).toMatchObject({ text: 'mine' });
    expect(await get(d, shared, 'plan')).toMatchObject({ text: 'for Alice' });
    expect(await get(d, carolBoard, 'post')).toMatchObject({ text: 'public' });
    const appended = (await d.store.spaceEntries(bobInbox, Kind.append)).map((r) => toHex(r.device));
    expect(appended).toEqual([toHex(d.id)]);
  }

  beforeAll(async () => {
    port.p1 = await freePort();
    url = `http://127.0.0.1:${port.p1}`;
    p1 = await startServer({ port: port.p1, data, publicUrl: url });
    const hosted = async (name: string) => {
      const d = await newDevice(tmp.dir, name);
      await d.setProviders([url]);
      await register(url, d);
      return d;
    };
    // The crowd: accounts hosted here with thousands of spaces each.
    await Promise.all(
      Array.from({ length: CROWD_ACCOUNTS }, async (_, i) => {
        const d = await hosted(`crowd${i}`);
        await pushAll(url, d, publicCreates(d, CROWD_SPACES));
      }),
    );
    alice = await hosted('alice');
    const bob = await hosted('bob');
    const carol = await hosted('carol');
    // Alice's own ten spaces.
    for (let i = 0; i < 7; i++) own.push(await alice.createSpace(false));
    own.push(await alice.createSpace(true), await alice.createSpace(true), await alice.createSpace(false, { inbox: true }));
    await put(alice, own[0]!, 'note', { text: 'mine' });
    await syncWith(alice, url);
    // Bob adds Alice to a space of his; she writes to his inbox. Carol has a public board Alice follows.
    await bob.replica.addCard(encodeCard(alice.identity()));
    shared = await bob.createSpace(false);
    await bob.setRole(shared, alice.account, 'reader');
    await put(bob, shared, 'plan', { text: 'for Alice' });
    bobInbox = await bob.createSpace(false, { inbox: true });
    await syncWith(bob, url);
    carolBoard = await carol.createSpace(true);
    await put(carol, carolBoard, 'post', { text: 'public' });
    await syncWith(carol, url);
    await syncWith(alice, url, [bobInbox]);
    await alice.write(bobInbox, Kind.append, new Uint8Array(16), new TextEncoder().encode('follow me back'));
    await syncWith(alice, url, [bobInbox]);
  }, 300_000);

  afterAll(async () => {
    await p1?.close();
    tmp.cleanup();
  });

  it('a hosted client is offered the spaces that name it (and what it asks for), whatever else the provider holds', async () => {
    expect((await p1.provider.store.spaces()).length).toBeGreaterThan(CROWD_ACCOUNTS * CROWD_SPACES);
    const { d, ms, checks, loads } = await connect();
    console.log(`hosted client with ${own.length} spaces connects to a provider of ${CROWD_ACCOUNTS * CROWD_SPACES} more: ${ms.toFixed(0)} ms, ${checks} spaces checked, ${loads} graphs loaded`);
    await receivedEverything(d);
    // Her ten, the one she was added to, and the two she asked for: nothing of the crowd's.
    expect(checks).toBeGreaterThanOrEqual(own.length + 3);
    expect(checks).toBeLessThan(50);
    expect(loads).toBeLessThan(50);
  });

  it('a provider peering for one account looks only at the spaces it shares with the peer', async () => {
    const port2 = await freePort();
    const p2Url = `http://127.0.0.1:${port2}`;
    const startP2 = () => startServer({ port: port2, data: join(tmp.dir, 'p2'), publicUrl: p2Url });
    let p2 = await startP2();
    try {
      await alice.setProviders([url, p2Url]);
      await register(p2Url, alice);
      // P1 learns of P2 from Alice's log and links to it; P2 fills from P1 with no client talking to it.
      await syncWith(alice, url);
      const loads = p1.provider.replica.graphLoads;
      expect(hexes(await p1.provider.shares.spacesHomedAt(p2Url))).toEqual(hexes(own));
      // Found through the index: no membership graph is read (the crowd's would be, walking every space).
      expect(p1.provider.replica.graphLoads).toBe(loads);
      await until(async () => hexes(await p2.provider.store.spaces()).join() === hexes(own).join() || undefined, 30_000);
      expect(await p2.provider.store.countEntries()).toBe((await Promise.all(own.map((s) => p1.provider.store.keys(s)))).flat().length);
      expect(await offerChecks(p2, 'provider')).toBeLessThan(50);
      // P2 restarts and its link reconciles with P1: P1 checks what the two share, not the crowd's spaces.
      await p2.close();
      const before = { checks: await offerChecks(p1, 'provider'), loads: p1.provider.replica.graphLoads };
      p2 = await startP2();
      const checks = await until(async () => (await offerChecks(p1, 'provider')) - before.checks || undefined, 30_000);
      expect(checks).toBeGreaterThanOrEqual(own.length);
      expect(checks).toBeLessThan(50);
      expect(p1.provider.replica.graphLoads - before.loads).toBeLessThan(50);
    } finally {
      await p2.close();
      await alice.setProviders([url]);
      await syncWith(alice, url);
    }
  }, 90_000);

  it('a store written before the index is indexed once when the provider opens it', async () => {
    await p1.close();
    // What an earlier version left: no index rows and no mark that they were made.
    const db = new Database(join(data, 'provider.db'));
    db.prepare('DELETE FROM space_names').run();
    db.prepare('DELETE FROM meta WHERE key = ?').run(SPACE_INDEX_META);
    db.close();
    const t = performance.now();
    p1 = await startServer({ port: port.p1, data, publicUrl: url });
    console.log(`indexing ${CROWD_ACCOUNTS * CROWD_SPACES} spaces at open: ${(performance.now() - t).toFixed(0)} ms`);
    expect(await p1.provider.store.getMeta(SPACE_INDEX_META)).toBeDefined();
    expect((await p1.provider.store.spacesOf(alice.account)).filter((n) => n.creator).length).toBe(own.length);
    const { d, checks, loads } = await connect();
    await receivedEverything(d);
    expect(checks).toBeLessThan(50);
    expect(loads).toBeLessThan(50);
  }, 120_000);
});

import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeFrame, Device, encodeFrame, Kind, type Device as DeviceT, type Entry } from '@freehold/core';
import { SqliteStore } from '@freehold/stores';
import { claimHandle, fetchCard, hostOf, inboxSettings, ProviderLink } from '@freehold/client';
import { offerLink, requestLink } from '@freehold/client/pairing';
import { Balancer } from '../../../test-support/balancer.js';
import { freePort } from '../../../test-support/net.js';
import { blobEntries, chunkOf, join_, newDevice, PG_URL, syncWith, tempDir, WS } from './helpers.js';
import { spawnServer } from './process.js';

/*
 * One provider run as three `freehold serve` processes on one PostgreSQL schema, behind a balancer whose address is
 * the provider's public URL: a test picks the node each step reaches, as a load balancer might.
 */

const tmp = tempDir('nodes-shared');
const schema = `fh_nodes_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
let nodes: Awaited<ReturnType<typeof spawnServer>>[] = [];
let balancer: Balancer;
let db: pg.Client;
let url = '';

beforeAll(async () => {
  const ports = [await freePort(), await freePort(), await freePort()];
  balancer = await Balancer.start(ports, await freePort());
  url = balancer.url;
  // --inbox-rate: senders hosted elsewhere may leave 20 messages a minute in one inbox (a burst of 10).
  const flags = ['--db', `${PG_URL}?schema=${schema}`, '--public-url', url, '--inbox-rate', '20'];
  nodes = await Promise.all(ports.map((p) => spawnServer(['--port', String(p), ...flags])));
  db = new pg.Client({ connectionString: PG_URL, options: `-c search_path=${schema}` });
  await db.connect();
}, 60_000);

afterAll(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
  await balancer.close();
  await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await db.end();
  tmp.cleanup();
});

/** The account's row as every node sees it. */
const accountRow = async (d: DeviceT) =>
  (await db.query<{ quota: string; used: string }>('SELECT quota, used FROM accounts WHERE account = $1', [Buffer.from(d.account)])).rows[0];

describe('nodes sharing one PostgreSQL database are one provider', () => {
  it('an account registered through node 1 is hosted by nodes 2 and 3 at once, claims a handle there, and keeps its quota', async () => {
    await balancer.use(0);
    const alice = await newDevice(tmp.dir, 'alice');
    await alice.setHandles([`alice@${hostOf(url)}`]);
    await join_(alice, url);
    // The operator gives alice more room (any node's store is the one record).
    await db.query('UPDATE accounts SET quota = 12345678 WHERE account = $1', [Buffer.from(alice.account)]);

    await balancer.use(1);
    expect(await claimHandle(url, alice, 'alice')).toBe(`alice@${hostOf(url)}`);

    await balancer.use(2);
    const space = await alice.createSpace(true);
    await alice.write(space, Kind.blob, new Uint8Array(16), chunkOf(new Uint8Array(100).fill(1)));
    expect((await syncWith(alice, url)).rejected).toEqual([]);
    const held = await db.query('SELECT COUNT(*)::int AS n FROM entries WHERE space = $1', [Buffer.from(space)]);
    expect(held.rows[0].n).toBe(2);
    // Node 3 took alice's log as news, but she was registered already: the operator's quota stands.
    expect(Number((await accountRow(alice))!.quota)).toBe(12345678);
    const lookup = await fetch(`${url}/.well-known/freehold/handles/alice`);
    expect(lookup.status).toBe(200);
  });

  it('links a device across nodes: the code opened through one, requested through another, answered through a third', async () => {
    await balancer.use(0);
    const bob = await newDevice(tmp.dir, 'bob');
    await join_(bob, url);
    await syncWith(bob, url);

    await balancer.use(1);
    const offer = await offerLink(url, bob);
    await balancer.use(2);
    const pending = await requestLink(url, offer.code, 'phone');
    await balancer.use(0);
    const req = await offer.request();
    expect(req.fingerprint).toBe(pending.fingerprint);
    await bob.addDevice(req.device);
    await syncWith(bob, url);
    await balancer.use(1);
    await req.accept();
    await balancer.use(2);
    await pending.accepted();
    // The new device signs in as bob, with the log bob's device stored (read through the node that took it: how
    // nodes learn of each other's identity logs is not what this test is about).
    await balancer.use(0);
    const phone = await Device.open(new SqliteStore(join(tmp.dir, 'bob-phone.db')), pending.keys, pending.account);
    await phone.replica.addCard((await fetchCard(url, pending.account))!);
    await balancer.use(1);
    expect(phone.identity().devices.size).toBe(2);
    expect((await syncWith(phone, url)).rejected).toEqual([]);
  });

  it('holds an inbox to its rate for senders hosted elsewhere, whichever nodes they write through', async () => {
    await balancer.use(0);
    const owner = await newDevice(tmp.dir, 'owner');
    await join_(owner, url);
    const inbox = await owner.createSpace(false, { inbox: true });
    // The owner's device has been through every node, so each holds the owner's identity log (how nodes learn of
    // each other's logs is not what this test is about).
    for (let i = 0; i < 3; i++) {
      await balancer.use(i);
      await syncWith(owner, url);
    }
    let refused = 0;
    for (let i = 0; i < 3; i++) {
      await balancer.use(i);
      const sender = await newDevice(tmp.dir, `stranger${i}`);
      await syncWith(sender, url, [inbox]);
      for (let j = 0; j < 15; j++) await sender.write(inbox, Kind.append, new Uint8Array(16), new Uint8Array(50).fill(j));
      const r = await syncWith(sender, url);
      expect(new Set(r.rejected.map((x) => x[1]))).toEqual(new Set(['rate-limited']));
      refused += r.rejected.length;
    }
    const stored = (await db.query('SELECT COUNT(*)::int AS n FROM entries WHERE space = $1 AND kind = $2', [Buffer.from(inbox), Kind.append])).rows[0].n as number;
    console.log(`inbox through 3 nodes: ${stored} of 45 stored, ${refused} refused`);
    // One bucket for the provider (a burst of 10, 20 a minute), not one a node (30 and more).
    expect(stored).toBeLessThanOrEqual(14);
    // And the whole burst: a node validates a sender's first batch again once it stored the sender's identity log
    // (the batch is `stale`), and that second look takes no second token.
    expect(stored).toBeGreaterThanOrEqual(10);
    expect(stored + refused).toBe(45);
  });

  it('holds an inbox to the allowance its owner set through one node, whichever nodes strangers write through', async () => {
    await balancer.use(0);
    const owner = await newDevice(tmp.dir, 'capped');
    await join_(owner, url);
    const inbox = await owner.createSpace(false, { inbox: true });
    for (let i = 0; i < 3; i++) {
      await balancer.use(i);
      await syncWith(owner, url);
    }
    await balancer.use(0);
    expect(await inboxSettings(url, owner, inbox, { cap: 1200 })).toEqual({ cap: 1200, purged: 0 });
    const senders: DeviceT[] = [];
    // Two rounds, so that every node has counted the inbox before the second: a count of its own would be stale.
    for (const round of [1, 2]) {
      for (let i = 0; i < 3; i++) {
        await balancer.use(i);
        const sender = (senders[i] ??= await newDevice(tmp.dir, `sender${i}`));
        if (round === 1) await syncWith(sender, url, [inbox]);
        for (let j = 0; j < round; j++) await sender.write(inbox, Kind.append, new Uint8Array(16), new Uint8Array(300).fill(j));
        const r = await syncWith(sender, url);
        expect(r.rejected.filter((x) => x[1] !== 'quota-exceeded')).toEqual([]);
      }
    }
    const held = await db.query<{ bytes: string }>('SELECT COALESCE(SUM(octet_length(bytes)), 0) AS bytes FROM entries WHERE space = $1 AND kind = $2', [
      Buffer.from(inbox),
      Kind.append,
    ]);
    console.log(`allowance through 3 nodes: ${held.rows[0]!.bytes} of 1200 bytes held`);
    expect(Number(held.rows[0]!.bytes)).toBeLessThanOrEqual(1200);
    expect(Number(held.rows[0]!.bytes)).toBeGreaterThan(600);
  });

  it('holds an account to its quota under concurrent pushes through every node', async () => {
    await balancer.use(0);
    const carol = await newDevice(tmp.dir, 'carol');
    await join_(carol, url);
    const space = await carol.createSpace(true);
    await syncWith(carol, url);
    const before = Number((await accountRow(carol))!.used);
    await db.query('UPDATE accounts SET quota = $2 WHERE account = $1', [Buffer.from(carol.account), before + 40_000]);
    // One chain of 600 entries split in three, each third pushed through its own node at once.
    const all = await blobEntries(carol, space, 600);
    const links: ProviderLink[] = [];
    for (let i = 0; i < 3; i++) {
      await balancer.use(i, false);
      links.push(await ProviderLink.connect(url, carol, WS));
    }
    const accepted = await Promise.all(links.map((link, i) => push(link, all.slice(i * 200, (i + 1) * 200))));
    for (const link of links) link.close();
    const row = (await accountRow(carol))!;
    const stored = await db.query<{ n: number; bytes: string }>('SELECT COUNT(*)::int AS n, COALESCE(SUM(octet_length(bytes)), 0) AS bytes FROM entries WHERE device = $1', [
      Buffer.from(carol.id),
    ]);
    const acceptedBytes = accepted.flat().reduce((n, e) => n + e.bytes.length, 0);
    console.log(`quota through 3 nodes: ${accepted.flat().length} of 600 accepted, ${row.used} of ${row.quota} bytes used`);
    expect(Number(row.used)).toBeLessThanOrEqual(Number(row.quota));
    // Every byte charged is a byte stored, and every entry acknowledged is held.
    expect(Number(row.used)).toBe(Number(stored.rows[0]!.bytes));
    expect(Number(row.used) - before).toBe(acceptedBytes);
    // The quota was filled: a batch (a frame of 20) is taken whole or not at all, so less than one is left over.
    expect(Number(row.quota) - Number(row.used)).toBeLessThan(20 * Math.max(...all.map((e) => e.bytes.length)));
    expect(accepted.flat().length).toBeLessThan(600);
  });

  it('charges an entry pushed through every node at the same moment once', async () => {
    await balancer.use(0);
    const dave = await newDevice(tmp.dir, 'dave');
    await join_(dave, url);
    const space = await dave.createSpace(true);
    await syncWith(dave, url);
    const all = await blobEntries(dave, space, 200);
    const count = async () =>
      (await db.query<{ n: number; bytes: string }>('SELECT COUNT(*)::int AS n, COALESCE(SUM(octet_length(bytes)), 0) AS bytes FROM entries WHERE device = $1', [Buffer.from(dave.id)]))
        .rows[0]!;
    const before = await count();
    const links: ProviderLink[] = [];
    for (let i = 0; i < 3; i++) {
      await balancer.use(i, false);
      links.push(await ProviderLink.connect(url, dave, WS));
    }
    // The same 200 entries through all three nodes at once (a client retrying elsewhere before its answer came).
    const acked = await Promise.all(links.map((link) => push(link, all)));
    for (const link of links) link.close();
    for (const a of acked) expect(a.length).toBe(200);
    const stored = await count();
    expect(stored.n).toBe(before.n + 200);
    // Every byte charged is a byte stored: what two nodes stored at the same moment is paid for once.
    expect(Number((await accountRow(dave))!.used)).toBe(Number(stored.bytes));
  });

  // Last: it spends this address's linking writes for the next minute.
  it('meters linking writes per network across nodes: a flood through all three gets the one bucket’s burst', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++) {
      await balancer.use(i % 3);
      const id = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('hex');
      const res = await fetch(`${url}/v1/pair/${id}/request`, { method: 'PUT', body: new Uint8Array([1]) });
      statuses.push(res.status);
      if (res.status === 429) expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    }
    const charged = statuses.filter((s) => s === 404).length;
    console.log(`linking flood through 3 nodes: ${charged} of 30 charged, ${statuses.filter((s) => s === 429).length} refused`);
    // A burst of 20 for the address (3 spent by the linking test above), not 20 a node.
    expect(charged).toBeLessThanOrEqual(21);
    expect(statuses.filter((s) => s !== 404 && s !== 429)).toEqual([]);
  });
});

/** Pushes entries in frames of 20 and returns those acknowledged; every refusal must be over quota. */
async function push(link: ProviderLink, entries: Entry[]): Promise<Entry[]> {
  const frames: Entry[][] = [];
  for (let i = 0; i < entries.length; i += 20) frames.push(entries.slice(i, i + 20));
  for (const f of frames) link.send(encodeFrame(['entries', f.map((e) => e.bytes)]));
  const accepted: Entry[] = [];
  for (const f of frames) {
    const ack = decodeFrame(await link.next());
    if (ack[0] !== 'ack') throw new Error(`expected an ack, got ${ack[0]}`);
    const refused = new Map(ack[2].map(([i, reason]) => [i, reason]));
    for (const reason of refused.values()) expect(reason).toBe('quota-exceeded');
    f.forEach((e, i) => refused.has(i) || accepted.push(e));
  }
  return accepted;
}

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import {
  createEntry,
  decodeEntry,
  decodeFrame,
  Device,
  encodeCard,
  encodeFrame,
  Kind,
  randomBytes,
  toHex,
  type Frame,
} from '@freehold/core';
import { installNativeCrypto } from '@freehold/node';
import { PostgresStore } from '@freehold/stores';
import { ProviderLink, ReconnectingLink, register, type LinkEvent } from '@freehold/client';
import { Balancer } from '../../../test-support/balancer.js';
import { FaultProxy } from '../../../test-support/fault-proxy.js';
import { ensureNats, NATS_URL, PrivateNats } from '../../../test-support/nats.js';
import { freePort } from '../../../test-support/net.js';
import { blobEntries, chunkOf, get, newDevice, PG_URL, put, secondDevice, syncWith, tempDir, until, WS } from './helpers.js';
import { spawnServer } from './process.js';

installNativeCrypto();
const tmp = tempDir('nodes');
/** The one provider every node is: its canonical URL (never dialled; clients reach the nodes by their own ports). */
const PUBLIC = 'http://nodes.freehold.test';

type Proc = Awaited<ReturnType<typeof spawnServer>>;
interface Node {
  name: string;
  port: number;
  url: string;
  proc: Proc;
}

const schemas: string[] = [];
const nodes = new Set<Node>();
afterAll(async () => {
  for (const n of nodes) await n.proc.stop('SIGKILL');
  for (const schema of schemas) {
    const s = await PostgresStore.open(PG_URL, schema);
    await s.drop();
    await s.close();
  }
  tmp.cleanup();
});

function newSchema(name: string): string {
  const schema = `fh_nodes_${name}_${process.pid}`;
  schemas.push(schema);
  return schema;
}

/** A `freehold serve` node of the provider, on PostgreSQL (directly, or at `db`) and NATS. */
async function startNode(name: string, schema: string, nats: string, opts: { port?: number; db?: string } = {}): Promise<Node> {
  const port = opts.port ?? (await freePort());
  const db = `${opts.db ?? PG_URL}?schema=${schema}`;
  const proc = await spawnServer(['--port', String(port), '--public-url', PUBLIC, '--db', db, '--nats', nats, '--node', name, '--metrics', '127.0.0.1:0']);
  const node = { name, port, url: `http://127.0.0.1:${port}`, proc };
  nodes.add(node);
  return node;
}

async function stopNode(n: Node, signal: NodeJS.Signals): Promise<void> {
  nodes.delete(n);
  await n.proc.stop(signal);
}

/** A counter or gauge from a node's /metrics. */
async function metric(n: Node, name: string): Promise<number> {
  const text = await (await fetch(n.proc.metricsUrl!)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : NaN;
}

/** An account whose log lists the provider, registered through one node. */
async function account(name: string, through: Node): Promise<Device> {
  const d = await newDevice(tmp.dir, name);
  await d.setProviders([PUBLIC]);
  await register(through.url, d);
  return d;
}


/** A session that reconciles, subscribes to `space` and collects the live pushes it gets. */
async function subscriber(d: Device, n: Node, space: Uint8Array) {
  const link = await ProviderLink.connect(n.url, d, WS);
  const { session } = await link.sync(d, { interest: [space] });
  const { subscribed } = await link.subscribe([space]);
  expect(subscribed.map(toHex)).toEqual([toHex(space)]);
  const pushed = new Set<string>();
  const stop = new AbortController();
  const watching = link.watch(session, (f: Frame) => {
    if (f[0] === 'entries') for (const b of f[1]) pushed.add(toHex(decodeEntry(b).id));
  }, stop.signal);
  return {
    pushed,
    close: async () => {
      stop.abort();
      link.close();
      await watching.catch(() => {});
    },
  };
}

/** Sends one entry over a session and reads the provider's answer: ok, or the reason it was refused. */
async function pushOne(link: ProviderLink, bytes: Uint8Array): Promise<string> {
  link.send(encodeFrame(['entries', [bytes]]));
  for (;;) {
    const f = decodeFrame(await link.next());
    if (f[0] === 'ack') return f[2][0]?.[1] ?? 'ok';
    if (f[0] === 'error') return f[1];
  }
}

/** How many of a device's entries from sequence number `from` to `to` the database holds. */
async function entryCount(schema: string, device: Uint8Array, from: number, to: number): Promise<number> {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    const sql = `SELECT count(*)::int AS n FROM ${schema}.entries WHERE device = $1 AND seq BETWEEN $2 AND $3`;
    const { rows } = await c.query(sql, [Buffer.from(device), from, to]);
    return (rows[0] as { n: number }).n;
  } finally {
    await c.end();
  }
}

describe('one provider as three nodes over one PostgreSQL database and one NATS server', () => {
  const schema = newSchema('three');
  let n1: Node, n2: Node, n3: Node;
  let alice: Device, bob: Device, carol: Device;
  let space: Uint8Array;

  beforeAll(async () => {
    await ensureNats();
    [n1, n2, n3] = await Promise.all([startNode('n1', schema, NATS_URL), startNode('n2', schema, NATS_URL), startNode('n3', schema, NATS_URL)]);
    // Each registered through another node: every node hosts all three at once.
    alice = await account('alice', n1);
    bob = await account('bob', n2);
    carol = await account('carol', n3);
    for (const other of [bob, carol]) await alice.replica.addCard(encodeCard(other.identity()));
    space = await alice.createSpace(false);
    await put(alice, space, 'notes', { title: 'for friends' });
    await alice.setRole(space, bob.account, 'reader');
    await alice.setRole(space, carol.account, 'reader');
    await syncWith(alice, n1.url);
  }, 60_000);

  it('an entry stored through node 1 is pushed live to subscribers on nodes 2 and 3', async () => {
    const onTwo = await subscriber(bob, n2, space);
    const onThree = await subscriber(carol, n3, space);
    try {
      const written = [];
      for (let i = 0; i < 5; i++) written.push(await put(alice, space, `post-${i}`, { n: i }));
      // Past 64 KiB a hint names the entries and each node reads them from the database.
      written.push(await put(alice, space, 'long', { text: 'x'.repeat(80_000) }));
      const r = await syncWith(alice, n1.url);
      expect(r.rejected).toEqual([]);
      const ids = written.map((e) => toHex(e.id));
      // Nothing here asks the nodes again: the entries arrive as pushes on the open sessions.
      await until(() => ids.every((id) => onTwo.pushed.has(id) && onThree.pushed.has(id)), 10_000);
      expect(await get(bob, space, 'post-4')).toEqual({ n: 4 });
      expect(await get(carol, space, 'post-4')).toEqual({ n: 4 });
      expect(((await get(carol, space, 'long')) as { text: string }).text).toHaveLength(80_000);
      expect(await metric(n1, 'freehold_hints_out_total')).toBeGreaterThanOrEqual(5);
      expect(await metric(n2, 'freehold_hints_in_total')).toBeGreaterThanOrEqual(5);
      expect(await metric(n3, 'freehold_nats_connected')).toBe(1);
    } finally {
      await onTwo.close();
      await onThree.close();
    }
  }, 30_000);

  it('a reader subscribes through node 3 to a space created a moment ago through node 1 by an account new there', async () => {
    const dana = await account('dana', n1);
    const open = await dana.createSpace(true);
    expect((await syncWith(dana, n1.url)).rejected).toEqual([]);
    // Node 3 has not seen dana's log: it reads it from the database rather than refusing the space.
    const reader = await ProviderLink.connect(n3.url, null, WS);
    try {
      expect(await reader.subscribe([open])).toEqual({ subscribed: [open], refused: [] });
    } finally {
      reader.close();
    }
  }, 30_000);

  it('a member removed through node 2 cannot write through node 3 right after, though node 3 had let it write', async () => {
    const shared = await alice.createSpace(false);
    await alice.setRole(shared, bob.account, 'writer');
    await syncWith(alice, n1.url);
    await syncWith(bob, n3.url, [shared]);
    const link = await ProviderLink.connect(n3.url, bob, WS);
    try {
      // Node 3 holds the space's membership and bob's right to write in memory now.
      const first = await put(bob, shared, 'notes', { by: 'bob' });
      expect(await pushOne(link, first.bytes)).toBe('ok');
      const late = await put(bob, shared, 'notes', { again: 'bob' });
      await alice.remove(shared, bob.account);
      const r = await syncWith(alice, n2.url);
      expect(r.rejected).toEqual([]);
      // Acknowledged by node 2, so committed: node 3 must enforce it now, with no hint (nobody there subscribed).
      expect(await pushOne(link, late.bytes)).toBe('removed-member');
      const store = await PostgresStore.open(PG_URL, schema);
      expect(await store.hasEntry(late.id)).toBe(false);
      await store.close();
    } finally {
      link.close();
    }
  }, 30_000);

  it('a device revoked through node 2 cannot write through node 3 right after, though node 3 had let it write', async () => {
    const open = await alice.createSpace(true);
    const phone = await secondDevice(alice, tmp.dir);
    await syncWith(alice, n1.url);
    await syncWith(phone, n3.url, [open]);
    const link = await ProviderLink.connect(n3.url, phone, WS);
    try {
      const first = await put(phone, open, 'notes', { by: 'phone' });
      const second = await put(phone, open, 'notes', { again: 'phone' });
      expect(await pushOne(link, first.bytes)).toBe('ok');
      await alice.revokeDevice(phone.id);
      // Signing in through node 2 hands it the grown log, which it stores before answering.
      (await ProviderLink.connect(n2.url, alice, WS)).close();
      expect(await pushOne(link, second.bytes)).toBe('revoked-device');
    } finally {
      link.close();
    }
  }, 30_000);

  it('two entries forking one device chain, written through two nodes at once: one stored, the other a typed fork', async () => {
    const open = await alice.createSpace(true);
    await syncWith(alice, n1.url);
    const graph = await alice.replica.graph(open);
    const seq = (await alice.store.maxSeq(alice.id)) + 1;
    const prev = (await alice.store.idBySeq(alice.id, seq - 1))!;
    const fork = [0, 1].map(() => {
      const p = chunkOf(randomBytes(64));
      const header = { kind: Kind.blob, space: open, doc: new Uint8Array(16), device: alice.id, seq, prev, basis: graph.latest!.entryId, time: Date.now() };
      return createEntry(header, alice.keys.sign, p.length, () => p);
    });
    const links = await Promise.all([n1, n2].map((n) => ProviderLink.connect(n.url, alice, WS)));
    try {
      const answers = await Promise.all(links.map((l, i) => pushOne(l, fork[i]!.bytes)));
      expect([...answers].sort()).toEqual(['fork', 'ok']);
      // The device keeps what was stored, as it would have had it written it once.
      const stored = fork[answers.indexOf('ok')]!;
      expect((await alice.replica.ingest([stored.bytes]))[0]!.ok).toBe(true);
      // Both sessions are still up (no internal error closed either): each takes the stored entry as held.
      expect(await Promise.all(links.map((l) => pushOne(l, stored.bytes)))).toEqual(['ok', 'ok']);
    } finally {
      for (const l of links) l.close();
    }
  }, 30_000);

  it('a node killed (-9) during a 10,000-entry push loses nothing it acknowledged, and the client finishes through another node', async () => {
    const lb = await Balancer.start([n1.port, n2.port, n3.port]);
    const blobs = await alice.createSpace(true);
    await syncWith(alice, n1.url);
    const link = new ReconnectingLink(lb.url, alice, { WebSocket: WS, backoff: { firstMs: 100, maxMs: 1000 } }).start();
    const served: string[] = [];
    link.listen((e: LinkEvent) => void (e.type === 'status' && served.push(e.status)));
    try {
      await until(() => link.status === 'online', 10_000);
      const first = (await alice.store.maxSeq(alice.id)) + 1;
      let acked = 0;
      let killedAt: number | undefined;
      for (let chunk = 0; chunk < 20; chunk++) {
        const entries = await blobEntries(alice, blobs, 500);
        const results = await alice.replica.ingest(entries.map((e) => e.bytes));
        expect(results.every((r) => r.ok)).toBe(true);
        const flushing = link.flush();
        if (chunk === 8) {
          // Mid-push: the node dies with a batch in flight.
          await new Promise((r) => setTimeout(r, 30));
          killedAt = acked;
          await stopNode(n1, 'SIGKILL');
          // Every entry it acknowledged is in the database.
          expect(await entryCount(schema, alice.id, first, killedAt)).toBe(killedAt - first + 1);
        }
        const report = await flushing;
        if (report.acked) acked = report.acked;
      }
      expect(killedAt).toBeGreaterThan(first);
      // Whatever was not acknowledged goes out again through the next node.
      const last = await alice.store.maxSeq(alice.id);
      await until(async () => ((await link.flush()).acked ?? 0) >= last, 60_000);
      expect(last - first + 1).toBe(10_000);
      expect(await entryCount(schema, alice.id, first, last)).toBe(10_000);
      expect(served).toContain('offline');
    } finally {
      link.close();
      await lb.close();
    }
  }, 180_000);
});

describe('nodes when NATS, PostgreSQL or a node goes away', () => {
  const schema = newSchema('faults');
  let nats: PrivateNats;
  let nA: Node, nB: Node;
  let alice: Device, bob: Device;
  let space: Uint8Array;

  beforeAll(async () => {
    nats = await PrivateNats.start();
    [nA, nB] = await Promise.all([startNode('a', schema, nats.url), startNode('b', schema, nats.url)]);
    alice = await account('alice', nA);
    bob = await account('bob', nB);
    await alice.replica.addCard(encodeCard(bob.identity()));
    space = await alice.createSpace(false);
    await alice.setRole(space, bob.account, 'reader');
    await syncWith(alice, nA.url);
  }, 60_000);

  afterAll(async () => {
    await nats.stop();
  });

  it('NATS stopped: nodes still store and acknowledge; started again: subscribers that missed hints reconcile', async () => {
    const link = new ReconnectingLink(nB.url, bob, { WebSocket: WS, backoff: { firstMs: 100, maxMs: 1000 } }).start();
    const got = new Map<string, boolean>();
    link.listen((e: LinkEvent) => {
      if (e.type === 'entries') for (const x of e.entries) got.set(toHex(x.id), e.live);
    });
    try {
      await until(() => link.status === 'online' && link.lastSync !== undefined, 10_000);
      const before = await put(alice, space, 'notes', { n: 1 });
      await syncWith(alice, nA.url);
      await until(() => got.get(toHex(before.id)) === true, 10_000);

      await nats.stop();
      await until(async () => (await metric(nA, 'freehold_nats_connected')) === 0 && (await metric(nB, 'freehold_nats_connected')) === 0, 10_000);
      const during = await put(alice, space, 'notes', { n: 2 });
      const r = await syncWith(alice, nA.url);
      expect(r.rejected).toEqual([]);
      expect(r.stats.entriesSent).toBeGreaterThan(0);
      expect(await metric(nA, 'freehold_hints_dropped_total')).toBeGreaterThanOrEqual(1);

      await nats.resume();
      // Node B asks its sessions to reconcile, and bob's link takes the entry it was not pushed.
      await until(() => got.has(toHex(during.id)), 15_000);
      expect(await get(bob, space, 'notes')).toMatchObject({ n: 2 });
      expect(nB.proc.output()).toContain('"event":"hints-missed"');
      expect(await metric(nB, 'freehold_hint_gaps_total')).toBeGreaterThanOrEqual(1);
      expect(await metric(nB, 'freehold_nats_connected')).toBe(1);
    } finally {
      link.close();
    }
  }, 60_000);

  it('a node whose NATS never answers starts, stores and acknowledges, says so, and stops when told', async () => {
    const nowhere = `nats://127.0.0.1:${await freePort()}`;
    const lone = await startNode('lone', schema, nowhere);
    try {
      const open = await alice.createSpace(true);
      await put(alice, open, 'notes', { alone: true });
      const r = await syncWith(alice, lone.url);
      expect(r.rejected).toEqual([]);
      expect(r.stats.entriesSent).toBeGreaterThan(0);
      expect(await (await fetch(`${lone.url}/healthz`)).json()).toMatchObject({ ok: true, ready: true, nats: false });
      expect((await fetch(`${lone.url}/readyz`)).status).toBe(200);
      expect(lone.proc.output()).toContain('"event":"nats-failed"');
    } finally {
      await stopNode(lone, 'SIGTERM');
    }
    expect(lone.proc.child.exitCode).toBe(0);
  }, 30_000);

  it('PostgreSQL unreachable: writes are refused unavailable, never acknowledged, subscriptions still answered, and the node recovers by itself', async () => {
    const proxy = await FaultProxy.start(await freePort(), 5432, Math.random);
    const nP = await startNode('p', schema, nats.url, { db: `postgres://postgres@127.0.0.1:${new URL(proxy.url).port}/test` });
    const open = await alice.createSpace(true);
    await syncWith(alice, nP.url);
    // A space this node has not looked at yet, whose membership it cannot read while the database is away.
    const unseen = await alice.createSpace(true);
    await syncWith(alice, nA.url);
    const link = await ProviderLink.connect(nP.url, alice, WS);
    try {
      const [ok, cut] = await blobEntries(alice, open, 2);
      // Kept by the device too, so that its next entries follow them.
      expect((await alice.replica.ingest([ok!.bytes, cut!.bytes])).every((r) => r.ok)).toBe(true);
      expect(await pushOne(link, ok!.bytes)).toBe('ok');
      expect((await fetch(`${nP.url}/readyz`)).status).toBe(200);
      proxy.set({ refuse: true });
      proxy.cutAll();
      expect(await pushOne(link, cut!.bytes)).toBe('unavailable');
      // A subscription it cannot check is still answered (a client waiting for the answer would wait for good).
      const sub = await Promise.race([link.subscribe([unseen]), new Promise<'no answer'>((r) => setTimeout(() => r('no answer'), 10_000))]);
      expect(sub).toMatchObject({ subscribed: [], refused: [expect.stringMatching(/could not check 1 of the spaces/)] });
      const store = await PostgresStore.open(PG_URL, schema);
      expect(await store.hasEntry(cut!.id)).toBe(false);
      await store.close();
      expect((await fetch(`${nP.url}/readyz`)).status).toBe(503);
      const health = await fetch(`${nP.url}/healthz`);
      expect(health.status).toBe(200);
      expect(await health.json()).toMatchObject({ ok: true, ready: false });

      proxy.set({ refuse: false });
      await until(async () => (await fetch(`${nP.url}/readyz`)).status === 200, 15_000);
      expect(await pushOne(link, cut!.bytes)).toBe('ok');
    } finally {
      link.close();
      await stopNode(nP, 'SIGKILL');
      await proxy.close();
    }
  }, 60_000);

  it('SIGTERM drains: writes in flight are acknowledged, sessions reconnect to another node at once, nothing acknowledged is lost', async () => {
    const lb = await Balancer.start([nA.port, nB.port]);
    const blobs = await alice.createSpace(true);
    await syncWith(alice, nA.url);
    const link = new ReconnectingLink(lb.url, alice, { WebSocket: WS, backoff: { firstMs: 5000, maxMs: 5000 } }).start();
    const offline: { error?: string; retryInMs?: number }[] = [];
    link.listen((e: LinkEvent) => void (e.type === 'status' && e.status === 'offline' && offline.push({ error: e.error, retryInMs: e.retryInMs })));
    try {
      await until(() => link.status === 'online', 10_000);
      expect((await fetch(`${nA.url}/readyz`)).status).toBe(200);
      const first = (await alice.store.maxSeq(alice.id)) + 1;
      let acked = 0;
      let stopping: Promise<void> | undefined;
      for (let chunk = 0; chunk < 10; chunk++) {
        const entries = await blobEntries(alice, blobs, 200);
        expect((await alice.replica.ingest(entries.map((e) => e.bytes))).every((r) => r.ok)).toBe(true);
        const flushing = link.flush();
        if (chunk === 3) stopping = stopNode(nA, 'SIGTERM');
        const report = await flushing;
        expect(report.refused).toEqual([]);
        if (report.acked) acked = report.acked;
      }
      await stopping;
      expect(nA.proc.child.exitCode).toBe(0);
      expect(nA.proc.output()).toContain('"event":"drained"');
      expect(await entryCount(schema, alice.id, first, acked)).toBe(acked - first + 1);
      const last = await alice.store.maxSeq(alice.id);
      await until(async () => ((await link.flush()).acked ?? 0) >= last, 30_000);
      expect(await entryCount(schema, alice.id, first, last)).toBe(2000);
      // Told to reconnect elsewhere (1012), the link did not wait out its 5 s backoff.
      expect(offline.length).toBeGreaterThanOrEqual(1);
      expect(offline[0]!.error).toMatch(/1012/);
      expect(offline[0]!.retryInMs).toBeLessThan(1000);
    } finally {
      link.close();
      await lb.close();
    }
  }, 90_000);
});

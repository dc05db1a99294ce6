import { createPrivateKey, createPublicKey, sign as nodeSign, verify as nodeVerify, randomBytes as nodeRandom } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import * as Y from 'yjs';
import {
  clientIdOf,
  contentKey,
  encodeUpdate,
  createAccount,
  createEntry,
  definedOnly,
  Device,
  encode,
  encodeCard,
  Kind,
  newSigningKey,
  openDoc,
  randomBytes,
  Replica,
  seal,
  SpaceGraph,
  spaceIdOf,
  SyncSession,
  syncPair,
  NONCE,
  TAG,
  type Entry,
  type MembershipOp,
  type Store,
} from '@freehold/core';
import { MemoryStore, SqliteStore } from '@freehold/stores';
import { installNativeCrypto } from '@freehold/node';
import { measure, rate, type Row } from './table.js';

installNativeCrypto();
const dir = mkdtempSync(join(tmpdir(), 'freehold-bench-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const sqlite = () => new SqliteStore(join(dir, `b${n++}.db`));

async function newDevice(store: Store = sqlite()): Promise<Device> {
  const acct = createAccount('bench', Date.now());
  await store.putCard(acct.state.account, encodeCard(acct.state));
  return Device.open(store, acct.device, acct.state.account);
}

/** Signed, encrypted entries as a writer produces them (without storing), continuing the device's chain. */
async function makeEntries(d: Device, space: Uint8Array, count: number, size = 200): Promise<Entry[]> {
  const graph = await d.replica.graph(space);
  const basis = graph.latest!;
  const key = contentKey(d.epochSecret(graph, basis.epoch!));
  let seq = (await d.store.maxSeq(d.id)) + 1;
  let prev = (await d.store.idBySeq(d.id, seq - 1))!;
  // A real Yjs update by this device's client id, so members' content checks pass too.
  const y = new Y.Doc();
  y.clientID = clientIdOf(d.id);
  y.getText('t').insert(0, 'x'.repeat(size));
  const plaintext = encodeUpdate({ name: 'bench', update: Y.encodeStateAsUpdate(y) });
  const out: Entry[] = [];
  for (let i = 0; i < count; i++) {
    const e = createEntry(
      { kind: Kind.update, space, doc: new Uint8Array(16), device: d.id, seq: seq++, prev, basis: basis.entryId, time: Date.now() },
      d.keys.sign,
      plaintext.length + NONCE + TAG,
      (header) => seal(key, plaintext, header),
    );
    prev = e.id;
    out.push(e);
  }
  return out;
}

/** A public space's membership log: one op after another, each naming a new member (a long follower list). */
function membershipChain(count: number) {
  const admin = randomBytes(32);
  const nonce = randomBytes(16);
  const space = spaceIdOf(admin, nonce, true);
  const key = newSigningKey();
  const log: { entry: Entry; op: MembershipOp }[] = [];
  let prev: Uint8Array = new Uint8Array(0);
  for (let i = 0; i < count; i++) {
    const op: MembershipOp = i ? { t: 'set-role', deps: [prev], account: randomBytes(32), role: 'reader' } : { t: 'create', deps: [], creator: admin, nonce, public: true };
    const payload = encode(definedOnly(op));
    const h = { kind: Kind.membership, space, doc: new Uint8Array(0), device: key.publicKey, seq: i + 1, prev, basis: new Uint8Array(0), time: Date.now() };
    const entry = createEntry(h, key, payload.length, () => payload);
    prev = entry.id;
    log.push({ entry, op });
  }
  return { space, admin, log };
}

/** Membership ops checked and added per second, and the state read after each as a provider does. */
function membershipRate(chain: ReturnType<typeof membershipChain>): number {
  const graph = new SpaceGraph(chain.space);
  const t = performance.now();
  for (const { entry, op } of chain.log) {
    graph.add(entry.id, op, chain.admin);
    graph.current();
  }
  return chain.log.length / ((performance.now() - t) / 1000);
}

export async function coreBench(): Promise<Row[]> {
  const rows: Row[] = [];
  const COUNT = 5000;

  // Baselines: raw OpenSSL Ed25519 through node:crypto, and raw SQLite inserts of the same row shape.
  const priv = createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), nodeRandom(32)]), format: 'der', type: 'pkcs8' });
  const pub = createPublicKey(priv);
  const msg = nodeRandom(32);
  const sig = nodeSign(null, msg, priv);
  const signRate = await measure(() => rate(COUNT, () => nodeSign(null, msg, priv)));
  const verifyRate = await measure(() => rate(COUNT, () => nodeVerify(null, msg, pub, sig)));

  const writer = await newDevice();
  const space = await writer.createSpace(false);
  const createRate = await measure(async () => {
    const t = performance.now();
    await makeEntries(writer, space, COUNT);
    return COUNT / ((performance.now() - t) / 1000);
  });
  rows.push({ name: 'entries created (signed + encrypted, 200 B)', value: createRate, unit: '/s', baselineName: 'native Ed25519 sign', baseline: signRate });

  const entries = await makeEntries(writer, space, COUNT);
  const membership = (await writer.store.spaceEntries(space)).map((r) => r.bytes);
  const card = encodeCard(writer.identity());
  const ingestRate = async (keyed: boolean) => {
    const store = sqlite();
    await store.putCard(writer.account, card);
    const replica = keyed ? (await Device.open(store, writer.keys, writer.account)).replica : await Replica.open(store);
    await replica.ingest(membership);
    const t = performance.now();
    for (let i = 0; i < entries.length; i += 500) {
      const res = await replica.ingest(entries.slice(i, i + 500).map((e) => e.bytes));
      if (!res.every((r) => r.ok)) throw new Error(`bench ingest rejected: ${JSON.stringify(res.find((r) => !r.ok))}`);
    }
    const r = COUNT / ((performance.now() - t) / 1000);
    await store.close();
    return r;
  };
  const providerRate = await measure(() => ingestRate(false));
  rows.push({ name: 'entries validated + stored (provider, SQLite)', value: providerRate, unit: '/s', baselineName: 'native Ed25519 verify', baseline: verifyRate, target: '≥ 0.70' });
  const keyedRate = await measure(() => ingestRate(true));
  rows.push({ name: 'entries validated + decrypted + stored (member)', value: keyedRate, unit: '/s', baselineName: 'native Ed25519 verify', baseline: verifyRate });

  // Membership state is incremental: an op costs the same in a 10k-op log as in a 1k-op one.
  const [short, long] = [membershipChain(1_000), membershipChain(10_000)];
  const shortRate = await measure(() => membershipRate(short));
  const longRate = await measure(() => membershipRate(long));
  rows.push({ name: 'membership ops added, 10k-op log', value: longRate, unit: '/s', baselineName: 'same, 1k-op log', baseline: shortRate, target: '≥ 0.70' });

  const sqliteRate = await measure(async () => {
    const db = new Database(join(dir, `raw${n++}.db`));
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.exec('CREATE TABLE t (id BLOB PRIMARY KEY, space BLOB, doc BLOB, kind INT, device BLOB, seq INT, time INT, bytes BLOB) WITHOUT ROWID');
    const ins = db.prepare('INSERT INTO t VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
    const tx = db.transaction((es: Entry[]) => {
      for (const e of es) ins.run(e.id, e.space, e.doc, e.kind, e.device, e.seq, e.time, e.bytes);
    });
    const t = performance.now();
    for (let i = 0; i < entries.length; i += 500) tx(entries.slice(i, i + 500));
    db.close();
    return COUNT / ((performance.now() - t) / 1000);
  });
  rows.push({ name: 'raw SQLite insert (same rows, 500 per tx)', value: sqliteRate, unit: '/s' });

  // Opening a document: latest snapshot plus a short tail, against plain Yjs applying the same state.
  const author = await newDevice(new MemoryStore());
  const docSpace = await author.createSpace(false);
  const doc = await openDoc(author, docSpace, 'big', { autoSnapshot: false });
  const text = doc.doc.getText('body');
  for (let i = 0; i < 2000; i++) {
    text.insert(text.length, `line ${i} of a long document\n`);
    doc.doc.getMap('root').set(`k${i % 50}`, i);
    if (i % 20 === 19) await doc.flush();
  }
  await doc.snapshot();
  for (let i = 0; i < 20; i++) {
    text.insert(0, `tail ${i}\n`);
    await doc.flush();
  }
  const state = Y.encodeStateAsUpdate(doc.doc);
  const plain = await measure(async () => {
    const t = performance.now();
    const y = new Y.Doc();
    Y.applyUpdate(y, state);
    y.getText('body').toString();
    return performance.now() - t;
  }, 9);
  const open = await measure(async () => {
    const t = performance.now();
    const h = await openDoc(author, docSpace, 'big', { autoSnapshot: false });
    h.doc.getText('body').toString();
    return performance.now() - t;
  }, 9);
  rows.push({ name: 'open document (snapshot + 20-update tail, 2k edits)', value: open, unit: 'ms', baselineName: 'plain Yjs apply of same state', baseline: plain, target: '≤ 2.00', lowerIsBetter: true });

  // Reconciliation at 100k entries: in sync, then 10 differences.
  const poster = await newDevice(new MemoryStore());
  const pubSpace = await poster.createSpace(true);
  const create = (await poster.store.spaceEntries(pubSpace))[0]!;
  const basis = create.id;
  const make = (seq0: number, prev0: Uint8Array, count: number, time: (i: number) => number) => {
    let prev = prev0;
    const out: Entry[] = [];
    for (let i = 0; i < count; i++) {
      const p = new TextEncoder().encode(`post ${seq0 + i}`);
      const e = createEntry({ kind: Kind.update, space: pubSpace, doc: new Uint8Array(16), device: poster.id, seq: seq0 + i, prev, basis, time: time(i) }, poster.keys.sign, p.length, () => p);
      prev = e.id;
      out.push(e);
    }
    return out;
  };
  const N = 100_000;
  const t0 = Date.now() - N;
  const bulk = make(2, create.id, N - 1, (i) => t0 + Math.floor(i / 3));
  const stores = [new MemoryStore(), new MemoryStore()];
  for (const s of stores) {
    await s.putCard(poster.account, encodeCard(poster.identity()));
    await s.putEntries([create, ...bulk]);
  }
  const [ra, rb] = [await Replica.open(stores[0]!), await Replica.open(stores[1]!)];
  const cardBytes = encodeCard(poster.identity()).length * 2;
  const syncOnce = async () => {
    const l = new SyncSession(ra, { account: poster.account });
    const r = new SyncSession(rb, { account: poster.account });
    const { roundTrips } = await syncPair(l, r);
    return { bytes: l.stats.bytesSent + r.stats.bytesSent - cardBytes, roundTrips, reconcile: l.stats.reconcileMessages + r.stats.reconcileMessages };
  };
  const inSync = await syncOnce();
  rows.push({ name: 'reconcile 100k entries, in sync: bytes (excl. cards)', value: inSync.bytes, unit: 'B', note: `${inSync.roundTrips} round trips incl. hello`, target: '< 2048', lowerIsBetter: true });
  const extra = make(N + 1, bulk[bulk.length - 1]!.id, 10, (k) => t0 + Math.floor(((k + 0.5) * (N / 3)) / 10));
  await ra.ingest(extra.slice(0, 5).map((e) => e.bytes));
  await rb.ingest(extra.slice(5).map((e) => e.bytes));
  const diff = await syncOnce();
  const entryBytes = extra.reduce((s, e) => s + e.bytes.length, 0);
  rows.push({ name: 'reconcile 100k entries, 10 differ: bytes beyond entries', value: diff.bytes - entryBytes, unit: 'B', note: `${diff.roundTrips} round trips`, target: '< 10240', lowerIsBetter: true });
  return rows;
}

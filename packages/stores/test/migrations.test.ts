import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { createAccount, Device, encodeCard, isFreeholdError, Replica, toHex, type EntryRow, type Store } from '@freehold/core';
import { MemoryStore, PostgresStore, SqliteStore } from '@freehold/stores';
import { migrate as migrateSqlite, SQLITE_MIGRATIONS } from '../src/sqlite-schema.js';
import { migrate as migratePostgres, POSTGRES_MIGRATIONS } from '../src/postgres-schema.js';

const PG_URL = process.env.FREEHOLD_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';
const LATEST = SQLITE_MIGRATIONS.length;

/** Alice's private space with Bob as a reader: real membership entries, so the space index can be filled. */
async function history() {
  const [alice, bob] = [createAccount('alice', Date.now()), createAccount('bob', Date.now())];
  const store = new MemoryStore();
  for (const a of [alice, bob]) await store.putCard(a.state.account, encodeCard(a.state));
  const device = await Device.open(store, alice.device, alice.state.account);
  const space = await device.createSpace(false);
  await device.setRole(space, bob.state.account, 'reader');
  return { alice: alice.state.account, bob: bob.state.account, space, rows: await store.spaceEntries(space), cards: await store.cards() };
}
type History = Awaited<ReturnType<typeof history>>;

const entryArgs = (r: EntryRow) => [r.id, r.space, r.doc, r.kind, r.device, r.seq, r.time, r.bytes].map((v) => (v instanceof Uint8Array ? Buffer.from(v) : v));
const named = async (s: Store, account: Uint8Array) => (await s.spacesOf(account)).map((n) => [toHex(n.space), n.creator]);

/** What every upgrade must keep, and what the later migrations add, seen through the store. */
async function expectUpgraded(s: Store, h: History): Promise<void> {
  expect(await s.countEntries()).toBe(h.rows.length);
  expect((await s.spaceEntries(h.space)).map((r) => [toHex(r.id), toHex(r.bytes)])).toEqual(h.rows.map((r) => [toHex(r.id), toHex(r.bytes)]));
  expect([...(await s.getCard(h.alice))!]).toEqual([...h.cards.find((c) => toHex(c.account) === toHex(h.alice))!.card]);
  expect(await s.getAccount(h.alice)).toMatchObject({ quota: 1000, used: 10, created: 1 });
  expect((await s.handle('alice'))!.dropped).toBeUndefined();
  // Migration 2: handles remember when they were dropped.
  await s.markHandleDropped('alice', h.alice, 5);
  expect((await s.handle('alice'))!.dropped).toBe(5);
  // The space index exists and the replica fills it from the membership entries already held.
  expect(await s.spacesOf(h.bob)).toEqual([]);
  await Replica.open(s);
  expect(await named(s, h.alice)).toEqual([[toHex(h.space), true]]);
  expect(await named(s, h.bob)).toEqual([[toHex(h.space), false]]);
  // Writes and charges go through.
  const next = { ...h.rows[0]!, id: new Uint8Array(32).fill(9), seq: 1000 };
  await s.putEntries([{ ...next, charge: { account: h.alice, bytes: 5 } }]);
  expect((await s.getAccount(h.alice))!.used).toBe(15);
}

describe('SQLite schema migrations', () => {
  let dir = '';
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const file = () => join((dir = mkdtempSync(join(tmpdir(), 'freehold-migrate-'))), 'provider.db');
  const versions = (path: string) => {
    const db = new Database(path, { readonly: true });
    try {
      return db.prepare('SELECT version FROM migrations ORDER BY version').pluck().all();
    } finally {
      db.close();
    }
  };
  const integrity = { integrity: { quickCheck: true, acceptDataLoss: false } };

  it('upgrades a store made with the first schema, before versions were recorded', async () => {
    const h = await history();
    const path = file();
    const db = new Database(path);
    db.exec(SQLITE_MIGRATIONS[0]!.up as string);
    const put = db.prepare('INSERT INTO entries (id, space, doc, kind, device, seq, time, bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
    for (const r of h.rows) put.run(...entryArgs(r));
    for (const c of h.cards) db.prepare('INSERT INTO cards VALUES (?, ?)').run(Buffer.from(c.account), Buffer.from(c.card));
    db.prepare('INSERT INTO accounts VALUES (?, 1000, 10, 1)').run(Buffer.from(h.alice));
    db.prepare("INSERT INTO handles VALUES ('alice', ?)").run(Buffer.from(h.alice));
    db.close();

    const s = new SqliteStore(path, integrity);
    await expectUpgraded(s, h);
    await s.close();
    expect(versions(path)).toEqual(SQLITE_MIGRATIONS.map((m) => m.version));
    // Migration 5 packed the signed entries (the one the test added after is not one).
    const packed = new Database(path, { readonly: true });
    expect(packed.prepare('SELECT COUNT(*) FROM entries WHERE cut > 0').pluck().get()).toBe(h.rows.length);
    packed.close();
    // Opened again, nothing is left to apply and the commit record (new with migration 3) holds.
    const again = new SqliteStore(path, integrity);
    expect(await again.countEntries()).toBe(h.rows.length + 1);
    await again.close();
    expect(versions(path)).toHaveLength(LATEST);
  });

  it('packs the entries of a store at schema version 4 and reads them back as they were signed', async () => {
    const h = await history();
    const path = file();
    const db = new Database(path);
    migrateSqlite(db, path, SQLITE_MIGRATIONS.slice(0, 4));
    const put = db.prepare('INSERT INTO entries (id, space, doc, kind, device, seq, time, bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
    for (const r of h.rows) put.run(...entryArgs(r));
    // A row that is no signed entry is kept whole.
    put.run(...entryArgs({ ...h.rows[0]!, id: new Uint8Array(32).fill(7), seq: 999, bytes: new Uint8Array([1, 2, 3]) }));
    db.close();

    const s = new SqliteStore(path);
    expect((await s.getEntries(h.rows.map((r) => r.id))).map((r) => r && [...r.bytes])).toEqual(h.rows.map((r) => [...r.bytes]));
    expect([...(await s.getEntries([new Uint8Array(32).fill(7)]))[0]!.bytes]).toEqual([1, 2, 3]);
    expect(await s.idBySeq(h.rows[0]!.device, 999)).toEqual(new Uint8Array(32).fill(7));
    expect((await s.spaceUsage(h.space)).reduce((n, u) => n + u.bytes, 0)).toBe(h.rows.reduce((n, r) => n + r.bytes.length, 3));
    await s.close();
    expect(versions(path)).toEqual(SQLITE_MIGRATIONS.map((m) => m.version));
  });

  it('adopts a store from the release before versions were recorded, which has every table', async () => {
    const path = file();
    const s = new SqliteStore(path);
    await s.claimHandle('alice', new Uint8Array(32), { max: 3, releasedBefore: 0 });
    await s.close();
    const db = new Database(path);
    db.exec('DROP TABLE migrations');
    db.close();
    const again = new SqliteStore(path);
    expect((await again.handle('alice'))!.name).toBe('alice');
    await again.close();
    expect(versions(path)).toEqual(SQLITE_MIGRATIONS.map((m) => m.version));
  });

  it('refuses a store a newer Freehold migrated, and leaves it as it was', async () => {
    const path = file();
    await new SqliteStore(path).close();
    const db = new Database(path);
    db.prepare("INSERT INTO migrations VALUES (?, 'from the future', 0)").run(LATEST + 1);
    db.close();
    let err: unknown;
    try {
      new SqliteStore(path);
    } catch (e) {
      err = e;
    }
    expect(isFreeholdError(err, 'unsupported-version')).toBe(true);
    expect((err as Error).message).toContain(`schema version ${LATEST + 1}`);
    expect(versions(path)).toEqual([...SQLITE_MIGRATIONS.map((m) => m.version), LATEST + 1]);
  });

  it('applies migrations in one transaction: one that fails leaves no trace of any', () => {
    const path = file();
    const db = new Database(path);
    const broken = { version: LATEST + 1, name: 'broken', up: 'CREATE TABLE extra (x INTEGER); SELECT * FROM nowhere' };
    expect(() => migrateSqlite(db, path, [...SQLITE_MIGRATIONS, broken])).toThrow(/nowhere/);
    expect(db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table'").pluck().all()).toEqual([]);
    migrateSqlite(db, path);
    expect(db.prepare("SELECT 1 FROM sqlite_schema WHERE name = 'extra'").get()).toBeUndefined();
    db.close();
    expect(versions(path)).toHaveLength(LATEST);
  });
});

describe('PostgreSQL schema migrations', () => {
  let schema = '';
  afterEach(async () => {
    const c = new pg.Client({ connectionString: PG_URL });
    await c.connect();
    await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await c.end();
  });
  /** A client inside a fresh schema of its own. */
  const connect = async () => {
    schema = `fh_migrate_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
    const c = new pg.Client({ connectionString: PG_URL, options: `-c search_path=${schema}` });
    await c.connect();
    return c;
  };
  const versions = async (c: pg.Client) => (await c.query('SELECT version FROM migrations ORDER BY version')).rows.map((r: { version: number }) => r.version);

  it('upgrades a store made with the first schema, before versions were recorded', async () => {
    const h = await history();
    const c = await connect();
    await c.query(`CREATE SCHEMA ${schema}`);
    await c.query(POSTGRES_MIGRATIONS[0]!.up);
    for (const r of h.rows) await c.query('INSERT INTO entries (id, space, doc, kind, device, seq, time, bytes) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)', entryArgs(r));
    for (const card of h.cards) await c.query('INSERT INTO cards VALUES ($1, $2)', [Buffer.from(card.account), Buffer.from(card.card)]);
    await c.query('INSERT INTO accounts VALUES ($1, 1000, 10, 1)', [Buffer.from(h.alice)]);
    await c.query("INSERT INTO handles VALUES ('alice', $1)", [Buffer.from(h.alice)]);

    const s = await PostgresStore.open(PG_URL, schema);
    await expectUpgraded(s, h);
    await s.close();
    expect(await versions(c)).toEqual(POSTGRES_MIGRATIONS.map((m) => m.version));
    await c.end();
  });

  it('adopts a store from the release before versions were recorded, which has every table', async () => {
    const c = await connect();
    const s = await PostgresStore.open(PG_URL, schema);
    await s.claimHandle('alice', new Uint8Array(32), { max: 3, releasedBefore: 0 });
    await s.close();
    // That release had every table of the first versions, stored batches with plain statements, kept rate limits in
    // memory and no authority versions.
    await c.query(
      'DROP TABLE migrations; DROP FUNCTION put_entries; DROP FUNCTION packed_field; DROP FUNCTION put_card; DROP FUNCTION delete_entries; ' +
        'DROP FUNCTION delete_device_entries; DROP FUNCTION note_authority; DROP FUNCTION authority_lock; DROP TABLE authority; DROP SEQUENCE authority_version; ' +
        'DROP TABLE rate_buckets, pairings, counts; DROP FUNCTION take_token; DROP FUNCTION prune_entries',
    );
    const again = await PostgresStore.open(PG_URL, schema);
    expect((await again.handle('alice'))!.name).toBe('alice');
    await again.putEntries([{ id: new Uint8Array(32), space: new Uint8Array(32), doc: new Uint8Array(16), kind: 1, device: new Uint8Array(32), seq: 1, time: 1, bytes: new Uint8Array(4) }]);
    expect(await again.countEntries()).toBe(1);
    await again.close();
    expect(await versions(c)).toEqual(POSTGRES_MIGRATIONS.map((m) => m.version));
    await c.end();
  });

  it('refuses a schema a newer Freehold migrated, and leaves it as it was', async () => {
    const c = await connect();
    await (await PostgresStore.open(PG_URL, schema)).close();
    const future = POSTGRES_MIGRATIONS.length + 1;
    await c.query("INSERT INTO migrations VALUES ($1, 'from the future', 0)", [future]);
    const opening = PostgresStore.open(PG_URL, schema);
    await expect(opening).rejects.toMatchObject({ reason: 'unsupported-version' });
    await expect(opening).rejects.toThrow(`schema version ${future}`);
    expect(await versions(c)).toEqual([...POSTGRES_MIGRATIONS.map((m) => m.version), future]);
    await c.end();
  });

  it('lets nodes that start together migrate one schema once', async () => {
    const c = await connect();
    const nodes = await Promise.all(Array.from({ length: 4 }, () => PostgresStore.open(PG_URL, schema)));
    for (const n of nodes) await n.close();
    expect(await versions(c)).toEqual(POSTGRES_MIGRATIONS.map((m) => m.version));
    await c.end();
  });

  it('applies migrations in one transaction: one that fails leaves no trace of any', async () => {
    const c = await connect();
    const pool = new pg.Pool({ connectionString: PG_URL, options: `-c search_path=${schema}` });
    const broken = { version: POSTGRES_MIGRATIONS.length + 1, name: 'broken', up: 'CREATE TABLE extra (x INTEGER); SELECT * FROM nowhere' };
    await expect(migratePostgres(pool, schema, [...POSTGRES_MIGRATIONS, broken])).rejects.toThrow(/nowhere/);
    const { rows } = await c.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
    expect(rows).toEqual([]);
    await migratePostgres(pool, schema);
    expect(await versions(c)).toHaveLength(POSTGRES_MIGRATIONS.length);
    await pool.end();
    await c.end();
  });
});

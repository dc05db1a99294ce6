import type Database from 'better-sqlite3';
import type { EntryRow } from '@freehold/core';
import { pack } from './entry-pack.js';

/**
 * The entries table since schema version 5. Space ids, device keys and bases repeat across many entries: each is
 * stored once in `refs` and rows name it by number, in the table and in the indexes. `bytes` holds the entry
 * without the header fields the columns hold (see entry-pack.ts; `cut` bytes shorter, 0 when kept whole).
 *
 * Indexes, each for the queries named: id (lookups, deletes, and refusing a duplicate); (space, time, id) for a
 * space's keys in order, its entries and the newest ones, read from the index alone for keys; (space, doc) for a
 * document's entries, sorted on the few rows a document has; (device, seq) for sequence lookups and to refuse a
 * second entry at a sequence number.
 */
const SCHEMA = `
CREATE TABLE refs (n INTEGER PRIMARY KEY, value BLOB NOT NULL UNIQUE);
-- A rowid table: rows append in arrival order and only the small id index takes random inserts (ids are hashes).
CREATE TABLE entries (
  n INTEGER PRIMARY KEY,
  id BLOB NOT NULL,
  space INTEGER NOT NULL,
  doc BLOB NOT NULL,
  kind INTEGER NOT NULL,
  device INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  time INTEGER NOT NULL,
  basis INTEGER,
  cut INTEGER NOT NULL,
  bytes BLOB NOT NULL
);
CREATE UNIQUE INDEX entries_id ON entries (id);
CREATE INDEX entries_space_key ON entries (space, time, id);
CREATE INDEX entries_doc ON entries (space, doc);
CREATE UNIQUE INDEX entries_device_seq ON entries (device, seq);`;

/** The number a 32-byte value goes by, given one if it has none (inside the caller's write transaction). */
export function refOf(db: Database.Database): (value: Uint8Array) => number {
  const add = db.prepare('INSERT INTO refs (value) VALUES (?) ON CONFLICT (value) DO NOTHING');
  const find = db.prepare('SELECT n FROM refs WHERE value = ?').pluck();
  return (value) => (find.get(value) as number | undefined) ?? Number(add.run(value).lastInsertRowid);
}

type Fields = Omit<EntryRow, 'names' | 'charge'>;
type OldRow = Fields & { n: number };

/** The columns a row is inserted with, in the order of INSERT_ENTRY. */
export function entryValues(ref: (value: Uint8Array) => number, r: Fields): unknown[] {
  const p = pack(r);
  const basis = p && p.basis.length ? ref(p.basis) : null;
  return [r.id, ref(r.space), r.doc, r.kind, ref(r.device), r.seq, r.time, basis, p?.cut ?? 0, p?.body ?? r.bytes];
}

export const INSERT_ENTRY = 'INSERT INTO entries (id, space, doc, kind, device, seq, time, basis, cut, bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)';

/** Migration 5: the entries table rewritten packed, in arrival order, a page of rows at a time. */
export function packEntries(db: Database.Database): void {
  // A store from before versions were recorded gets every migration: this one only if its table is the old one.
  if ((db.pragma('table_info(entries)') as { name: string }[]).some((c) => c.name === 'cut')) return;
  db.exec('ALTER TABLE entries RENAME TO entries_v4');
  // The old indexes keep their names through the rename: dropped first so the new table can take them.
  for (const i of ['entries_space_key', 'entries_doc', 'entries_device_seq']) db.exec(`DROP INDEX IF EXISTS ${i}`);
  db.exec(SCHEMA);
  const ref = refOf(db);
  const insert = db.prepare(INSERT_ENTRY);
  const page = db.prepare('SELECT n, id, space, doc, kind, device, seq, time, bytes FROM entries_v4 WHERE n > ? ORDER BY n LIMIT 1000');
  for (let last = 0, rows: OldRow[]; (rows = page.all(last) as OldRow[]).length; last = rows.at(-1)!.n) {
    for (const r of rows) insert.run(...entryValues(ref, r));
  }
  db.exec('DROP TABLE entries_v4');
}

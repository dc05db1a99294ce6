import type Database from 'better-sqlite3';
import { MIGRATIONS_TABLE, pending, type Migration } from './migrations.js';
import { packEntries } from './sqlite-pack.js';

/** The SQLite store's schema, oldest first (see Migration). */
export const SQLITE_MIGRATIONS: readonly Migration<string | ((db: Database.Database) => void)>[] = [
  {
    version: 1,
    name: 'entries, cards, metadata, accounts and handles',
    up: `
-- A rowid table: rows append in arrival order and only the small id index takes random inserts (ids are hashes).
CREATE TABLE IF NOT EXISTS entries (
  n INTEGER PRIMARY KEY,
  id BLOB NOT NULL UNIQUE,
  space BLOB NOT NULL,
  doc BLOB NOT NULL,
  kind INTEGER NOT NULL,
  device BLOB NOT NULL,
  seq INTEGER NOT NULL,
  time INTEGER NOT NULL,
  bytes BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS entries_space_key ON entries (space, time, id);
CREATE INDEX IF NOT EXISTS entries_doc ON entries (space, doc, time, id);
CREATE UNIQUE INDEX IF NOT EXISTS entries_device_seq ON entries (device, seq);
CREATE TABLE IF NOT EXISTS cards (account BLOB PRIMARY KEY, card BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS accounts (account BLOB PRIMARY KEY, quota INTEGER NOT NULL, used INTEGER NOT NULL, created INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS handles (name TEXT PRIMARY KEY, account BLOB NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS handles_account ON handles (account);`,
  },
  {
    version: 2,
    name: 'handles: when a name was dropped',
    up: (db) => {
      const columns = db.pragma('table_info(handles)') as { name: string }[];
      if (!columns.some((c) => c.name === 'dropped')) db.exec('ALTER TABLE handles ADD COLUMN dropped INTEGER');
    },
  },
  {
    version: 3,
    name: 'ledger of write transactions',
    up: `
-- Counters every write transaction bumps: the commit record (FILE.commit) keeps what was last acknowledged of them.
CREATE TABLE IF NOT EXISTS ledger (
  one INTEGER PRIMARY KEY CHECK (one = 1),
  store BLOB NOT NULL,
  writes INTEGER NOT NULL,
  entries INTEGER NOT NULL
);
INSERT INTO ledger VALUES (1, randomblob(16), 0, 0) ON CONFLICT DO NOTHING;`,
  },
  {
    version: 4,
    name: 'space index',
    // Rows stored before this are indexed by the replica when it opens the store (core's fillSpaceIndex): naming
    // the accounts takes decoding entries, which is core's business, not SQL's.
    up: `
-- Per account, the spaces whose membership log names it (Store.spacesOf); creator: 1 where it created the space.
CREATE TABLE IF NOT EXISTS space_names (
  account BLOB NOT NULL,
  space BLOB NOT NULL,
  creator INTEGER NOT NULL,
  PRIMARY KEY (account, space)
) WITHOUT ROWID;`,
  },
  {
    version: 5,
    name: 'entries packed: repeated ids as numbers, header fields only once',
    up: packEntries,
  },
];

/**
 * Brings the database's schema up to date in one transaction, recording each migration applied; a database a
 * newer Freehold migrated further is refused with `unsupported-version` and left as it is.
 */
export function migrate(db: Database.Database, where: string, migrations = SQLITE_MIGRATIONS): void {
  // IMMEDIATE: two processes opening one file at once migrate it one after the other.
  db.transaction(() => {
    db.exec(MIGRATIONS_TABLE);
    const current = db.prepare('SELECT COALESCE(MAX(version), 0) FROM migrations').pluck().get() as number;
    for (const m of pending(where, current, migrations)) {
      if (typeof m.up === 'string') db.exec(m.up);
      else m.up(db);
      db.prepare('INSERT INTO migrations (version, name, applied) VALUES (?, ?, ?)').run(m.version, m.name, Date.now());
    }
  }).immediate();
}

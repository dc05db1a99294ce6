import type Database from 'better-sqlite3';

const SCHEMA = `
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
CREATE TABLE IF NOT EXISTS handles (name TEXT PRIMARY KEY, account BLOB NOT NULL, dropped INTEGER) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS handles_account ON handles (account);
-- Per account, the spaces whose membership log names it (Store.spacesOf); creator: 1 where it created the space.
CREATE TABLE IF NOT EXISTS space_names (
  account BLOB NOT NULL,
  space BLOB NOT NULL,
  creator INTEGER NOT NULL,
  PRIMARY KEY (account, space)
) WITHOUT ROWID;
-- Counters every write transaction bumps: the commit record (FILE.commit) keeps what was last acknowledged of them.
CREATE TABLE IF NOT EXISTS ledger (
  one INTEGER PRIMARY KEY CHECK (one = 1),
  store BLOB NOT NULL,
  writes INTEGER NOT NULL,
  entries INTEGER NOT NULL
);
INSERT INTO ledger VALUES (1, randomblob(16), 0, 0) ON CONFLICT DO NOTHING;
`;

/** Creates what is missing, also in a store made by an earlier version. */
export function migrate(db: Database.Database): void {
  db.exec(SCHEMA);
  // Stores made before dropped handles were released lack the column.
  if (!(db.pragma('table_info(handles)') as { name: string }[]).some((c) => c.name === 'dropped')) db.exec('ALTER TABLE handles ADD COLUMN dropped INTEGER');
}

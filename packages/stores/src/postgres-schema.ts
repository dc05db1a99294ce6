import type pg from 'pg';
import { MIGRATIONS_TABLE, pending, type Migration } from './migrations.js';
import { AUTHORITY_MIGRATION } from './postgres-authority.js';
import { PAYERS_MIGRATION } from './postgres-payers.js';

/** The PostgreSQL store's schema, oldest first (see Migration). Each runs in the store's own schema. */
export const POSTGRES_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'entries, cards, metadata, accounts and handles',
    up: `
CREATE TABLE IF NOT EXISTS entries (
  id BYTEA PRIMARY KEY,
  space BYTEA NOT NULL,
  doc BYTEA NOT NULL,
  kind SMALLINT NOT NULL,
  device BYTEA NOT NULL,
  seq BIGINT NOT NULL,
  time BIGINT NOT NULL,
  bytes BYTEA NOT NULL,
  UNIQUE (device, seq)
);
CREATE INDEX IF NOT EXISTS entries_space_key ON entries (space, time, id);
CREATE INDEX IF NOT EXISTS entries_doc ON entries (space, doc, time, id);
CREATE TABLE IF NOT EXISTS cards (account BYTEA PRIMARY KEY, card BYTEA NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BYTEA NOT NULL);
CREATE TABLE IF NOT EXISTS accounts (account BYTEA PRIMARY KEY, quota BIGINT NOT NULL, used BIGINT NOT NULL, created BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS handles (name TEXT PRIMARY KEY, account BYTEA NOT NULL);
CREATE INDEX IF NOT EXISTS handles_account ON handles (account);`,
  },
  { version: 2, name: 'handles: when a name was dropped', up: 'ALTER TABLE handles ADD COLUMN IF NOT EXISTS dropped BIGINT' },
  {
    version: 3,
    name: 'space index',
    // Rows stored before this are indexed by the replica when it opens the store (core's fillSpaceIndex).
    up: 'CREATE TABLE IF NOT EXISTS space_names (account BYTEA NOT NULL, space BYTEA NOT NULL, creator BOOLEAN NOT NULL, PRIMARY KEY (account, space))',
  },
  {
    version: 4,
    name: 'put_entries: a group of batches in one round trip',
    up: `
-- Field k of a packed list: the fields' bytes travel end to end in one binary value, with where each one ends.
CREATE FUNCTION packed_field(packed bytea, field_ends int[], k int) RETURNS bytea LANGUAGE sql IMMUTABLE
  AS 'SELECT substring(packed FROM coalesce(field_ends[k - 1], 0) + 1 FOR field_ends[k] - coalesce(field_ends[k - 1], 0))';

-- Stores a group of batches, each as Store.putEntries would alone: its charges checked against the quotas under the
-- accounts' row locks, its entries and index rows written, all or nothing. Entry i's id, space, doc, device and bytes
-- are fields 5i-4 to 5i of packed; batch b's entries are those after ends[b-1] up to ends[b] (likewise its names
-- and charges). A batch refused leaves one result row saying why.
CREATE FUNCTION put_entries(
  ends int[], packed bytea, field_ends int[], kinds smallint[], seqs bigint[], times bigint[],
  name_ends int[], name_accounts bytea[], name_spaces bytea[], name_creators boolean[],
  charge_ends int[], charge_accounts bytea[], charge_bytes bigint[]
) RETURNS TABLE (batch int, reason text, payer_used bigint, payer_quota bigint, needed bigint)
LANGUAGE plpgsql AS $$
DECLARE
  row_from int := 1;
  name_from int := 1;
  charge_from int := 1;
  held accounts%ROWTYPE;
  fields_from int;
  batch_packed bytea;
  batch_ends int[];
BEGIN
  -- Every account the group charges is locked first, in one order: groups on several nodes never wait in a cycle.
  PERFORM 1 FROM accounts WHERE account = ANY (charge_accounts) ORDER BY account FOR UPDATE;
  FOR b IN 1 .. coalesce(array_length(ends, 1), 0) LOOP
    batch := b - 1; reason := NULL; payer_used := NULL; payer_quota := NULL; needed := NULL;
    BEGIN
      FOR i IN charge_from .. charge_ends[b] LOOP
        SELECT * INTO held FROM accounts WHERE account = charge_accounts[i];
        IF NOT FOUND THEN
          reason := 'not-hosted';
          RAISE EXCEPTION USING ERRCODE = 'FH001';
        ELSIF held.used + charge_bytes[i] > held.quota THEN
          reason := 'quota-exceeded'; payer_used := held.used; payer_quota := held.quota; needed := charge_bytes[i];
          RAISE EXCEPTION USING ERRCODE = 'FH001';
        END IF;
        UPDATE accounts SET used = used + charge_bytes[i] WHERE account = charge_accounts[i];
      END LOOP;
      -- The batch's own bytes: each statement is planned with its arguments in it, so the whole group's would be
      -- copied into every plan.
      fields_from := coalesce(field_ends[5 * row_from - 5], 0);
      batch_packed := substring(packed FROM fields_from + 1 FOR coalesce(field_ends[5 * ends[b]], 0) - fields_from);
      batch_ends := ARRAY(SELECT e - fields_from FROM unnest(field_ends[5 * row_from - 4:5 * ends[b]]) AS e);
      INSERT INTO entries (id, space, doc, kind, device, seq, time, bytes)
        SELECT packed_field(batch_packed, batch_ends, 5 * j - 4), packed_field(batch_packed, batch_ends, 5 * j - 3),
          packed_field(batch_packed, batch_ends, 5 * j - 2), kinds[row_from + j - 1], packed_field(batch_packed, batch_ends, 5 * j - 1),
          seqs[row_from + j - 1], times[row_from + j - 1], packed_field(batch_packed, batch_ends, 5 * j)
        FROM generate_series(1, ends[b] - row_from + 1) AS j
        ON CONFLICT (id) DO NOTHING;
      INSERT INTO space_names (account, space, creator)
        SELECT * FROM unnest(name_accounts[name_from:name_ends[b]], name_spaces[name_from:name_ends[b]], name_creators[name_from:name_ends[b]])
        ON CONFLICT (account, space) DO UPDATE SET creator = true WHERE excluded.creator;
    EXCEPTION
      -- Refused by a charge: reason says why (variables outlive the rollback).
      WHEN SQLSTATE 'FH001' THEN NULL;
      -- The one unique index an insert here can trip is (device, seq): the device signed another entry there.
      WHEN unique_violation THEN reason := 'fork';
    END;
    IF reason IS NOT NULL THEN
      RETURN NEXT;
    END IF;
    row_from := ends[b] + 1;
    name_from := name_ends[b] + 1;
    charge_from := charge_ends[b] + 1;
  END LOOP;
END $$;`,
  },
  {
    version: 5,
    name: 'rate-limit buckets, running counts and the device-linking mailbox, shared by the nodes',
    up: `
-- full_at: when the bucket has refilled to its burst and is the same as no row (swept).
CREATE TABLE rate_buckets (key TEXT PRIMARY KEY, tokens DOUBLE PRECISION NOT NULL, at BIGINT NOT NULL, full_at BIGINT NOT NULL);
CREATE INDEX rate_buckets_full ON rate_buckets (full_at);

-- One take from a bucket, as takeToken in @freehold/core does it, under the row's lock: 0 if granted, else the ms
-- until a token is due. A refused take leaves the bucket as it was (refilled to now).
CREATE FUNCTION take_token(k text, per_minute double precision, burst double precision, now_ms bigint) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  held rate_buckets%ROWTYPE;
  t double precision;
  at_ms bigint;
  wait bigint := 0;
BEGIN
  INSERT INTO rate_buckets (key, tokens, at, full_at) VALUES (k, burst, now_ms, now_ms) ON CONFLICT (key) DO NOTHING;
  SELECT * INTO held FROM rate_buckets WHERE key = k FOR UPDATE;
  t := least(burst, held.tokens + greatest(0, now_ms - held.at) * per_minute / 60000);
  at_ms := greatest(now_ms, held.at);
  IF t >= 1 THEN
    t := t - 1;
  ELSE
    wait := ceil((1 - t) * 60000 / per_minute);
  END IF;
  UPDATE rate_buckets SET tokens = t, at = at_ms, full_at = at_ms + ceil((burst - t) * 60000 / per_minute) WHERE key = k;
  RETURN wait;
END $$;

-- Running counts (SharedState.add), each started from the store's figure; touched: when last added to (swept).
CREATE TABLE counts (key TEXT PRIMARY KEY, n BIGINT NOT NULL, touched BIGINT NOT NULL);
CREATE INDEX counts_touched ON counts (touched);

-- n orders pairings by opening, which (one TTL for all) is the order of expiry.
CREATE TABLE pairings (
  id TEXT PRIMARY KEY,
  n BIGSERIAL NOT NULL,
  owner TEXT NOT NULL,
  network TEXT NOT NULL,
  expires BIGINT NOT NULL,
  offer BYTEA NOT NULL,
  request BYTEA,
  answer BYTEA
);
CREATE INDEX pairings_owner ON pairings (owner, n);
CREATE INDEX pairings_network ON pairings (network, n);
CREATE INDEX pairings_expires ON pairings (expires);`,
  },
  AUTHORITY_MIGRATION,
  PAYERS_MIGRATION,
  {
    version: 8,
    // A document has a few rows, sorted as they are read; (time, id) in the index cost a third of the entries' indexes.
    name: 'document index on (space, doc)',
    up: 'DROP INDEX IF EXISTS entries_doc; CREATE INDEX entries_doc ON entries (space, doc);',
  },
  {
    version: 9,
    name: 'prune_entries: content entries deleted, what they were charged given back',
    up: `
CREATE FUNCTION prune_entries(ids bytea[], payers bytea[], amounts bigint[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  -- The payers first, in one order, as put_entries locks them: the two never wait for each other in a cycle.
  PERFORM 1 FROM accounts WHERE account = ANY (payers) ORDER BY account FOR UPDATE;
  WITH gone AS (DELETE FROM entries WHERE id = ANY (ids) AND kind <> 0 RETURNING id),
    owed AS (SELECT r.payer, sum(r.amount) AS n FROM unnest(ids, payers, amounts) AS r (id, payer, amount) JOIN gone USING (id)
      WHERE r.payer IS NOT NULL GROUP BY r.payer)
  UPDATE accounts a SET used = greatest(0, a.used - owed.n) FROM owed WHERE a.account = owed.payer;
END $$;`,
  },
];

/**
 * Brings the store's schema up to date in one transaction, recording each migration applied; a schema a newer
 * Freehold migrated further is refused with `unsupported-version` and left as it is. Nodes opening one schema at
 * once take turns (an advisory lock): the first migrates, the others find it done.
 */
export async function migrate(pool: pg.Pool, schema: string, migrations = POSTGRES_MIGRATIONS): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`freehold-migrate:${schema}`]);
    // Only when missing: creating a schema takes CREATE on the database, which a user given its own schema may lack.
    const { rowCount } = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
    if (!rowCount) await client.query(`CREATE SCHEMA ${schema}`);
    await client.query(MIGRATIONS_TABLE);
    const { rows } = await client.query<{ v: number }>('SELECT COALESCE(MAX(version), 0) AS v FROM migrations');
    for (const m of pending(`PostgreSQL schema ${schema}`, rows[0]!.v, migrations)) {
      await client.query(m.up);
      await client.query('INSERT INTO migrations (version, name, applied) VALUES ($1, $2, $3)', [m.version, m.name, Date.now()]);
    }
    await client.query('COMMIT');
  } catch (e) {
    await client.query('ROLLBACK').catch(() => {});
    throw e;
  } finally {
    client.release();
  }
}

import type { Migration } from './migrations.js';

/**
 * Migration 5: the record of authority several nodes share. What validating an entry reads besides the entry
 * (a space's membership log, its author's identity log) is versioned: each change to one takes the next number
 * of one sequence, under a lock held until it commits, so versions become visible in the order they were given
 * and "what changed after version V" misses nothing. A batch carries the version its node validated it at and the
 * authors whose logs it used; it is refused `stale` if one of them, or the membership log of a space it writes
 * in, changed after that (see WriteBasis). Content batches take the lock shared, so a removal or a revocation
 * committed through one node is seen by every batch that starts storing after it.
 */
export const AUTHORITY_MIGRATION: Migration = {
  version: 6,
  name: 'authority versions: membership and identity log changes, checked as batches are stored',
  up: `
CREATE SEQUENCE authority_version;
-- kind 0: a space's membership log; kind 1: an account's identity log.
CREATE TABLE authority (kind SMALLINT NOT NULL, key BYTEA NOT NULL, version BIGINT NOT NULL, PRIMARY KEY (kind, key));
CREATE INDEX authority_by_version ON authority (version);

CREATE FUNCTION authority_lock() RETURNS bigint LANGUAGE sql STABLE
  AS $$ SELECT hashtextextended('freehold-authority:' || current_schema(), 0) $$;

-- Records that these keys changed, under the exclusive lock (kept until commit): later versions commit later.
CREATE FUNCTION note_authority(k smallint, keys bytea[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF coalesce(array_length(keys, 1), 0) = 0 THEN RETURN; END IF;
  PERFORM pg_advisory_xact_lock(authority_lock());
  INSERT INTO authority (kind, key, version)
    SELECT k, u.key, nextval('authority_version') FROM (SELECT DISTINCT unnest(keys) AS key) AS u
    ON CONFLICT (kind, key) DO UPDATE SET version = excluded.version;
END $$;

CREATE FUNCTION put_card(a bytea, c bytea) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  PERFORM note_authority(1::smallint, ARRAY[a]);
  INSERT INTO cards (account, card) VALUES (a, c) ON CONFLICT (account) DO UPDATE SET card = excluded.card;
END $$;

-- Deleting membership operations changes the spaces' logs too.
CREATE FUNCTION delete_entries(ids bytea[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE changed bytea[];
BEGIN
  WITH d AS (DELETE FROM entries WHERE id = ANY (ids) RETURNING space, kind)
    SELECT array_agg(DISTINCT space) FILTER (WHERE kind = 0) INTO changed FROM d;
  PERFORM note_authority(0::smallint, changed);
END $$;

CREATE FUNCTION delete_device_entries(s bytea, devices bytea[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE n int;
BEGIN
  WITH d AS (DELETE FROM entries WHERE space = s AND device = ANY (devices) RETURNING kind)
    SELECT count(*) FILTER (WHERE kind = 0) INTO n FROM d;
  IF n > 0 THEN PERFORM note_authority(0::smallint, ARRAY[s]); END IF;
END $$;

DROP FUNCTION put_entries(int[], bytea, int[], smallint[], bigint[], bigint[], int[], bytea[], bytea[], boolean[], int[], bytea[], bigint[]);

-- As in migration 4, and: a unique violation is a fork only if another entry holds one of the batch's sequence
-- numbers (the same entry stored at the same moment through another node is stored once, not refused); batch b was validated at basis_versions[b] with the identity logs of
-- basis_accounts[basis_ends[b-1]+1 .. basis_ends[b]]; it is refused 'stale' if one of them, or the membership log
-- of a space it writes in, changed after that. Its membership operations change their spaces' versions.
CREATE FUNCTION put_entries(
  ends int[], packed bytea, field_ends int[], kinds smallint[], seqs bigint[], times bigint[],
  name_ends int[], name_accounts bytea[], name_spaces bytea[], name_creators boolean[],
  charge_ends int[], charge_accounts bytea[], charge_bytes bigint[],
  basis_versions bigint[], basis_ends int[], basis_accounts bytea[]
) RETURNS TABLE (batch int, reason text, payer_used bigint, payer_quota bigint, needed bigint)
LANGUAGE plpgsql AS $$
DECLARE
  row_from int := 1;
  name_from int := 1;
  charge_from int := 1;
  basis_from int := 1;
  held accounts%ROWTYPE;
  fields_from int;
  batch_packed bytea;
  batch_ends int[];
  batch_spaces bytea[];
  changed bytea[];
BEGIN
  -- Taken first, before any account's row lock, on every node: no two groups wait for each other in a cycle.
  IF 0 = ANY (kinds) THEN PERFORM pg_advisory_xact_lock(authority_lock());
  ELSE PERFORM pg_advisory_xact_lock_shared(authority_lock());
  END IF;
  -- Every account the group charges is locked first, in one order: groups on several nodes never wait in a cycle.
  PERFORM 1 FROM accounts WHERE account = ANY (charge_accounts) ORDER BY account FOR UPDATE;
  FOR b IN 1 .. coalesce(array_length(ends, 1), 0) LOOP
    batch := b - 1;
    FOR attempt IN 1 .. 3 LOOP
      reason := NULL; payer_used := NULL; payer_quota := NULL; needed := NULL;
      BEGIN
        fields_from := coalesce(field_ends[5 * row_from - 5], 0);
        batch_packed := substring(packed FROM fields_from + 1 FOR coalesce(field_ends[5 * ends[b]], 0) - fields_from);
        batch_ends := ARRAY(SELECT e - fields_from FROM unnest(field_ends[5 * row_from - 4:5 * ends[b]]) AS e);
        -- Nearly always nothing changed since the batch's version at all: one probe of the version index.
        IF EXISTS (SELECT 1 FROM authority a WHERE a.version > basis_versions[b]) THEN
          batch_spaces := ARRAY(SELECT DISTINCT packed_field(batch_packed, batch_ends, 5 * j - 3) FROM generate_series(1, ends[b] - row_from + 1) AS j);
          IF EXISTS (SELECT 1 FROM authority a WHERE a.version > basis_versions[b]
              AND ((a.kind = 0 AND a.key = ANY (batch_spaces)) OR (a.kind = 1 AND a.key = ANY (basis_accounts[basis_from:basis_ends[b]])))) THEN
            reason := 'stale';
            RAISE EXCEPTION USING ERRCODE = 'FH001';
          END IF;
        END IF;
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
        WITH stored AS (
          INSERT INTO entries (id, space, doc, kind, device, seq, time, bytes)
            SELECT packed_field(batch_packed, batch_ends, 5 * j - 4), packed_field(batch_packed, batch_ends, 5 * j - 3),
              packed_field(batch_packed, batch_ends, 5 * j - 2), kinds[row_from + j - 1], packed_field(batch_packed, batch_ends, 5 * j - 1),
              seqs[row_from + j - 1], times[row_from + j - 1], packed_field(batch_packed, batch_ends, 5 * j)
            FROM generate_series(1, ends[b] - row_from + 1) AS j
            ON CONFLICT (id) DO NOTHING
            RETURNING space, kind
        ) SELECT array_agg(DISTINCT space) FILTER (WHERE kind = 0) INTO changed FROM stored;
        PERFORM note_authority(0::smallint, changed);
        INSERT INTO space_names (account, space, creator)
          SELECT * FROM unnest(name_accounts[name_from:name_ends[b]], name_spaces[name_from:name_ends[b]], name_creators[name_from:name_ends[b]])
          ON CONFLICT (account, space) DO UPDATE SET creator = true WHERE excluded.creator;
        EXIT;
      EXCEPTION
        WHEN SQLSTATE 'FH001' THEN EXIT;
        -- The (device, seq) index: a fork, unless the same entry was being stored through another node at the same
        -- moment (its id was not yet there to conflict with), and then the batch is stored again.
        WHEN unique_violation THEN
          IF attempt = 3 OR EXISTS (SELECT 1 FROM generate_series(1, ends[b] - row_from + 1) AS j
              JOIN entries e ON e.device = packed_field(batch_packed, batch_ends, 5 * j - 1) AND e.seq = seqs[row_from + j - 1]
              WHERE e.id <> packed_field(batch_packed, batch_ends, 5 * j - 4)) THEN
            reason := 'fork';
            EXIT;
          END IF;
      END;
    END LOOP;
    IF reason IS NOT NULL THEN
      RETURN NEXT;
    END IF;
    row_from := ends[b] + 1;
    name_from := name_ends[b] + 1;
    charge_from := charge_ends[b] + 1;
    basis_from := basis_ends[b] + 1;
  END LOOP;
END $$;`,
};

/** What changed after `since` (every key whose newest version is later) and the version now, in one snapshot. */
export const CHANGES_SINCE = `SELECT m.v AS version, a.kind, a.key FROM (SELECT coalesce(max(version), 0) AS v FROM authority) AS m
  LEFT JOIN authority a ON a.version > $1 AND $1 >= 0`;

import type { Migration } from './migrations.js';

/**
 * Migration 7: each row says who pays for it, and only the rows a batch inserts are charged. With charges given
 * per batch and account, the same entry stored through two nodes at the same moment was stored once and paid for
 * twice: the batch that found the row already there could not tell which part of its charge to take back.
 */
export const PAYERS_MIGRATION: Migration = {
  version: 7,
  name: 'per-row payers: only rows inserted are charged',
  up: `
DROP FUNCTION put_entries(int[], bytea, int[], smallint[], bigint[], bigint[], int[], bytea[], bytea[], boolean[], int[], bytea[], bigint[],
  bigint[], int[], bytea[]);

-- As in migration 6, with the charges per row: payers[i] (NULL for none) pays charges[i] for row i, if this call
-- inserts it. The payers of the rows inserted are checked against their quotas together, per batch.
CREATE FUNCTION put_entries(
  ends int[], packed bytea, field_ends int[], kinds smallint[], seqs bigint[], times bigint[],
  name_ends int[], name_accounts bytea[], name_spaces bytea[], name_creators boolean[],
  payers bytea[], charges bigint[],
  basis_versions bigint[], basis_ends int[], basis_accounts bytea[]
) RETURNS TABLE (batch int, reason text, payer_used bigint, payer_quota bigint, needed bigint)
LANGUAGE plpgsql AS $$
DECLARE
  row_from int := 1;
  name_from int := 1;
  basis_from int := 1;
  held accounts%ROWTYPE;
  owed record;
  fields_from int;
  batch_packed bytea;
  batch_ends int[];
  batch_spaces bytea[];
  changed bytea[];
  inserted bytea[];
BEGIN
  -- Taken first, before any account's row lock, on every node: no two groups wait for each other in a cycle.
  IF 0 = ANY (kinds) THEN PERFORM pg_advisory_xact_lock(authority_lock());
  ELSE PERFORM pg_advisory_xact_lock_shared(authority_lock());
  END IF;
  -- Every account the group may charge is locked first, in one order: groups on several nodes never wait in a cycle.
  PERFORM 1 FROM accounts WHERE account = ANY (payers) ORDER BY account FOR UPDATE;
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
        WITH stored AS (
          INSERT INTO entries (id, space, doc, kind, device, seq, time, bytes)
            SELECT packed_field(batch_packed, batch_ends, 5 * j - 4), packed_field(batch_packed, batch_ends, 5 * j - 3),
              packed_field(batch_packed, batch_ends, 5 * j - 2), kinds[row_from + j - 1], packed_field(batch_packed, batch_ends, 5 * j - 1),
              seqs[row_from + j - 1], times[row_from + j - 1], packed_field(batch_packed, batch_ends, 5 * j)
            FROM generate_series(1, ends[b] - row_from + 1) AS j
            ON CONFLICT (id) DO NOTHING
            RETURNING id, space, kind
        ) SELECT array_agg(DISTINCT space) FILTER (WHERE kind = 0), array_agg(id) INTO changed, inserted FROM stored;
        PERFORM note_authority(0::smallint, changed);
        -- A row already held (stored through another node meanwhile) is not paid for again.
        FOR owed IN SELECT r.payer, sum(r.bytes)::bigint AS bytes FROM (
            SELECT DISTINCT ON (ins.id) payers[row_from + j - 1] AS payer, charges[row_from + j - 1] AS bytes
            FROM generate_series(1, ends[b] - row_from + 1) AS j
              JOIN unnest(inserted) AS ins (id) ON ins.id = packed_field(batch_packed, batch_ends, 5 * j - 4)
            WHERE payers[row_from + j - 1] IS NOT NULL
            ORDER BY ins.id
          ) AS r GROUP BY r.payer ORDER BY r.payer LOOP
          SELECT * INTO held FROM accounts WHERE account = owed.payer;
          IF NOT FOUND THEN
            reason := 'not-hosted';
            RAISE EXCEPTION USING ERRCODE = 'FH001';
          ELSIF held.used + owed.bytes > held.quota THEN
            reason := 'quota-exceeded'; payer_used := held.used; payer_quota := held.quota; needed := owed.bytes;
            RAISE EXCEPTION USING ERRCODE = 'FH001';
          END IF;
          UPDATE accounts SET used = used + owed.bytes WHERE account = owed.payer;
        END LOOP;
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
    basis_from := basis_ends[b] + 1;
  END LOOP;
END $$;`,
};

import pg from 'pg';
import {
  reject,
  type AccountRow,
  type Charge,
  type DeviceUsage,
  type EntryKey,
  type EntryRow,
  type HandleClaim,
  type HandleRow,
  type HandleRules,
  type NamedSpace,
  type Store,
} from '@freehold/core';
import { quotaMessage } from './quota.js';

const SCHEMA = `
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
ALTER TABLE handles ADD COLUMN IF NOT EXISTS dropped BIGINT;
CREATE INDEX IF NOT EXISTS handles_account ON handles (account);
CREATE TABLE IF NOT EXISTS space_names (account BYTEA NOT NULL, space BYTEA NOT NULL, creator BOOLEAN NOT NULL, PRIMARY KEY (account, space));
`;

// BIGINT columns hold times, sequence numbers and byte counts, all well inside Number's safe range.
const types = {
  getTypeParser: (oid: number, format?: string) => (oid === 20 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text')),
};

const bytes = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
const buf = (b: Uint8Array): Buffer => Buffer.from(b.buffer, b.byteOffset, b.byteLength);

interface Row {
  id: Buffer;
  space: Buffer;
  doc: Buffer;
  kind: number;
  device: Buffer;
  seq: number;
  time: number;
  bytes: Buffer;
}
const row = (r: Row): EntryRow => ({ id: bytes(r.id), space: bytes(r.space), doc: bytes(r.doc), kind: r.kind, device: bytes(r.device), seq: r.seq, time: r.time, bytes: bytes(r.bytes) });
const handleRow = (h: { name: string; account: Buffer; dropped: number | null }): HandleRow => ({
  name: h.name,
  account: bytes(h.account),
  ...(h.dropped === null ? {} : { dropped: h.dropped }),
});
const account = (r: { account: Buffer; quota: number; used: number; created: number }): AccountRow => ({ ...r, account: bytes(r.account) });

/**
 * PostgreSQL, for providers that outgrow one machine: several stateless nodes can share it. Each instance
 * works inside one schema, so tests and tenants never see each other's tables.
 */
export class PostgresStore implements Store {
  private constructor(
    private readonly pool: pg.Pool,
    readonly schema: string,
  ) {}

  static async open(url: string, schema = 'freehold'): Promise<PostgresStore> {
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) reject('invalid-argument', `schema name "${schema}" is not allowed`);
    const pool = new pg.Pool({ connectionString: url, max: 8, types, options: `-c search_path=${schema}` });
    try {
      await pool.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
      await pool.query(SCHEMA);
    } catch (e) {
      await pool.end();
      return reject('unavailable', `cannot use PostgreSQL at ${url.replace(/:[^:@/]*@/, ':***@')}: ${(e as Error).message}`);
    }
    return new PostgresStore(pool, schema);
  }

  async putEntries(rows: EntryRow[], charges: Charge[] = []): Promise<void> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      for (const c of charges) {
        // The row lock makes concurrent writers on several nodes see each other's charges.
        const { rows: found } = await client.query('SELECT * FROM accounts WHERE account = $1 FOR UPDATE', [buf(c.account)]);
        if (!found[0]) reject('not-hosted', 'account is not registered here');
        const a = account(found[0]);
        if (a.used + c.bytes > a.quota) reject('quota-exceeded', quotaMessage(a, c.bytes));
        await client.query('UPDATE accounts SET used = used + $1 WHERE account = $2', [c.bytes, buf(c.account)]);
      }
      for (let i = 0; i < rows.length; i += 500) {
        const chunk = rows.slice(i, i + 500);
        const values: unknown[] = [];
        const tuples = chunk.map((r, j) => {
          values.push(buf(r.id), buf(r.space), buf(r.doc), r.kind, buf(r.device), r.seq, r.time, buf(r.bytes));
          const o = j * 8;
          return `($${o + 1}, $${o + 2}, $${o + 3}, $${o + 4}, $${o + 5}, $${o + 6}, $${o + 7}, $${o + 8})`;
        });
        await client.query(`INSERT INTO entries (id, space, doc, kind, device, seq, time, bytes) VALUES ${tuples.join(', ')} ON CONFLICT (id) DO NOTHING`, values);
      }
      await this.putNames(client, rows);
      await client.query('COMMIT');
    } catch (e) {
      await client.query('ROLLBACK').catch(() => {});
      throw e;
    } finally {
      client.release();
    }
  }

  /**
   * The index rows of a batch (see Store.spacesOf) in one statement. An upsert may touch a row once per
   * statement, so the batch's own repeats are merged first.
   */
  private async putNames(client: pg.PoolClient, rows: EntryRow[]): Promise<void> {
    const named = new Map<string, { account: Buffer; space: Buffer; creator: boolean }>();
    for (const r of rows) {
      if (!r.names) continue;
      const k = `${buf(r.names.account).toString('hex')}:${buf(r.space).toString('hex')}`;
      named.set(k, { account: buf(r.names.account), space: buf(r.space), creator: r.names.creator || (named.get(k)?.creator ?? false) });
    }
    if (!named.size) return;
    const list = [...named.values()];
    await client.query(
      `INSERT INTO space_names (account, space, creator) SELECT * FROM unnest($1::bytea[], $2::bytea[], $3::boolean[])
       ON CONFLICT (account, space) DO UPDATE SET creator = true WHERE excluded.creator`,
      [list.map((n) => n.account), list.map((n) => n.space), list.map((n) => n.creator)],
    );
  }

  async getEntries(ids: Uint8Array[]): Promise<(Uint8Array | undefined)[]> {
    if (!ids.length) return [];
    const { rows } = await this.pool.query('SELECT id, bytes FROM entries WHERE id = ANY($1)', [ids.map(buf)]);
    const found = new Map((rows as { id: Buffer; bytes: Buffer }[]).map((r) => [r.id.toString('hex'), bytes(r.bytes)]));
    return ids.map((id) => found.get(buf(id).toString('hex')));
  }

  async hasEntry(id: Uint8Array): Promise<boolean> {
    return (await this.pool.query('SELECT 1 FROM entries WHERE id = $1', [buf(id)])).rowCount === 1;
  }

  async idBySeq(device: Uint8Array, seq: number): Promise<Uint8Array | undefined> {
    const { rows } = await this.pool.query('SELECT id FROM entries WHERE device = $1 AND seq = $2', [buf(device), seq]);
    return rows[0] ? bytes(rows[0].id) : undefined;
  }

  async maxSeq(device: Uint8Array): Promise<number> {
    const { rows } = await this.pool.query('SELECT COALESCE(MAX(seq), 0) AS m FROM entries WHERE device = $1', [buf(device)]);
    return rows[0].m;
  }

  async deleteEntries(ids: Uint8Array[]): Promise<void> {
    if (ids.length) await this.pool.query('DELETE FROM entries WHERE id = ANY($1)', [ids.map(buf)]);
  }

  async keys(space: Uint8Array): Promise<EntryKey[]> {
    const { rows } = await this.pool.query('SELECT time, id FROM entries WHERE space = $1 ORDER BY time, id', [buf(space)]);
    return (rows as { time: number; id: Buffer }[]).map((r) => ({ time: r.time, id: bytes(r.id) }));
  }

  async spaceEntries(space: Uint8Array, kind?: number): Promise<EntryRow[]> {
    const { rows } =
      kind === undefined
        ? await this.pool.query('SELECT * FROM entries WHERE space = $1 ORDER BY time, id', [buf(space)])
        : await this.pool.query('SELECT * FROM entries WHERE space = $1 AND kind = $2 ORDER BY time, id', [buf(space), kind]);
    return (rows as Row[]).map(row);
  }

  async docEntries(space: Uint8Array, doc: Uint8Array): Promise<EntryRow[]> {
    const { rows } = await this.pool.query('SELECT * FROM entries WHERE space = $1 AND doc = $2 ORDER BY time, id', [buf(space), buf(doc)]);
    return (rows as Row[]).map(row);
  }

  async recentEntries(spaces: Uint8Array[], limit: number, before = Number.MAX_SAFE_INTEGER): Promise<EntryRow[]> {
    if (!spaces.length) return [];
    const { rows } = await this.pool.query('SELECT * FROM entries WHERE space = ANY($1) AND time < $2 ORDER BY time DESC, id DESC LIMIT $3', [spaces.map(buf), before, limit]);
    return (rows as Row[]).map(row);
  }

  async deviceEntries(space: Uint8Array | null, device: Uint8Array, afterSeq: number): Promise<EntryRow[]> {
    const { rows } = space
      ? await this.pool.query('SELECT * FROM entries WHERE space = $1 AND device = $2 AND seq > $3 ORDER BY time, id', [buf(space), buf(device), afterSeq])
      : await this.pool.query('SELECT * FROM entries WHERE device = $1 AND seq > $2 ORDER BY time, id', [buf(device), afterSeq]);
    return (rows as Row[]).map(row);
  }

  async spaces(): Promise<Uint8Array[]> {
    const { rows } = await this.pool.query('SELECT DISTINCT space FROM entries ORDER BY space');
    return (rows as { space: Buffer }[]).map((r) => bytes(r.space));
  }

  async spacesOf(accountId: Uint8Array): Promise<NamedSpace[]> {
    const { rows } = await this.pool.query('SELECT space, creator FROM space_names WHERE account = $1 ORDER BY space', [buf(accountId)]);
    return (rows as { space: Buffer; creator: boolean }[]).map((r) => ({ space: bytes(r.space), creator: r.creator }));
  }

  async countEntries(): Promise<number> {
    const { rows } = await this.pool.query('SELECT COUNT(*)::bigint AS n FROM entries');
    return rows[0].n;
  }

  async spaceUsage(space: Uint8Array): Promise<DeviceUsage[]> {
    // octet_length reads a stored value's size from its header, without fetching or decompressing it.
    const { rows } = await this.pool.query(
      'SELECT device, COUNT(*)::bigint AS entries, SUM(octet_length(bytes))::bigint AS bytes FROM entries WHERE space = $1 GROUP BY device',
      [buf(space)],
    );
    return (rows as { device: Buffer; entries: number; bytes: number }[]).map((r) => ({ device: bytes(r.device), entries: r.entries, bytes: r.bytes }));
  }

  async deleteDeviceEntries(space: Uint8Array, devices: Uint8Array[]): Promise<void> {
    if (devices.length) await this.pool.query('DELETE FROM entries WHERE space = $1 AND device = ANY($2)', [buf(space), devices.map(buf)]);
  }

  async putCard(accountId: Uint8Array, card: Uint8Array): Promise<void> {
    await this.pool.query('INSERT INTO cards (account, card) VALUES ($1, $2) ON CONFLICT (account) DO UPDATE SET card = excluded.card', [buf(accountId), buf(card)]);
  }

  async getCard(accountId: Uint8Array): Promise<Uint8Array | undefined> {
    const { rows } = await this.pool.query('SELECT card FROM cards WHERE account = $1', [buf(accountId)]);
    return rows[0] ? bytes(rows[0].card) : undefined;
  }

  async cards(): Promise<{ account: Uint8Array; card: Uint8Array }[]> {
    const { rows } = await this.pool.query('SELECT account, card FROM cards ORDER BY account');
    return (rows as { account: Buffer; card: Buffer }[]).map((r) => ({ account: bytes(r.account), card: bytes(r.card) }));
  }

  async putAccount(r: AccountRow): Promise<void> {
    await this.pool.query('INSERT INTO accounts (account, quota, used, created) VALUES ($1, $2, $3, $4) ON CONFLICT (account) DO UPDATE SET quota = excluded.quota', [
      buf(r.account),
      r.quota,
      r.used,
      r.created,
    ]);
  }

  async getAccount(accountId: Uint8Array): Promise<AccountRow | undefined> {
    const { rows } = await this.pool.query('SELECT * FROM accounts WHERE account = $1', [buf(accountId)]);
    return rows[0] ? account(rows[0]) : undefined;
  }

  async accounts(): Promise<AccountRow[]> {
    const { rows } = await this.pool.query('SELECT * FROM accounts ORDER BY account');
    return rows.map(account);
  }

  async claimHandle(name: string, accountId: Uint8Array, rules: HandleRules): Promise<HandleClaim> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      // One claim per account at a time, across nodes, so two concurrent claims cannot both pass the cap.
      await client.query("SELECT pg_advisory_xact_lock(hashtextextended('freehold-handles:' || encode($1, 'hex'), 0))", [buf(accountId)]);
      const { rows } = await client.query('SELECT account, dropped FROM handles WHERE name = $1', [name]);
      const held = rows[0] as { account: Buffer; dropped: number | null } | undefined;
      const mine = held !== undefined && held.account.equals(buf(accountId));
      let result: HandleClaim = 'claimed';
      if (held && !mine && !(held.dropped !== null && held.dropped <= rules.releasedBefore)) result = 'taken';
      else if (!mine) {
        const { rows: n } = await client.query('SELECT COUNT(*)::bigint AS n FROM handles WHERE account = $1 AND name <> $2 AND (dropped IS NULL OR dropped > $3)', [
          buf(accountId),
          name,
          rules.releasedBefore,
        ]);
        if (n[0].n >= rules.max) result = 'over-limit';
      }
      if (result === 'claimed') {
        // The condition holds again under the row lock: another account may have taken the name meanwhile.
        const { rowCount } = await client.query(
          `INSERT INTO handles (name, account) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET account = excluded.account, dropped = NULL
           WHERE handles.account = excluded.account OR handles.dropped <= $3`,
          [name, buf(accountId), rules.releasedBefore],
        );
        if (rowCount === 0) result = 'taken';
      }
      await client.query('COMMIT');
      return result;
    } catch (e) {
      await client.query('ROLLBACK').catch(() => {});
      throw e;
    } finally {
      client.release();
    }
  }

  async handle(name: string): Promise<HandleRow | undefined> {
    const { rows } = await this.pool.query('SELECT name, account, dropped FROM handles WHERE name = $1', [name]);
    return rows[0] ? handleRow(rows[0]) : undefined;
  }

  async handlesOf(accountId: Uint8Array): Promise<HandleRow[]> {
    const { rows } = await this.pool.query('SELECT name, account, dropped FROM handles WHERE account = $1 ORDER BY name COLLATE "C"', [buf(accountId)]);
    return rows.map(handleRow);
  }

  async markHandleDropped(name: string, accountId: Uint8Array, at: number | null): Promise<void> {
    await this.pool.query(
      at === null
        ? 'UPDATE handles SET dropped = NULL WHERE name = $1 AND account = $2'
        : 'UPDATE handles SET dropped = COALESCE(dropped, $3) WHERE name = $1 AND account = $2',
      at === null ? [name, buf(accountId)] : [name, buf(accountId), at],
    );
  }

  async getMeta(key: string): Promise<Uint8Array | undefined> {
    const { rows } = await this.pool.query('SELECT value FROM meta WHERE key = $1', [key]);
    return rows[0] ? bytes(rows[0].value) : undefined;
  }

  async setMeta(key: string, value: Uint8Array): Promise<void> {
    await this.pool.query('INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value', [key, buf(value)]);
  }

  /** Drops this store's schema and everything in it (tests). */
  async drop(): Promise<void> {
    await this.pool.query(`DROP SCHEMA IF EXISTS ${this.schema} CASCADE`);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

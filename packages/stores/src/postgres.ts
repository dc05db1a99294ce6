import pg from 'pg';
import {
  FreeholdError,
  reject,
  toHex,
  type AccountRow,
  type AuthorityChanges,
  type DeviceUsage,
  type EntryKey,
  type EntryRow,
  type HandleClaim,
  type HandleRow,
  type HandleRules,
  type NamedSpace,
  type PrunedRow,
  type Store,
  type WriteBasis,
} from '@freehold/core';
import { Coalescer } from './coalesce.js';
import { intArray, putGroup, type Put } from './postgres-put.js';
import { migrate } from './postgres-schema.js';
import { PostgresSharedState } from './postgres-state.js';
import { CHANGES_SINCE } from './postgres-authority.js';

// BIGINT columns hold times, sequence numbers and byte counts, all well inside Number's safe range.
const types = {
  getTypeParser: (oid: number, format?: string) => (oid === 20 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text')),
};

/**
 * A driver error that means the database could not be reached (no connection, connection lost, server shutting
 * down or out of resources) becomes `unavailable`: the write is refused, never acknowledged, and a later one
 * goes through once the database is back. Any other error is a fault of the query and goes on as it is.
 */
export function unreachable(e: unknown): never {
  if (e instanceof FreeholdError) throw e;
  const code = (e as { code?: unknown }).code;
  const sqlState = typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code);
  if (sqlState && !/^(08|53|57)/.test(code)) throw e;
  return reject('unavailable', `the database cannot be reached: ${e instanceof Error ? e.message : String(e)}`);
}

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
type SqlHandle = { name: string; account: Buffer; dropped: number | null };
type SqlAccount = { account: Buffer; quota: number; used: number; created: number };
const handleRow = (h: SqlHandle): HandleRow => ({
  name: h.name,
  account: bytes(h.account),
  ...(h.dropped === null ? {} : { dropped: h.dropped }),
});
const account = (r: SqlAccount): AccountRow => ({ ...r, account: bytes(r.account) });

/**
 * PostgreSQL, for providers that outgrow one machine: several stateless nodes can share it. Each instance
 * works inside one schema, so tests and tenants never see each other's tables.
 */
export class PostgresStore implements Store {
  private readonly prepared = new Map<string, string>();
  /**
   * Two groups in flight: one commits while the next forms. At most 32 batches a group, each a subtransaction:
   * past 64, a transaction's subtransactions no longer fit in shared memory, and every snapshot taken meanwhile
   * has to look them up in pg_subtrans.
   */
  private readonly puts = new Coalescer<Put, FreeholdError | undefined>((group) => putGroup(this.pool, group).catch(unreachable), {
    parallel: 2,
    max: 32,
  });
  /** idBySeq runs once per entry ingested: concurrent ingests share one query. */
  private readonly seqs = new Coalescer<{ device: Uint8Array; seq: number }, Uint8Array | undefined>((keys) => this.idsBySeq(keys), { parallel: 2, max: 1000 });

  /**
   * A node asks for an account it does not know yet (registered through another node, or not at all) on every
   * use: however many ask at once, at most two queries are running, each answering up to 1000 of them.
   */
  private readonly accountsAsked = new Coalescer<Uint8Array, AccountRow | undefined>((ids) => this.accountsOf(ids), { parallel: 2, max: 1000 });

  private constructor(
    private readonly pool: pg.Pool,
    readonly schema: string,
  ) {}

  static async open(url: string, schema = 'freehold'): Promise<PostgresStore> {
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) reject('invalid-argument', `schema name "${schema}" is not allowed`);
    // A connection that cannot be made within seconds fails the request (`unavailable`) rather than queueing it.
    const pool = new pg.Pool({
      connectionString: url,
      max: 8,
      types,
      connectionTimeoutMillis: 5000,
      options: `-c search_path=${schema} -c plan_cache_mode=force_custom_plan`,
    });
    // An idle connection the server dropped is discarded by the pool; the next request opens another.
    pool.on('error', () => {});
    try {
      await migrate(pool, schema);
    } catch (e) {
      await pool.end();
      if (e instanceof FreeholdError) throw e;
      return reject('unavailable', `cannot use PostgreSQL at ${url.replace(/:[^:@/]*@/, ':***@')}: ${(e as Error).message}`);
    }
    return new PostgresStore(pool, schema);
  }

  /**
   * Group commit: batches put while earlier groups are being stored leave together in the next group, one
   * statement and one commit for all of them (see put_entries). Each resolves only once committed.
   */
  async putEntries(rows: EntryRow[], basis?: WriteBasis): Promise<void> {
    const refused = await this.puts.request({ rows, basis });
    if (refused) throw refused;
  }

  /**
   * Runs a statement prepared once per connection, so PostgreSQL parses it once. Each run is still planned for its
   * own arguments (plan_cache_mode, set at open): a generic plan made while a table was nearly empty would keep
   * scanning all of it once it had grown.
   */
  private run<R extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<pg.QueryResult<R>> {
    let name = this.prepared.get(text);
    if (!name) this.prepared.set(text, (name = `q${this.prepared.size}`));
    return this.pool.query<R>({ name, text, values }).catch(unreachable);
  }

  async getEntries(ids: Uint8Array[]): Promise<(EntryRow | undefined)[]> {
    if (!ids.length) return [];
    const { rows } = await this.run('SELECT id, space, doc, kind, device, seq, time, bytes FROM entries WHERE id = ANY($1)', [ids.map(buf)]);
    const found = new Map((rows as Row[]).map((r) => [r.id.toString('hex'), row(r)]));
    return ids.map((id) => found.get(buf(id).toString('hex')));
  }

  async hasEntry(id: Uint8Array): Promise<boolean> {
    return (await this.run('SELECT 1 FROM entries WHERE id = $1', [buf(id)])).rowCount === 1;
  }

  idBySeq(device: Uint8Array, seq: number): Promise<Uint8Array | undefined> {
    return this.seqs.request({ device, seq });
  }

  private async idsBySeq(keys: { device: Uint8Array; seq: number }[]): Promise<(Uint8Array | undefined)[]> {
    const { rows } = await this.run<{ device: Buffer; seq: number; id: Buffer }>(
      'SELECT e.device, e.seq, e.id FROM entries e JOIN unnest($1::bytea[], $2::bigint[]) AS k (device, seq) ON e.device = k.device AND e.seq = k.seq',
      [keys.map((k) => buf(k.device)), intArray(keys.map((k) => k.seq))],
    );
    const found = new Map(rows.map((r) => [`${r.device.toString('hex')}:${r.seq}`, bytes(r.id)]));
    return keys.map((k) => found.get(`${toHex(k.device)}:${k.seq}`));
  }

  async maxSeq(device: Uint8Array): Promise<number> {
    const { rows } = await this.run<{ m: number }>('SELECT COALESCE(MAX(seq), 0) AS m FROM entries WHERE device = $1', [buf(device)]);
    return rows[0]!.m;
  }

  async deleteEntries(ids: Uint8Array[]): Promise<void> {
    if (ids.length) await this.run('SELECT delete_entries($1)', [ids.map(buf)]);
  }

  async pruneEntries(rows: PrunedRow[]): Promise<void> {
    if (!rows.length) return;
    await this.run('SELECT prune_entries($1, $2, $3)', [rows.map((r) => buf(r.id)), rows.map((r) => (r.refund ? buf(r.refund.account) : null)), rows.map((r) => r.refund?.bytes ?? 0)]);
  }

  async keys(space: Uint8Array): Promise<EntryKey[]> {
    const { rows } = await this.run('SELECT time, id FROM entries WHERE space = $1 ORDER BY time, id', [buf(space)]);
    return (rows as { time: number; id: Buffer }[]).map((r) => ({ time: r.time, id: bytes(r.id) }));
  }

  async spaceEntries(space: Uint8Array, kind?: number): Promise<EntryRow[]> {
    const { rows } =
      kind === undefined
        ? await this.run('SELECT * FROM entries WHERE space = $1 ORDER BY time, id', [buf(space)])
        : await this.run('SELECT * FROM entries WHERE space = $1 AND kind = $2 ORDER BY time, id', [buf(space), kind]);
    return (rows as Row[]).map(row);
  }

  async docEntries(space: Uint8Array, doc: Uint8Array): Promise<EntryRow[]> {
    const { rows } = await this.run('SELECT * FROM entries WHERE space = $1 AND doc = $2 ORDER BY time, id', [buf(space), buf(doc)]);
    return (rows as Row[]).map(row);
  }

  async recentEntries(spaces: Uint8Array[], limit: number, before = Number.MAX_SAFE_INTEGER, kinds?: number[]): Promise<EntryRow[]> {
    if (!spaces.length) return [];
    const { rows } = await this.run('SELECT * FROM entries WHERE space = ANY($1) AND time < $2 AND ($4::int[] IS NULL OR kind = ANY($4)) ORDER BY time DESC, id DESC LIMIT $3', [
      spaces.map(buf),
      before,
      limit,
      kinds ?? null,
    ]);
    return (rows as Row[]).map(row);
  }

  async deviceEntries(space: Uint8Array | null, device: Uint8Array, afterSeq: number): Promise<EntryRow[]> {
    const { rows } = space
      ? await this.run('SELECT * FROM entries WHERE space = $1 AND device = $2 AND seq > $3 ORDER BY time, id', [buf(space), buf(device), afterSeq])
      : await this.run('SELECT * FROM entries WHERE device = $1 AND seq > $2 ORDER BY time, id', [buf(device), afterSeq]);
    return (rows as Row[]).map(row);
  }

  async spaces(): Promise<Uint8Array[]> {
    const { rows } = await this.run('SELECT DISTINCT space FROM entries ORDER BY space');
    return (rows as { space: Buffer }[]).map((r) => bytes(r.space));
  }

  async spacesOf(accountId: Uint8Array): Promise<NamedSpace[]> {
    const { rows } = await this.run('SELECT space, creator FROM space_names WHERE account = $1 ORDER BY space', [buf(accountId)]);
    return (rows as { space: Buffer; creator: boolean }[]).map((r) => ({ space: bytes(r.space), creator: r.creator }));
  }

  async countEntries(space?: Uint8Array): Promise<number> {
    const { rows } = space
      ? await this.run<{ n: number }>('SELECT COUNT(*)::bigint AS n FROM entries WHERE space = $1', [buf(space)])
      : await this.run<{ n: number }>('SELECT COUNT(*)::bigint AS n FROM entries');
    return rows[0]!.n;
  }

  async spaceUsage(space: Uint8Array): Promise<DeviceUsage[]> {
    // octet_length reads a stored value's size from its header, without fetching or decompressing it.
    const { rows } = await this.run(
      'SELECT device, COUNT(*)::bigint AS entries, SUM(octet_length(bytes))::bigint AS bytes FROM entries WHERE space = $1 GROUP BY device',
      [buf(space)],
    );
    return (rows as { device: Buffer; entries: number; bytes: number }[]).map((r) => ({ device: bytes(r.device), entries: r.entries, bytes: r.bytes }));
  }

  async deleteDeviceEntries(space: Uint8Array, devices: Uint8Array[]): Promise<void> {
    if (devices.length) await this.run('SELECT delete_device_entries($1, $2)', [buf(space), devices.map(buf)]);
  }

  async putCard(accountId: Uint8Array, card: Uint8Array): Promise<void> {
    await this.run('SELECT put_card($1, $2)', [buf(accountId), buf(card)]);
  }

  async getCard(accountId: Uint8Array): Promise<Uint8Array | undefined> {
    const { rows } = await this.run('SELECT card FROM cards WHERE account = $1', [buf(accountId)]);
    return rows[0] ? bytes(rows[0].card) : undefined;
  }

  async cards(): Promise<{ account: Uint8Array; card: Uint8Array }[]> {
    const { rows } = await this.run('SELECT account, card FROM cards ORDER BY account');
    return (rows as { account: Buffer; card: Buffer }[]).map((r) => ({ account: bytes(r.account), card: bytes(r.card) }));
  }

  async putAccount(r: AccountRow): Promise<void> {
    await this.run('INSERT INTO accounts (account, quota, used, created) VALUES ($1, $2, $3, $4) ON CONFLICT (account) DO UPDATE SET quota = excluded.quota', [
      buf(r.account),
      r.quota,
      r.used,
      r.created,
    ]);
  }

  async deleteAccount(accountId: Uint8Array): Promise<void> {
    await this.run('DELETE FROM accounts WHERE account = $1', [buf(accountId)]);
  }

  getAccount(accountId: Uint8Array): Promise<AccountRow | undefined> {
    return this.accountsAsked.request(accountId);
  }

  private async accountsOf(ids: Uint8Array[]): Promise<(AccountRow | undefined)[]> {
    const { rows } = await this.run<SqlAccount>('SELECT * FROM accounts WHERE account = ANY($1)', [ids.map(buf)]);
    const found = new Map(rows.map((r) => [r.account.toString('hex'), account(r)]));
    return ids.map((id) => found.get(toHex(id)));
  }

  async accounts(): Promise<AccountRow[]> {
    const { rows } = await this.run<SqlAccount>('SELECT * FROM accounts ORDER BY account');
    return rows.map(account);
  }

  async claimHandle(name: string, accountId: Uint8Array, rules: HandleRules): Promise<HandleClaim> {
    const client = await this.pool.connect().catch(unreachable);
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
      return unreachable(e);
    } finally {
      client.release();
    }
  }

  async handle(name: string): Promise<HandleRow | undefined> {
    const { rows } = await this.run<SqlHandle>('SELECT name, account, dropped FROM handles WHERE name = $1', [name]);
    return rows[0] ? handleRow(rows[0]) : undefined;
  }

  async handlesOf(accountId: Uint8Array): Promise<HandleRow[]> {
    const { rows } = await this.run<SqlHandle>('SELECT name, account, dropped FROM handles WHERE account = $1 ORDER BY name COLLATE "C"', [buf(accountId)]);
    return rows.map(handleRow);
  }

  async markHandleDropped(name: string, accountId: Uint8Array, at: number | null): Promise<void> {
    await this.run(
      at === null
        ? 'UPDATE handles SET dropped = NULL WHERE name = $1 AND account = $2'
        : 'UPDATE handles SET dropped = COALESCE(dropped, $3) WHERE name = $1 AND account = $2',
      at === null ? [name, buf(accountId)] : [name, buf(accountId), at],
    );
  }

  async changesSince(version?: number): Promise<AuthorityChanges> {
    const { rows } = await this.run<{ version: number; kind: number | null; key: Buffer | null }>(CHANGES_SINCE, [version ?? -1]);
    const out: AuthorityChanges = { version: rows[0]!.version, spaces: [], accounts: [] };
    for (const r of rows) if (r.key) (r.kind === 0 ? out.spaces : out.accounts).push(bytes(r.key));
    return out;
  }

  async getMeta(key: string): Promise<Uint8Array | undefined> {
    const { rows } = await this.run('SELECT value FROM meta WHERE key = $1', [key]);
    return rows[0] ? bytes(rows[0].value) : undefined;
  }

  async setMeta(key: string, value: Uint8Array): Promise<void> {
    await this.run('INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value', [key, buf(value)]);
  }

  /** The rate-limit buckets and linking mailbox every node on this schema shares (closed with the store). */
  sharedState(): PostgresSharedState {
    return new PostgresSharedState(this.pool);
  }

  /** Drops this store's schema and everything in it (tests). */
  async drop(): Promise<void> {
    await this.pool.query(`DROP SCHEMA IF EXISTS ${this.schema} CASCADE`);
  }

  async close(): Promise<void> {
    // What was put before close is committed (or refused) before the connections go.
    await Promise.all([this.puts.idle(), this.seqs.idle(), this.accountsAsked.idle()]);
    await this.pool.end();
  }
}

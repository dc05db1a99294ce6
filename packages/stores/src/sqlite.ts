import { open, type FileHandle } from 'node:fs/promises';
import Database from 'better-sqlite3';
import {
  reject,
  toHex,
  type AccountRow,
  type DeviceUsage,
  type EntryKey,
  type EntryRow,
  type HandleClaim,
  type HandleRow,
  type HandleRules,
  type NamedSpace,
  type PrunedRow,
  type Store,
} from '@freehold/core';
import { quotaMessage } from './quota.js';
import { checkStore, isDamage, watchForDamage, type IntegrityOptions, type IntegrityReport } from './sqlite-check.js';
import { CommitRecord, type Ledger } from './sqlite-record.js';
import { KeyCache } from './sqlite-keys.js';
import { migrate } from './sqlite-schema.js';
import { entryValues, INSERT_ENTRY, refOf } from './sqlite-pack.js';
import { bytes, handleRow, REF, ROW, row, type Row, type SqlHandle } from './sqlite-rows.js';

/** Numbers named in memory at most (each a 32-byte value): a few MiB. */
const NAMES_HELD = 65_536;

export interface SqliteOptions {
  /**
   * Check the files before opening (see sqlite-check.ts) and keep the commit record, so that acknowledged writes
   * cannot vanish unnoticed: for providers, whose acknowledgement tells a client it may stop resending.
   */
  integrity?: IntegrityOptions;
  /** Told once when a read, write or fsync finds the files damaged while the store runs. */
  onFault?: (problem: string) => void;
}

/**
 * The embedded store: one SQLite file in WAL mode; every write resolves only once it is durable.
 *
 * Durability without blocking: SQLite commits without syncing (synchronous = NORMAL, which in WAL mode still
 * syncs at checkpoints) and the store then fsyncs the write-ahead log itself on libuv's thread pool. A commit is
 * on disk once an fsync that started after it returns, so commits made while one fsync runs share the next one
 * (group commit), and the event loop keeps validating entries meanwhile instead of waiting on the disk.
 */
export class SqliteStore implements Store {
  private readonly db: Database.Database;
  private readonly stmts;
  private readonly keyCache: KeyCache;
  private readonly ref: (value: Uint8Array) => number;
  /**
   * What numbers in rows name, as read: a number is given once and never changes or goes (only a rolled-back
   * insert frees one, and that was never read). Cleared when full rather than ordered, to keep reads cheap.
   */
  private readonly names = new Map<number, Uint8Array>();
  private wal: Promise<FileHandle> | undefined;
  private syncing: Promise<void> | undefined;
  private nextSync: Promise<void> | undefined;
  private readonly record: CommitRecord | undefined;
  private faulted = false;
  /** What the check at open found (with `integrity`). */
  readonly integrity: IntegrityReport | undefined;

  constructor(
    private readonly path: string,
    private readonly opts: SqliteOptions = {},
  ) {
    this.integrity = opts.integrity && checkStore(path, opts.integrity);
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.pragma('cache_size = -65536');
    this.db.pragma('wal_autocheckpoint = 4000');
    try {
      migrate(this.db, path);
    } catch (e) {
      this.db.close();
      throw e;
    }
    const db = this.db;
    const dataVersion = db.prepare('PRAGMA data_version').pluck();
    this.keyCache = new KeyCache(() => dataVersion.get() as number);
    this.ref = refOf(db);
    this.stmts = watchForDamage((e) => this.noteDamage(e), {
      ledger: db.prepare('SELECT store, writes, entries FROM ledger'),
      wrote: db.prepare('UPDATE ledger SET writes = writes + 1'),
      inserted: db.prepare('UPDATE ledger SET entries = entries + ?'),
      insert: db.prepare(`${INSERT_ENTRY} ON CONFLICT (id) DO NOTHING`),
      has: db.prepare('SELECT 1 FROM entries WHERE id = ?').pluck(),
      getRow: db.prepare(`SELECT ${ROW} FROM entries WHERE id = ?`),
      bySeq: db.prepare(`SELECT id FROM entries WHERE device = ${REF} AND seq = ?`).pluck(),
      maxSeq: db.prepare(`SELECT COALESCE(MAX(seq), 0) FROM entries WHERE device = ${REF}`).pluck(),
      del: db.prepare('DELETE FROM entries WHERE id = ?'),
      delContent: db.prepare('DELETE FROM entries WHERE id = ? AND kind <> 0'),
      keys: db.prepare(`SELECT time, id FROM entries WHERE space = ${REF} ORDER BY time, id`),
      space: db.prepare(`SELECT ${ROW} FROM entries WHERE space = ${REF} ORDER BY time, id`),
      spaceKind: db.prepare(`SELECT ${ROW} FROM entries WHERE space = ${REF} AND kind = ? ORDER BY time, id`),
      // Named: the planner would rather walk the whole space in (time, id) order than sort a document's few rows.
      doc: db.prepare(`SELECT ${ROW} FROM entries INDEXED BY entries_doc WHERE space = ${REF} AND doc = ? ORDER BY time, id`),
      device: db.prepare(`SELECT ${ROW} FROM entries WHERE space = ${REF} AND device = ${REF} AND seq > ? ORDER BY time, id`),
      deviceAll: db.prepare(`SELECT ${ROW} FROM entries WHERE device = ${REF} AND seq > ? ORDER BY time, id`),
      named: db.prepare('SELECT value FROM refs WHERE n = ?').pluck(),
      spaces: db.prepare('SELECT value FROM refs WHERE n IN (SELECT DISTINCT space FROM entries) ORDER BY value').pluck(),
      name: db.prepare('INSERT INTO space_names (account, space, creator) VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET creator = 1 WHERE excluded.creator = 1'),
      spacesOf: db.prepare('SELECT space, creator FROM space_names WHERE account = ? ORDER BY space'),
      recent: db.prepare(`SELECT ${ROW} FROM entries WHERE space = ${REF} AND time < ? ORDER BY time DESC, id DESC LIMIT ?`),
      recentOfKind: db.prepare(`SELECT ${ROW} FROM entries WHERE space = ${REF} AND time < ? AND kind = ? ORDER BY time DESC, id DESC LIMIT ?`),
      count: db.prepare('SELECT COUNT(*) FROM entries').pluck(),
      countIn: db.prepare(`SELECT COUNT(*) FROM entries WHERE space = ${REF}`).pluck(),
      // length() of a blob reads its size from the record header, not the blob; `cut` gives back what packing took.
      usage: db.prepare(
        `SELECT (SELECT value FROM refs WHERE n = device) AS device, COUNT(*) AS entries, SUM(LENGTH(bytes) + cut) AS bytes FROM entries WHERE space = ${REF} GROUP BY device`,
      ),
      delDevice: db.prepare(`DELETE FROM entries WHERE space = ${REF} AND device = ${REF}`),
      putCard: db.prepare('INSERT INTO cards (account, card) VALUES (?, ?) ON CONFLICT (account) DO UPDATE SET card = excluded.card'),
      getCard: db.prepare('SELECT card FROM cards WHERE account = ?').pluck(),
      cards: db.prepare('SELECT account, card FROM cards ORDER BY account'),
      getMeta: db.prepare('SELECT value FROM meta WHERE key = ?').pluck(),
      setMeta: db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
      putAccount: db.prepare('INSERT INTO accounts (account, quota, used, created) VALUES (?, ?, ?, ?) ON CONFLICT (account) DO UPDATE SET quota = excluded.quota'),
      getAccount: db.prepare('SELECT * FROM accounts WHERE account = ?'),
      delAccount: db.prepare('DELETE FROM accounts WHERE account = ?'),
      accounts: db.prepare('SELECT * FROM accounts ORDER BY account'),
      charge: db.prepare('UPDATE accounts SET used = used + ? WHERE account = ?'),
      refund: db.prepare('UPDATE accounts SET used = MAX(0, used - ?) WHERE account = ?'),
      claim: db.prepare('INSERT INTO handles (name, account) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET account = excluded.account, dropped = NULL'),
      handle: db.prepare('SELECT name, account, dropped FROM handles WHERE name = ?'),
      handlesOf: db.prepare('SELECT name, account, dropped FROM handles WHERE account = ? ORDER BY name'),
      heldBy: db.prepare('SELECT COUNT(*) FROM handles WHERE account = ? AND name <> ? AND (dropped IS NULL OR dropped > ?)').pluck(),
      drop: db.prepare('UPDATE handles SET dropped = COALESCE(dropped, ?) WHERE name = ? AND account = ?'),
      undrop: db.prepare('UPDATE handles SET dropped = NULL WHERE name = ? AND account = ?'),
    });
    if (this.integrity) this.record = CommitRecord.open(path, this.integrity.baseline ? () => this.ledger() : undefined);
  }

  private noteDamage(e: unknown): void {
    if (isDamage(e)) this.fault(`${this.path}: ${(e as Error).message}`);
  }

  private fault(problem: string): void {
    if (this.faulted) return;
    this.faulted = true;
    this.opts.onFault?.(problem);
  }

  private ledger(): Ledger {
    return this.stmts.ledger.get() as Ledger;
  }

  /** One write transaction, counted in the ledger so that the commit record can tell whether it survived. */
  private write<T>(f: () => T, immediate = false): T {
    const tx = this.db.transaction(() => {
      const result = f();
      this.stmts.wrote.run();
      return result;
    });
    try {
      return immediate ? tx.immediate() : tx();
    } catch (e) {
      this.noteDamage(e);
      throw e;
    }
  }

  /**
   * A row inserted charges its payer; each payer's total is checked against its quota once the call's rows are in
   * (one read and one update per payer, not per row), and any refusal undoes the whole call.
   */
  private readonly insertOne = (rows: EntryRow[]) =>
    this.db.transaction(() => {
      let n = 0;
      const charges = new Map<string, { account: Uint8Array; bytes: number }>();
      for (const r of rows) {
        const inserted = this.insertRow(r);
        n += inserted;
        if (inserted) this.keyCache.changed(r.space);
        if (r.names) this.stmts.name.run(r.names.account, r.space, r.names.creator ? 1 : 0);
        if (inserted && r.charge) {
          const k = toHex(r.charge.account);
          const c = charges.get(k);
          if (c) c.bytes += r.charge.bytes;
          else charges.set(k, { ...r.charge });
        }
      }
      for (const c of charges.values()) {
        const a = this.account(c.account);
        if (!a) reject('not-hosted', 'account is not registered here');
        if (a.used + c.bytes > a.quota) reject('quota-exceeded', quotaMessage(a, c.bytes));
        this.stmts.charge.run(c.bytes, c.account);
      }
      if (n) this.stmts.inserted.run(n);
    })();

  /** Inserts a row unless held; the (device, seq) index refuses a second entry at a sequence number. */
  private insertRow(r: EntryRow): number {
    try {
      return this.stmts.insert.run(...entryValues(this.ref, r)).changes;
    } catch (e) {
      if ((e as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') reject('fork', `the device already signed a different entry with sequence ${r.seq}`);
      throw e;
    }
  }

  private queued: { rows: EntryRow[]; done: (err?: unknown) => void }[] = [];

  /**
   * Group commit: batches that arrive in the same turn of the event loop share one transaction (one fsync), each
   * in its own savepoint, so one refused batch does not fail the others and each caller still hears only once
   * its rows are durable.
   */
  putEntries(rows: EntryRow[]): Promise<void> {
    return new Promise((resolve, rejectPut) => {
      if (this.queued.length === 0) setImmediate(() => this.commitQueued());
      this.queued.push({ rows, done: (err) => (err === undefined ? resolve() : rejectPut(err)) });
    });
  }

  private commitQueued(): void {
    const batch = this.queued;
    this.queued = [];
    const errors = new Map<number, unknown>();
    try {
      this.write(() =>
        batch.forEach((call, i) => {
          try {
            this.insertOne(call.rows);
          } catch (e) {
            errors.set(i, e);
          }
        }),
      );
    } catch (e) {
      for (const call of batch) call.done(e);
      return;
    }
    this.durable().then(
      () => batch.forEach((call, i) => call.done(errors.get(i))),
      (e: unknown) => batch.forEach((call) => call.done(e)),
    );
  }

  /** Resolves once everything committed so far is on disk. */
  private durable(): Promise<void> {
    if (!this.syncing) {
      const running = this.fsyncWal();
      // Settles either way (a failure reaches this fsync's own waiters): those queued behind it start the next.
      this.syncing = running.then(
        () => {},
        () => {},
      ).finally(() => (this.syncing = undefined));
      return running;
    }
    // The running fsync may have started before this commit: wait for the one after it.
    return (this.nextSync ??= this.syncing.then(() => {
      this.nextSync = undefined;
      return this.durable();
    }));
  }

  private async fsyncWal(): Promise<void> {
    // Everything committed so far is in the log; the fsync below makes it durable.
    const covered = this.record && this.ledger();
    try {
      // The log file keeps its inode for the life of the connection (checkpoints rewrite it in place).
      this.wal ??= open(`${this.path}-wal`, 'r');
      await (await this.wal).sync();
    } catch (e) {
      this.fault(`${this.path}-wal: fsync failed: ${(e as Error).message}`);
      throw e;
    }
    // Before any waiter hears that its write is durable: so the record may lag the disk but never lead it.
    if (covered) this.record!.write(covered);
  }

  private account(account: Uint8Array): AccountRow | undefined {
    const r = this.stmts.getAccount.get(account) as AccountRow | undefined;
    return r && { ...r, account: bytes(r.account)! };
  }

  async putAccount(row: AccountRow): Promise<void> {
    this.write(() => this.stmts.putAccount.run(row.account, row.quota, row.used, row.created));
    await this.durable();
  }

  async getAccount(account: Uint8Array): Promise<AccountRow | undefined> {
    return this.account(account);
  }

  async deleteAccount(account: Uint8Array): Promise<void> {
    this.write(() => this.stmts.delAccount.run(account));
    await this.durable();
  }

  async accounts(): Promise<AccountRow[]> {
    return (this.stmts.accounts.all() as AccountRow[]).map((r) => ({ ...r, account: bytes(r.account)! }));
  }

  private claimOne(name: string, account: Uint8Array, rules: HandleRules): HandleClaim {
    const held = this.stmts.handle.get(name) as SqlHandle | undefined;
    const mine = held !== undefined && Buffer.from(account).equals(held.account);
    if (held && !mine && !(held.dropped !== null && held.dropped <= rules.releasedBefore)) return 'taken';
    if (!mine && (this.stmts.heldBy.get(account, name, rules.releasedBefore) as number) >= rules.max) return 'over-limit';
    this.stmts.claim.run(name, account);
    return 'claimed';
  }

  async claimHandle(name: string, account: Uint8Array, rules: HandleRules): Promise<HandleClaim> {
    // IMMEDIATE: the count and the insert must see the same directory even with another process on the file.
    const result = this.write(() => this.claimOne(name, account, rules), true);
    await this.durable();
    return result;
  }

  async handle(name: string): Promise<HandleRow | undefined> {
    const h = this.stmts.handle.get(name) as SqlHandle | undefined;
    return h && handleRow(h);
  }

  async handlesOf(account: Uint8Array): Promise<HandleRow[]> {
    return (this.stmts.handlesOf.all(account) as SqlHandle[]).map(handleRow);
  }

  async markHandleDropped(name: string, account: Uint8Array, at: number | null): Promise<void> {
    this.write(() => (at === null ? this.stmts.undrop.run(name, account) : this.stmts.drop.run(at, name, account)));
    await this.durable();
  }

  private readonly named = (n: number): Uint8Array => {
    let v = this.names.get(n);
    if (!v) {
      if (this.names.size >= NAMES_HELD) this.names.clear();
      this.names.set(n, (v = bytes(this.stmts.named.get(n) as Buffer)!));
    }
    return v;
  };

  private readonly row = (r: Row): EntryRow => row(r, this.named);

  async getEntries(ids: Uint8Array[]): Promise<(EntryRow | undefined)[]> {
    // One read transaction: a statement outside one takes and drops the file's locks each time.
    return this.db.transaction(() =>
      ids.map((id) => {
        const r = this.stmts.getRow.get(id) as Row | undefined;
        return r && this.row(r);
      }),
    )();
  }

  async hasEntry(id: Uint8Array): Promise<boolean> {
    return this.stmts.has.get(id) !== undefined;
  }

  async idBySeq(device: Uint8Array, seq: number): Promise<Uint8Array | undefined> {
    return bytes(this.stmts.bySeq.get(device, seq) as Uint8Array | undefined);
  }

  async maxSeq(device: Uint8Array): Promise<number> {
    return this.stmts.maxSeq.get(device) as number;
  }

  async deleteEntries(ids: Uint8Array[]): Promise<void> {
    this.write(() => {
      for (const id of ids) this.stmts.del.run(id);
    });
    this.keyCache.clear();
    await this.durable();
  }

  async pruneEntries(rows: PrunedRow[]): Promise<void> {
    this.write(() => {
      for (const { id, refund } of rows) if (this.stmts.delContent.run(id).changes && refund) this.stmts.refund.run(refund.bytes, refund.account);
    });
    this.keyCache.clear();
    await this.durable();
  }

  async keys(space: Uint8Array): Promise<EntryKey[]> {
    return this.keyCache.get(space, () => (this.stmts.keys.all(space) as { time: number; id: Uint8Array }[]).map((r) => ({ time: r.time, id: bytes(r.id)! })));
  }

  async spaceEntries(space: Uint8Array, kind?: number): Promise<EntryRow[]> {
    const rows = kind === undefined ? this.stmts.space.all(space) : this.stmts.spaceKind.all(space, kind);
    return (rows as Row[]).map(this.row);
  }

  async docEntries(space: Uint8Array, doc: Uint8Array): Promise<EntryRow[]> {
    return (this.stmts.doc.all(space, doc) as Row[]).map(this.row);
  }

  async recentEntries(spaces: Uint8Array[], limit: number, before = Number.MAX_SAFE_INTEGER, kinds?: number[]): Promise<EntryRow[]> {
    // One indexed range scan per space (newest first), merged: the spaces' sizes do not matter, only `limit`.
    const rows = spaces.flatMap((s) =>
      kinds ? kinds.flatMap((k) => this.stmts.recentOfKind.all(s, before, k, limit) as Row[]) : (this.stmts.recent.all(s, before, limit) as Row[]),
    );
    return rows
      .map(this.row)
      .sort((a, b) => b.time - a.time || Buffer.compare(Buffer.from(b.id), Buffer.from(a.id)))
      .slice(0, limit);
  }

  async deviceEntries(space: Uint8Array | null, device: Uint8Array, afterSeq: number): Promise<EntryRow[]> {
    const rows = space ? this.stmts.device.all(space, device, afterSeq) : this.stmts.deviceAll.all(device, afterSeq);
    return (rows as Row[]).map(this.row);
  }

  async spaces(): Promise<Uint8Array[]> {
    return (this.stmts.spaces.all() as Uint8Array[]).map((b) => bytes(b)!);
  }

  async spacesOf(account: Uint8Array): Promise<NamedSpace[]> {
    return (this.stmts.spacesOf.all(account) as { space: Buffer; creator: number }[]).map((r) => ({ space: bytes(r.space)!, creator: r.creator === 1 }));
  }

  async countEntries(space?: Uint8Array): Promise<number> {
    return (space ? this.stmts.countIn.get(space) : this.stmts.count.get()) as number;
  }

  async spaceUsage(space: Uint8Array): Promise<DeviceUsage[]> {
    return (this.stmts.usage.all(space) as DeviceUsage[]).map((u) => ({ ...u, device: bytes(u.device)! }));
  }

  async deleteDeviceEntries(space: Uint8Array, devices: Uint8Array[]): Promise<void> {
    this.write(() => {
      for (const d of devices) this.stmts.delDevice.run(space, d);
    });
    this.keyCache.changed(space);
    await this.durable();
  }

  async putCard(account: Uint8Array, card: Uint8Array): Promise<void> {
    this.write(() => this.stmts.putCard.run(account, card));
    await this.durable();
  }

  async getCard(account: Uint8Array): Promise<Uint8Array | undefined> {
    return bytes(this.stmts.getCard.get(account) as Uint8Array | undefined);
  }

  async cards(): Promise<{ account: Uint8Array; card: Uint8Array }[]> {
    return (this.stmts.cards.all() as { account: Uint8Array; card: Uint8Array }[]).map((r) => ({ account: bytes(r.account)!, card: bytes(r.card)! }));
  }

  async getMeta(key: string): Promise<Uint8Array | undefined> {
    return bytes(this.stmts.getMeta.get(key) as Uint8Array | undefined);
  }

  async setMeta(key: string, value: Uint8Array): Promise<void> {
    this.write(() => this.stmts.setMeta.run(key, value));
    await this.durable();
  }

  async close(): Promise<void> {
    // The queued fsync runs after the current one, so waiting for it waits for both.
    await (this.nextSync ?? this.syncing)?.catch(() => {});
    await (await this.wal?.catch(() => undefined))?.close();
    this.db.close();
    await this.record?.close();
  }
}

import { openDB, type IDBPDatabase, type IDBPIndex } from 'idb';
import {
  compare,
  Kind,
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
import { handleCounts } from './handles.js';
import { BatchedReads } from './indexeddb-batch.js';
import { quotaMessage } from './quota.js';

const VERSION = 5;
type Row = EntryRow;

/** Lowest and highest keys for the trailing parts of a compound index range. */
const LOW = -Infinity;
const HIGH: unknown[] = [[]];

/** IndexedDB takes binary keys; TypeScript's DOM types only admit ArrayBuffer-backed ones. */
const key = (b: Uint8Array): IDBValidKey => b as unknown as IDBValidKey;
const u8 = (b: unknown): Uint8Array => (b instanceof Uint8Array ? b : new Uint8Array(b as ArrayBuffer));
const row = (r: Row): EntryRow => ({ ...r, id: u8(r.id), space: u8(r.space), doc: u8(r.doc), device: u8(r.device), bytes: u8(r.bytes) });

const spaceRange = (space: Uint8Array) => IDBKeyRange.bound([key(space), LOW], [key(space), ...HIGH]);

/** Newest first, ties broken by id: the order of the SQL stores' time index, reversed. */
/** Rows of other spaces a timeline read walks past before it reads space by space instead. */
const RECENT_SCAN = 2048;
const newestFirst = (x: Row, y: Row): number => y.time - x.time || compare(u8(y.id), u8(x.id));

type SpaceIndex = IDBPIndex<unknown, ['entries'], 'entries', string, IDBTransactionMode>;

/**
 * Up to `count` rows of a key range, newest first. Browsers that read backwards in one getAll (Chromium 141+,
 * shipped together with getAllRecords) take one request; others walk a cursor.
 */
async function newestBelow(index: SpaceIndex, range: IDBKeyRange, count: number): Promise<Row[]> {
  if ('getAllRecords' in IDBIndex.prototype) return (index.getAll as (this: SpaceIndex, options: object) => Promise<Row[]>).call(index, { query: range, count, direction: 'prev' });
  const out: Row[] = [];
  let c = await index.openCursor(range, 'prev');
  while (c) {
    out.push(c.value as Row);
    if (out.length === count) break;
    c = await c.continue();
  }
  return out;
}

/** Every space that holds an entry, walking the index one space at a time. */
async function distinctSpaces(index: SpaceIndex): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  let cursor = await index.openKeyCursor(null, 'nextunique');
  while (cursor) {
    const space = u8((cursor.key as unknown[])[0]);
    out.push(space);
    cursor = await cursor.continue([key(space), ...HIGH] as IDBValidKey);
  }
  return out;
}

/**
 * The browser's store: one IndexedDB database per profile. Binary ids are IndexedDB binary keys, so every index
 * orders exactly like the SQL stores (time, then id bytes).
 */
export class IndexedDbStore implements Store {
  private readonly reads: BatchedReads;

  private constructor(private readonly db: IDBPDatabase) {
    this.reads = new BatchedReads(db);
  }

  static async open(name: string): Promise<IndexedDbStore> {
    const db = await openDB(name, VERSION, {
      async upgrade(db, oldVersion, _newVersion, tx) {
        if (oldVersion < 1) {
          const entries = db.createObjectStore('entries', { keyPath: 'id' });
          entries.createIndex('space_key', ['space', 'time', 'id']);
          entries.createIndex('space_kind', ['space', 'kind', 'time', 'id']);
          entries.createIndex('doc', ['space', 'doc', 'time', 'id']);
          entries.createIndex('device_space', ['device', 'space', 'seq']);
          entries.createIndex('device_seq', ['device', 'seq'], { unique: true });
          db.createObjectStore('cards', { keyPath: 'account' });
          db.createObjectStore('meta', { keyPath: 'key' });
          db.createObjectStore('accounts', { keyPath: 'account' });
          db.createObjectStore('handles', { keyPath: 'name' });
        }
        if (oldVersion < 2) {
          // The held spaces as keys of their own: listing them is one request instead of a cursor hop per space.
          const spaces = db.createObjectStore('spaces');
          for (const space of await distinctSpaces(tx.objectStore('entries').index('space_key') as unknown as SpaceIndex)) await spaces.put(true, key(space));
        }
        if (oldVersion < 3) tx.objectStore('handles').createIndex('account', 'account');
        // Keyed [account, space], so one account's spaces are one key range (see Store.spacesOf).
        if (oldVersion < 4) db.createObjectStore('space_names');
        // Every entry of a kind by time: the newest documents of many spaces are a walk back along one range.
        if (oldVersion < 5) tx.objectStore('entries').createIndex('kind_time', ['kind', 'time', 'id']);
      },
    });
    return new IndexedDbStore(db);
  }

  /** Removes a whole profile database (tests, "forget this browser"). */
  static async destroy(name: string): Promise<void> {
    await new Promise<void>((resolve, rejectDelete) => {
      const r = indexedDB.deleteDatabase(name);
      r.onsuccess = () => resolve();
      r.onerror = () => rejectDelete(r.error);
      r.onblocked = () => resolve();
    });
  }

  async putEntries(rows: EntryRow[]): Promise<void> {
    const tx = this.db.transaction(['entries', 'accounts', 'spaces', 'space_names'], 'readwrite');
    const entries = tx.objectStore('entries');
    const accounts = tx.objectStore('accounts');
    const spaces = tx.objectStore('spaces');
    const names = tx.objectStore('space_names');
    try {
      const newSpaces = new Map<string, Uint8Array>();
      for (const r of rows) {
        if (r.names) {
          const k = [key(r.names.account.slice()), key(r.space.slice())];
          const held = (await names.get(k)) as NamedSpace | undefined;
          if (!held || (r.names.creator && !held.creator)) await names.put({ space: r.space.slice(), creator: r.names.creator }, k);
        }
        if ((await entries.getKey(key(r.id))) !== undefined) continue;
        newSpaces.set(toHex(r.space), r.space);
        // add() fails on the unique (device, seq) index, which aborts the whole transaction.
        // Copies: a stored view would drag its whole underlying buffer into the database.
        await entries
          .add({ id: r.id.slice(), space: r.space.slice(), doc: r.doc.slice(), kind: r.kind, device: r.device.slice(), seq: r.seq, time: r.time, bytes: r.bytes.slice() })
          .catch((e: unknown) => {
            if ((e as DOMException).name === 'ConstraintError') reject('fork', `the device already signed a different entry with sequence ${r.seq}`);
            throw e;
          });
        // Only a row this transaction inserts is paid for.
        if (r.charge) {
          const a = (await accounts.get(key(r.charge.account))) as AccountRow | undefined;
          if (!a) reject('not-hosted', 'account is not registered here');
          if (a.used + r.charge.bytes > a.quota) reject('quota-exceeded', quotaMessage(a, r.charge.bytes));
          await accounts.put({ ...a, used: a.used + r.charge.bytes });
        }
      }
      for (const space of newSpaces.values()) await spaces.put(true, key(space.slice()));
      await tx.done;
    } catch (e) {
      try {
        tx.abort();
      } catch {
        // already aborted by the failed request
      }
      await tx.done.catch(() => {});
      throw e;
    }
  }

  getEntries(ids: Uint8Array[]): Promise<(EntryRow | undefined)[]> {
    return this.reads.read((store) =>
      Promise.all(
        ids.map(async (id) => {
          const r = (await store.get(key(id))) as Row | undefined;
          return r && row(r);
        }),
      ),
    );
  }

  async hasEntry(id: Uint8Array): Promise<boolean> {
    return (await this.reads.read((store) => store.getKey(key(id)))) !== undefined;
  }

  async idBySeq(device: Uint8Array, seq: number): Promise<Uint8Array | undefined> {
    const r = (await this.reads.read((store) => store.index('device_seq').get([key(device), seq]))) as Row | undefined;
    return r ? u8(r.id) : undefined;
  }

  async maxSeq(device: Uint8Array): Promise<number> {
    const cursor = await this.db.transaction('entries').store.index('device_seq').openKeyCursor(IDBKeyRange.bound([key(device), LOW], [key(device), Infinity]), 'prev');
    return cursor ? ((cursor.key as unknown[])[1] as number) : 0;
  }

  deleteEntries(ids: Uint8Array[]): Promise<void> {
    return this.drop(ids.map((id) => ({ id })), false);
  }

  pruneEntries(rows: PrunedRow[]): Promise<void> {
    return this.drop(rows, true);
  }

  /** Deletes rows (only content entries, with `content`) and gives each deleted row's refund back, in one transaction. */
  private async drop(rows: PrunedRow[], content: boolean): Promise<void> {
    const tx = this.db.transaction(['entries', 'spaces', 'accounts'], 'readwrite');
    const entries = tx.objectStore('entries');
    const accounts = tx.objectStore('accounts');
    const touched = new Map<string, Uint8Array>();
    for (const { id, refund } of rows) {
      const r = (await entries.get(key(id))) as Row | undefined;
      if (!r || (content && r.kind === Kind.membership)) continue;
      touched.set(toHex(u8(r.space)), u8(r.space));
      await entries.delete(key(id));
      const payer = refund && ((await accounts.get(key(refund.account))) as AccountRow | undefined);
      if (payer) await accounts.put({ ...payer, used: Math.max(0, payer.used - refund.bytes) });
    }
    for (const space of touched.values()) {
      if ((await entries.index('space_key').count(spaceRange(space))) === 0) await tx.objectStore('spaces').delete(key(space));
    }
    await tx.done;
  }

  async keys(space: Uint8Array): Promise<EntryKey[]> {
    const out: EntryKey[] = [];
    let cursor = await this.db.transaction('entries').store.index('space_key').openKeyCursor(IDBKeyRange.bound([key(space), LOW], [key(space), ...HIGH]));
    while (cursor) {
      const k = cursor.key as [unknown, number, unknown];
      out.push({ time: k[1], id: u8(k[2]) });
      cursor = await cursor.continue();
    }
    return out;
  }

  async spaceEntries(space: Uint8Array, kind?: number): Promise<EntryRow[]> {
    const rows = await this.reads.read((store) =>
      kind === undefined
        ? store.index('space_key').getAll(spaceRange(space))
        : store.index('space_kind').getAll(IDBKeyRange.bound([key(space), kind, LOW], [key(space), kind, ...HIGH])),
    );
    return (rows as Row[]).map(row);
  }

  async docEntries(space: Uint8Array, doc: Uint8Array): Promise<EntryRow[]> {
    const rows = await this.reads.read((store) => store.index('doc').getAll(IDBKeyRange.bound([key(space), key(doc), LOW], [key(space), key(doc), ...HIGH])));
    return (rows as Row[]).map(row);
  }

  async recentEntries(spaces: Uint8Array[], limit: number, before = Number.MAX_SAFE_INTEGER, kinds?: number[]): Promise<EntryRow[]> {
    if (kinds) {
      const found = await this.recentOfKinds(spaces, limit, before, kinds);
      if (found) return found;
    }
    const store = this.db.transaction('entries').store;
    const index = store.index(kinds ? 'space_kind' : 'space_key');
    // Each space (or space and kind) is read newest first in batches, all at once (the requests pipeline in one
    // transaction); one is read further only while its oldest row read so far could still be among the newest `limit`.
    const prefixes = spaces.flatMap((space) => (kinds ? kinds.map((k) => [key(space), k]) : [[key(space)]]));
    // A first read of one row each when there are many: most of what a second row would bring is older than the cutoff.
    const batch = Math.max(1, Math.ceil((2 * limit) / Math.max(1, prefixes.length)));
    const heads = prefixes.map((prefix) => ({ prefix, rows: [] as Row[], upper: [...prefix, before] as unknown[], open: true, batch }));
    for (;;) {
      const all = heads.flatMap((h) => h.rows).sort(newestFirst);
      const cutoff = all.length >= limit ? all[limit - 1] : undefined;
      const behind = heads.filter((h) => h.open && (!cutoff || !h.rows.length || newestFirst(h.rows[h.rows.length - 1]!, cutoff) < 0));
      if (!behind.length) return all.slice(0, limit).map(row);
      await Promise.all(
        behind.map(async (h) => {
          const got = await newestBelow(index, IDBKeyRange.bound([...h.prefix, LOW], h.upper, false, true), h.batch);
          h.rows.push(...got);
          h.open = got.length === h.batch;
          if (got.length) h.upper = [...h.prefix, got[got.length - 1]!.time, key(u8(got[got.length - 1]!.id))];
          h.batch *= 2;
        }),
      );
    }
  }

  /**
   * recentEntries by walking each kind's time index back, keeping the rows of these spaces: a few requests where
   * a read per space costs one each (hundreds, for a timeline of everyone followed). Undefined when the walk
   * passes RECENT_SCAN rows of other spaces first; the read per space then answers.
   */
  private async recentOfKinds(spaces: Uint8Array[], limit: number, before: number, kinds: number[]): Promise<EntryRow[] | undefined> {
    const wanted = new Set(spaces.map((s) => toHex(s)));
    const index = this.db.transaction('entries').store.index('kind_time');
    const page = Math.max(2 * limit, 64);
    const walks = await Promise.all(
      kinds.map(async (kind) => {
        const out: Row[] = [];
        let upper: unknown[] = [kind, before];
        for (let scanned = 0; scanned < RECENT_SCAN; scanned += page) {
          const got = await newestBelow(index, IDBKeyRange.bound([kind, LOW], upper, false, true), page);
          for (const r of got) if (wanted.has(toHex(u8(r.space)))) out.push(r);
          if (out.length >= limit || got.length < page) return out;
          const last = got[got.length - 1]!;
          upper = [kind, last.time, key(u8(last.id))];
        }
        return undefined;
      }),
    );
    const rows: Row[] = [];
    for (const w of walks) {
      if (!w) return undefined;
      rows.push(...w);
    }
    return rows.sort(newestFirst).slice(0, limit).map(row);
  }

  async deviceEntries(space: Uint8Array | null, device: Uint8Array, afterSeq: number): Promise<EntryRow[]> {
    const rows = (
      space
        ? await this.db.getAllFromIndex('entries', 'device_space', IDBKeyRange.bound([key(device), key(space), afterSeq], [key(device), key(space), Infinity], true))
        : await this.db.getAllFromIndex('entries', 'device_seq', IDBKeyRange.bound([key(device), afterSeq], [key(device), Infinity], true))
    ) as Row[];
    return rows.map(row).sort((a, b) => a.time - b.time || compare(a.id, b.id));
  }

  async spaces(): Promise<Uint8Array[]> {
    return (await this.db.getAllKeys('spaces')).map(u8);
  }

  async spacesOf(account: Uint8Array): Promise<NamedSpace[]> {
    const rows = (await this.db.getAll('space_names', IDBKeyRange.bound([key(account), LOW], [key(account), ...HIGH]))) as NamedSpace[];
    return rows.map((n) => ({ space: u8(n.space), creator: n.creator }));
  }

  async countEntries(space?: Uint8Array): Promise<number> {
    return space ? this.db.countFromIndex('entries', 'space_key', spaceRange(space)) : this.db.count('entries');
  }

  async spaceUsage(space: Uint8Array): Promise<DeviceUsage[]> {
    const out = new Map<string, DeviceUsage>();
    let cursor = await this.db.transaction('entries').store.index('space_key').openCursor(spaceRange(space));
    while (cursor) {
      const r = cursor.value as Row;
      const u = out.get(toHex(u8(r.device))) ?? { device: u8(r.device), entries: 0, bytes: 0 };
      u.entries++;
      u.bytes += u8(r.bytes).length;
      out.set(toHex(u.device), u);
      cursor = await cursor.continue();
    }
    return [...out.values()];
  }

  async deleteDeviceEntries(space: Uint8Array, devices: Uint8Array[]): Promise<void> {
    const tx = this.db.transaction(['entries', 'spaces'], 'readwrite');
    const bySpace = tx.objectStore('entries').index('device_space');
    for (const d of devices) {
      let cursor = await bySpace.openCursor(IDBKeyRange.bound([key(d), key(space), LOW], [key(d), key(space), Infinity]));
      while (cursor) {
        await cursor.delete();
        cursor = await cursor.continue();
      }
    }
    if ((await tx.objectStore('entries').index('space_key').count(spaceRange(space))) === 0) await tx.objectStore('spaces').delete(key(space));
    await tx.done;
  }

  async putCard(account: Uint8Array, card: Uint8Array): Promise<void> {
    await this.db.put('cards', { account: account.slice(), card: card.slice() });
  }

  async getCard(account: Uint8Array): Promise<Uint8Array | undefined> {
    const r = (await this.db.get('cards', key(account))) as { card: Uint8Array } | undefined;
    return r ? u8(r.card) : undefined;
  }

  async cards(): Promise<{ account: Uint8Array; card: Uint8Array }[]> {
    return ((await this.db.getAll('cards')) as { account: Uint8Array; card: Uint8Array }[]).map((c) => ({ account: u8(c.account), card: u8(c.card) }));
  }

  async putAccount(r: AccountRow): Promise<void> {
    const tx = this.db.transaction('accounts', 'readwrite');
    const held = (await tx.store.get(key(r.account))) as AccountRow | undefined;
    await tx.store.put({ ...r, account: r.account.slice(), used: held?.used ?? r.used, created: held?.created ?? r.created });
    await tx.done;
  }

  async getAccount(account: Uint8Array): Promise<AccountRow | undefined> {
    const a = (await this.db.get('accounts', key(account))) as AccountRow | undefined;
    return a && { ...a, account: u8(a.account) };
  }

  async deleteAccount(account: Uint8Array): Promise<void> {
    await this.db.delete('accounts', key(account));
  }

  async accounts(): Promise<AccountRow[]> {
    return ((await this.db.getAll('accounts')) as AccountRow[]).map((a) => ({ ...a, account: u8(a.account) }));
  }

  async claimHandle(name: string, account: Uint8Array, rules: HandleRules): Promise<HandleClaim> {
    const tx = this.db.transaction('handles', 'readwrite');
    const held = (await tx.store.get(name)) as HandleRow | undefined;
    const mine = held !== undefined && compare(u8(held.account), account) === 0;
    let result: HandleClaim = 'claimed';
    if (held && !mine && !(held.dropped !== undefined && held.dropped <= rules.releasedBefore)) result = 'taken';
    else if (!mine) {
      const others = ((await tx.store.index('account').getAll(key(account))) as HandleRow[]).filter((h) => h.name !== name && handleCounts(h, rules));
      if (others.length >= rules.max) result = 'over-limit';
    }
    if (result === 'claimed') await tx.store.put({ name, account: account.slice() });
    await tx.done;
    return result;
  }

  async handle(name: string): Promise<HandleRow | undefined> {
    const h = (await this.db.get('handles', name)) as HandleRow | undefined;
    return h && { ...h, account: u8(h.account) };
  }

  async handlesOf(account: Uint8Array): Promise<HandleRow[]> {
    return ((await this.db.getAllFromIndex('handles', 'account', key(account))) as HandleRow[])
      .map((h) => ({ ...h, account: u8(h.account) }))
      .sort((x, y) => (x.name < y.name ? -1 : 1));
  }

  async markHandleDropped(name: string, account: Uint8Array, at: number | null): Promise<void> {
    const tx = this.db.transaction('handles', 'readwrite');
    const h = (await tx.store.get(name)) as HandleRow | undefined;
    if (h && compare(u8(h.account), account) === 0 && (at === null ? h.dropped !== undefined : h.dropped === undefined)) {
      const { dropped: _, ...kept } = h;
      await tx.store.put(at === null ? kept : { ...h, dropped: at });
    }
    await tx.done;
  }

  async getMeta(name: string): Promise<Uint8Array | undefined> {
    const r = (await this.db.get('meta', name)) as { value: Uint8Array } | undefined;
    return r ? u8(r.value) : undefined;
  }

  async setMeta(name: string, value: Uint8Array): Promise<void> {
    await this.db.put('meta', { key: name, value: value.slice() });
  }

  async close(): Promise<void> {
    this.db.close();
  }
}

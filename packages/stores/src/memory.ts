import { quotaMessage } from './quota.js';
import {
  compare,
  equal,
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

const byKey = (a: EntryRow, b: EntryRow): number => a.time - b.time || compare(a.id, b.id);

/** A store in memory: for tests, ephemeral relays and as the reference the conformance suite is written against. */
export class MemoryStore implements Store {
  private readonly entries = new Map<string, EntryRow>();
  private readonly bySeq = new Map<string, Uint8Array>();
  private readonly cardsByAccount = new Map<string, { account: Uint8Array; card: Uint8Array }>();
  private readonly meta = new Map<string, Uint8Array>();
  private readonly accountRows = new Map<string, AccountRow>();
  private readonly handles = new Map<string, HandleRow>();
  /** Per account, the spaces naming it (see Store.spacesOf). */
  private readonly named = new Map<string, Map<string, NamedSpace>>();

  async putEntries(rows: EntryRow[]): Promise<void> {
    // Same contract as the SQL stores' unique (device, seq) index: a conflicting batch changes nothing.
    for (const r of rows) {
      const held = this.bySeq.get(`${toHex(r.device)}:${r.seq}`);
      if (held && toHex(held) !== toHex(r.id)) reject('fork', `the device already signed a different entry with sequence ${r.seq}`);
    }
    // What each payer will have used once the rows not yet held are in: a row held already charges nothing.
    const used = new Map<string, number>();
    const inserted = new Set<string>();
    for (const r of rows) {
      const k = toHex(r.id);
      if (this.entries.has(k) || inserted.has(k)) continue;
      inserted.add(k);
      if (!r.charge) continue;
      const payer = toHex(r.charge.account);
      const a = this.accountRows.get(payer);
      if (!a) reject('not-hosted', 'account is not registered here');
      const before = used.get(payer) ?? a.used;
      if (before + r.charge.bytes > a.quota) reject('quota-exceeded', quotaMessage({ used: before, quota: a.quota }, r.charge.bytes));
      used.set(payer, before + r.charge.bytes);
    }
    for (const { names, charge: _charge, ...r } of rows) {
      if (names) this.name(r.space, names.account, names.creator);
      const k = toHex(r.id);
      if (this.entries.has(k)) continue;
      this.entries.set(k, r);
      this.bySeq.set(`${toHex(r.device)}:${r.seq}`, r.id);
    }
    for (const [k, total] of used) this.accountRows.get(k)!.used = total;
  }

  private name(space: Uint8Array, account: Uint8Array, creator: boolean): void {
    const a = toHex(account);
    let spaces = this.named.get(a);
    if (!spaces) this.named.set(a, (spaces = new Map()));
    const held = spaces.get(toHex(space));
    spaces.set(toHex(space), { space: space.slice(), creator: creator || (held?.creator ?? false) });
  }

  async spacesOf(account: Uint8Array): Promise<NamedSpace[]> {
    return [...(this.named.get(toHex(account))?.values() ?? [])].map((n) => ({ ...n })).sort((x, y) => compare(x.space, y.space));
  }

  async putAccount(row: AccountRow): Promise<void> {
    const held = this.accountRows.get(toHex(row.account));
    this.accountRows.set(toHex(row.account), { ...row, used: held?.used ?? row.used, created: held?.created ?? row.created });
  }

  async getAccount(account: Uint8Array): Promise<AccountRow | undefined> {
    const a = this.accountRows.get(toHex(account));
    return a && { ...a };
  }

  async deleteAccount(account: Uint8Array): Promise<void> {
    this.accountRows.delete(toHex(account));
  }

  async accounts(): Promise<AccountRow[]> {
    return [...this.accountRows.values()].map((a) => ({ ...a })).sort((a, b) => compare(a.account, b.account));
  }

  async claimHandle(name: string, account: Uint8Array, rules: HandleRules): Promise<HandleClaim> {
    const held = this.handles.get(name);
    const mine = held !== undefined && toHex(held.account) === toHex(account);
    if (held && !mine && !(held.dropped !== undefined && held.dropped <= rules.releasedBefore)) return 'taken';
    if (!mine) {
      const others = (await this.handlesOf(account)).filter((h) => h.name !== name && handleCounts(h, rules));
      if (others.length >= rules.max) return 'over-limit';
    }
    this.handles.set(name, { name, account: account.slice() });
    return 'claimed';
  }

  async handle(name: string): Promise<HandleRow | undefined> {
    const h = this.handles.get(name);
    return h && { ...h };
  }

  async handlesOf(account: Uint8Array): Promise<HandleRow[]> {
    const a = toHex(account);
    return [...this.handles.values()].filter((h) => toHex(h.account) === a).map((h) => ({ ...h })).sort((x, y) => (x.name < y.name ? -1 : 1));
  }

  async markHandleDropped(name: string, account: Uint8Array, at: number | null): Promise<void> {
    const h = this.handles.get(name);
    if (!h || toHex(h.account) !== toHex(account)) return;
    if (at === null) delete h.dropped;
    else h.dropped ??= at;
  }

  async getEntries(ids: Uint8Array[]): Promise<(EntryRow | undefined)[]> {
    return ids.map((id) => this.entries.get(toHex(id)));
  }

  async hasEntry(id: Uint8Array): Promise<boolean> {
    return this.entries.has(toHex(id));
  }

  async idBySeq(device: Uint8Array, seq: number): Promise<Uint8Array | undefined> {
    return this.bySeq.get(`${toHex(device)}:${seq}`);
  }

  async maxSeq(device: Uint8Array): Promise<number> {
    const d = toHex(device);
    let max = 0;
    for (const r of this.entries.values()) if (r.seq > max && toHex(r.device) === d) max = r.seq;
    return max;
  }

  async deleteEntries(ids: Uint8Array[]): Promise<void> {
    for (const id of ids) {
      const r = this.entries.get(toHex(id));
      if (!r) continue;
      this.entries.delete(toHex(id));
      this.bySeq.delete(`${toHex(r.device)}:${r.seq}`);
    }
  }

  async pruneEntries(rows: PrunedRow[]): Promise<void> {
    for (const { id, refund } of rows) {
      if (this.entries.get(toHex(id))?.kind === Kind.membership) continue;
      const held = this.entries.has(toHex(id));
      await this.deleteEntries([id]);
      const payer = held && refund && this.accountRows.get(toHex(refund.account));
      if (payer) payer.used = Math.max(0, payer.used - refund.bytes);
    }
  }

  private select(pred: (r: EntryRow) => boolean): EntryRow[] {
    return [...this.entries.values()].filter(pred).sort(byKey);
  }

  async keys(space: Uint8Array): Promise<EntryKey[]> {
    const s = toHex(space);
    return this.select((r) => toHex(r.space) === s).map((r) => ({ time: r.time, id: r.id }));
  }

  async spaceEntries(space: Uint8Array, kind?: number): Promise<EntryRow[]> {
    const s = toHex(space);
    return this.select((r) => toHex(r.space) === s && (kind === undefined || r.kind === kind));
  }

  async docEntries(space: Uint8Array, doc: Uint8Array): Promise<EntryRow[]> {
    const s = toHex(space);
    const d = toHex(doc);
    return this.select((r) => toHex(r.space) === s && toHex(r.doc) === d);
  }

  async recentEntries(spaces: Uint8Array[], limit: number, before = Number.MAX_SAFE_INTEGER, kinds?: number[]): Promise<EntryRow[]> {
    const wanted = new Set(spaces.map(toHex));
    return this.select((r) => wanted.has(toHex(r.space)) && r.time < before && (!kinds || kinds.includes(r.kind)))
      .reverse()
      .slice(0, limit);
  }

  async deviceEntries(space: Uint8Array | null, device: Uint8Array, afterSeq: number): Promise<EntryRow[]> {
    const s = space && toHex(space);
    const d = toHex(device);
    return this.select((r) => (s === null || toHex(r.space) === s) && toHex(r.device) === d && r.seq > afterSeq);
  }

  async spaces(): Promise<Uint8Array[]> {
    const out = new Map<string, Uint8Array>();
    for (const r of this.entries.values()) out.set(toHex(r.space), r.space);
    return [...out.values()].sort(compare);
  }

  async countEntries(space?: Uint8Array): Promise<number> {
    if (!space) return this.entries.size;
    let n = 0;
    for (const r of this.entries.values()) if (equal(r.space, space)) n++;
    return n;
  }

  async spaceUsage(space: Uint8Array): Promise<DeviceUsage[]> {
    const s = toHex(space);
    const out = new Map<string, DeviceUsage>();
    for (const r of this.entries.values()) {
      if (toHex(r.space) !== s) continue;
      const u = out.get(toHex(r.device)) ?? { device: r.device, entries: 0, bytes: 0 };
      u.entries++;
      u.bytes += r.bytes.length;
      out.set(toHex(r.device), u);
    }
    return [...out.values()];
  }

  async deleteDeviceEntries(space: Uint8Array, devices: Uint8Array[]): Promise<void> {
    const s = toHex(space);
    const drop = new Set(devices.map(toHex));
    await this.deleteEntries(this.select((r) => toHex(r.space) === s && drop.has(toHex(r.device))).map((r) => r.id));
  }

  async putCard(account: Uint8Array, card: Uint8Array): Promise<void> {
    this.cardsByAccount.set(toHex(account), { account, card });
  }

  async getCard(account: Uint8Array): Promise<Uint8Array | undefined> {
    return this.cardsByAccount.get(toHex(account))?.card;
  }

  async cards(): Promise<{ account: Uint8Array; card: Uint8Array }[]> {
    return [...this.cardsByAccount.values()].sort((a, b) => compare(a.account, b.account));
  }

  async getMeta(key: string): Promise<Uint8Array | undefined> {
    return this.meta.get(key);
  }

  async setMeta(key: string, value: Uint8Array): Promise<void> {
    this.meta.set(key, value);
  }

  async close(): Promise<void> {}
}


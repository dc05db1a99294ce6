import { compare, storedEntry, reject, toId, type DeviceUsage, type Entry, type Replica } from '@freehold/core';
import type { Logger } from 'pino';
import type { Metrics } from './metrics.js';
import { formatSize } from './size.js';
import type { MirrorRecord, Mirrors } from './mirrors.js';

/** Bytes of mirrored spaces a provider keeps unless its operator sets another budget (`--mirror-budget`). */
export const DEFAULT_MIRROR_BUDGET = 2 * 2 ** 30;
/** The largest budget taken (1 PiB): more is a typo, not a disk. */
export const MAX_MIRROR_BUDGET = 2 ** 50;

export interface MirrorCacheOptions {
  replica: Replica;
  mirrors: Mirrors;
  /** Bytes of mirrored spaces to keep at most. */
  budget: number;
  isHosted(account: Uint8Array): boolean;
  /**
   * Starts and stops peer links to match the mirrors' states; the links to the providers of `reconnect`'s owners
   * reconnect (so they subscribe and reconcile anew). Resolves once those have reconciled or failed.
   */
  relink(reconnect: MirrorRecord[]): Promise<void>;
  logger: Logger;
  metrics: Metrics;
}

/**
 * The mirrors as a cache within the operator's budget. What counts is what accounts hosted elsewhere wrote in
 * mirrored spaces (membership logs included); what this provider's users wrote there is theirs, charged to their
 * quota, and neither counted nor evicted. Past the budget, whole spaces are evicted least recently read first
 * (reads are noted by `read`); a space read again is refilled from its owner's providers. What stays of an
 * evicted space is only its users' entries, and those not yet delivered are pushed to the owner's providers
 * (`owedTo`) without refilling the space.
 *
 * Sizes are kept up as entries are stored and spaces evicted, and written back with the read times: measuring them
 * means reading every mirrored entry (seconds a GiB), too slow for each start. A space is measured exactly when it
 * is evicted; until then, entries deleted otherwise (a revoked device's, a demoted writer's, a pruned blob's) still count, and what
 * was stored in the minute before a crash does not.
 */
export class MirrorCache {
  private total = 0;
  private running: Promise<void> | undefined;
  private again = false;

  constructor(private readonly o: MirrorCacheOptions) {
    if (!Number.isSafeInteger(o.budget) || o.budget < 0 || o.budget > MAX_MIRROR_BUDGET) {
      reject('invalid-argument', `a mirror budget is 0 to ${formatSize(MAX_MIRROR_BUDGET)}, not ${o.budget}`);
    }
    o.metrics.mirrorBudget.set(o.budget);
  }

  /**
   * Adds up the mirrors' sizes (measuring those of a store written before sizes were kept), then evicts down to the
   * budget: a lower budget than last time takes effect at once.
   */
  async open(): Promise<void> {
    for (const m of this.o.mirrors.unmeasured) this.o.mirrors.resize(m, this.split(await this.o.replica.store.spaceUsage(m.space)).bytes);
    for (const m of this.o.mirrors.all()) this.total += m.bytes;
    this.o.metrics.mirrorBytes.set(this.total);
    this.reportStates();
    if (this.total > this.o.budget) await this.enforce();
  }

  /** Counts entries just stored; what this provider's users wrote into an evicted mirror is owed to its owner. */
  stored(entries: Entry[]): void {
    const owed: MirrorRecord[] = [];
    for (const e of entries) {
      const m = this.o.mirrors.get(e.space);
      if (!m) continue;
      if (!this.hosted(e.device)) this.grow(m, e.bytes.length);
      else if (m.state === 'evicted') {
        m.state = 'owed';
        owed.push(m);
      }
    }
    // Delivered by the link to the owner's providers, which is started if need be (an evicted space has none).
    if (owed.length) void this.changed([]);
    if (this.total > this.o.budget) this.schedule();
  }

  /**
   * A session of a user hosted here read these spaces: mirrors among them become the most recently read, and
   * evicted ones are refilled (as are `added`, mirrors just asked for). Resolves once those have had their first
   * reconciliation (or it failed).
   */
  read(spaces: Uint8Array[], added: MirrorRecord[] = []): Promise<void> {
    const now = Date.now();
    const revived: MirrorRecord[] = [];
    for (const space of spaces) {
      const m = this.o.mirrors.get(space);
      if (!m) continue;
      this.o.mirrors.touch(m, now);
      if (m.state === 'live') continue;
      m.state = 'live';
      revived.push(m);
    }
    if (revived.length) {
      this.o.metrics.mirrorRefills.inc(revived.length);
      this.o.logger.info({ event: 'mirror-refill', spaces: revived.length, space: toId(revived[0]!.space) }, 'refilling evicted mirrors a user reads');
    }
    return revived.length || added.length ? this.changed([...revived, ...added]) : Promise.resolve();
  }

  /**
   * What this provider's users wrote into evicted mirrors of spaces whose owner lives at `url` and that was not
   * delivered yet. A mirror with nothing left to deliver is no longer owed.
   */
  async owedTo(url: string): Promise<Entry[]> {
    const out: Entry[] = [];
    let settled = false;
    for (const m of this.o.mirrors.all()) {
      if (m.state !== 'owed' || !this.o.replica.contact(m.owner)?.providers.includes(url)) continue;
      let pending = 0;
      for (const row of await this.o.replica.store.spaceEntries(m.space)) {
        if (!this.hosted(row.device) || (await this.o.mirrors.delivery(row.id)).state !== 'pending') continue;
        out.push(storedEntry(row));
        pending++;
      }
      if (!pending && m.state === 'owed') {
        m.state = 'evicted';
        settled = true;
      }
    }
    if (settled) {
      await this.o.mirrors.save();
      this.reportStates();
    }
    return out;
  }

  private hosted(device: Uint8Array): boolean {
    const author = this.o.replica.authorOf(device)?.account.account;
    return author !== undefined && this.o.isHosted(author);
  }

  /** A space's usage split: what accounts hosted elsewhere wrote (the cache) and how many entries are ours. */
  private split(usage: DeviceUsage[]): { devices: Uint8Array[]; bytes: number; entries: number; kept: number } {
    const out = { devices: [] as Uint8Array[], bytes: 0, entries: 0, kept: 0 };
    for (const u of usage) {
      if (this.hosted(u.device)) {
        out.kept += u.entries;
        continue;
      }
      out.devices.push(u.device);
      out.bytes += u.bytes;
      out.entries += u.entries;
    }
    return out;
  }

  private grow(m: MirrorRecord, bytes: number): void {
    this.o.mirrors.resize(m, m.bytes + bytes);
    this.total += bytes;
    this.o.metrics.mirrorBytes.set(this.total);
  }

  /**
   * Saves state changes and brings the links in line; those to the owners of `reconnect` reconnect. Resolves once
   * those have reconciled (or failed).
   */
  private async changed(reconnect: MirrorRecord[]): Promise<void> {
    this.reportStates();
    try {
      await this.o.mirrors.save();
    } catch (err) {
      this.o.logger.error({ err }, 'mirror states not saved');
    }
    await this.o.relink(reconnect);
  }

  /** One eviction pass at a time; a pass asked for while one runs follows it. */
  private schedule(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.enforce()
      .catch((err: unknown) => this.o.logger.error({ err }, 'mirror eviction failed'))
      .finally(() => {
        this.running = undefined;
        const again = this.again;
        this.again = false;
        if (again && this.total > this.o.budget) this.schedule();
      });
  }

  /** Evicts whole mirrored spaces, least recently read first, until what is held fits the budget. */
  private async enforce(): Promise<void> {
    const victims = this.o.mirrors
      .all()
      .filter((m) => m.bytes > 0)
      .sort((a, b) => a.read - b.read || compare(a.space, b.space));
    const evicted: MirrorRecord[] = [];
    for (const m of victims) {
      if (this.total <= this.o.budget) break;
      await this.evict(m);
      evicted.push(m);
    }
    if (!evicted.length) return;
    // The links to their owners' providers reconnect, since their sessions are subscribed to the evicted spaces;
    // the next pass need not wait for that.
    void this.changed(evicted);
  }

  private async evict(m: MirrorRecord): Promise<void> {
    const store = this.o.replica.store;
    const { devices, bytes, entries, kept } = this.split(await store.spaceUsage(m.space));
    // From here on the space is not shared with its owner's providers, so nothing refills it unasked.
    m.state = kept ? 'owed' : 'evicted';
    await store.deleteDeviceEntries(m.space, devices);
    this.o.replica.forget(m.space);
    this.total -= m.bytes;
    this.o.mirrors.resize(m, 0);
    this.o.metrics.mirrorBytes.set(this.total);
    this.o.metrics.mirrorEvictions.inc();
    this.o.metrics.mirrorEvictedBytes.inc(bytes);
    this.o.logger.info(
      { event: 'mirror-evict', space: toId(m.space), owner: toId(m.owner), bytes, entries, kept, read: new Date(m.read).toISOString(), held: this.total, budget: this.o.budget },
      'mirror evicted (least recently read)',
    );
  }

  private reportStates(): void {
    const n: Record<string, number> = { live: 0, evicted: 0, owed: 0 };
    for (const m of this.o.mirrors.all()) n[m.state]!++;
    for (const [state, count] of Object.entries(n)) this.o.metrics.mirrorSpaces.set({ state }, count);
  }
}

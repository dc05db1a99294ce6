import { asArray, asBytes, asUint, decode, encode, toHex, type Store } from '@freehold/core';

const MIRRORS_META = 'mirrors';
const deliveryKey = (entry: string) => `delivery:${entry}`;

/** Spaces of other providers' accounts one provider mirrors at most. */
export const MAX_MIRRORS = 100_000;
/** How often read times noted in memory are written back, at most: a read costs no store write. */
export const READS_FLUSH_MS = 60_000;

export interface Mirror {
  space: Uint8Array;
  owner: Uint8Array;
}

/**
 * `live`: in the cache, kept in sync with the owner's providers. `evicted`: dropped from the cache; only what this
 * provider's users wrote there is left. `owed`: evicted, and some of what they wrote may not be delivered yet.
 */
export type MirrorState = 'live' | 'evicted' | 'owed';
const STATES: MirrorState[] = ['live', 'evicted', 'owed'];

export interface MirrorRecord extends Mirror {
  /** When a session of a user hosted here last read the space (ms; written back coarsely). */
  read: number;
  state: MirrorState;
  /** What accounts hosted elsewhere wrote in it that is held here (see MirrorCache; written back coarsely). */
  bytes: number;
}

/** Where an entry this provider passes on for one of its users stands with the owner's providers. */
export type Delivery = { state: 'pending' } | { state: 'delivered'; at: number; to: string } | { state: 'failed'; reason: string; message: string; to: string };

/**
 * The spaces of other accounts this provider keeps a copy of for its users (what they follow, are members of,
 * or write to), each with the account that owns it, whose identity log says where it lives. A mirror is
 * ciphertext like everything else, is not charged to anyone, and doubles as the outbox: what a user writes into
 * a mirrored space (a reply, a like, a direct message) is stored here and delivered to the owner's providers.
 * The list is stored as one record, written when a mirror is added or changes state, and at most every
 * READS_FLUSH_MS for read times and sizes alone.
 */
export class Mirrors {
  private readonly byId = new Map<string, MirrorRecord>();
  private dirty = false;
  /** Mirrors read from a store written before sizes were kept: their size is to be measured. */
  readonly unmeasured: MirrorRecord[] = [];

  private constructor(private readonly store: Store) {}

  static async open(store: Store, now = Date.now()): Promise<Mirrors> {
    const m = new Mirrors(store);
    const raw = await store.getMeta(MIRRORS_META);
    if (raw) {
      for (const item of asArray(decode(raw, 'mirrors'), 'mirrors', MAX_MIRRORS)) {
        // Stores written before the cache had a budget hold [space, owner]: read now, live, size unknown.
        const [space, owner, read, state, bytes] = asArray(item, 'mirror', 5);
        const record: MirrorRecord = {
          space: asBytes(space, 'mirror.space', 32),
          owner: asBytes(owner, 'mirror.owner', 32),
          read: read === undefined ? now : asUint(read, 'mirror.read'),
          state: STATES[state === undefined ? 0 : asUint(state, 'mirror.state', STATES.length - 1)]!,
          bytes: bytes === undefined ? 0 : asUint(bytes, 'mirror.bytes'),
        };
        if (bytes === undefined) m.unmeasured.push(record);
        m.byId.set(toHex(record.space), record);
      }
    }
    return m;
  }

  get(space: Uint8Array): MirrorRecord | undefined {
    return this.byId.get(toHex(space));
  }

  all(): MirrorRecord[] {
    return [...this.byId.values()];
  }

  /** Adds mirrors (new ones only, read now and live); returns those that are new. */
  async add(list: Mirror[], now = Date.now()): Promise<MirrorRecord[]> {
    const added = list.filter((m) => !this.byId.has(toHex(m.space)));
    if (!added.length) return [];
    if (this.byId.size + added.length > MAX_MIRRORS) throw new RangeError(`at most ${MAX_MIRRORS} mirrored spaces`);
    const records = added.map((m): MirrorRecord => ({ space: m.space, owner: m.owner, read: now, state: 'live', bytes: 0 }));
    for (const r of records) this.byId.set(toHex(r.space), r);
    await this.save();
    return records;
  }

  /** Notes a read in memory; `flush` writes it back. */
  touch(m: MirrorRecord, now: number): void {
    m.read = now;
    this.dirty = true;
  }

  /** Sets a mirror's size in memory; `flush` writes it back. */
  resize(m: MirrorRecord, bytes: number): void {
    m.bytes = bytes;
    this.dirty = true;
  }

  /** Writes the list (read times and sizes included) back. */
  async save(): Promise<void> {
    this.dirty = false;
    await this.store.setMeta(MIRRORS_META, encode(this.all().map((m) => [m.space, m.owner, m.read, STATES.indexOf(m.state), m.bytes])));
  }

  /** Writes the list back if reads or sizes changed since it last was. */
  async flush(): Promise<void> {
    if (this.dirty) await this.save();
  }

  async delivery(entry: Uint8Array): Promise<Delivery> {
    const raw = await this.store.getMeta(deliveryKey(toHex(entry)));
    return raw ? (decode(raw, 'delivery') as Delivery) : { state: 'pending' };
  }

  async setDelivery(entry: Uint8Array, d: Delivery): Promise<void> {
    await this.store.setMeta(deliveryKey(toHex(entry)), encode(d));
  }
}

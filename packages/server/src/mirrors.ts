import { asArray, asBytes, decode, encode, toHex, type Store } from '@freehold/core';

const MIRRORS_META = 'mirrors';
const deliveryKey = (entry: string) => `delivery:${entry}`;

/** Spaces of other providers' accounts one provider mirrors at most. */
export const MAX_MIRRORS = 100_000;

export interface Mirror {
  space: Uint8Array;
  owner: Uint8Array;
}

/** Where an entry this provider passes on for one of its users stands with the owner's providers. */
export type Delivery = { state: 'pending' } | { state: 'delivered'; at: number; to: string } | { state: 'failed'; reason: string; message: string; to: string };

/**
 * The spaces of other accounts this provider keeps a copy of for its users (what they follow, are members of,
 * or write to), each with the account that owns it, whose identity log says where it lives. A mirror is
 * ciphertext like everything else, is not charged to anyone, and doubles as the outbox: what a user writes into
 * a mirrored space (a reply, a like, a direct message) is stored here and delivered to the owner's providers.
 */
export class Mirrors {
  private readonly byId = new Map<string, Mirror>();

  private constructor(private readonly store: Store) {}

  static async open(store: Store): Promise<Mirrors> {
    const m = new Mirrors(store);
    const raw = await store.getMeta(MIRRORS_META);
    if (raw) {
      for (const pair of asArray(decode(raw, 'mirrors'), 'mirrors', MAX_MIRRORS)) {
        const [space, owner] = asArray(pair, 'mirror', 2);
        m.byId.set(toHex(asBytes(space, 'mirror.space', 32)), { space: asBytes(space, 'space', 32), owner: asBytes(owner, 'owner', 32) });
      }
    }
    return m;
  }

  get(space: Uint8Array): Mirror | undefined {
    return this.byId.get(toHex(space));
  }

  all(): Mirror[] {
    return [...this.byId.values()];
  }

  /** Adds mirrors (new ones only); returns those that are new. */
  async add(list: Mirror[]): Promise<Mirror[]> {
    const added = list.filter((m) => !this.byId.has(toHex(m.space)));
    if (!added.length) return [];
    if (this.byId.size + added.length > MAX_MIRRORS) throw new RangeError(`at most ${MAX_MIRRORS} mirrored spaces`);
    for (const m of added) this.byId.set(toHex(m.space), m);
    await this.store.setMeta(MIRRORS_META, encode(this.all().map((m) => [m.space, m.owner])));
    return added;
  }

  async delivery(entry: Uint8Array): Promise<Delivery> {
    const raw = await this.store.getMeta(deliveryKey(toHex(entry)));
    return raw ? (decode(raw, 'delivery') as Delivery) : { state: 'pending' };
  }

  async setDelivery(entry: Uint8Array, d: Delivery): Promise<void> {
    await this.store.setMeta(deliveryKey(toHex(entry)), encode(d));
  }
}


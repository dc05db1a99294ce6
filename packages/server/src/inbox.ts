import { Kind, reject, toHex, type BucketRate, type Entry, type Replica, type SharedState, type SpaceGraph } from '@freehold/core';

export interface InboxLimits {
  /** Appends a sender who is not a member may make to inboxes here, per minute (per sender). */
  appendsPerMinute: number;
  /** Appends all senders this provider does not host may make to one inbox together, per minute. */
  strangerAppendsPerMinute: number;
  /** Appends senders this provider does not host may make from one network source, per minute. */
  sourceAppendsPerMinute: number;
  /** Bytes of appends from senders not hosted here that one inbox holds, unless its owner sets another cap. */
  strangerBytes: number;
}

export const DEFAULT_INBOX_LIMITS: InboxLimits = {
  appendsPerMinute: 120,
  strangerAppendsPerMinute: 60,
  sourceAppendsPerMinute: 120,
  strangerBytes: 8 << 20,
};

/** Where a batch came from: the network address of a client session (or, later, a peer provider). */
export interface IngestSource {
  source: string;
}

const capKey = (space: Uint8Array) => `inbox-cap:${toHex(space)}`;
const purgedKey = (space: Uint8Array) => `inbox-purged:${toHex(space)}`;
/** The shared count of bytes senders hosted elsewhere have left in an inbox (see SharedState.add). */
const heldKey = (space: Uint8Array) => `inbox-held:${toHex(space)}`;

const readNumber = (raw: Uint8Array | undefined): number | undefined =>
  raw ? new DataView(raw.buffer, raw.byteOffset, raw.byteLength).getFloat64(0) : undefined;

function numberBytes(n: number): Uint8Array {
  const raw = new Uint8Array(8);
  new DataView(raw.buffer).setFloat64(0, n);
  return raw;
}

/**
 * What strangers may put in an inbox. Members write under their roles and pay for themselves; a sender hosted
 * here pays from its own quota; a sender hosted nowhere here is limited per sender, per inbox and per network
 * source, and what they leave is held within a bounded allowance of the inbox (which its owner can lower and
 * purge), so fresh accounts cannot fill someone's quota.
 */
export class InboxPolicy {
  /** Buckets every node shares (SharedState), so the limits hold for the provider, not for each node. */
  private readonly perSender: BucketRate;
  private readonly perInbox: BucketRate;
  private readonly perSource: BucketRate;

  constructor(
    private readonly replica: Replica,
    private readonly isHosted: (account: Uint8Array) => boolean,
    private readonly state: SharedState,
    readonly limits: InboxLimits,
  ) {
    const bucket = (perMinute: number) => ({ perMinute, burst: Math.max(10, perMinute / 2) });
    this.perSender = bucket(limits.appendsPerMinute);
    this.perInbox = bucket(limits.strangerAppendsPerMinute);
    this.perSource = bucket(limits.sourceAppendsPerMinute);
  }

  /**
   * Checks a non-member's append (throwing `rate-limited` or `quota-exceeded`) and says whether the sender
   * pays for it; otherwise it counts against the inbox's stranger allowance, paid by the inbox's owner. The
   * owner's cap and purge are read from the store and the allowance is a shared count, so an owner's change made
   * through one node holds on all of them at once.
   */
  async admit(e: Entry, author: Uint8Array, from: IngestSource | undefined): Promise<'sender' | 'inbox'> {
    const now = Date.now();
    const purgedBefore = readNumber(await this.replica.store.getMeta(purgedKey(e.space))) ?? -1;
    if (e.time <= purgedBefore) reject('purged', 'the inbox’s owner cleared the messages from before this one');
    const empty = async (key: string, rate: BucketRate) => (await this.state.take(key, rate, now)) > 0;
    if (await empty(`inbox-sender:${toHex(author)}`, this.perSender)) reject('rate-limited', 'too many messages to inboxes from this account; try again in a minute');
    if (this.isHosted(author)) return 'sender';
    if (from && (await empty(`inbox-source:${from.source}`, this.perSource))) reject('rate-limited', 'too many messages to inboxes from this address; try again in a minute');
    if (await empty(`inbox-strangers:${toHex(e.space)}`, this.perInbox)) reject('rate-limited', 'this inbox is taking no more messages from other providers’ accounts for a minute');
    if (!(await this.state.add(heldKey(e.space), e.bytes.length, await this.cap(e.space), () => this.strangerBytes(e.space), now))) {
      reject('quota-exceeded', 'this inbox is full: its owner has to make room before it takes more messages');
    }
    return 'inbox';
  }

  /** What senders hosted elsewhere have left in an inbox, as stored. */
  private async strangerBytes(space: Uint8Array): Promise<number> {
    const graph = await this.replica.graph(space);
    let bytes = 0;
    for (const row of await this.replica.store.spaceEntries(space, Kind.append)) {
      if (this.fromStranger(graph, row.device)) bytes += row.bytes.length;
    }
    return bytes;
  }

  private fromStranger(graph: SpaceGraph, device: Uint8Array): boolean {
    const author = this.replica.authorOf(device)?.account.account;
    return author === undefined || (!this.isHosted(author) && !graph.current().roles.has(toHex(author)));
  }

  async cap(space: Uint8Array): Promise<number> {
    return readNumber(await this.replica.store.getMeta(capKey(space))) ?? this.limits.strangerBytes;
  }

  /** The owner's cap on what strangers may leave (at most the provider's allowance). */
  async setCap(space: Uint8Array, bytes: number): Promise<number> {
    const cap = Math.min(bytes, this.limits.strangerBytes);
    await this.replica.store.setMeta(capKey(space), numberBytes(cap));
    return cap;
  }

  /**
   * Deletes what senders who are not members left in an inbox up to now, and refuses those messages if a
   * replica offers them again; returns how many entries went.
   */
  async purge(space: Uint8Array, now: number): Promise<number> {
    await this.replica.store.setMeta(purgedKey(space), numberBytes(now));
    const graph = await this.replica.graph(space);
    const drop: Uint8Array[] = [];
    for (const row of await this.replica.store.spaceEntries(space, Kind.append)) {
      const author = this.replica.authorOf(row.device)?.account.account;
      if (row.time <= now && (!author || !graph.current().roles.has(toHex(author)))) drop.push(row.id);
    }
    if (drop.length) await this.replica.store.deleteEntries(drop);
    await this.state.forget(heldKey(space));
    return drop.length;
  }
}

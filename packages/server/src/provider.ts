import {
  asBytes,
  asUint,
  canRead,
  definedOnly,
  fromHex,
  Kind,
  reject,
  Replica,
  toHex,
  toId,
  verifyRequest,
  type AccountRow,
  type Charge,
  type Entry,
  type IdentityState,
  type SigningKey,
  type SpaceGraph,
  type Store,
} from '@freehold/core';
import type { Logger } from 'pino';
import type { Metrics } from './metrics.js';
import { DEFAULT_INBOX_LIMITS, InboxPolicy, type InboxLimits, type IngestSource } from './inbox.js';
import { providerDocument, providerKey, type ProviderDocument } from './provider-identity.js';
import { Peering } from './peering.js';
import { NetworkBudgets } from './budget.js';
import { Mirrors, READS_FLUSH_MS, type Delivery, type Mirror } from './mirrors.js';
import { DEFAULT_MIRROR_BUDGET, MirrorCache } from './mirror-cache.js';
import { DEFAULT_HANDLE_POLICY, HANDLE_NAME, HandleDirectory, type HandlePolicy } from './handles.js';

/** How long a mirror request waits for the new mirrors' first reconciliation before it is answered anyway. */
const MIRROR_FILL_WAIT_MS = 5000;

export interface ProviderOptions {
  store: Store;
  /** Base URL people reach this provider at; its host names handles (name@host). */
  publicUrl: string;
  defaultQuota: number;
  inbox?: Partial<InboxLimits>;
  /** Membership graphs held in memory. */
  graphCache?: number;
  /** Work units a second that all anonymous sessions from one network share (default 2,000). */
  anonymousWorkPerNetwork?: number;
  handles?: Partial<HandlePolicy>;
  /** How often peer links check that their peer still answers (default 30 s). */
  heartbeatMs?: number;
  /** Bytes of mirrored spaces to keep at most (default 2 GiB); past it the least recently read are evicted. */
  mirrorBudget?: number;
  logger: Logger;
  metrics: Metrics;
}

/** Receives the entries of spaces a session subscribed to. */
export interface Subscriber {
  readonly account: Uint8Array | null;
  /** The peer provider's canonical URL, for a session another provider opened. */
  readonly peer?: string;
  push(space: Uint8Array, entries: Entry[]): void;
}

/**
 * What a co-operative runs: a replica that validates everything like any other, hosts registered accounts
 * within their quotas, keeps the handle directory, and fans new entries out to subscribed sessions.
 */
export class Provider {
  readonly host: string;
  private readonly subscribers = new Map<string, Set<Subscriber>>();
  readonly inbox: InboxPolicy;
  private readonly handles: HandleDirectory;
  readonly peering: Peering;
  /** What anonymous sessions from one network may spend together (see NetworkBudgets). */
  readonly anonymousBudgets: NetworkBudgets;
  /** The provider's Ed25519 key, named in its well-known document. */
  readonly publicKey: Uint8Array;
  /** The mirrors as a cache within the operator's budget. */
  readonly cache: MirrorCache;
  private readonly flushReads: NodeJS.Timeout;

  private constructor(
    readonly replica: Replica,
    readonly opts: ProviderOptions,
    private readonly registered: Set<string>,
    /** Who this provider is: its canonical URL, key, protocol and limits (the well-known document). */
    readonly document: ProviderDocument,
    key: SigningKey,
    readonly mirrors: Mirrors,
  ) {
    this.host = new URL(opts.publicUrl).host;
    this.inbox = new InboxPolicy(replica, (a) => this.isRegistered(a), { ...DEFAULT_INBOX_LIMITS, ...definedOnly(opts.inbox ?? {}) });
    this.handles = new HandleDirectory(replica, this.host, { ...DEFAULT_HANDLE_POLICY, ...definedOnly(opts.handles ?? {}) });
    this.peering = new Peering(this, key, opts.logger, opts.heartbeatMs);
    this.anonymousBudgets = new NetworkBudgets(opts.anonymousWorkPerNetwork ?? 2000);
    this.publicKey = key.publicKey;
    this.cache = new MirrorCache({
      replica,
      mirrors,
      budget: opts.mirrorBudget ?? DEFAULT_MIRROR_BUDGET,
      isHosted: (a) => this.isRegistered(a),
      relink: (reconnect) => this.peering.refresh(reconnect),
      logger: opts.logger,
      metrics: opts.metrics,
    });
    this.flushReads = setInterval(() => void mirrors.flush().catch(() => {}), READS_FLUSH_MS).unref();
  }

  static async open(opts: ProviderOptions): Promise<Provider> {
    const registered = new Set((await opts.store.accounts()).map((a) => toHex(a.account)));
    // The replica calls back into the provider it is opened for.
    const late: { provider?: Provider } = {};
    const replica = await Replica.open(opts.store, {
      // Identity logs of accounts not hosted here stay in memory until something stored here needs them.
      keepLog: (log) => registered.has(toHex(log.account)) || log.providers.includes(opts.publicUrl),
      onLogStored: async (log) => late.provider?.logStored(log),
      graphCache: opts.graphCache,
    });
    const key = await providerKey(opts.store);
    late.provider = new Provider(replica, opts, registered, providerDocument(opts.publicUrl, key), key, await Mirrors.open(opts.store));
    await late.provider.cache.open();
    return late.provider;
  }

  /**
   * An account whose signed log lists this provider is hosted here: listing it is the same consent as the
   * registration request, and it lets a provider that lost its data, or was added while the account's devices
   * are offline, take the account's data from its peers. A hosted account's providers are this one's peers.
   */
  private async logStored(log: IdentityState): Promise<void> {
    const k = toHex(log.account);
    if (log.providers.includes(this.opts.publicUrl) && !this.registered.has(k)) {
      await this.store.putAccount({ account: log.account, quota: this.opts.defaultQuota, used: 0, created: Date.now() });
      this.registered.add(k);
      this.opts.logger.info({ event: 'register', account: toId(log.account), by: 'identity-log' }, 'account hosted: its log lists this provider');
    }
    if (this.registered.has(k)) void this.peering.refresh();
  }

  /** Whether a space's creator lists this provider URL as one of its homes. */
  async homedAt(space: Uint8Array, url: string): Promise<boolean> {
    const graph = await this.replica.graph(space);
    const creator = graph.creatorAccount;
    return creator !== undefined && (this.replica.contact(creator)?.providers.includes(url) ?? false);
  }

  /** Whether a space is mirrored here (and not evicted) from an owner who lives (also) at this provider URL. */
  mirroredFrom(space: Uint8Array, url: string): boolean {
    const m = this.mirrors.get(space);
    return m?.state === 'live' && (this.replica.contact(m.owner)?.providers.includes(url) ?? false);
  }

  /** What this provider exchanges with a peer: spaces both are home to, and mirrors of the peer's accounts. */
  async sharedWith(space: Uint8Array, url: string): Promise<boolean> {
    return this.mirroredFrom(space, url) || this.homedAt(space, url);
  }

  /**
   * Whether a peer provider gets a live push of an entry stored here: one of a space both share, or one of this
   * provider's users wrote into an evicted mirror of a space the peer is home to (delivered without a refill).
   */
  async pushedTo(e: Entry, url: string): Promise<boolean> {
    if (await this.sharedWith(e.space, url)) return true;
    const m = this.mirrors.get(e.space);
    const author = this.replica.authorOf(e.device)?.account.account;
    return m?.state === 'owed' && author !== undefined && this.isRegistered(author) && (this.replica.contact(m.owner)?.providers.includes(url) ?? false);
  }

  /**
   * The spaces held here that a peer provider is also home to, and those mirrored from it. A space held here that
   * is not a mirror was created by an account hosted here (the hosting rules keep no other create operation), so
   * only the spaces created by hosted accounts that list the peer are looked at, through the store's index.
   */
  async spacesHomedAt(url: string): Promise<Uint8Array[]> {
    const out = new Map<string, Uint8Array>();
    for (const account of this.registered) {
      if (!this.replica.contact(account)?.providers.includes(url)) continue;
      for (const n of await this.store.spacesOf(fromHex(account))) if (n.creator) out.set(toHex(n.space), n.space);
    }
    for (const m of this.mirrors.all()) if (this.mirroredFrom(m.space, url)) out.set(toHex(m.space), m.space);
    return [...out.values()];
  }

  /**
   * What a peer provider may see of a space held here: everything of a space it is also home to, of a public
   * space, and of a private one that one of its accounts may read (it mirrors it for them); of an inbox, the
   * membership log and what its own accounts appended (to deliver their messages without reading others').
   */
  async peerView(space: Uint8Array, url: string): Promise<'all' | 'own' | false> {
    if (await this.homedAt(space, url)) return 'all';
    const graph = await this.replica.graph(space);
    if (!graph.created) return false;
    if (graph.isPublic) return 'all';
    for (const [account, role] of graph.current().roles) {
      if (canRead(role) && this.replica.contact(account)?.providers.includes(url)) return 'all';
    }
    return graph.openAppend ? 'own' : false;
  }

  /**
   * A hosted account asks for spaces of other accounts to be mirrored here (with those accounts' logs, which
   * name their providers): this provider then keeps them in sync with the owners' providers.
   */
  async mirror(account: Uint8Array, list: Mirror[], cards: Uint8Array[]): Promise<void> {
    if (!this.isRegistered(account)) reject('not-hosted', `mirrors are for accounts hosted here (\`freehold provider add ${this.opts.publicUrl}\`)`);
    for (const card of cards) await this.replica.addCard(card).catch(() => false);
    const owned = list.filter((m) => !this.isRegistered(m.owner) && this.replica.contact(m.owner) !== undefined);
    const added = await this.mirrors.add(owned);
    // The owners' logs are kept: they say where the mirrored spaces live.
    for (const m of added) {
      const log = this.replica.contact(m.owner)!;
      if (!this.replica.storedLog(m.owner)) await this.replica.commitIdentity(log);
    }
    if (added.length) this.opts.logger.info({ event: 'mirror', account: toId(account), spaces: added.length }, 'mirroring spaces');
    // Asking again for a mirror is reading it: it becomes the most recently read, and is refilled if evicted.
    const filled = this.cache.read(owned.map((m) => m.space), added);
    // Answer once the mirrors have had their first fill (or a few seconds passed): the client reads next.
    await Promise.race([filled, new Promise((r) => setTimeout(r, MIRROR_FILL_WAIT_MS).unref())]);
  }

  /** A session of an account hosted here reads these spaces (reconciles, subscribes): see MirrorCache.read. */
  noteRead(account: Uint8Array | null, spaces: Uint8Array[]): void {
    if (account && this.isRegistered(account)) void this.cache.read(spaces);
  }

  /** Where the entries an account wrote into others' spaces through this provider stand, newest first. */
  async outbox(account: Uint8Array, limit = 200): Promise<{ entry: Uint8Array; space: Uint8Array; time: number; delivery: Delivery }[]> {
    const log = this.replica.contact(account);
    const out: { entry: Uint8Array; space: Uint8Array; time: number; delivery: Delivery }[] = [];
    for (const d of log?.devices.values() ?? []) {
      for (const row of await this.store.deviceEntries(null, d.device, 0)) {
        if (this.mirrors.get(row.space)) out.push({ entry: row.id, space: row.space, time: row.time, delivery: await this.mirrors.delivery(row.id) });
      }
    }
    return out.sort((a, b) => b.time - a.time).slice(0, limit);
  }

  /** Validates and stores a batch from a session, under this provider's hosting rules. */
  async ingest(batch: Uint8Array[], from?: IngestSource) {
    const results = await this.replica.ingest(batch, { host: (e, graph) => this.charge(e, graph, from) });
    this.cache.stored(results.flatMap((r) => (r.entry ? [r.entry] : [])));
    return results;
  }

  get store(): Store {
    return this.replica.store;
  }

  /** Stops the peer links and writes back the mirrors' read times. */
  async stop(): Promise<void> {
    clearInterval(this.flushReads);
    this.peering.stop();
    await this.mirrors.flush();
  }

  isRegistered(account: Uint8Array): boolean {
    return this.registered.has(toHex(account));
  }

  /**
   * Who pays for an entry: its author if hosted here, else the space's creator; otherwise it is not ours to
   * keep. A non-member's append to an inbox goes through the inbox policy (rate limits, stranger allowance).
   * Synchronous except for such appends (see HostPolicy).
   */
  private charge(e: Entry, graph: SpaceGraph, from: IngestSource | undefined): Charge | undefined | Promise<Charge> {
    const author = this.replica.authorOf(e.device)!.account.account;
    const hosted = this.isRegistered(author);
    const member = graph.nodes.size > 0 && graph.current().roles.has(toHex(author));
    const bytes = e.bytes.length;
    // A copy kept for this provider's users is nobody's to pay for: what accounts hosted elsewhere wrote, as the
    // owner's providers took it in (a stranger's message to an inbox only from them, who applied their inbox rules).
    const fromPeer = from?.source.startsWith('provider:') ?? false;
    if (!hosted && this.mirrors.get(e.space) && (e.kind !== Kind.append || member || fromPeer)) return undefined;
    if (e.kind === Kind.append && !member) {
      const creator = graph.creatorAccount!;
      return this.inbox.admit(e, author, from).then((payer) => ({ account: payer === 'sender' ? author : creator, bytes }));
    }
    if (hosted) return { account: author, bytes };
    const creator = graph.creatorAccount;
    if (creator && this.isRegistered(creator)) return { account: creator, bytes };
    return reject('not-hosted', `account ${toId(author)} is not registered with ${this.host} (run \`freehold provider add ${this.opts.publicUrl}\`)`);
  }

  async register(request: Uint8Array): Promise<AccountRow> {
    const r = verifyRequest(request, 'register', this.host, Date.now());
    if (!r.account.providers.includes(this.opts.publicUrl)) {
      reject('invalid-argument', `the account's identity log does not list ${this.opts.publicUrl} as a provider`);
    }
    const held = await this.store.getAccount(r.account.account);
    if (!held) {
      await this.store.putAccount({ account: r.account.account, quota: this.opts.defaultQuota, used: 0, created: Date.now() });
      this.registered.add(toHex(r.account.account));
      this.opts.logger.info({ event: 'register', account: toId(r.account.account) }, 'account registered');
    }
    await this.replica.addCard(r.card);
    await this.handles.review(r.account.account);
    return (await this.store.getAccount(r.account.account))!;
  }

  /**
   * An inbox owner's settings: the cap on what senders this provider does not host may leave (`cap`, bytes),
   * and `purge`, which deletes what non-members left so far and refuses it if a replica offers it again.
   */
  async inboxSettings(request: Uint8Array): Promise<{ cap: number; purged: number }> {
    const r = verifyRequest(request, 'inbox', this.host, Date.now());
    const space = asBytes(r.payload.space, 'space', 32);
    const graph = await this.replica.graph(space);
    if (!graph.created || !graph.openAppend) reject('not-found', `no inbox ${toId(space)} here`);
    if (graph.current().roles.get(toHex(r.account.account)) !== 'admin') reject('forbidden-role', 'only the inbox’s owner may change it');
    const cap = r.payload.cap === undefined ? await this.inbox.cap(space) : await this.inbox.setCap(space, asUint(r.payload.cap, 'cap'));
    const purged = r.payload.purge === true ? await this.inbox.purge(space, Date.now()) : 0;
    this.opts.logger.info({ event: 'inbox', account: toId(r.account.account), space: toId(space), cap, purged }, 'inbox settings');
    return { cap, purged };
  }

  async claimHandle(request: Uint8Array): Promise<string> {
    const r = verifyRequest(request, 'claim-handle', this.host, Date.now());
    const name = String(r.payload.name ?? '');
    if (!HANDLE_NAME.test(name)) reject('invalid-argument', 'a handle is 1-32 of a-z, 0-9, _ and -, starting with a letter or digit');
    if (!this.isRegistered(r.account.account)) reject('not-hosted', `register with this provider first (\`freehold provider add ${this.opts.publicUrl}\`)`);
    const handle = `${name}@${this.host}`;
    if (!r.account.handles.includes(handle)) reject('invalid-argument', `the account's identity log does not claim ${handle}`);
    await this.replica.addCard(r.card);
    await this.handles.claim(name, r.account.account);
    this.opts.logger.info({ event: 'handle', handle, account: toId(r.account.account) }, 'handle claimed');
    return handle;
  }

  /** The directory entry for a handle: the account and its whole signed log, which must list the handle. */
  async lookupHandle(name: string): Promise<{ handle: string; account: string; card: string } | undefined> {
    const account = await this.handles.lookup(name);
    const card = account && (await this.store.getCard(account));
    if (!account || !card) return undefined;
    return { handle: `${name}@${this.host}`, account: toId(account), card: Buffer.from(card).toString('base64') };
  }

  async canSubscribe(space: Uint8Array, who: { account: Uint8Array | null; peer?: string }): Promise<boolean> {
    const graph = await this.replica.graph(space);
    if (!graph.created) return false;
    // A peer provider gets live pushes of what it may see whole (an inbox's 'own' view is not pushed).
    if (who.peer) return (await this.peerView(space, who.peer)) === 'all';
    return graph.isPublic || (who.account !== null && canRead(graph.current().roles.get(toHex(who.account))));
  }

  subscribe(space: Uint8Array, s: Subscriber): void {
    const k = toHex(space);
    let set = this.subscribers.get(k);
    if (!set) this.subscribers.set(k, (set = new Set()));
    set.add(s);
  }

  unsubscribeAll(s: Subscriber): void {
    for (const [k, set] of this.subscribers) {
      set.delete(s);
      if (set.size === 0) this.subscribers.delete(k);
    }
  }

  /**
   * Live push to subscribed sessions and to peer providers home to the spaces: a hint that saves a
   * reconciliation, never the only way an entry arrives. `from` is where the entries came from (not echoed).
   */
  async fanout(entries: Entry[], from: { subscriber?: Subscriber; peer?: string }): Promise<void> {
    this.peering.push(entries, from.peer);
    const bySpace = new Map<string, Entry[]>();
    for (const e of entries) {
      const k = toHex(e.space);
      const list = bySpace.get(k) ?? [];
      list.push(e);
      bySpace.set(k, list);
    }
    for (const [k, list] of bySpace) {
      const set = this.subscribers.get(k);
      if (!set) continue;
      for (const s of set) {
        if (s === from.subscriber || !(await this.canSubscribe(list[0]!.space, s))) continue;
        s.push(list[0]!.space, list);
      }
    }
  }
}

import {
  canRead,
  definedOnly,
  encodeFrame,
  equal,
  FRAME_LIMITS,
  fromHex,
  Kind,
  reject,
  Replica,
  toHex,
  toId,
  type Entry,
  type EntryRow,
  type IdentityState,
  type SigningKey,
  type SharedState,
  type SpaceGraph,
  type Store,
} from '@freehold/core';
import { MemorySharedState } from '@freehold/stores';
import type { Logger } from 'pino';
import type { Metrics } from './metrics.js';
import { DEFAULT_INBOX_LIMITS, InboxPolicy, type InboxLimits, type IngestSource } from './inbox.js';
import { providerDocument, providerKey, type ProviderDocument } from './provider-identity.js';
import { Peering } from './peering.js';
import { NetworkBudgets } from './budget.js';
import { Mirrors, READS_FLUSH_MS, type Delivery, type Mirror } from './mirrors.js';
import { DEFAULT_MIRROR_BUDGET, MirrorCache } from './mirror-cache.js';
import { DEFAULT_HANDLE_POLICY, HandleDirectory, type HandlePolicy } from './handles.js';
import { DEFAULT_RETIRED_GRACE_MS, Retirements } from './retirements.js';
import { FINGERPRINT_PAGE, FingerprintService, type FingerprintPage } from './fingerprints.js';
import { Subscriptions, type Subscriber } from './subscriptions.js';
import { Nodes, type NodesOptions } from './nodes.js';
import { InFlight } from './delivery.js';
import { PeerShares } from './peer-shares.js';
import { Registrations } from './registrations.js';
import { AccountRequests } from './account-requests.js';
import { Hosting } from './hosting.js';

/** Outbox entries one request answers at most. */
export const OUTBOX_LIMIT = 200;

/** One entry an account wrote into another account's space, and how far it got. */
export interface OutboxItem {
  entry: Uint8Array;
  space: Uint8Array;
  doc: Uint8Array;
  time: number;
  delivery: Delivery;
}

/** How often the shared state drops what it no longer needs (expired pairings, refilled buckets, idle counts). */
const SWEEP_MS = 60_000;

/**
 * How often the replica applies what other nodes sharing the store changed in membership and identity logs, hinted
 * or not (and so keeps the version its writes are checked at close to the store's).
 */
const CATCH_UP_MS = 1000;

/** How long a mirror request waits for the new mirrors' first reconciliation before it is answered anyway. */
const MIRROR_FILL_WAIT_MS = 5000;

export interface ProviderOptions {
  store: Store;
  /** Rate limits and the linking mailbox, shared by every node of the provider (default: this node's memory). */
  state?: SharedState;
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
  /** How long an account whose log dropped this provider is still answered for (default 30 days). */
  retiredGraceMs?: number;
  /** What one answer to a fingerprint request covers at most. */
  fingerprintPage?: Partial<FingerprintPage>;
  /** The other nodes of this provider (sharing its PostgreSQL database), reached through NATS. */
  nodes?: NodesOptions;
  logger: Logger;
  metrics: Metrics;
}

/**
 * What a co-operative runs: a replica that validates everything like any other, hosts registered accounts
 * within their quotas, keeps the handle directory, and fans new entries out to subscribed sessions.
 */
export class Provider {
  readonly host: string;
  readonly subscriptions: Subscriptions;
  /** The provider's other nodes, with --nats. */
  readonly nodes: Nodes | undefined;
  /** Stale-write retries of the replica already counted in the metrics. */
  private staleCounted = 0;
  /** Entries on their way to each peer provider, and on which session (see InFlight). */
  readonly inFlight = new InFlight();
  /** What this provider shares with each peer provider. */
  readonly shares = new PeerShares(this);
  readonly inbox: InboxPolicy;
  private readonly handles: HandleDirectory;
  readonly peering: Peering;
  /** The signed requests accounts make over HTTP. */
  readonly requests: AccountRequests;
  /** Who pays for what is stored here. */
  private readonly hosting: Hosting;
  /** What anonymous sessions from one network may spend together (see NetworkBudgets). */
  readonly anonymousBudgets: NetworkBudgets;
  /** The provider's Ed25519 key, named in its well-known document. */
  readonly publicKey: Uint8Array;
  /** The mirrors as a cache within the operator's budget. */
  readonly cache: MirrorCache;
  /** Answers accounts asking what is held of their spaces (a device verifying a move). */
  readonly fingerprints: FingerprintService;
  /** What every node of this provider sees alike besides the store (see SharedState). */
  readonly state: SharedState;
  private readonly flushReads: NodeJS.Timeout;
  private readonly sweep: NodeJS.Timeout;
  private readonly graceCheck: NodeJS.Timeout;
  private readonly catchUp: NodeJS.Timeout;
  /** Retired accounts whose grace period is known to have ended (logged once). */
  private readonly graceEnded = new Set<string>();
  /** The providers each mirrored space's owner was last seen to list, to notice when an owner moves. */
  private readonly ownerHomes = new Map<string, string>();

  private constructor(
    readonly replica: Replica,
    readonly opts: ProviderOptions,
    private readonly registered: Registrations,
    /** Who this provider is: its canonical URL, key, protocol and limits (the well-known document). */
    readonly document: ProviderDocument,
    key: SigningKey,
    readonly mirrors: Mirrors,
    readonly retirements: Retirements,
  ) {
    this.host = new URL(opts.publicUrl).host;
    this.state = opts.state ?? new MemorySharedState();
    this.sweep = setInterval(() => void this.state.sweep(Date.now()).catch(() => {}), SWEEP_MS).unref();
    this.nodes = opts.nodes && new Nodes(this, opts.nodes, opts.logger, opts.metrics);
    this.subscriptions = new Subscriptions(this.nodes);
    this.inbox = new InboxPolicy(replica, (a) => this.isRegistered(a), this.state, { ...DEFAULT_INBOX_LIMITS, ...definedOnly(opts.inbox ?? {}) });
    this.handles = new HandleDirectory(replica, this.host, { ...DEFAULT_HANDLE_POLICY, ...definedOnly(opts.handles ?? {}) });
    this.peering = new Peering(this, key, opts.logger, opts.heartbeatMs);
    this.hosting = new Hosting({
      host: this.host,
      publicUrl: opts.publicUrl,
      replica,
      registered,
      mirrors,
      inbox: this.inbox,
      isRegistered: (a) => this.isRegistered(a),
    });
    this.requests = new AccountRequests({
      host: this.host,
      publicUrl: opts.publicUrl,
      defaultQuota: opts.defaultQuota,
      logger: opts.logger,
      replica,
      registered,
      handles: this.handles,
      inbox: this.inbox,
      hosts: (a) => this.hosts(a),
      relink: () => void this.peering.refresh(),
    });
    this.anonymousBudgets = new NetworkBudgets(opts.anonymousWorkPerNetwork ?? 2000);
    this.publicKey = key.publicKey;
    this.fingerprints = new FingerprintService(this, { ...FINGERPRINT_PAGE, ...definedOnly(opts.fingerprintPage ?? {}) });
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
    this.graceCheck = setInterval(() => this.endGraces(), Math.max(1000, Math.min(retirements.graceMs, 3600_000))).unref();
    this.catchUp = setInterval(() => void replica.catchUp().catch(() => {}), CATCH_UP_MS).unref();
    for (const m of mirrors.all()) this.ownerHomes.set(toHex(m.owner), (replica.contact(m.owner)?.providers ?? []).join(' '));
  }

  static async open(opts: ProviderOptions): Promise<Provider> {
    const registered = await Registrations.open(opts.store);
    // The replica calls back into the provider it is opened for.
    const late: { provider?: Provider } = {};
    const replica = await Replica.open(opts.store, {
      // Identity logs of accounts not hosted here stay in memory until something stored here needs them.
      keepLog: (log) => registered.has(log.account) || log.providers.includes(opts.publicUrl),
      onLogStored: async (log) => late.provider?.logStored(log),
      graphCache: opts.graphCache,
    });
    const key = await providerKey(opts.store);
    const moved = registered.all().filter((a) => !(replica.storedLog(a)?.providers.includes(opts.publicUrl) ?? true));
    const retirements = await Retirements.open(opts.store, opts.retiredGraceMs ?? DEFAULT_RETIRED_GRACE_MS, moved);
    late.provider = new Provider(replica, opts, registered, providerDocument(opts.publicUrl, key), key, await Mirrors.open(opts.store), retirements);
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
    const listed = log.providers.includes(this.opts.publicUrl);
    // Registered through another node already: its row (and the quota the operator may have set) stays.
    if (listed && !(await this.registered.check(log.account))) {
      await this.store.putAccount({ account: log.account, quota: this.opts.defaultQuota, used: 0, created: Date.now() });
      this.registered.add(k);
      this.opts.logger.info({ event: 'register', account: toId(log.account), by: 'identity-log' }, 'account hosted: its log lists this provider');
    }
    if (this.registered.has(k)) {
      await this.noteRetirement(log, listed);
      void this.peering.refresh();
    }
    await this.ownerMoved(log);
  }

  /**
   * A hosted account whose log drops this provider has moved away: it is still hosted for the grace period, and
   * the sessions subscribed to its spaces (its other devices, the providers mirroring them) are sent the new log.
   */
  private async noteRetirement(log: IdentityState, listed: boolean): Promise<void> {
    const id = toId(log.account);
    if (listed) {
      if (await this.retirements.restore(log.account)) this.opts.logger.info({ event: 'retire-undone', account: id }, 'account lists this provider again');
      return;
    }
    if (!(await this.retirements.retire(log.account))) return;
    const until = new Date(Date.now() + this.retirements.graceMs).toISOString();
    this.opts.logger.info({ event: 'retired', account: id, providers: log.providers, until }, 'account moved away; answering for it until the grace period ends');
    const told = new Set<Subscriber>();
    for (const n of await this.store.spacesOf(log.account)) {
      if (!n.creator) continue;
      for (const s of this.subscriptions.of(n.space)) {
        if (told.has(s)) continue;
        told.add(s);
        s.moved(log);
      }
    }
  }

  /** The owner of spaces mirrored here lists other providers now: the links follow it there. */
  private async ownerMoved(log: IdentityState): Promise<void> {
    const k = toHex(log.account);
    const owned = this.mirrors.all().filter((m) => toHex(m.owner) === k);
    if (!owned.length) return;
    const homes = log.providers.join(' ');
    const before = this.ownerHomes.get(k);
    this.ownerHomes.set(k, homes);
    if (before === undefined || before === homes) return;
    this.opts.logger.info({ event: 'owner-moved', account: toId(log.account), providers: log.providers, mirrors: owned.length }, 'a mirrored account lives elsewhere now');
    await this.peering.refresh(owned);
  }

  /** Retired accounts whose grace period has ended are no longer hosted: their links go. */
  private endGraces(): void {
    const ended = this.retirements.ended().filter((k) => !this.graceEnded.has(k));
    if (!ended.length) return;
    for (const k of ended) {
      this.graceEnded.add(k);
      this.opts.logger.info({ event: 'retire-end', account: toId(fromHex(k)) }, 'grace period over: no longer hosting the account');
    }
    void this.peering.refresh();
  }

  /**
   * The newest log of an account that was hosted here and moved away (within its grace period or after), which
   * names where it lives now; undefined for any other account.
   */
  movedAway(account: Uint8Array): IdentityState | undefined {
    if (!this.registered.has(account) || this.retirements.at(account) === undefined) return undefined;
    return this.replica.storedLog(account);
  }

  /**
   * A hosted account asks for spaces of other accounts to be mirrored here (with those accounts' logs, which
   * name their providers): this provider then keeps them in sync with the owners' providers.
   */
  async mirror(account: Uint8Array, list: Mirror[], cards: Uint8Array[]): Promise<void> {
    if (!(await this.hosts(account))) reject('not-hosted', `mirrors are for accounts hosted here (\`freehold provider add ${this.opts.publicUrl}\`)`);
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

  /**
   * Where the entries an account wrote into others' spaces through this provider stand, newest first: those in
   * spaces mirrored here, or, with `sent`, those at these places (a space and a document id each: how the
   * account's devices find what they sent). An entry for an account hosted here was delivered when it was stored.
   */
  async outbox(account: Uint8Array, sent?: { space: Uint8Array; doc: Uint8Array }[], limit = OUTBOX_LIMIT): Promise<OutboxItem[]> {
    const rows: EntryRow[] = [];
    if (sent) {
      // Only what the account signed (as this provider attributes devices), whoever else wrote at a place.
      const own = (r: EntryRow) => equal(this.replica.authorOf(r.device)?.account.account ?? new Uint8Array(0), account);
      for (const { space, doc } of sent.slice(0, limit)) rows.push(...(await this.store.docEntries(space, doc)).filter(own));
    } else {
      for (const d of this.replica.contact(account)?.devices.values() ?? []) {
        for (const row of await this.store.deviceEntries(null, d.device, 0)) if (this.mirrors.get(row.space)) rows.push(row);
      }
    }
    const out: OutboxItem[] = [];
    for (const row of rows) out.push({ entry: row.id, space: row.space, doc: row.doc, time: row.time, delivery: await this.delivery(row) });
    return out.sort((a, b) => b.time - a.time).slice(0, limit);
  }

  private async delivery(row: EntryRow): Promise<Delivery> {
    if (this.mirrors.get(row.space)) return this.mirrors.delivery(row.id);
    const owner = (await this.replica.graph(row.space)).creatorAccount;
    return owner && this.isRegistered(owner) ? { state: 'delivered', at: row.time, to: this.opts.publicUrl } : { state: 'pending' };
  }

  /** Validates and stores the batches of a session's entries frames, under this provider's hosting rules. */
  async ingest(frames: Uint8Array[][], from?: IngestSource) {
    const results = await this.replica.ingestFrames(frames, this.hosting.rules(from));
    this.opts.metrics.staleWrites.inc(this.replica.staleRetries - this.staleCounted);
    this.staleCounted = this.replica.staleRetries;
    this.cache.stored(results.flatMap((r) => (r.entry ? [r.entry] : [])));
    return results;
  }

  get store(): Store {
    return this.replica.store;
  }

  /** Stops the peer links and writes back the mirrors' read times. */
  async stop(): Promise<void> {
    clearInterval(this.flushReads);
    clearInterval(this.graceCheck);
    clearInterval(this.sweep);
    clearInterval(this.catchUp);
    this.peering.stop();
    await this.nodes?.stop();
    await this.mirrors.flush();
  }

  /** The accounts this node knows to be registered here. */
  hostedAccounts(): Uint8Array[] {
    return this.registered.all();
  }

  /** Hosted here: registered, or listed by the account's log, and not retired past the grace period (as this node knows). */
  isRegistered(account: Uint8Array): boolean {
    return this.registered.has(account) && !this.retirements.expired(account);
  }

  /** Like isRegistered, asking the store about an account this node has not seen registered (see Registrations). */
  async hosts(account: Uint8Array, recent = false): Promise<boolean> {
    return (await this.registered.check(account, recent)) && !this.retirements.expired(account);
  }

  /**
   * The directory entry for a handle: the account and its whole signed log, which must list the handle. For the
   * grace period after its holder moved away, a name its log dropped is still answered, `moved`: the log names
   * where the account lives now, and an earlier record of it claims the name.
   */
  async lookupHandle(name: string): Promise<{ handle: string; account: string; card: string; moved?: true } | undefined> {
    let account = await this.handles.lookup(name);
    let moved = false;
    if (!account) {
      const holder = await this.handles.holder(name);
      moved = holder !== undefined && this.movedAway(holder) !== undefined && !this.retirements.expired(holder);
      if (moved) account = holder;
    }
    const card = account && (await this.store.getCard(account));
    if (!account || !card) return undefined;
    return { handle: `${name}@${this.host}`, account: toId(account), card: Buffer.from(card).toString('base64'), ...(moved && { moved: true as const }) };
  }

  async canSubscribe(space: Uint8Array, who: { account: Uint8Array | null; peer?: string }): Promise<boolean> {
    const graph = await this.replica.graph(space);
    if (!graph.created) return false;
    // A peer provider gets live pushes of what it may see whole (an inbox's 'own' view is not pushed).
    if (who.peer) return (await this.shares.peerView(space, who.peer)) === 'all';
    return readableBy(graph, who.account);
  }

  /**
   * Live push to subscribed sessions, to peer providers home to the spaces and to this provider's other nodes: a
   * hint that saves a reconciliation, never the only way an entry arrives. `from` is where the entries came from
   * (not echoed); entries another node stored (`node`) go to this node's sessions only.
   */
  async fanout(entries: Entry[], from: { subscriber?: Subscriber; peer?: string; node?: true }): Promise<void> {
    if (!from.node) {
      this.nodes?.publish(entries);
      this.peering.push(entries, from.peer);
    }
    // After a membership change, peer sessions refused the space that may now see it are told, so their provider
    // reconciles it (an approved follower's provider mirrors a friends space it could not see before; a push of
    // the grant alone would leave out everything written earlier).
    const changed = new Map<string, Uint8Array>();
    for (const e of entries) if (e.kind === Kind.membership && this.subscriptions.hasRefused(e.space)) changed.set(toHex(e.space), e.space);
    for (const space of changed.values()) await this.subscriptions.admit(space, (s) => this.canSubscribe(space, s));
    const bySpace = new Map<string, Entry[]>();
    for (const e of entries) {
      const k = toHex(e.space);
      const list = bySpace.get(k) ?? [];
      list.push(e);
      bySpace.set(k, list);
    }
    for (const list of bySpace.values()) {
      const space = list[0]!.space;
      const subscribers = [...this.subscriptions.of(space)].filter((s) => s !== from.subscriber);
      if (!subscribers.length) continue;
      // Looked up once for the space and encoded once for every subscriber; only a peer provider's view is its own.
      const graph = await this.replica.graph(space);
      let bytes: Uint8Array | undefined;
      const framed = list.length <= FRAME_LIMITS.entries ? () => (bytes ??= encodeFrame(['entries', list.map((e) => e.bytes)])) : undefined;
      for (const s of subscribers) {
        if (s.peer ? !(await this.canSubscribe(space, s)) : !(graph.created && readableBy(graph, s.account))) continue;
        s.push(space, list, framed);
      }
    }
  }
}

/** Whether an account (null: anonymous) may read a space and so get its entries pushed. */
const readableBy = (graph: SpaceGraph, account: Uint8Array | null): boolean =>
  graph.isPublic || (account !== null && canRead(graph.current().roles.get(toHex(account))));

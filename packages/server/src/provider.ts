import {
  asBytes,
  asUint,
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
  verifyRequest,
  type AccountRow,
  type Charge,
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
import { DEFAULT_HANDLE_POLICY, HANDLE_NAME, HandleDirectory, type HandlePolicy } from './handles.js';
import { DEFAULT_RETIRED_GRACE_MS, Retirements } from './retirements.js';
import { deleteAccountData, type DeletedAccount } from './deletions.js';
import { FINGERPRINT_PAGE, FingerprintService, type FingerprintPage } from './fingerprints.js';
import { Subscriptions, type Subscriber } from './subscriptions.js';
import { Nodes, type NodesOptions } from './nodes.js';
import { InFlight } from './delivery.js';
import { PeerShares } from './peer-shares.js';
import { Registrations } from './registrations.js';

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
/** Applies the inbox rules to a non-member's append (see Inbox.admit), once per entry in one ingest. */
type Admit = (e: Entry, author: Uint8Array) => Promise<'sender' | 'inbox'>;

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
    // A batch validated again after a `stale` refusal meets the inbox rules again: each entry takes its tokens once.
    const admitted = new Map<string, Promise<'sender' | 'inbox'>>();
    const admit: Admit = (e, author) => {
      const k = toHex(e.id);
      let payer = admitted.get(k);
      if (!payer) admitted.set(k, (payer = this.inbox.admit(e, author, from)));
      return payer;
    };
    const results = await this.replica.ingestFrames(frames, { host: (e, graph) => this.charge(e, graph, from, admit), refund: (row, graph) => this.refund(row, graph) });
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
   * Who pays for an entry: its author if hosted here, else the space's creator; otherwise it is not ours to
   * keep. A non-member's append to an inbox goes through the inbox policy (rate limits, stranger allowance).
   * An author or creator this node has not seen registered (through another node) is looked up first, except for
   * a membership operation, which is answered at once (see HostPolicy): its lookup serves the next time it is offered.
   */
  private charge(e: Entry, graph: SpaceGraph, from: IngestSource | undefined, admit: Admit): Charge | undefined | Promise<Charge | undefined> {
    const author = this.replica.authorOf(e.device)!.account.account;
    const creator = graph.creatorAccount;
    const unseen = [author, ...(creator ? [creator] : [])].filter((a) => !this.registered.has(a));
    if (e.kind === Kind.membership) for (const a of unseen) void this.registered.check(a, true).catch(() => {});
    if (e.kind === Kind.membership || !unseen.length) return this.chargeAs(e, graph, from, admit, author);
    return Promise.all(unseen.map((a) => this.registered.check(a, true))).then(() => this.chargeAs(e, graph, from, admit, author));
  }

  private chargeAs(e: Entry, graph: SpaceGraph, from: IngestSource | undefined, admit: Admit, author: Uint8Array): Charge | undefined | Promise<Charge> {
    const hosted = this.isRegistered(author);
    const member = graph.nodes.size > 0 && graph.current().roles.has(toHex(author));
    const bytes = e.bytes.length;
    // A copy kept for this provider's users is nobody's to pay for: what accounts hosted elsewhere wrote, as the
    // owner's providers took it in (a stranger's message to an inbox only from them, who applied their inbox rules).
    const fromPeer = from?.source.startsWith('provider:') ?? false;
    if (!hosted && this.mirrors.get(e.space) && (e.kind !== Kind.append || member || fromPeer)) return undefined;
    if (e.kind === Kind.append && !member) {
      const creator = graph.creatorAccount!;
      return admit(e, author).then((payer) => ({ account: payer === 'sender' ? author : creator, bytes }));
    }
    if (hosted) return { account: author, bytes };
    const creator = graph.creatorAccount;
    if (creator && this.isRegistered(creator)) return { account: creator, bytes };
    return reject('not-hosted', `account ${toId(author)} is not registered with ${this.host} (run \`freehold provider add ${this.opts.publicUrl}\`)`);
  }

  /**
   * Who paid for holding a blob chunk that a prune takes out, by the rule that charged it (see chargeAs): its author
   * if hosted here, else nobody for a mirror's copy, else the space's creator if hosted here.
   */
  private refund(row: EntryRow, graph: SpaceGraph): Charge | undefined {
    const author = this.replica.authorOf(row.device)?.account.account;
    const bytes = row.bytes.length;
    if (author && this.isRegistered(author)) return { account: author, bytes };
    const creator = graph.creatorAccount;
    if (this.mirrors.get(row.space) || !creator || !this.isRegistered(creator)) return undefined;
    return { account: creator, bytes };
  }

  /**
   * Registers the account that signed the request, which must list this provider in its log. With `check` in the
   * payload nothing is stored and the log need not list it yet: the answer is the quota this provider would
   * give, so a device can see whether its data fits before it names a new provider in its log.
   */
  async register(request: Uint8Array): Promise<AccountRow> {
    const r = verifyRequest(request, 'register', this.host, Date.now());
    if (r.payload.check === true) {
      const held = await this.store.getAccount(r.account.account);
      return held ?? { account: r.account.account, quota: this.opts.defaultQuota, used: 0, created: Date.now() };
    }
    if (!r.account.providers.includes(this.opts.publicUrl)) {
      reject('invalid-argument', `the account's identity log does not list ${this.opts.publicUrl} as a provider`);
    }
    const held = await this.store.getAccount(r.account.account);
    if (!held) {
      await this.store.putAccount({ account: r.account.account, quota: this.opts.defaultQuota, used: 0, created: Date.now() });
      this.opts.logger.info({ event: 'register', account: toId(r.account.account) }, 'account registered');
    }
    this.registered.add(r.account.account);
    await this.replica.addCard(r.card);
    await this.handles.review(r.account.account);
    return (await this.store.getAccount(r.account.account))!;
  }

  /**
   * An account deletes what this provider holds of it (see deleteAccountData), at a request from a live device
   * carrying a log that no longer lists this provider: the log that lists it is consent to be hosted here.
   */
  async deleteAccount(request: Uint8Array): Promise<DeletedAccount> {
    const r = verifyRequest(request, 'delete-account', this.host, Date.now());
    const account = r.account.account;
    if (!(await this.hosts(account))) reject('not-hosted', `account ${toId(account)} is not registered with ${this.host}`);
    if (r.account.providers.includes(this.opts.publicUrl)) {
      reject('invalid-argument', `the account's identity log still lists ${this.opts.publicUrl}: publish one without it first`);
    }
    await this.replica.addCard(r.card);
    const deleted = await deleteAccountData(this.replica, r.account, Date.now());
    this.registered.remove(account);
    this.opts.logger.info({ event: 'account-deleted', account: toId(account), ...deleted }, 'account deleted at its request');
    void this.peering.refresh();
    return deleted;
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
    if (!(await this.hosts(r.account.account))) reject('not-hosted', `register with this provider first (\`freehold provider add ${this.opts.publicUrl}\`)`);
    const handle = `${name}@${this.host}`;
    if (!r.account.handles.includes(handle)) reject('invalid-argument', `the account's identity log does not claim ${handle}`);
    await this.replica.addCard(r.card);
    await this.handles.claim(name, r.account.account);
    this.opts.logger.info({ event: 'handle', handle, account: toId(r.account.account) }, 'handle claimed');
    return handle;
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

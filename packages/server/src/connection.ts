import { randomBytes } from 'node:crypto';
import type { WebSocket } from 'ws';
import {
  challengeMessage,
  decodeEntry,
  decodeFrame,
  equal,
  defaultOffer,
  deviceOf,
  encodeCard,
  encodeFrame,
  FreeholdError,
  SyncSession,
  toHex,
  toId,
  verify,
  type Entry,
  type Frame,
  type IdentityState,
} from '@freehold/core';
import type { Logger } from 'pino';
import { providerInfo, RECONNECT_CLOSE, type ProviderInfo } from '@freehold/client';
import type { Provider } from './provider.js';
import type { Subscriber } from './subscriptions.js';
import type { Metrics } from './metrics.js';
import { WorkBudget, frameCost, type BudgetTier } from './budget.js';
import { DeliveryTracker } from './delivery.js';
import { RESYNC_CLOSE } from './peer-link.js';
import { FrameQueue, type QueueLimits } from './frame-queue.js';

export interface ConnectionLimits extends QueueLimits {
  /** A session whose outgoing buffer passes this is too slow to keep: it is closed and will reconcile on return. */
  maxBuffered: number;
  /** Bad frames tolerated before the connection is closed. */
  maxErrors: number;
  /** Spaces one session may subscribe to: anonymous, and authenticated. */
  maxSubscriptions: { anonymous: number; authenticated: number };
  /** Work units (about one per id, entry or log a frame carries) a session may spend per second, by tier. */
  work: Record<BudgetTier, number>;
}

export const DEFAULT_LIMITS: ConnectionLimits = {
  maxBuffered: 8 << 20,
  maxQueued: 32,
  maxInFlight: 1024,
  maxErrors: 32,
  maxSubscriptions: { anonymous: 64, authenticated: 16_384 },
  work: { anonymous: 1000, authenticated: 5000, hosted: 20_000, peer: 100_000 },
};


/**
 * One WebSocket session. Frames are handled strictly in order, one at a time (see FrameQueue): a reply (and an
 * ack) goes out only after what it answers is durable.
 */
export class Connection implements Subscriber {
  account: Uint8Array | null = null;
  /** Set when another provider authenticated this session with its key: its canonical URL. */
  peer: string | undefined;
  private readonly nonce = randomBytes(32);
  private session: SyncSession | undefined;
  private deliveries: DeliveryTracker | undefined;
  private readonly frames: FrameQueue;
  private errors = 0;
  private alive = true;
  lastSeen = Date.now();
  private readonly subscriptions = new Map<string, Uint8Array>();
  private readonly budget: WorkBudget;
  private readonly stats = { frames: 0, entriesIn: 0, entriesOut: 0, bytesIn: 0, bytesOut: 0, rejected: 0 };
  private readonly opened = Date.now();
  /** Accounts this session was told have moved away (each once). */
  private readonly toldMoved = new Set<string>();

  constructor(
    private readonly ws: WebSocket,
    private readonly provider: Provider,
    private readonly log: Logger,
    private readonly metrics: Metrics,
    private readonly limits: ConnectionLimits = DEFAULT_LIMITS,
    private readonly source = 'unknown',
  ) {
    this.budget = new WorkBudget(limits.work);
    this.frames = new FrameQueue(ws, limits, {
      decode: (bytes, decoded) => this.decode(bytes, decoded),
      pay: (f, size) => this.pay(f, size),
      readsAhead: () => ['peer', 'hosted'].includes(this.tier()),
      prepare: (entries) => this.provider.replica.prepare(entries),
      handle: (f, size, joined) => this.handle(f, size, joined),
      overrun: () => {
        this.metrics.rejections.inc({ reason: 'too-large' });
        this.log.warn({ event: 'overrun', account: this.account && toId(this.account) }, 'closing a session that sends without waiting');
      },
    });
    metrics.connections.inc();
    // A frame proves the peer is there as well as a pong does: a peer sending a large reconciliation may have its
    // pong queued behind frames this side is slow to read. Idleness counts frames only.
    ws.on('message', (data) => {
      this.alive = true;
      this.frames.push(data);
    });
    ws.on('pong', () => {
      this.alive = true;
    });
    ws.on('close', (code, reason) => this.closed(code, reason.toString()));
    ws.on('error', () => {});
    this.send(['challenge', this.nonce, provider.host]);
  }

  /** Heartbeat: a session that did not answer the previous ping is gone. */
  heartbeat(idleMs: number): void {
    if (!this.alive) return void this.ws.terminate();
    // A peer provider's session is quiet between pushes; closing it would only cost a full reconciliation.
    if (!this.peer && this.subscriptions.size === 0 && Date.now() - this.lastSeen > idleMs) return void this.ws.close(1000, 'idle');
    this.alive = false;
    this.ws.ping();
  }

  private send(f: Frame | Uint8Array): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    // To a peer provider, entries frames carry the outbox: their acknowledgements are deliveries.
    this.deliveries?.sent(f);
    const bytes = f instanceof Uint8Array ? f : encodeFrame(f);
    this.stats.bytesOut += bytes.length;
    this.metrics.bytesOut.inc(bytes.length);
    this.ws.send(bytes);
  }

  push(_space: Uint8Array, entries: Entry[], framed?: () => Uint8Array): void {
    if (this.ws.bufferedAmount > this.limits.maxBuffered) {
      this.log.warn({ event: 'slow-consumer', account: this.account && toId(this.account) }, 'closing a session that cannot keep up');
      return void this.ws.close(1013, 'too slow: reconnect and reconcile');
    }
    this.stats.entriesOut += entries.length;
    this.metrics.entriesOut.inc(entries.length);
    // With the identity logs of authors this session has not been sent yet. A peer provider's session frames its
    // own: it leaves out what another session with that provider carries, and tracks what it sends.
    const session = this.sync();
    if (!framed || this.deliveries) return void session.entryFrames(entries).forEach((f) => this.send(f));
    for (const f of session.cardsFor(entries)) this.send(f);
    this.send(framed());
  }

  /** Tells the session where an account that moved away lives now: its newest log, then a `moved` error. */
  moved(log: IdentityState): void {
    const k = toHex(log.account);
    if (this.toldMoved.has(k)) return;
    this.toldMoved.add(k);
    for (const f of this.sync().cardFrames([log.account])) this.send(f);
    this.send(['error', 'moved', movedMessage(log, this.provider.host)]);
  }

  /** Spaces a session names that belong to an account that moved away: it is told where that account lives. */
  private async tellMoved(spaces: Uint8Array[]): Promise<void> {
    for (const space of spaces) {
      // A space whose membership cannot be read now is answered for by what the frame asked (see subscribe).
      const creator = (await this.provider.replica.graph(space).catch(() => undefined))?.creatorAccount;
      const log = creator && this.provider.movedAway(creator);
      if (log) this.moved(log);
    }
  }

  /** It may have missed pushes (see Nodes): it reconnects, to any node, and reconciles. */
  reconnect(reason: string): void {
    this.ws.close(RECONNECT_CLOSE, reason.slice(0, 120));
  }

  /**
   * The node is stopping: frames not yet taken are dropped (none was acknowledged; the client sends them again),
   * the one being handled finishes and is answered, then the client is asked to reconnect elsewhere.
   */
  async stopping(): Promise<void> {
    await this.frames.stop();
    this.reconnect('this node is stopping: reconnect');
  }

  /** Milliseconds to wait before handling a frame (it is paid for now). */
  private pay(f: Frame, size: number): number {
    const tier = this.tier();
    const cost = frameCost(f, size);
    const own = this.budget.spend(tier, cost);
    // Anonymous sessions of one network share a budget too, but signing in is not queued behind them.
    const shared = tier === 'anonymous' && f[0] !== 'auth' && f[0] !== 'peer';
    return shared ? Math.max(own, this.provider.anonymousBudgets.spend(this.source, cost)) : own;
  }

  private tier(): BudgetTier {
    if (this.peer) return 'peer';
    if (!this.account) return 'anonymous';
    return this.provider.isRegistered(this.account) ? 'hosted' : 'authenticated';
  }

  private fail(reason: string, message: string): void {
    this.errors++;
    this.metrics.rejections.inc({ reason });
    this.send(['error', reason, message]);
    if (this.errors >= this.limits.maxErrors) this.ws.close(1008, 'too many bad frames');
  }

  private decode(bytes: Uint8Array, decoded?: Frame): Frame | undefined {
    this.lastSeen = Date.now();
    this.stats.frames++;
    this.stats.bytesIn += bytes.length;
    this.metrics.bytesIn.inc(bytes.length);
    try {
      return decoded ?? decodeFrame(bytes);
    } catch (e) {
      this.fail(e instanceof FreeholdError ? e.reason : 'malformed', e instanceof Error ? e.message : 'bad frame');
      return undefined;
    }
  }

  /** `joined`: the batches of entries frames stored with an entries frame `f` (`size` counts them too). */
  private async handle(f: Frame, size: number, joined: Uint8Array[][] = []): Promise<void> {
    const timer = this.metrics.syncLatency.startTimer({ frame: f[0] });
    try {
      switch (f[0]) {
        case 'auth':
          return await this.auth(f[1], f[2], f[3]);
        case 'peer':
          return await this.peerAuth(f[1], f[2], f[3]);
        case 'mirror':
          if (!this.account) return this.fail('unauthenticated', 'authenticate before asking for mirrors');
          for (const owner of f[2]) {
            const log = this.provider.movedAway(owner);
            if (log) this.moved(log);
          }
          return await this.provider.mirror(
            this.account,
            f[1].map((space, i) => ({ space, owner: f[2][i]! })),
            f[3],
          );
        case 'sub':
          this.provider.noteRead(this.account, f[1]);
          await this.tellMoved(f[1]);
          return await this.subscribe(f[1]);
        case 'hello':
        case 'rec':
          // Reconciling a space reads it (a mirror's place in the cache; see MirrorCache). A session opened
          // with a summary names only what differs; the spaces it subscribes to are read too.
          this.provider.noteRead(this.account, f[0] === 'hello' ? f[2] : [f[1]]);
          for (const out of await this.sync().receiveFrame(f, size)) this.send(out);
          await this.tellMoved(f[0] === 'hello' ? f[2] : [f[1]]);
          return;
        case 'entries':
          for (const out of await this.sync().receiveEntries([f[1], ...joined], size)) this.send(out);
          return;
        case 'sum':
        case 'cards':
        case 'want':
        case 'ack':
        case 'sync':
          for (const out of await this.sync().receiveFrame(f, size)) this.send(out);
          return;
        default:
          return this.fail('malformed', `a client does not send ${f[0]} frames`);
      }
    } catch (e) {
      if (e instanceof FreeholdError) return this.fail(e.reason, e.message);
      this.log.error({ err: e }, 'frame handling failed');
      this.ws.close(1011, 'internal error');
    } finally {
      timer();
    }
  }

  private sync(): SyncSession {
    this.session ??= new SyncSession(this.provider.replica, {
      account: new Uint8Array(0),
      peer: this.account,
      ingest: (frames) => this.provider.ingest(frames, { source: this.peer ? `provider:${this.peer}` : this.source }),
      // A peer provider sees what it is home to or mirrors for its accounts (see Provider.peerView); of an inbox,
      // what its own accounts appended. Each space looked at is counted: what opening a session costs.
      offer: async (space: Uint8Array, peer: Uint8Array | null, wants: Set<string>) => {
        this.metrics.offerChecks.inc({ peer: this.peer ? 'provider' : 'client' });
        return this.peer ? this.provider.shares.peerView(space, this.peer) : defaultOffer(this.provider.replica, space, peer, wants);
      },
      ...(this.peer ? { ownedByPeer: (account: Uint8Array) => this.provider.replica.contact(account)?.providers.includes(this.peer!) ?? false } : {}),
      // Besides what it asks for, a hosted account is offered the spaces that name it (the store's index), a peer
      // provider those it is home to as well; any other session only what it asks for. Looking them up is work
      // the session pays for (its next frame waits).
      offerable: async (peer) => {
        if (this.peer) {
          // What the peer's link summarises too: the spaces both are home to, and those it mirrors from here (it
          // subscribes to them first). And this provider's mirrors of the peer's spaces, though its own link
          // reconciles those too: a provider that cannot be dialled (behind a firewall) still gets what this
          // one's users wrote there when it dials out. Those cost a reconciliation each on every reconnect.
          const homed = await this.provider.shares.spacesHomedAt(this.peer);
          this.budget.spend(this.tier(), homed.length);
          return [...homed, ...this.subscriptions.values()];
        }
        if (!peer || !this.provider.isRegistered(peer)) return [];
        const named = await this.provider.store.spacesOf(peer);
        this.budget.spend(this.tier(), named.length);
        return named.map((n) => n.space);
      },
      onStored: (entries) => {
        this.stats.entriesIn += entries.length;
        this.metrics.entriesIn.inc(entries.length);
        void this.provider.fanout(entries, { subscriber: this, peer: this.peer });
      },
      onAck: (_stored, rejected) => void this.deliveries?.acked(rejected),
      claim: (entries) => this.deliveries?.claim(entries) ?? entries,
      onRejected: (entry, reason, message) => {
        this.stats.rejected++;
        this.metrics.rejections.inc({ reason });
        let id: string | undefined;
        try {
          id = Buffer.from(decodeEntry(entry).id).toString('hex');
        } catch {
          id = undefined;
        }
        this.log.info({ event: 'reject', reason, message, entry: id, account: this.account && toId(this.account) }, 'entry refused');
      },
    });
    return this.session;
  }

  private async auth(card: Uint8Array, device: Uint8Array, signature: Uint8Array): Promise<void> {
    if (this.session) return this.fail('invalid-argument', 'authenticate before syncing');
    await this.provider.replica.addCard(card);
    const account = this.provider.replica.authorOf(device)?.account;
    const info = account && deviceOf(account, device);
    if (!account || !info || info.revoked) return this.fail('unauthenticated', 'that device is not a live device of the account');
    if (!verify(signature, challengeMessage(this.nonce, this.provider.host), device)) return this.fail('unauthenticated', 'the challenge signature does not verify');
    // A device of an account that moved away is sent the newest log, which names where to go, instead of a session.
    const gone = this.provider.movedAway(account.account);
    if (gone) {
      this.send(['cards', [encodeCard(gone)]]);
      return this.fail('moved', movedMessage(gone, this.provider.host));
    }
    this.account = account.account;
    // Registered through another node of this provider, perhaps a moment ago: the session is hosted from its start.
    await this.provider.hosts(this.account);
    this.log.info({ event: 'auth', account: toId(this.account), device: toId(device) }, 'session authenticated');
    this.send(['authed', this.account]);
  }

  /**
   * Another provider authenticating with its key, which the provider's own well-known document must name.
   * Checking that means fetching the document, so attempts are rate limited per network and only a signature
   * over this session's challenge gets that far. A peer then sees only the spaces it is home to as well.
   */
  private async peerAuth(url: string, key: Uint8Array, signature: Uint8Array): Promise<void> {
    if (this.session || this.account || this.peer) return this.fail('invalid-argument', 'authenticate once, before syncing');
    if (!/^https?:\/\/[^/]+$/.test(url)) return this.fail('invalid-argument', 'a provider names itself by its base URL');
    if (!verify(signature, challengeMessage(this.nonce, this.provider.host), key)) return this.fail('unauthenticated', 'the challenge signature does not verify');
    if (!this.provider.peering.admit(this.source)) return this.fail('rate-limited', 'too many provider sessions from this network; try again in a minute');
    const named = (info: ProviderInfo | undefined) => info !== undefined && info.url === url && equal(info.key, key);
    let info = await providerInfo(url).catch(() => undefined);
    if (!named(info)) info = await providerInfo(url, { fresh: true }).catch(() => undefined);
    if (!named(info)) return this.fail('unauthenticated', `${url.slice(0, 200)} does not name that key as its own`);
    this.peer = url;
    this.deliveries = new DeliveryTracker(this.provider, url);
    this.log.info({ event: 'peer-auth', peer: url }, 'peer provider authenticated');
    this.send(['authed', this.provider.publicKey]);
  }

  /** A peer provider let into a space: it reconnects at once and reconciles (see PeerLink). */
  admitted(space: Uint8Array): void {
    this.log.info({ event: 'peer-admitted', peer: this.peer, space: toId(space) }, 'peer provider may now see a space it asked for; asking it to reconcile');
    this.ws.close(RESYNC_CLOSE, 'a space you asked for is now visible: reconcile');
  }

  private async subscribe(spaces: Uint8Array[]): Promise<void> {
    const ok: Uint8Array[] = [];
    const refused: string[] = [];
    // Spaces whose membership could not be looked up now (the store did not answer): the answer still comes, so a
    // client waiting for it is told instead of waiting for good.
    const unchecked: string[] = [];
    const max = this.account || this.peer ? this.limits.maxSubscriptions.authenticated : this.limits.maxSubscriptions.anonymous;
    for (const space of spaces) {
      const key = toId(space);
      if (this.subscriptions.has(key)) {
        ok.push(space);
        continue;
      }
      if (this.subscriptions.size >= max) {
        this.send(['error', 'too-large', `a session may subscribe to ${max} spaces${this.account || this.peer ? '' : ' (authenticate for more)'}`]);
        break;
      }
      let readable: boolean;
      try {
        readable = await this.provider.canSubscribe(space, this);
      } catch (e) {
        unchecked.push(`${key}: ${e instanceof Error ? e.message : String(e)}`);
        continue;
      }
      if (readable) {
        this.provider.subscriptions.subscribe(space, this);
        this.subscriptions.set(key, space);
        ok.push(space);
      } else {
        refused.push(key);
        if (this.peer) this.provider.subscriptions.refuse(space, this);
      }
    }
    // One answer for what was refused: a space one may not read is not a malformed frame.
    if (refused.length) {
      const which = refused.length === 1 ? `space ${refused[0]} is` : `${refused.length} spaces (${refused[0]}, …) are`;
      const known = this.account || this.peer;
      this.send(['error', known ? 'forbidden-role' : 'unauthenticated', `${which} not readable by this session${known ? '' : ' (authenticate first)'}`]);
    }
    if (unchecked.length) this.send(['error', 'unavailable', `could not check ${unchecked.length} of the spaces (${unchecked[0]!.slice(0, 200)}); subscribe to them again later`]);
    this.send(['subbed', ok]);
  }

  private closed(code: number, reason: string): void {
    this.metrics.connections.dec();
    this.provider.subscriptions.unsubscribeAll(this);
    this.deliveries?.close();
    this.log.info(
      { event: 'session', account: this.account && toId(this.account), peer: this.peer, ms: Date.now() - this.opened, code, reason, ...this.stats, entriesOut: this.stats.entriesOut + (this.session?.stats.entriesSent ?? 0) },
      'session closed',
    );
  }
}

const movedMessage = (log: IdentityState, host: string): string =>
  `account ${toId(log.account)} no longer lives at ${host}; its identity log names ${log.providers.join(', ') || 'no provider'}`;

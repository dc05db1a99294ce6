import { fromHex, toHex, utf8 } from '../bytes.js';
import { signedId } from '../signed.js';
import { asArray, asBytes, asString, asUint, decode, encode } from '../codec.js';
import { isRejectReason, reject, type RejectReason } from '../errors.js';
import { decodeEntry, Kind, MAX_ENTRY, type Entry } from '../entry.js';
import { encodeCard, MAX_CARD_BYTES } from '../identity/state.js';
import { readMembershipOp } from '../space/ops.js';
import type { IngestResult, Replica } from '../replica.js';
import { Reconciler } from './reconcile.js';
import { canRead } from '../space/ops.js';
import { inDependencyOrder } from '../space/topo.js';

/**
 * Frames are CBOR arrays tagged by their first element; every frame is validated before it is acted on. The
 * same protocol serves peer-to-peer, client-provider and provider-provider sync; the first group is the sync
 * conversation itself, the second what a network session adds around it.
 */
export type Frame =
  /**
   * Account (empty for a provider), the spaces it holds or wants, its own identity log (or none), and the
   * protocol version it speaks (absent means 1).
   */
  | ['hello', Uint8Array, Uint8Array[], Uint8Array[], number?]
  /**
   * Identity logs the peer needs to check what follows: the members of the spaces shown to it, and the authors
   * and named members of the entries about to be sent. Each log is sent once per session, and again once it grows.
   */
  | ['cards', Uint8Array[]]
  | ['rec', Uint8Array, Uint8Array]
  | ['entries', Uint8Array[]]
  | ['want', Uint8Array[]]
  /** Reply to an entries frame, once what was accepted is durable: how many were stored and what was refused. */
  | ['ack', number, [number, string, string][]]
  /** A barrier: the peer answers `synced` after answering everything sent before it. */
  | ['sync', number]
  | ['synced', number]
  | ['challenge', Uint8Array, string]
  /** Signs the challenge with a device key; the card proves the device belongs to the account. */
  | ['auth', Uint8Array, Uint8Array, Uint8Array]
  /** The reply to `auth` (the account) or to `peer` (the answering provider's key). */
  | ['authed', Uint8Array]
  /**
   * A provider authenticating to another: its canonical URL, its key (which its well-known document must name)
   * and its signature over the challenge.
   */
  | ['peer', string, Uint8Array, Uint8Array]
  /**
   * A client asks its provider to mirror spaces of other accounts (the ones it follows or writes to): the
   * spaces, the account that owns each (same order), and those accounts' identity logs, which say where they live.
   */
  | ['mirror', Uint8Array[], Uint8Array[], Uint8Array[]]
  | ['sub', Uint8Array[]]
  | ['subbed', Uint8Array[]]
  | ['error', string, string];

export const PROTOCOL = 'freehold-sync/1';
/** What a device (or a provider, with its key) signs to prove it holds its key in this session with `server`. */
export const challengeMessage = (nonce: Uint8Array, server: string): Uint8Array => signedId('session', nonce, utf8(server));

/** The protocol version this code speaks; a hello naming a newer one is answered with `unsupported-version`. */
export const PROTOCOL_VERSION = 1;
export const MAX_FRAME = 8 << 20;
/** Bounds on what one frame may ask of its receiver. */
export const FRAME_LIMITS = { entries: 256, ids: 4096, spaces: 16_384, cards: 256, recMessage: 1 << 20 } as const;
const ENTRIES_PER_FRAME = FRAME_LIMITS.entries;
const CARDS_PER_FRAME = 32;

export function encodeFrame(f: Frame): Uint8Array {
  return encode(f);
}

export function decodeFrame(bytes: Uint8Array): Frame {
  if (bytes.length > MAX_FRAME) reject('too-large', `frame of ${bytes.length} bytes exceeds ${MAX_FRAME}`);
  const a = asArray(decode(bytes, 'frame'), 'frame', 5);
  const t = asString(a[0], 'frame type', 16);
  const list = (v: unknown, f: string, max: number, len?: number) => asArray(v, f, max).map((x, i) => asBytes(x, `${f}[${i}]`, len));
  const blobs = (v: unknown, f: string, max: number, maxBytes: number) =>
    list(v, f, max).map((b, i) => (b.length > maxBytes ? reject('too-large', `${f}[${i}]: ${b.length} bytes exceeds ${maxBytes}`) : b));
  const n = (v: unknown, f: string) => asUint(v, f);
  switch (t) {
    case 'ack':
      return [
        'ack',
        n(a[1], 'ack.stored'),
        asArray(a[2], 'ack.rejected', FRAME_LIMITS.entries).map((r, i) => {
          const [idx, reason, message] = asArray(r, `ack.rejected[${i}]`, 3);
          return [n(idx, 'ack.index'), asString(reason, 'ack.reason', 64), asString(message, 'ack.message', 1024)] as [number, string, string];
        }),
      ];
    case 'sync':
    case 'synced':
      return [t, n(a[1], `${t}.n`)];
    case 'challenge':
      return ['challenge', asBytes(a[1], 'challenge.nonce', 32), asString(a[2], 'challenge.server', 256)];
    case 'auth':
      return ['auth', asBytes(a[1], 'auth.card'), asBytes(a[2], 'auth.device', 32), asBytes(a[3], 'auth.signature', 64)];
    case 'authed':
      return ['authed', asBytes(a[1], 'authed.account', 32)];
    case 'peer':
      return ['peer', asString(a[1], 'peer.url', 512), asBytes(a[2], 'peer.key', 32), asBytes(a[3], 'peer.signature', 64)];
    case 'mirror': {
      const spaces = list(a[1], 'mirror.spaces', FRAME_LIMITS.spaces, 32);
      const owners = list(a[2], 'mirror.owners', FRAME_LIMITS.spaces, 32);
      if (owners.length !== spaces.length) reject('malformed', 'mirror: one owner per space');
      return ['mirror', spaces, owners, blobs(a[3], 'mirror.cards', FRAME_LIMITS.cards, MAX_CARD_BYTES)];
    }
    case 'sub':
    case 'subbed':
      return [t, list(a[1], `${t}.spaces`, FRAME_LIMITS.spaces, 32)];
    case 'error':
      return ['error', asString(a[1], 'error.reason', 64), asString(a[2], 'error.message', 1024)];
    case 'hello':
      return [
        'hello',
        asBytes(a[1], 'hello.account'),
        list(a[2], 'hello.spaces', FRAME_LIMITS.spaces, 32),
        blobs(a[3], 'hello.cards', 1, MAX_CARD_BYTES),
        a[4] === undefined ? 1 : n(a[4], 'hello.version'),
      ];
    case 'cards':
      return ['cards', blobs(a[1], 'cards', FRAME_LIMITS.cards, MAX_CARD_BYTES)];
    case 'rec': {
      const message = asBytes(a[2], 'rec.message');
      if (message.length > FRAME_LIMITS.recMessage) reject('too-large', `rec message of ${message.length} bytes exceeds ${FRAME_LIMITS.recMessage}`);
      return ['rec', asBytes(a[1], 'rec.space', 32), message];
    }
    case 'entries':
      return ['entries', blobs(a[1], 'entries', FRAME_LIMITS.entries, MAX_ENTRY)];
    case 'want':
      return ['want', list(a[1], 'want', FRAME_LIMITS.ids, 32)];
    default:
      return reject('malformed', `unknown frame type "${t}"`);
  }
}

export interface SyncStats {
  /** Entries this side asked the peer for: with entriesReceived, a progress measure. */
  entriesWanted: number;
  entriesSent: number;
  entriesReceived: number;
  entriesRejected: number;
  bytesSent: number;
  bytesReceived: number;
  /** Reconcile messages sent: a measure of round trips. */
  reconcileMessages: number;
}

/**
 * `all`: every entry. `own`: the membership log and the peer's own entries, for appenders who may write to an
 * inbox without reading it. `false`: nothing, not even that the space exists.
 */
export type Visibility = 'all' | 'own' | false;

export interface SessionOptions {
  /** The account this side acts for (empty for a provider or relay). */
  account: Uint8Array;
  /**
   * The peer's account as proven by a signed challenge. When set, the account a hello claims is ignored; when
   * absent on a provider, the peer is anonymous and sees public spaces only.
   */
  peer?: Uint8Array | null;
  /** What of a space the peer may see; by default see `defaultOffer`. */
  offer?: (space: Uint8Array, peer: Uint8Array | null, peerWants: Set<string>) => Promise<Visibility>;
  /** Spaces this side wants from the peer though it holds nothing of them yet (e.g. an account it follows). */
  interest?: Uint8Array[];
  /**
   * The spaces held here that may be offered to this peer besides those it asks for (default: every space
   * held). A provider offers a peer it does not host only what it asks for.
   */
  offerable?: (peer: Uint8Array | null) => Promise<Uint8Array[]>;
  /** Validates and stores received entries; a provider adds quotas and hosting rules here. */
  ingest?: (entries: Uint8Array[]) => Promise<IngestResult[]>;
  /**
   * Whether an account's entries count as the peer's own (`own` visibility); by default, whether it is the
   * peer's account. A provider peering with another counts every account that lists that provider.
   */
  ownedByPeer?: (account: Uint8Array) => boolean;
  /** Called with the ids of each entries frame this side sends; acks come back in the same order. */
  onSent?: (ids: Uint8Array[]) => void;
  /** Called with entries this side stored from the peer (a provider fans them out to subscribers). */
  onStored?: (entries: Entry[]) => void;
  /** Called for each entry refused (other than duplicates and those waiting for a dependency). */
  onRejected?: (entry: Uint8Array, reason: string, message: string) => void;
  onAck?: (stored: number, rejected: [number, string, string][]) => void;
  onError?: (reason: RejectReason, message: string) => void;
  onProgress?: (stats: SyncStats) => void;
}

/**
 * One side of a sync conversation, independent of transport: feed it the peer's frames, send what it returns.
 * The side that calls start() leads: after both hellos it opens a reconciliation per shared space.
 */
export class SyncSession {
  readonly stats: SyncStats = { entriesWanted: 0, entriesSent: 0, entriesReceived: 0, entriesRejected: 0, bytesSent: 0, bytesReceived: 0, reconcileMessages: 0 };
  private readonly reconcilers = new Map<string, Reconciler>();
  /** Entries whose dependencies (a membership op, a contact card) had not arrived yet. */
  private deferred: Uint8Array[] = [];
  private leader = false;
  /** Spaces this side shows the peer; entries of any other space are never sent. */
  private readonly shown = new Map<string, Visibility>();
  /** Undefined until the peer's hello; null for an anonymous peer. */
  peer: Uint8Array | null | undefined;
  /** Accounts whose identity log this side has sent in this session, with the head it had then. */
  private readonly cardsSent = new Map<string, string>();

  constructor(
    private readonly replica: Replica,
    private readonly opts: SessionOptions,
  ) {}

  /** Decides and records what the peer may see of each space this side holds, given the spaces it asked for. */
  private async offered(peer: Uint8Array | null, peerWants: Uint8Array[]): Promise<Uint8Array[]> {
    const out: Uint8Array[] = [];
    const wants = new Set(peerWants.map(toHex));
    const candidates = new Map<string, Uint8Array>();
    const offerable = this.opts.offerable ? await this.opts.offerable(peer) : await this.replica.store.spaces();
    for (const space of [...offerable, ...peerWants]) candidates.set(toHex(space), space);
    for (const space of candidates.values()) {
      const v = this.opts.offer ? await this.opts.offer(space, peer, wants) : await defaultOffer(this.replica, space, peer, wants);
      if (v) {
        this.shown.set(toHex(space), v);
        out.push(space);
      }
    }
    return out;
  }

  /** What the peer may see of this space (after the hellos). */
  shows(space: Uint8Array): Visibility {
    return this.shown.get(toHex(space)) ?? false;
  }

  private visible(space: Uint8Array, kind: number, device: Uint8Array): boolean {
    const v = this.shows(space);
    if (v === 'all') return true;
    if (v === false) return false;
    if (kind === Kind.membership) return true;
    const author = this.replica.authorOf(device)?.account.account;
    if (author === undefined) return false;
    if (this.opts.ownedByPeer) return this.opts.ownedByPeer(author);
    return this.peer != null && toHex(author) === toHex(this.peer);
  }

  private out(frames: Frame[]): Uint8Array[] {
    return frames.map((f) => {
      const b = encodeFrame(f);
      this.stats.bytesSent += b.length;
      if (f[0] === 'rec') this.stats.reconcileMessages++;
      if (f[0] === 'entries') this.stats.entriesSent += f[1].length;
      return b;
    });
  }

  /**
   * The leader opens with what it holds and wants; the follower answers with what it shows the leader. Each
   * hello carries the sender's own identity log; the follower then sends the logs of the members of what it shows.
   */
  private async hello(spaces: Uint8Array[]): Promise<Frame[]> {
    const own = this.opts.account.length === 32 ? this.cardsOf([this.opts.account]) : [];
    const frames: Frame[] = [['hello', this.opts.account, spaces, own, PROTOCOL_VERSION]];
    if (this.leader) return frames;
    const members: Uint8Array[] = [];
    for (const space of spaces) {
      const graph = await this.replica.graph(space);
      if (graph.creatorAccount) members.push(graph.creatorAccount);
      for (const account of graph.current().roles.keys()) members.push(fromHex(account));
    }
    return [...frames, ...this.cardFrames(members)];
  }

  /**
   * Logs of these accounts not yet sent in this session, or grown since (and now marked sent): a long session
   * passes on a device added or revoked meanwhile.
   */
  private cardsOf(accounts: Iterable<Uint8Array>): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (const a of accounts) {
      const k = toHex(a);
      const state = this.replica.contact(k);
      if (!state) continue;
      const head = toHex(state.head);
      if (this.cardsSent.get(k) === head) continue;
      this.cardsSent.set(k, head);
      out.push(encodeCard(state));
    }
    return out;
  }

  private cardFrames(accounts: Iterable<Uint8Array>): Frame[] {
    const cards = this.cardsOf(accounts);
    const frames: Frame[] = [];
    for (let i = 0; i < cards.length; i += CARDS_PER_FRAME) frames.push(['cards', cards.slice(i, i + CARDS_PER_FRAME)]);
    return frames;
  }

  /**
   * Entries framed for the peer, preceded by the identity logs it needs to check them: their authors' and those
   * of the accounts their membership operations name.
   */
  entryFrames(entries: Entry[]): Frame[] {
    const accounts: Uint8Array[] = [];
    for (const e of entries) {
      const author = this.replica.authorOf(e.device);
      if (author) accounts.push(author.account.account);
      if (e.kind !== Kind.membership) continue;
      const op = readMembershipOp(e.payload);
      if (op.account) accounts.push(op.account);
    }
    const frames = this.cardFrames(accounts);
    for (let i = 0; i < entries.length; i += ENTRIES_PER_FRAME) frames.push(['entries', entries.slice(i, i + ENTRIES_PER_FRAME).map((e) => e.bytes)]);
    return frames;
  }

  /** The leader's opening frame. */
  async start(): Promise<Uint8Array[]> {
    this.leader = true;
    const wants = new Map<string, Uint8Array>();
    for (const s of [...(await this.replica.store.spaces()), ...(this.opts.interest ?? [])]) wants.set(toHex(s), s);
    return this.out(await this.hello([...wants.values()]));
  }

  async receive(bytes: Uint8Array): Promise<Uint8Array[]> {
    return this.receiveFrame(decodeFrame(bytes), bytes.length);
  }

  /** Like receive, for a frame the transport already decoded (`size`: its encoded length). */
  async receiveFrame(f: Frame, size: number): Promise<Uint8Array[]> {
    this.stats.bytesReceived += size;
    return this.out(await this.handle(f));
  }

  private async reconciler(space: Uint8Array): Promise<Reconciler> {
    const k = toHex(space);
    let r = this.reconcilers.get(k);
    if (!r) {
      // A space not shown to the peer reconciles as empty: we may receive its entries but reveal none.
      const v = this.shows(space);
      const keys =
        v === 'all'
          ? await this.replica.store.keys(space)
          : v === 'own'
            ? (await this.replica.store.spaceEntries(space)).filter((r) => this.visible(space, r.kind, r.device)).map((r) => ({ time: r.time, id: r.id }))
            : [];
      r = new Reconciler(keys);
      this.reconcilers.set(k, r);
    }
    return r;
  }

  private async handle(f: Frame): Promise<Frame[]> {
    switch (f[0]) {
      case 'hello': {
        if ((f[4] ?? 1) > PROTOCOL_VERSION) {
          reject('unsupported-version', `the peer speaks freehold-sync/${f[4]}; this side speaks freehold-sync/${PROTOCOL_VERSION} only`);
        }
        this.peer = this.opts.peer !== undefined ? this.opts.peer : f[1].length === 32 ? f[1] : null;
        // A hello starts a reconciliation afresh, also on a session that already ran one (a client reconciles
        // again over its open link): what the peer may see, and what each space holds, are decided anew.
        this.reconcilers.clear();
        this.shown.clear();
        await this.addCards(f[3]);
        if (!this.leader) return this.hello(await this.offered(this.peer, f[2]));
        const spaces = new Map<string, Uint8Array>();
        const mine = await this.offered(this.peer, f[2]);
        for (const s of [...f[2], ...mine]) spaces.set(toHex(s), s);
        const frames: Frame[] = [];
        for (const space of spaces.values()) frames.push(['rec', space, (await this.reconciler(space)).initiate()]);
        return frames;
      }
      case 'rec': {
        const [, space, message] = f;
        const step = (await this.reconciler(space)).process(message);
        const frames: Frame[] = [];
        if (step.reply) frames.push(['rec', space, step.reply]);
        frames.push(...(await this.entriesFrames(step.have)));
        if (step.need.length) {
          this.stats.entriesWanted += step.need.length;
          for (let i = 0; i < step.need.length; i += FRAME_LIMITS.ids) frames.push(['want', step.need.slice(i, i + FRAME_LIMITS.ids)]);
        }
        return frames;
      }
      case 'cards':
        await this.addCards(f[1]);
        return [];
      case 'want':
        return this.entriesFrames(f[1]);
      case 'entries':
        return [await this.ingest(f[1])];
      case 'ack':
        this.opts.onAck?.(f[1], f[2]);
        return [];
      case 'sync':
        return [['synced', f[1]]];
      case 'error':
        // The peer refused one frame (a subscription, say); the conversation goes on.
        this.opts.onError?.(isRejectReason(f[1]) ? f[1] : 'malformed', f[2]);
        return [];
      default:
        return [];
    }
  }

  private async entriesFrames(ids: Uint8Array[]): Promise<Frame[]> {
    if (!ids.length) return [];
    const found: Entry[] = [];
    for (const b of await this.replica.store.getEntries(ids)) {
      if (!b) continue;
      const e = decodeEntry(b);
      if (this.visible(e.space, e.kind, e.device)) found.push(e);
    }
    // Membership first and in dependency order, so the receiver can check each op and what follows it at once.
    const membership = inDependencyOrder(found.filter((e) => e.kind === Kind.membership));
    return this.entryFrames([...membership, ...found.filter((e) => e.kind !== Kind.membership).sort((a, b) => a.kind - b.kind)]);
  }

  private async addCards(cards: Uint8Array[]): Promise<void> {
    for (const card of cards) {
      try {
        await this.replica.addCard(card);
      } catch {
        // A bad log is the peer's problem: entries that needed it will be refused as unknown-author.
      }
    }
  }

  private async ingest(entries: Uint8Array[]): Promise<Frame> {
    const results = await (this.opts.ingest ?? ((b) => this.replica.ingest(b)))(entries);
    let progressed = false;
    let stored = 0;
    const rejected: [number, string, string][] = [];
    const storedEntries: Entry[] = [];
    results.forEach((r, i) => {
      if (r.ok) {
        stored++;
        if (r.entry) storedEntries.push(r.entry);
        this.stats.entriesReceived++;
        progressed = true;
      } else if (r.reason === 'duplicate') stored++;
      else {
        rejected.push([i, r.reason!, r.message ?? '']);
        if (r.reason === 'missing-dependency') this.deferred.push(entries[i]!);
        else {
          this.stats.entriesRejected++;
          this.opts.onRejected?.(entries[i]!, r.reason!, r.message ?? '');
        }
      }
    });
    if (storedEntries.length) this.opts.onStored?.(storedEntries);
    this.opts.onProgress?.(this.stats);
    if (progressed && this.deferred.length && entries !== this.deferred) {
      const again = this.deferred;
      this.deferred = [];
      await this.ingest(again);
    }
    return ['ack', stored, rejected];
  }

  /** Retries entries still waiting for dependencies; call when the conversation goes quiet. */
  async finish(): Promise<void> {
    const again = this.deferred;
    this.deferred = [];
    if (again.length) await this.ingest(again);
    this.stats.entriesRejected += this.deferred.length;
    this.deferred = [];
  }
}

/**
 * Members: everything. Public spaces: everything, to a peer that asked for them (public spaces are not pushed
 * on everyone who syncs). Appenders, anyone for an inbox they asked for, and former members (so they learn
 * they were removed): the membership log and their own entries.
 */
export async function defaultOffer(replica: Replica, space: Uint8Array, peer: Uint8Array | null, peerWants: Set<string>): Promise<Visibility> {
  const graph = await replica.graph(space);
  const asked = peerWants.has(toHex(space));
  const peerHex = peer === null ? undefined : toHex(peer);
  const role = peerHex === undefined ? undefined : graph.current().roles.get(peerHex);
  if (canRead(role) || (graph.isPublic && asked)) return 'all';
  if (peerHex === undefined || graph.isPublic) return false;
  const former = asked && graph.named(peerHex);
  return role === 'appender' || (graph.openAppend && asked) || former ? 'own' : false;
}

/** An ordered, reliable frame channel: a WebSocket, or memory. */
export interface Channel {
  send(frame: Uint8Array): void;
  /** The next frame from the peer; rejects if the channel closes. */
  next(): Promise<Uint8Array>;
}

/**
 * Drives the leading side of a sync in rounds: send everything it has to say followed by a barrier, answer what
 * comes back until the barrier's echo, repeat until a round has nothing to say. Ends with every reconciliation
 * settled and every entry sent acknowledged.
 */
export async function lead(session: SyncSession, channel: Channel): Promise<{ roundTrips: number }> {
  let out = await session.start();
  let roundTrips = 0;
  while (out.length) {
    roundTrips++;
    for (const f of out) channel.send(f);
    channel.send(encodeFrame(['sync', roundTrips]));
    out = [];
    for (;;) {
      const bytes = await channel.next();
      const f = decodeFrame(bytes);
      if (f[0] === 'synced' && f[1] === roundTrips) break;
      out.push(...(await session.receive(bytes)));
    }
    // Acks need no answer; what is left is the next round.
    out = out.filter((b) => decodeFrame(b)[0] !== 'ack');
  }
  await session.finish();
  return { roundTrips };
}

/** Runs two sessions against each other in memory until neither has anything left to say. */
export async function syncPair(leader: SyncSession, follower: SyncSession): Promise<{ roundTrips: number }> {
  const toLeader: Uint8Array[] = [];
  const channel: Channel = {
    send: (b) => {
      pending = pending.then(async () => {
        toLeader.push(...(await follower.receive(b)));
      });
    },
    next: async () => {
      await pending;
      const b = toLeader.shift();
      if (!b) throw new Error('in-memory peer fell silent');
      return b;
    },
  };
  let pending: Promise<void> = Promise.resolve();
  const r = await lead(leader, channel);
  await follower.finish();
  return r;
}


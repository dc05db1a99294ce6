import { fromHex, toHex } from '../bytes.js';
import { isRejectReason, reject } from '../errors.js';
import { decodeUnhashed, Kind, type Entry } from '../entry.js';
import { encodeCard } from '../identity/state.js';
import { readMembershipOp } from '../space/ops.js';
import type { Replica } from '../replica.js';
import type { EntryRow } from '../store.js';
import { Deferred } from './deferred.js';
import { defaultOffer, type Outgoing, type SessionOptions, type SyncStats, type Visibility } from './session-options.js';
import { Reconciler } from './reconcile.js';
import { Summary } from './summary.js';
import { inDependencyOrder } from '../space/topo.js';
import { decodeFrame, encodeFrame, FRAME_LIMITS, PROTOCOL_VERSION, type Frame } from './protocol.js';

const ENTRIES_PER_FRAME = FRAME_LIMITS.entries;
const CARDS_PER_FRAME = 32;

/**
 * One side of a sync conversation, independent of transport: feed it the peer's frames, send what it returns.
 * The side that calls start() leads: it opens with a summary of the spaces it shares, and once the summaries are
 * reconciled it opens a reconciliation of each space whose state differs.
 */
export class SyncSession {
  readonly stats: SyncStats = { entriesWanted: 0, entriesSent: 0, entriesReceived: 0, entriesRejected: 0, bytesSent: 0, bytesReceived: 0, reconcileMessages: 0 };
  private readonly reconcilers = new Map<string, Reconciler>();
  /** Entries whose membership dependencies had not arrived yet. */
  private readonly deferred = new Deferred();
  private leader = false;
  /**
   * What this side shows the peer of each space it has decided on; entries of any other space are never sent.
   * A space the peer names later (a reconciliation it opens) is decided then, as if its hello had named it.
   */
  private readonly shown = new Map<string, Visibility>();
  private readonly askedFor = new Set<string>();
  /** This session's summary (when either side opened with one), and the spaces the leader opened since. */
  private summary: Summary | undefined;
  private readonly opened = new Set<string>();
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
    for (const space of candidates.values()) if (await this.decide(space, peer, wants)) out.push(space);
    return out;
  }

  /** Asking for a space can only widen what is shown of it, so a space hidden until asked for is decided again. */
  private async decide(space: Uint8Array, peer: Uint8Array | null, wants: Set<string>): Promise<Visibility> {
    const k = toHex(space);
    let v = this.shown.get(k);
    if (v === undefined || (v === false && wants.has(k) && !this.askedFor.has(k))) {
      v = this.opts.offer ? await this.opts.offer(space, peer, wants) : await defaultOffer(this.replica, space, peer, wants);
      this.shown.set(k, v);
      if (wants.has(k)) this.askedFor.add(k);
    }
    return v;
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
    let sent = false;
    const bytes = frames.map((f) => {
      const b = encodeFrame(f);
      this.stats.bytesSent += b.length;
      if (f[0] === 'rec' || f[0] === 'sum') this.stats.reconcileMessages++;
      if (f[0] === 'entries') {
        this.stats.entriesSent += f[1].length;
        sent = true;
      }
      return b;
    });
    if (sent) this.opts.onProgress?.(this.stats);
    return bytes;
  }

  /**
   * The leader opens with a summary of what it holds and wants; the follower answers with its own hello and the
   * next summary message. Each hello carries the sender's own identity log. To a version-1 leader (which lists
   * spaces) the follower lists what it shows and sends the logs of those spaces' members.
   */
  private async hello(spaces: Uint8Array[], summary?: Uint8Array): Promise<Frame[]> {
    const own = this.opts.account.length === 32 ? this.cardsOf([this.opts.account]) : [];
    const frames: Frame[] = [summary ? ['hello', this.opts.account, [], own, PROTOCOL_VERSION, summary] : ['hello', this.opts.account, spaces, own, PROTOCOL_VERSION]];
    // Under a summary the logs that differ are found by it; otherwise the follower sends its members' logs.
    if (this.leader || this.summary) return frames;
    return [...frames, ...this.cardFrames(await this.members(spaces))];
  }

  /**
   * The accounts whose logs the two sides compare: the members of these spaces, and the session's own two. An
   * account whose spaces name it nowhere here (one with no space yet) must still learn its grown log from its
   * provider, or its next change to the log forks it and may drop the device that grew it.
   */
  private async members(spaces: Uint8Array[]): Promise<Uint8Array[]> {
    const members = new Map<string, Uint8Array>();
    for (const account of [this.opts.account, this.peer]) if (account?.length === 32) members.set(toHex(account), account);
    for (const space of spaces) {
      const graph = await this.replica.graph(space);
      if (graph.creatorAccount) members.set(toHex(graph.creatorAccount), graph.creatorAccount);
      for (const account of graph.current().roles.keys()) members.set(account, fromHex(account));
    }
    return [...members.values()];
  }

  /** Summarises the spaces this side has decided on, with the identity logs of their members. */
  private async summarise(spaces: Uint8Array[]): Promise<Summary> {
    const digests: { space: Uint8Array; keys: { time: number; id: Uint8Array }[] }[] = [];
    // Before the peer has named itself a leader may not know what it shows; it summarises what it holds, and
    // decides per space once the peer has (a summary only tells the peer which of its own states match).
    for (const space of spaces) digests.push({ space, keys: this.shown.has(toHex(space)) ? await this.keysShown(space) : await this.replica.store.keys(space) });
    const logs: { account: Uint8Array; head: Uint8Array }[] = [];
    for (const account of await this.members(spaces)) {
      const state = this.replica.contact(account);
      if (state) logs.push({ account, head: state.head });
    }
    return new Summary(digests, logs);
  }

  /**
   * Answers a summary message. What this side holds that the peer lacks (found here, or named by the peer as
   * wanted) is a log to send or a space whose state differs: the leader reconciles those, and those the follower
   * names; the follower names its own. What the peer holds that this side lacks goes back as wanted digests.
   */
  private async summaryStep(message: Uint8Array, named: Uint8Array[], wanted: Uint8Array[]): Promise<Frame[]> {
    if (!this.summary) return reject('malformed', 'a summary message without a summary hello');
    const step = message.length ? this.summary.reconciler.process(message) : { reply: undefined, have: [], need: [] };
    const { spaces, accounts } = this.summary.resolve([...step.have, ...wanted]);
    const frames: Frame[] = this.cardFrames(accounts);
    const toName = this.leader ? [] : spaces;
    const none = new Uint8Array(0);
    if (step.reply || toName.length || step.need.length) frames.push(['sum', step.reply ?? none, toName.slice(0, FRAME_LIMITS.spaces), step.need.slice(0, FRAME_LIMITS.ids)]);
    for (let i = FRAME_LIMITS.spaces; i < toName.length; i += FRAME_LIMITS.spaces) frames.push(['sum', none, toName.slice(i, i + FRAME_LIMITS.spaces), []]);
    for (let i = FRAME_LIMITS.ids; i < step.need.length; i += FRAME_LIMITS.ids) frames.push(['sum', none, [], step.need.slice(i, i + FRAME_LIMITS.ids)]);
    if (!this.leader) return frames;
    const asked = new Set(named.map(toHex));
    for (const space of [...spaces, ...named]) {
      const k = toHex(space);
      if (this.opened.has(k)) continue;
      this.opened.add(k);
      frames.push(['rec', space, (await this.reconciler(space, asked.has(k))).initiate()]);
    }
    return frames;
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

  /** `cards` frames with the logs of these accounts that the peer has not been sent yet in this session. */
  cardFrames(accounts: Iterable<Uint8Array>): Frame[] {
    const cards = this.cardsOf(accounts);
    const frames: Frame[] = [];
    for (let i = 0; i < cards.length; i += CARDS_PER_FRAME) frames.push(['cards', cards.slice(i, i + CARDS_PER_FRAME)]);
    return frames;
  }

  /**
   * Entries framed for the peer, preceded by the identity logs it needs to check them: their authors' and those
   * of the accounts their membership operations name.
   */
  entryFrames(offered: Outgoing[]): Frame[] {
    const entries = this.opts.claim ? this.opts.claim(offered) : offered;
    const frames = this.cardsFor(entries);
    for (let i = 0; i < entries.length; i += ENTRIES_PER_FRAME) frames.push(['entries', entries.slice(i, i + ENTRIES_PER_FRAME).map((e) => e.bytes)]);
    return frames;
  }

  /**
   * The identity logs the peer needs to check these entries and was not sent yet: their authors' and those of the
   * accounts their membership operations name.
   */
  cardsFor(entries: Outgoing[]): Frame[] {
    const accounts: Uint8Array[] = [];
    for (const e of entries) {
      const author = this.replica.authorOf(e.device);
      if (author) accounts.push(author.account.account);
      if (e.kind !== Kind.membership) continue;
      const op = readMembershipOp(decodeUnhashed(e.bytes).payload);
      if (op.account) accounts.push(op.account);
    }
    return this.cardFrames(accounts);
  }

  /** The leader's opening frame. */
  async start(): Promise<Uint8Array[]> {
    this.leader = true;
    const wants = new Map<string, Uint8Array>();
    // What may be offered bounds what the hello names: a provider leading a peer session lists only the spaces it
    // shares with that peer, not every space it holds.
    const held = this.opts.offerable ? await this.opts.offerable(null) : await this.replica.store.spaces();
    for (const s of [...held, ...(this.opts.interest ?? [])]) wants.set(toHex(s), s);
    // Rather than listing these spaces and reconciling each, the leader summarises them (with a digest of what it
    // shows of each) and the identity logs of their members; only what differs is then reconciled or sent.
    this.reconcilers.clear();
    this.shown.clear();
    this.askedFor.clear();
    this.opened.clear();
    const interest = new Set((this.opts.interest ?? []).map(toHex));
    if (this.opts.peer !== undefined || this.opts.offer) for (const space of wants.values()) await this.decide(space, this.opts.peer ?? null, interest);
    this.summary = await this.summarise([...wants.values()]);
    return this.out(await this.hello([], this.summary.reconciler.initiate()));
  }

  async receive(bytes: Uint8Array): Promise<Uint8Array[]> {
    return this.receiveFrame(decodeFrame(bytes), bytes.length);
  }

  /**
   * Like receive, sorted for a side that leads: acknowledgements need no answer (a round that sent nothing else
   * is the last), and entries frames are sent as the peer acknowledges earlier ones. Entries frames come after
   * the rest, which holds the identity logs they need.
   */
  async answer(f: Frame, size: number): Promise<{ acks: Uint8Array[]; entries: Uint8Array[]; rest: Uint8Array[] }> {
    this.stats.bytesReceived += size;
    const frames = await this.handle(f);
    const of = (t: (k: string) => boolean) => this.out(frames.filter((f) => t(f[0])));
    return { acks: of((k) => k === 'ack'), rest: of((k) => k !== 'ack' && k !== 'entries'), entries: of((k) => k === 'entries') };
  }

  /** Like receive, for a frame the transport already decoded (`size`: its encoded length). */
  async receiveFrame(f: Frame, size: number): Promise<Uint8Array[]> {
    this.stats.bytesReceived += size;
    return this.out(await this.handle(f));
  }

  /** `asked`: the peer named the space (opened its reconciliation, or listed it), as good as a hello naming it. */
  private async reconciler(space: Uint8Array, asked: boolean): Promise<Reconciler> {
    const k = toHex(space);
    let r = this.reconcilers.get(k);
    if (!r) {
      const wants = new Set(this.leader ? (this.opts.interest ?? []).map(toHex) : []);
      if (asked) wants.add(k);
      await this.decide(space, this.peer ?? null, wants);
      r = new Reconciler(await this.keysShown(space));
      this.reconcilers.set(k, r);
    }
    return r;
  }

  /** The keys of what the peer may see of a space; a space not shown reconciles as empty (nothing of it leaks). */
  private async keysShown(space: Uint8Array): Promise<{ time: number; id: Uint8Array }[]> {
    const v = this.shows(space);
    if (v === 'all') return this.replica.store.keys(space);
    if (v === false) return [];
    return (await this.replica.store.spaceEntries(space)).filter((r) => this.visible(space, r.kind, r.device)).map((r) => ({ time: r.time, id: r.id }));
  }

  private async handle(f: Frame): Promise<Frame[]> {
    switch (f[0]) {
      case 'hello': {
        if ((f[4] ?? 1) > PROTOCOL_VERSION) {
          reject('unsupported-version', `the peer speaks freehold-sync/${f[4]}; this side speaks freehold-sync/${PROTOCOL_VERSION} only`);
        }
        this.peer = this.opts.peer !== undefined ? this.opts.peer : f[1].length === 32 ? f[1] : null;
        await this.addCards(f[3]);
        // The leader decided what it shows when it summarised; the follower's hello names nothing it needs.
        if (this.leader) return [];
        // A hello starts a reconciliation afresh, also on a session that already ran one (a client reconciles
        // again over its open link): what the peer may see, and what each space holds, are decided anew.
        this.reconcilers.clear();
        this.shown.clear();
        this.askedFor.clear();
        this.summary = undefined;
        const shown = await this.offered(this.peer, f[2]);
        // A version-1 leader lists its spaces and reconciles each; it is sent the list of those shown to it.
        if (f[5] === undefined) return this.hello(shown);
        this.summary = await this.summarise(shown);
        return [...(await this.hello([])), ...(await this.summaryStep(f[5], [], []))];
      }
      case 'rec': {
        const [, space, message] = f;
        const step = (await this.reconciler(space, true)).process(message);
        const frames: Frame[] = [];
        if (step.reply) frames.push(['rec', space, step.reply]);
        frames.push(...(await this.entriesFrames(step.have)));
        if (step.need.length) {
          this.stats.entriesWanted += step.need.length;
          for (let i = 0; i < step.need.length; i += FRAME_LIMITS.ids) frames.push(['want', step.need.slice(i, i + FRAME_LIMITS.ids)]);
        }
        return frames;
      }
      case 'sum':
        return this.summaryStep(f[1], f[2], f[3]);
      case 'cards':
        await this.addCards(f[1]);
        return [];
      case 'want':
        return this.entriesFrames(f[1]);
      case 'entries':
        return this.ingest([f[1]]);
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
    // Rows from this replica's own store were validated when stored: what framing needs is in their columns, and
    // only membership operations (put in dependency order) are decoded.
    const found: EntryRow[] = [];
    for (const r of await this.replica.store.getEntries(ids)) if (r && this.visible(r.space, r.kind, r.device)) found.push(r);
    // Membership first and in dependency order, so the receiver can check each op and what follows it at once.
    const membership = inDependencyOrder(found.filter((r) => r.kind === Kind.membership).map((r) => ({ ...decodeUnhashed(r.bytes), id: r.id, bytes: r.bytes })));
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

  /**
   * Entries frames the transport already decoded and holds together (`size`: their encoded length in all),
   * stored as one batch: one pass of validation and one write instead of one each, and still one ack per frame.
   */
  async receiveEntries(frames: Uint8Array[][], size: number): Promise<Uint8Array[]> {
    this.stats.bytesReceived += size;
    return this.out(await this.ingest(frames));
  }

  /** Stores the batches of entries frames together; answers each frame with its own ack, in order. */
  private async ingest(frames: Uint8Array[][]): Promise<Frame[]> {
    const { acks, grown } = await this.storeFrames(frames);
    // The peer was answered `missing-dependency` for these already, so the retry's acks are not sent. One pass
    // takes in all they can stand on now: a batch is validated membership first, in dependency order.
    const again = this.deferred.take(grown);
    if (again.length) await this.storeFrames([again]);
    return acks;
  }

  /** The acks of these frames, and the spaces (hex) that took a membership operation from them. */
  private async storeFrames(frames: Uint8Array[][]): Promise<{ acks: Frame[]; grown: Set<string> }> {
    const results = await (this.opts.ingest ?? ((fs) => this.replica.ingestFrames(fs)))(frames);
    const storedEntries: Entry[] = [];
    // Spaces that took a membership operation: only there can an entry waiting for one be let in now.
    const grown = new Set<string>();
    let at = 0;
    const acks = frames.map((entries): Frame => {
      let stored = 0;
      const rejected: [number, string, string][] = [];
      entries.forEach((bytes, i) => {
        const r = results[at + i]!;
        if (r.ok) {
          stored++;
          if (r.entry) storedEntries.push(r.entry);
          if (r.entry?.kind === Kind.membership) grown.add(toHex(r.entry.space));
          this.stats.entriesReceived++;
        } else if (r.reason === 'duplicate') stored++;
        else {
          rejected.push([i, r.reason!, r.message ?? '']);
          // A validation failure always names the entry (only undecodable bytes do not, and those never wait).
          if (r.reason === 'missing-dependency') this.deferred.add(bytes, r.id!);
          else {
            this.stats.entriesRejected++;
            this.opts.onRejected?.(bytes, r.reason!, r.message ?? '');
          }
        }
      });
      at += entries.length;
      return ['ack', stored, rejected];
    });
    if (storedEntries.length) this.opts.onStored?.(storedEntries);
    this.opts.onProgress?.(this.stats);
    return { acks, grown };
  }

  /** Retries entries still waiting for dependencies; call when the conversation goes quiet. */
  async finish(): Promise<void> {
    const again = this.deferred.takeAll();
    if (again.length) await this.storeFrames([again]);
    this.stats.entriesRejected += this.deferred.takeAll().length;
  }
}

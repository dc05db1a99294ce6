import { toHex } from '../bytes.js';
import { asArray, asBytes, asString, decode, encode } from '../codec.js';
import { reject } from '../errors.js';
import { Kind, readEntry } from '../entry.js';
import type { Replica } from '../replica.js';
import { Reconciler } from './reconcile.js';

/** Frames are CBOR arrays tagged by their first element; every frame is validated before it is acted on. */
export type Frame =
  | ['hello', Uint8Array, Uint8Array[], Uint8Array[]]
  | ['rec', Uint8Array, Uint8Array]
  | ['entries', Uint8Array[]]
  | ['want', Uint8Array[]];

export const PROTOCOL = 'freehold-sync/1';
export const MAX_FRAME = 8 << 20;
const ENTRIES_PER_FRAME = 256;

export function encodeFrame(f: Frame): Uint8Array {
  return encode(f);
}

export function decodeFrame(bytes: Uint8Array): Frame {
  if (bytes.length > MAX_FRAME) reject('too-large', `frame of ${bytes.length} bytes exceeds ${MAX_FRAME}`);
  const a = asArray(decode(bytes, 'frame'), 'frame', 4);
  const t = asString(a[0], 'frame type', 16);
  const list = (v: unknown, f: string, len?: number) => asArray(v, f, 100_000).map((x, i) => asBytes(x, `${f}[${i}]`, len));
  switch (t) {
    case 'hello':
      return ['hello', asBytes(a[1], 'hello.account'), list(a[2], 'hello.spaces', 32), list(a[3], 'hello.cards')];
    case 'rec':
      return ['rec', asBytes(a[1], 'rec.space', 32), asBytes(a[2], 'rec.message')];
    case 'entries':
      return ['entries', list(a[1], 'entries')];
    case 'want':
      return ['want', list(a[1], 'want', 32)];
    default:
      return reject('malformed', `unknown frame type "${t}"`);
  }
}

export interface SyncStats {
  entriesSent: number;
  entriesReceived: number;
  entriesRejected: number;
  bytesSent: number;
  bytesReceived: number;
  /** Reconcile messages sent: a measure of round trips. */
  reconcileMessages: number;
}

export interface SessionOptions {
  /** The account this side acts for (empty for a provider or relay). */
  account: Uint8Array;
  /** Which spaces to offer the peer; by default those the peer's account belongs to, or that are public. */
  offer?: (space: Uint8Array, peer: Uint8Array) => Promise<boolean>;
  onProgress?: (stats: SyncStats) => void;
}

/**
 * One side of a sync conversation, independent of transport: feed it the peer's frames, send what it returns.
 * The side that calls start() leads: after both hellos it opens a reconciliation per shared space.
 */
export class SyncSession {
  readonly stats: SyncStats = { entriesSent: 0, entriesReceived: 0, entriesRejected: 0, bytesSent: 0, bytesReceived: 0, reconcileMessages: 0 };
  private readonly reconcilers = new Map<string, Reconciler>();
  /** Entries whose dependencies (a membership op, a contact card) had not arrived yet. */
  private deferred: Uint8Array[] = [];
  private leader = false;
  /** Spaces this side shows the peer; entries of any other space are never sent. */
  private readonly shown = new Set<string>();
  peer: Uint8Array | undefined;

  constructor(
    private readonly replica: Replica,
    private readonly opts: SessionOptions,
  ) {}

  private async offered(peer: Uint8Array): Promise<Uint8Array[]> {
    const out: Uint8Array[] = [];
    for (const space of await this.replica.store.spaces()) {
      const ok = this.opts.offer ? await this.opts.offer(space, peer) : await this.defaultOffer(space, peer);
      if (ok) out.push(space);
    }
    return out;
  }

  private async defaultOffer(space: Uint8Array, peer: Uint8Array): Promise<boolean> {
    const graph = await this.replica.graph(space);
    return graph.isPublic || graph.current().roles.has(toHex(peer));
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

  private async hello(): Promise<Frame> {
    const cards = (await this.replica.store.cards()).map((c) => c.card);
    const spaces = this.peer ? await this.offered(this.peer) : [];
    for (const s of spaces) this.shown.add(toHex(s));
    return ['hello', this.opts.account, spaces, cards];
  }

  /** The leader's opening frame. */
  async start(): Promise<Uint8Array[]> {
    this.leader = true;
    return this.out([await this.hello()]);
  }

  async receive(bytes: Uint8Array): Promise<Uint8Array[]> {
    this.stats.bytesReceived += bytes.length;
    const f = decodeFrame(bytes);
    return this.out(await this.handle(f));
  }

  private async reconciler(space: Uint8Array): Promise<Reconciler> {
    const k = toHex(space);
    let r = this.reconcilers.get(k);
    if (!r) {
      // A space not shown to the peer reconciles as empty: we may receive its entries but reveal none.
      r = new Reconciler(this.shown.has(k) ? await this.replica.store.keys(space) : []);
      this.reconcilers.set(k, r);
    }
    return r;
  }

  private async handle(f: Frame): Promise<Frame[]> {
    switch (f[0]) {
      case 'hello': {
        this.peer = f[1];
        for (const card of f[3]) await this.replica.addCard(card);
        if (!this.leader) return [await this.hello()];
        const spaces = new Map<string, Uint8Array>();
        const mine = await this.offered(this.peer);
        for (const s of mine) this.shown.add(toHex(s));
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
        if (step.need.length) frames.push(['want', step.need]);
        return frames;
      }
      case 'want':
        return this.entriesFrames(f[1]);
      case 'entries':
        await this.ingest(f[1]);
        return [];
    }
  }

  private async entriesFrames(ids: Uint8Array[]): Promise<Frame[]> {
    if (!ids.length) return [];
    const found = (await this.replica.store.getEntries(ids)).filter((b): b is Uint8Array => b !== undefined && this.shown.has(toHex(readEntry(b).space)));
    // Membership first, so the receiver can check what follows in the same batch.
    found.sort((a, b) => kindOf(a) - kindOf(b));
    const frames: Frame[] = [];
    for (let i = 0; i < found.length; i += ENTRIES_PER_FRAME) frames.push(['entries', found.slice(i, i + ENTRIES_PER_FRAME)]);
    return frames;
  }

  private async ingest(entries: Uint8Array[]): Promise<void> {
    const results = await this.replica.ingest(entries);
    let progressed = false;
    results.forEach((r, i) => {
      if (r.ok) {
        this.stats.entriesReceived++;
        progressed = true;
      } else if (r.reason === 'missing-dependency') this.deferred.push(entries[i]!);
      else if (r.reason !== 'duplicate') this.stats.entriesRejected++;
    });
    this.opts.onProgress?.(this.stats);
    if (progressed && this.deferred.length && entries !== this.deferred) {
      const again = this.deferred;
      this.deferred = [];
      await this.ingest(again);
    }
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

function kindOf(bytes: Uint8Array): number {
  try {
    return readEntry(bytes).kind;
  } catch {
    return Kind.append + 1;
  }
}

/** Runs two sessions against each other in memory until neither has anything left to say. */
export async function syncPair(leader: SyncSession, follower: SyncSession): Promise<{ roundTrips: number }> {
  let toFollower = await leader.start();
  let roundTrips = 0;
  while (toFollower.length) {
    roundTrips++;
    const toLeader: Uint8Array[] = [];
    for (const b of toFollower) toLeader.push(...(await follower.receive(b)));
    toFollower = [];
    for (const b of toLeader) toFollower.push(...(await leader.receive(b)));
  }
  await leader.finish();
  await follower.finish();
  return { roundTrips };
}

import { equal, toHex, toId, type Device } from '@freehold/core';
import { DeliveryMemory } from './delivery-memory.js';
import { outbox, type Delivery, type OutboxItem } from './http.js';
import type { LinkEvent } from './link-options.js';
import type { Providers } from './providers.js';

/** Where a sent entry went: the space, and its document id there (how its author's devices find it again). */
export interface SentPlace {
  space: Uint8Array;
  doc: Uint8Array;
}

/**
 * What a person is shown of something they sent into another account's space: `unsent` while it is on this
 * device only (no provider of theirs has taken it), then what their providers say, as `freehold outbox` prints
 * it: `pending` (a provider has it and passes it on), `delivered` (to the recipient's provider `to`), `failed`
 * (refused at `to`, with the reason; `to` is one of the sender's own providers when that one refused it).
 */
export type DeliveryState = { state: 'unsent' } | Delivery;

export interface DeliveryOptions {
  /** While something is unsent or pending, the providers are asked again after this long, doubling up to maxMs. */
  firstMs?: number;
  maxMs?: number;
}

/** Places asked about at most; the oldest are forgotten first. */
const MAX_PLACES = 1000;
/** Places one outbox request names at most (the provider's limit). */
const PER_REQUEST = 200;
/** What wants attention first, when one thing went to several places (a post that replies and mentions). */
const URGENCY = ['failed', 'unsent', 'pending', 'delivered'] as const;

const keyOf = (space: Uint8Array | string, doc: Uint8Array | string): string =>
  `${typeof space === 'string' ? space : toId(space)}/${typeof doc === 'string' ? doc : toHex(doc)}`;

/** Several providers' word on one entry: delivered if any delivered it, else failed if any was refused. */
function merge(list: Delivery[]): Delivery {
  return list.find((d) => d.state === 'delivered') ?? list.find((d) => d.state === 'failed') ?? list[0]!;
}

const same = (a: DeliveryState | undefined, b: DeliveryState | undefined): boolean => JSON.stringify(a) === JSON.stringify(b);

/**
 * The delivery state of what this account sent elsewhere, kept for the places a view asks about (`track`). It
 * asks the account's providers (`outbox`, signed HTTP, the same request as `freehold outbox`) when something new
 * is tracked, after this device's entries went out or a link reconciled, and, while anything is still unsent or
 * pending, again after a wait that doubles (2 s to 30 s); once everything is delivered or failed it asks no more
 * until something happens. What the device's own providers answered of its entries comes from its links'
 * reports: an entry none has answered is unsent, one a provider refused has failed there. It remembers that, and
 * what was delivered, across reloads (DeliveryMemory).
 */
export class Deliveries {
  private readonly places = new Map<string, { place: SentPlace; state?: DeliveryState }>();
  private readonly memory: Promise<DeliveryMemory>;
  private readonly listeners = new Set<() => void>();
  private readonly stopListening: () => void;
  private readonly firstMs: number;
  private readonly maxMs: number;
  private wait: number;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private closed = false;

  constructor(
    private readonly device: Device,
    private readonly providers: Providers,
    opts: DeliveryOptions = {},
  ) {
    this.firstMs = opts.firstMs ?? 2000;
    this.maxMs = opts.maxMs ?? 30_000;
    this.wait = this.firstMs;
    this.memory = DeliveryMemory.open(device.store);
    this.stopListening = providers.listen((e) => this.onLink(e));
  }

  /** What went to these places, the state wanting attention first; undefined while nothing is known of any. */
  state(places: SentPlace[]): DeliveryState | undefined {
    const known = places.flatMap((p) => {
      const s = this.places.get(keyOf(p.space, p.doc))?.state;
      return s ? [s] : [];
    });
    for (const u of URGENCY) {
      const s = known.find((k) => k.state === u);
      if (s) return s;
    }
    return undefined;
  }

  /** Keeps these places up to date from now on; new ones are asked about at once. */
  track(places: SentPlace[]): void {
    let fresh = false;
    for (const place of places) {
      const k = keyOf(place.space, place.doc);
      if (this.places.has(k)) continue;
      this.places.set(k, { place });
      fresh = true;
    }
    for (const k of this.places.keys()) {
      if (this.places.size <= MAX_PLACES) break;
      this.places.delete(k);
    }
    if (fresh) this.soon();
  }

  /** Called whenever a tracked place's state changes. */
  listen(f: () => void): () => void {
    this.listeners.add(f);
    return () => this.listeners.delete(f);
  }

  private emit(): void {
    for (const f of this.listeners) f();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.stopListening();
  }

  private onLink(e: LinkEvent): void {
    const answer = e.type === 'pushed' ? { acked: e.report.acked, refused: e.report.refused } : e.type === 'synced' ? { acked: e.report.acked, refused: [] } : undefined;
    if (!answer) return;
    void this.memory
      .then((m) => m.note(e.url, answer.acked, answer.refused))
      .catch(() => {})
      .then(() => !this.closed && this.soon());
  }

  /** Asks again now, and from now on at the shortest wait. */
  private soon(): void {
    this.wait = this.firstMs;
    this.run();
  }

  private run(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.running) {
      this.again = true;
      return;
    }
    // A failed pass (the store closing, say) is like a provider not answering: the next event asks again.
    const pass = this.refresh().catch(() => {});
    this.running = pass.then(() => {
      this.running = undefined;
      if (this.again && !this.closed) {
        this.again = false;
        this.run();
      }
    });
  }

  private async refresh(): Promise<void> {
    const memory = await this.memory;
    // What was delivered before (an earlier page, say) is not asked about again.
    let changed = false;
    for (const [k, p] of this.places) {
      const d = p.state ? undefined : memory.deliveredAt(k);
      if (d) [p.state, changed] = [{ state: 'delivered', ...d }, true];
    }
    const asking = [...this.places.entries()].filter(([, p]) => p.state?.state !== 'delivered');
    if (asking.length && !this.closed) {
      const { said, answered } = await this.askAll(asking.map(([, p]) => p.place));
      for (const [k, p] of asking) {
        // With no provider answering, what a provider said stays; what this device knows is brought up to date.
        const next = said.has(k) ? merge(said.get(k)!) : answered || !p.state || p.state.state === 'unsent' ? await this.local(p.place) : p.state;
        if (same(next, p.state)) continue;
        p.state = next;
        changed = true;
      }
      await memory.noteDelivered(asking.flatMap(([k, p]) => (p.state?.state === 'delivered' ? [[k, { at: p.state.at, to: p.state.to }] as const] : [])));
    }
    if (changed) this.emit();
    if (!this.closed && [...this.places.values()].some((p) => p.state?.state === 'unsent' || p.state?.state === 'pending')) {
      this.timer = setTimeout(() => {
        this.wait = Math.min(this.maxMs, this.wait * 2);
        this.run();
      }, this.wait);
    }
  }

  /** Every provider's word on these places, and whether any provider answered at all. */
  private async askAll(places: SentPlace[]): Promise<{ said: Map<string, Delivery[]>; answered: boolean }> {
    const answers = await Promise.all(this.providers.all.map((l) => this.ask(l.url, places)));
    const said = new Map<string, Delivery[]>();
    for (const i of answers.flatMap((a) => a ?? [])) {
      const k = keyOf(i.space, i.doc);
      said.set(k, [...(said.get(k) ?? []), i.delivery]);
    }
    return { said, answered: answers.some((a) => a !== undefined) };
  }

  /** One provider's answer for these places, or undefined if it gave none. */
  private async ask(url: string, places: SentPlace[]): Promise<OutboxItem[] | undefined> {
    try {
      const out: OutboxItem[] = [];
      for (let i = 0; i < places.length; i += PER_REQUEST) out.push(...(await outbox(url, this.device, places.slice(i, i + PER_REQUEST))));
      return out;
    } catch {
      return undefined;
    }
  }

  /**
   * What this device knows of its own entry at a place no provider answered for: failed if one of its providers
   * refused it, unsent if none has answered it yet, else pending (a provider has it; its word is not at hand).
   */
  private async local(place: SentPlace): Promise<DeliveryState | undefined> {
    const memory = await this.memory;
    const mine = (await this.device.store.docEntries(place.space, place.doc)).filter((r) => equal(r.device, this.device.id));
    if (!mine.length) return undefined;
    const refusal = mine.map((r) => memory.refusal(r.id)).find((r) => r !== undefined);
    if (refusal) return { state: 'failed', reason: refusal.reason, message: refusal.message, to: refusal.url };
    return mine.some((r) => r.seq > memory.upTo) ? { state: 'unsent' } : { state: 'pending' };
  }
}

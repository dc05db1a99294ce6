import { createHash } from 'node:crypto';
import { connect, Events, type NatsConnection, type Subscription } from 'nats';
import { asArray, asBytes, asRecord, decode, encode, isFreeholdError, Kind, readEntries, toHex, toId, type Entry } from '@freehold/core';
import type { Logger } from 'pino';
import type { Metrics } from './metrics.js';
import type { Provider } from './provider.js';

/** How a node joins the others of its provider. */
export interface NodesOptions {
  /** The NATS server the nodes share (`nats://host:port`). */
  url: string;
  /** This node's name, in its log and in the NATS connection's name. */
  node: string;
}

/**
 * A hint carries the entries themselves while they fit in this many bytes (most batches: entries are small), so
 * the other nodes push them without reading the database; past it only their ids, and each node reads them.
 */
export const INLINE_HINT_BYTES = 64 << 10;
/** Entries (or ids) one hint names at most: what one stored batch holds. */
const MAX_HINT_ENTRIES = 2000;
/** Hints a node holds unhandled at most; past it, it drops them (see Nodes.missed). */
const MAX_PENDING_HINTS = 1000;
/** How long a node waits before trying NATS again when it never answered. */
const RETRY_MS = 1000;

/** A NATS URL as logs show it: without the user and password it may carry. */
export const shownUrl = (url: string): string => url.replace(/\/\/[^@/]*@/, '//***@');

/** The subjects of one provider's spaces: a prefix of its own, so providers sharing a NATS server never mix. */
export const subjectPrefix = (publicUrl: string): string => `freehold.${createHash('sha256').update(publicUrl).digest('hex').slice(0, 16)}`;

/**
 * The other nodes of the same provider, reached through core NATS: one subject per space, which a node listens
 * to while one of its sessions is subscribed to the space. An entry stored here is published once PostgreSQL
 * has committed it; a node that hears it pushes it to its own sessions. A hint is never the only way an entry
 * arrives: while NATS is away a node stores and acknowledges as before, and when it is back the sessions that may
 * have missed hints are asked to reconnect and reconcile.
 */
export class Nodes {
  private nc: NatsConnection | undefined;
  private readonly subs = new Map<string, Subscription>();
  private readonly watched = new Map<string, Uint8Array>();
  /** Hints are handled one after another, in the order NATS delivered them. */
  private received: Promise<void> = Promise.resolve();
  /** When the connection to NATS was lost (or, before the first, when the node started). */
  private downSince: number | undefined = Date.now();
  private stopped = false;
  /** Hints heard and not yet handled. */
  private pending = 0;
  private readonly prefix: string;

  constructor(
    private readonly provider: Provider,
    private readonly opts: NodesOptions,
    private readonly log: Logger,
    private readonly metrics: Metrics,
  ) {
    this.prefix = subjectPrefix(provider.opts.publicUrl);
    metrics.natsConnected.set(0);
    void this.run();
  }

  get connected(): boolean {
    return this.downSince === undefined;
  }

  private async run(): Promise<void> {
    const { url, node } = this.opts;
    // nats.js takes a user and password as options, not in the URL.
    const parsed = new URL(url);
    const auth = parsed.username ? { user: decodeURIComponent(parsed.username), pass: decodeURIComponent(parsed.password) } : {};
    let failures = 0;
    // Tried again until it answers (nats.js reconnects by itself only once it has connected); a stopped node stops trying.
    while (!this.stopped && !this.nc) {
      try {
        this.nc = await connect({
          servers: `${parsed.protocol}//${parsed.host}`,
          ...auth,
          name: `freehold ${this.provider.host} ${node}`,
          // A node pushes what it stored to its own sessions itself.
          noEcho: true,
          timeout: 5000,
          maxReconnectAttempts: -1,
          reconnectTimeWait: 500,
          pingInterval: 5000,
          maxPingOut: 2,
        });
      } catch (e) {
        if (failures++ === 0) this.log.error({ event: 'nats-failed', url: shownUrl(url), err: e }, 'cannot reach NATS: no live pushes across nodes until it answers');
        await new Promise((r) => setTimeout(r, RETRY_MS).unref());
      }
    }
    if (!this.nc) return;
    if (this.stopped) return void (await this.nc.close());
    this.up();
    for (const [k, space] of this.watched) this.listen(k, space);
    for await (const s of this.nc.status()) {
      if (s.type === Events.Disconnect) this.down();
      else if (s.type === Events.Reconnect) this.up();
    }
  }

  private down(): void {
    if (this.downSince !== undefined) return;
    this.downSince = Date.now();
    this.metrics.natsConnected.set(0);
    this.log.warn(
      { event: 'nats-down', url: shownUrl(this.opts.url) },
      'NATS unreachable: entries are stored and acknowledged as before, but other nodes miss their live push',
    );
  }

  /**
   * Connected (again). Sessions subscribed here while NATS was away may have missed entries stored through other
   * nodes: they are asked to reconnect, and reconcile what they missed.
   */
  private up(): void {
    const since = this.downSince;
    if (since === undefined) return;
    this.downSince = undefined;
    this.metrics.natsConnected.set(1);
    const missed = this.watched.size > 0;
    this.log.info({ event: 'nats-up', url: shownUrl(this.opts.url), downMs: Date.now() - since, spaces: this.watched.size }, 'NATS connected');
    if (!missed) return;
    this.metrics.hintGaps.inc();
    this.log.warn(
      { event: 'hints-missed', downMs: Date.now() - since, spaces: this.watched.size },
      'live hints may have been missed: asking subscribed sessions to reconcile',
    );
    this.provider.subscriptions.resync('live updates from other nodes may have been missed: reconnect and reconcile');
  }

  /** A session here subscribed to a space no other session here had: listen to its subject. */
  watch(space: Uint8Array): void {
    const k = toHex(space);
    this.watched.set(k, space);
    if (this.nc && !this.nc.isClosed()) this.listen(k, space);
  }

  /** No session here is subscribed to the space any longer. */
  unwatch(space: Uint8Array): void {
    const k = toHex(space);
    this.watched.delete(k);
    this.subs.get(k)?.unsubscribe();
    this.subs.delete(k);
  }

  private listen(k: string, space: Uint8Array): void {
    if (this.subs.has(k)) return;
    const sub = this.nc!.subscribe(`${this.prefix}.${k}`, {
      callback: (err, msg) => {
        if (err) return;
        // A node that falls this far behind drops hints, and has the sessions that miss them reconcile.
        if (this.pending >= MAX_PENDING_HINTS) return this.missed(space, 'this node fell behind on hints from the other nodes');
        this.pending++;
        const data = msg.data;
        this.received = this.received
          .then(() => this.hint(space, data))
          .catch((e: unknown) => this.refused(space, e))
          .finally(() => this.pending--);
      },
    });
    this.subs.set(k, sub);
  }

  /** Entries of a space stored elsewhere that sessions here were not pushed: they reconcile. */
  private missed(space: Uint8Array, why: string): void {
    this.metrics.hintGaps.inc();
    this.log.warn({ event: 'hints-missed', space: toId(space), why }, 'live hints missed: asking the space’s sessions to reconcile');
    this.provider.subscriptions.resync('live updates from other nodes were missed: reconnect and reconcile', space);
  }

  private refused(space: Uint8Array, e: unknown): void {
    // The entries exist, but this node could not read them (its database is away): a gap, not a bad hint.
    if (isFreeholdError(e, 'unavailable')) return this.missed(space, e.message);
    this.metrics.rejections.inc({ reason: isFreeholdError(e) ? e.reason : 'malformed' });
    this.log.warn({ event: 'hint-refused', space: toId(space), err: e }, 'a hint from NATS was refused');
  }

  /** Tells the other nodes about entries PostgreSQL has committed through this one (space by space). */
  publish(entries: Entry[]): void {
    const bySpace = new Map<string, Entry[]>();
    for (const e of entries) {
      const k = toHex(e.space);
      bySpace.set(k, [...(bySpace.get(k) ?? []), e]);
    }
    for (const [k, list] of bySpace) {
      for (let i = 0; i < list.length; i += MAX_HINT_ENTRIES) this.publishOne(k, list.slice(i, i + MAX_HINT_ENTRIES));
    }
  }

  private publishOne(k: string, list: Entry[]): void {
    if (!this.nc || !this.connected) return void this.metrics.hintsDropped.inc(list.length);
    const size = list.reduce((n, e) => n + e.bytes.length, 0);
    const hint = size <= INLINE_HINT_BYTES ? { entries: list.map((e) => e.bytes) } : { ids: list.map((e) => e.id) };
    try {
      this.nc.publish(`${this.prefix}.${k}`, encode(hint));
      this.metrics.hintsOut.inc(list.length);
    } catch {
      this.metrics.hintsDropped.inc(list.length);
    }
  }

  /**
   * Entries another node stored. The hint is checked like anything from outside (bounded, signatures verified,
   * of the space its subject names); ids are read from the store, which holds only what was committed. Changes
   * to membership, and authors this node does not know yet, are caught up with from the store before the push.
   */
  private async hint(space: Uint8Array, data: Uint8Array): Promise<void> {
    const h = asRecord(decode(data, 'hint'), 'hint');
    let bytes: Uint8Array[];
    if (h.entries !== undefined) bytes = asArray(h.entries, 'entries', MAX_HINT_ENTRIES).map((b, i) => asBytes(b, `entries[${i}]`));
    else {
      const ids = asArray(h.ids, 'ids', MAX_HINT_ENTRIES).map((b, i) => asBytes(b, `ids[${i}]`, 32));
      bytes = (await this.provider.store.getEntries(ids)).flatMap((r) => (r ? [r.bytes] : []));
    }
    const entries = (await readEntries(bytes)).flatMap((r) => ('entry' in r && toHex(r.entry.space) === toHex(space) ? [r.entry] : []));
    if (!entries.length) return;
    this.metrics.hintsIn.inc(entries.length);
    const replica = this.provider.replica;
    if (entries.some((e) => e.kind === Kind.membership || !replica.authorOf(e.device))) await replica.catchUp();
    await this.provider.fanout(entries, { node: true });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.nc?.drain().catch(() => {});
    await this.received;
  }
}

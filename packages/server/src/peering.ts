import type { Entry, SigningKey } from '@freehold/core';
import type { Logger } from 'pino';
import { MemorySharedState } from '@freehold/stores';
import { PEER_HEARTBEAT_MS, PeerLink, type PeerState } from './peer-link.js';
import type { Provider } from './provider.js';
import type { Mirror } from './mirrors.js';

/** Peer providers this one links to at most (each is listed by some account it hosts). */
export const MAX_PEERS = 256;

/**
 * Provider sessions one network may open a minute on one node: each node bounds the documents it fetches itself,
 * so this stays in the node's memory even when the nodes share their other limits.
 */
const ATTEMPTS = { perMinute: 30, burst: 10 };

export interface PeerStatus {
  url: string;
  state: PeerState;
  lastError?: string;
}

/**
 * The providers this one shares accounts with: every other provider that an account hosted here lists in its
 * identity log. Each gets one link, started when the first such account appears and stopped when none is left.
 */
export class Peering {
  private readonly links = new Map<string, PeerLink>();
  private stopped = false;
  /** This node's own connection attempts, limited by this node alone. */
  private readonly attempts = new MemorySharedState();

  constructor(
    private readonly provider: Provider,
    private readonly key: SigningKey,
    private readonly log: Logger,
    private readonly heartbeatMs = PEER_HEARTBEAT_MS,
  ) {}

  /**
   * The providers some account hosted here also lists, and those of the accounts whose spaces are mirrored (an
   * evicted mirror only while it owes its owner entries).
   */
  wanted(): Set<string> {
    const out = new Set<string>();
    const add = (providers: string[]) => {
      for (const url of providers) if (url !== this.provider.document.url && /^https?:\/\/[^/]+$/.test(url)) out.add(url);
    };
    for (const log of this.provider.replica.contacts()) if (this.provider.isRegistered(log.account)) add(log.providers);
    for (const m of this.provider.mirrors.all()) if (m.state !== 'evicted') add(this.provider.replica.contact(m.owner)?.providers ?? []);
    return out;
  }

  /**
   * Starts links to new peers and stops those nothing here needs any more; links to the providers of `reconnect`'s
   * owners (new mirrors, refilled or evicted ones) reconnect at once, so they subscribe and reconcile anew and the
   * mirrors fill. Resolves once those have reconciled or failed.
   */
  refresh(reconnect: Mirror[] = []): Promise<void> {
    if (this.stopped) return Promise.resolve();
    const want = this.wanted();
    const kick = new Set(reconnect.flatMap((m) => this.provider.replica.contact(m.owner)?.providers ?? []));
    const filled: Promise<void>[] = [];
    for (const url of kick) {
      const link = want.has(url) ? this.links.get(url) : undefined;
      if (link) filled.push(link.resync());
    }
    for (const [url, link] of this.links) {
      if (!want.has(url)) {
        link.stop();
        this.links.delete(url);
      }
    }
    for (const url of want) {
      if (this.links.has(url)) continue;
      if (this.links.size >= MAX_PEERS) {
        this.log.warn({ event: 'peer-limit', peer: url, max: MAX_PEERS }, 'too many peer providers; not linking to this one');
        continue;
      }
      const link = new PeerLink(url, this.provider, this.key, this.log, this.heartbeatMs);
      this.links.set(url, link);
      if (kick.has(url)) filled.push(link.nextAttempt());
      link.start();
    }
    return Promise.all(filled).then(() => undefined);
  }

  /** Whether a network may open one more provider session now (each costs a fetch of a well-known document). */
  admit(network: string): boolean {
    return this.attempts.takeNow(network, ATTEMPTS, Date.now()) === 0;
  }

  /** Pushes what was just stored to every peer home to it, except the one it came from. */
  push(entries: Entry[], from?: string): void {
    for (const [url, link] of this.links) if (url !== from) void link.push(entries);
  }

  status(): PeerStatus[] {
    return [...this.links.values()].map((l) => ({ url: l.url, state: l.state, ...(l.lastError ? { lastError: l.lastError } : {}) }));
  }

  stop(): void {
    this.stopped = true;
    for (const link of this.links.values()) link.stop();
    this.links.clear();
  }
}

import type { Entry, SigningKey } from '@freehold/core';
import type { Logger } from 'pino';
import { PeerLink, type PeerState } from './peer-link.js';
import { RateLimiter } from './rate-limit.js';
import type { Provider } from './provider.js';

/** Peer providers this one links to at most (each is listed by some account it hosts). */
export const MAX_PEERS = 256;

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
  private readonly attempts = new RateLimiter(30, 10);

  constructor(
    private readonly provider: Provider,
    private readonly key: SigningKey,
    private readonly log: Logger,
  ) {}

  /** The providers some account hosted here also lists. */
  wanted(): Set<string> {
    const out = new Set<string>();
    for (const log of this.provider.replica.contacts()) {
      if (!this.provider.isRegistered(log.account)) continue;
      for (const url of log.providers) if (url !== this.provider.document.url && /^https?:\/\/[^/]+$/.test(url)) out.add(url);
    }
    return out;
  }

  /** Starts links to new peers and stops those no hosted account lists any more. */
  refresh(): void {
    if (this.stopped) return;
    const want = this.wanted();
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
      const link = new PeerLink(url, this.provider, this.key, this.log);
      this.links.set(url, link);
      link.start();
    }
  }

  /** Whether a network may open one more provider session now (each costs a fetch of a well-known document). */
  admit(network: string): boolean {
    return this.attempts.take(network, Date.now()) === 0;
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

import { canRead, toHex, type Entry } from '@freehold/core';
import type { Provider } from './provider.js';

/**
 * What this provider shares with each peer provider: the spaces both are home to (their creator's log lists
 * both), the mirrors of the peer's accounts' spaces, and what the peer may see of anything else held here.
 */
export class PeerShares {
  constructor(private readonly p: Provider) {}

  /** Whether a space's creator lists this provider URL as one of its homes. */
  async homedAt(space: Uint8Array, url: string): Promise<boolean> {
    const graph = await this.p.replica.graph(space);
    const creator = graph.creatorAccount;
    return creator !== undefined && (this.p.replica.contact(creator)?.providers.includes(url) ?? false);
  }

  /** Whether a space is mirrored here (and not evicted) from an owner who lives (also) at this provider URL. */
  mirroredFrom(space: Uint8Array, url: string): boolean {
    const m = this.p.mirrors.get(space);
    return m?.state === 'live' && (this.p.replica.contact(m.owner)?.providers.includes(url) ?? false);
  }

  /** What this provider exchanges with a peer: spaces both are home to, and mirrors of the peer's accounts. */
  async sharedWith(space: Uint8Array, url: string): Promise<boolean> {
    return this.mirroredFrom(space, url) || this.homedAt(space, url);
  }

  /**
   * Whether a peer provider gets a live push of an entry stored here: one of a space both share, or one of this
   * provider's users wrote into an evicted mirror of a space the peer is home to (delivered without a refill).
   */
  async pushedTo(e: Entry, url: string): Promise<boolean> {
    if (await this.sharedWith(e.space, url)) return true;
    const m = this.p.mirrors.get(e.space);
    const author = this.p.replica.authorOf(e.device)?.account.account;
    return m?.state === 'owed' && author !== undefined && this.p.isRegistered(author) && (this.p.replica.contact(m.owner)?.providers.includes(url) ?? false);
  }

  /**
   * The spaces held here that a peer provider is also home to, and those mirrored from it. A space held here that
   * is not a mirror was created by an account hosted here (the hosting rules keep no other create operation), so
   * only the spaces created by hosted accounts that list the peer are looked at, through the store's index.
   */
  async spacesHomedAt(url: string): Promise<Uint8Array[]> {
    const out = new Map<string, Uint8Array>();
    for (const account of this.p.hostedAccounts()) {
      if (!this.p.replica.contact(account)?.providers.includes(url) || this.p.retirements.expired(account)) continue;
      for (const n of await this.p.store.spacesOf(account)) if (n.creator) out.set(toHex(n.space), n.space);
    }
    for (const m of this.p.mirrors.all()) if (this.mirroredFrom(m.space, url)) out.set(toHex(m.space), m.space);
    return [...out.values()];
  }

  /**
   * What a peer provider may see of a space held here: everything of a space it is also home to, of a public
   * space, and of a private one that one of its accounts may read (it mirrors it for them); of an inbox, the
   * membership log and what its own accounts appended (to deliver their messages without reading others').
   */
  async peerView(space: Uint8Array, url: string): Promise<'all' | 'own' | false> {
    if (await this.homedAt(space, url)) return 'all';
    const graph = await this.p.replica.graph(space);
    if (!graph.created) return false;
    if (graph.isPublic) return 'all';
    for (const [account, role] of graph.current().roles) {
      if (canRead(role) && this.p.replica.contact(account)?.providers.includes(url)) return 'all';
    }
    return graph.openAppend ? 'own' : false;
  }
}

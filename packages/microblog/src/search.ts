import MiniSearch, { type Query } from 'minisearch';
import { documentEntries, fromId, FreeholdError, Kind, openDocById, toHex, type EntryRow } from '@freehold/core';
import type { Microblog } from './microblog.js';
import { POST_PREFIX, refToString, spacesOf } from './refs.js';
import { Profile } from './schema.js';
import { hashtagsIn } from './text.js';
import { feedItem, isLive, type TimelineItem } from './timeline.js';

export interface Person {
  account: string;
  name?: string;
  handle?: string;
  bio?: string;
}

export interface SearchResults {
  posts: TimelineItem[];
  people: Person[];
}

/** Where indexing got to, for a progress bar: documents read of those that changed since the last pass. */
export type IndexProgress = (done: number, total: number) => void;

/** A query past this is a paste, not a search; it is cut rather than refused. */
export const MAX_QUERY = 200;

interface Indexed {
  id: string;
  text: string;
  tags: string;
}
/** A document with entries not read yet. */
interface Pending {
  doc: Uint8Array;
  rows: EntryRow[];
}
interface Held {
  account: string;
  audience: 'public' | 'friends';
  /** The ids of the entries already read, so a pass reopens only documents with entries it has not seen. */
  seen: Set<string>;
  /** The posts and the profile found in this space, by document id. */
  docs: Map<string, string>;
}

const words = (text: string): string[] => text.toLowerCase().split(/[^\p{L}\p{N}_]+/u).filter(Boolean);

/**
 * Search over what this device holds of the accounts it follows (and its own), since no provider can read
 * private posts: an in-memory index (MiniSearch) of every post's words and hashtags, and of people by name,
 * handle and bio. `refresh` reads only documents with entries it has not seen, so after the first pass keeping
 * it current costs the new entries, not the whole replica. Blocked and muted accounts are left out.
 */
export class SearchIndex {
  private readonly posts = new MiniSearch<Indexed>({ fields: ['text', 'tags'], tokenize: words, processTerm: (t) => t });
  private readonly items = new Map<string, TimelineItem>();
  private readonly people = new Map<string, Person>();
  private readonly spaces = new Map<string, Held>();

  constructor(private readonly mb: Microblog) {}

  get size(): number {
    return this.items.size;
  }

  /** Brings the index up to what the replica holds now. */
  async refresh(progress?: IndexProgress): Promise<void> {
    const hidden = await this.mb.moderation.hidden();
    const accounts = new Set([this.mb.me, ...(await this.mb.following()).map((f) => f.account)].filter((a) => !hidden.has(a)));
    const wanted = new Map<string, { space: Uint8Array; account: string; audience: 'public' | 'friends' }>();
    for (const account of accounts) {
      const s = spacesOf(fromId(account, 'account'));
      wanted.set(toHex(s.public), { space: s.public, account, audience: 'public' });
      wanted.set(toHex(s.friends), { space: s.friends, account, audience: 'friends' });
    }
    // Spaces no longer followed, or no longer readable, leave with everything found in them.
    for (const [key, held] of this.spaces) if (!wanted.has(key)) this.forget(key, held);
    const work: { space: Uint8Array; held: Held; whole: boolean; docs: Pending[] }[] = [];
    for (const [key, w] of wanted) {
      if (!(await this.mb.device.replica.graph(w.space)).created || !(await this.mb.device.canRead(w.space))) {
        const held = this.spaces.get(key);
        if (held) this.forget(key, held);
        continue;
      }
      const held = this.spaces.get(key) ?? { account: w.account, audience: w.audience, seen: new Set<string>(), docs: new Map<string, string>() };
      this.spaces.set(key, held);
      const fresh = (await this.mb.device.store.keys(w.space)).map((k) => k.id).filter((id) => !held.seen.has(toHex(id)));
      if (!fresh.length) continue;
      // On a space's first pass every entry is fresh, so each document's rows are all here, in the store's order.
      const whole = held.seen.size === 0;
      const docs = new Map<string, Pending>();
      // A first pass reads the documents' entries by kind, so the space's images are not read.
      const rows = whole ? await documentEntries(this.mb.device.store, w.space) : await this.mb.device.store.getEntries(fresh);
      for (const row of rows) {
        if (!row || (row.kind !== Kind.update && row.kind !== Kind.snapshot)) continue;
        const key = toHex(row.doc);
        const d = docs.get(key) ?? { doc: row.doc, rows: [] };
        d.rows.push(row);
        docs.set(key, d);
      }
      for (const id of fresh) held.seen.add(toHex(id));
      work.push({ space: w.space, held, whole, docs: [...docs.values()] });
    }
    const total = work.reduce((n, w) => n + w.docs.length, 0);
    let done = 0;
    for (const { space, held, whole, docs } of work) {
      for (const { doc, rows } of docs) {
        try {
          await this.read(space, held, doc, whole ? rows : undefined);
        } catch (e) {
          if (!(e instanceof FreeholdError)) throw e;
          // Not readable (yet: an entry whose membership operation is still on its way): tried again next pass, and the
          // rest of the index is not held back by it.
          for (const r of rows) held.seen.delete(toHex(r.id));
        }
        if (++done % 200 === 0) progress?.(done, total);
      }
    }
    if (total) progress?.(total, total);
  }

  /**
   * Posts whose words start with the query's words (all of them; a small typo is forgiven in longer words) and
   * that carry its `#hashtags`, newest first; and people whose name, handle or bio match. `@name` finds people.
   */
  search(query: string, opts: { limit?: number } = {}): SearchResults {
    const limit = opts.limit ?? 50;
    const terms = query.slice(0, MAX_QUERY).trim().split(/\s+/).filter(Boolean);
    const tags = terms.filter((t) => t.startsWith('#')).flatMap((t) => words(t.slice(1)));
    const plain = terms.filter((t) => !t.startsWith('#') && !t.startsWith('@')).flatMap(words);
    const people = terms.filter((t) => !t.startsWith('#')).flatMap((t) => words(t.replace(/^@/, '')));
    if (!tags.length && !plain.length && !people.length) return { posts: [], people: [] };
    const queries: Query[] = [
      ...(plain.length ? [{ queries: plain, fields: ['text'], prefix: true, fuzzy: (t: string) => (t.length > 4 ? 1 : 0), combineWith: 'AND' as const }] : []),
      ...(tags.length ? [{ queries: tags, fields: ['tags'], combineWith: 'AND' as const }] : []),
    ];
    const posts = queries.length
      ? this.posts
          .search({ combineWith: 'AND', queries })
          .map((r) => this.items.get(r.id as string)!)
          .sort((a, b) => b.post.createdAt - a.post.createdAt)
          .slice(0, limit)
      : [];
    return { posts, people: tags.length && !plain.length ? [] : this.matchPeople(people, limit) };
  }

  /** Every word of the query starts a word of the person's name, handle or bio. */
  private matchPeople(query: string[], limit: number): Person[] {
    if (!query.length) return [];
    const out: Person[] = [];
    for (const p of this.people.values()) {
      const own = words(`${p.name ?? ''} ${p.handle ?? ''} ${p.bio ?? ''}`);
      if (query.every((q) => own.some((w) => w.startsWith(q)))) out.push(p);
      if (out.length >= limit) break;
    }
    return out;
  }

  private async read(space: Uint8Array, held: Held, docId: Uint8Array, rows?: EntryRow[]): Promise<void> {
    const key = toHex(docId);
    const doc = await openDocById(this.mb.device, space, docId, rows);
    if (!doc) return;
    if (doc.name === 'profile' && held.audience === 'public') {
      const p = Profile.safeParse(doc.toJSON());
      if (p.success) this.people.set(held.account, { account: held.account, name: p.data.name, handle: p.data.handle, bio: p.data.bio });
      return;
    }
    if (!doc.name.startsWith(POST_PREFIX)) return;
    const item = feedItem({ account: held.account, post: doc.name.slice(POST_PREFIX.length), audience: held.audience }, doc.toJSON());
    const id = item && refToString(item.ref);
    if (!id) return;
    this.drop(id);
    held.docs.set(key, id);
    // A repost has no words of its own; a deleted post has none left.
    if (!isLive(item) || item.post.repostOf) return;
    this.items.set(id, item);
    this.posts.add({ id, text: item.post.text, tags: hashtagsIn(item.post.text).join(' ') });
  }

  private drop(id: string): void {
    if (!this.items.delete(id)) return;
    this.posts.discard(id);
  }

  private forget(key: string, held: Held): void {
    for (const id of held.docs.values()) this.drop(id);
    if (held.audience === 'public') this.people.delete(held.account);
    this.spaces.delete(key);
  }
}


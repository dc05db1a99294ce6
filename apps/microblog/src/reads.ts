import type { Like, Microblog, Repost } from '@freehold/microblog';
import type { IndexProgress, SearchIndex, SearchResults } from '@freehold/microblog/search';

/**
 * What the views read of the whole account (every like, every repost, the search index) is read once per change
 * of the session, not once per post card that asks.
 */
export class Reads {
  private likesRead: { version: number; likes: Promise<Map<string, Like>> } | undefined;
  private repostsRead: { version: number; reposts: Promise<Map<string, Repost>> } | undefined;
  private index: { index: Promise<SearchIndex>; version: number; pass: Promise<void> } | undefined;

  constructor(
    private readonly mb: Microblog,
    private readonly version: () => number,
  ) {}

  /** The posts this account liked. */
  likes(): Promise<Map<string, Like>> {
    if (this.likesRead?.version !== this.version()) this.likesRead = { version: this.version(), likes: this.mb.likes() };
    return this.likesRead.likes;
  }

  /** This account's reposts. */
  reposts(): Promise<Map<string, Repost>> {
    if (this.repostsRead?.version !== this.version()) this.repostsRead = { version: this.version(), reposts: this.mb.reposts() };
    return this.repostsRead.reposts;
  }

  /**
   * Searches this replica (see SearchIndex): the index is built on the first search and brought up to date, one
   * pass at a time, when something changed since the last.
   */
  search(query: string, progress?: IndexProgress): Promise<SearchResults> {
    // The index (and MiniSearch) is fetched with the first search, not with the app's first screen; one that could
    // not be fetched (offline, before the service worker kept it) is fetched again by the next search.
    const index = (this.index ??= {
      index: import('@freehold/microblog/search').then(
        ({ SearchIndex }) => new SearchIndex(this.mb),
        (e: unknown) => {
          this.index = undefined;
          throw e;
        },
      ),
      version: -1,
      pass: Promise.resolve(),
    });
    const pass = index.pass.then(async () => {
      if (index.version === this.version()) return;
      const version = this.version();
      await (await index.index).refresh(progress);
      index.version = version;
    });
    // A pass that failed is tried again by the next search, which does not wait on the failure.
    index.pass = pass.catch(() => undefined);
    return pass.then(async () => (await index.index).search(query));
  }
}

import { useEffect, useState } from 'react';
import { refToString } from '@freehold/microblog';
import type { SearchResults } from '@freehold/microblog/search';
import type { Session } from './session.js';
import { useVersion } from './hooks.js';
import { Avatar, PostCard, profileHref } from './PostCard.js';
import { searchHref } from './PostText.js';

/** Search over this browser's replica (`#/search?q=…`): nothing is sent anywhere, so friends-only posts are found too. */
export function SearchPage({ session, query }: { session: Session; query: string }) {
  const version = useVersion(session);
  const [text, setText] = useState(query);
  const [progress, setProgress] = useState<{ done: number; total: number }>();
  const [results, setResults] = useState<SearchResults>();
  const [error, setError] = useState<string>();
  useEffect(() => setText(query), [query]);
  useEffect(() => {
    let live = true;
    session.reads
      .search(query, (done, total) => live && setProgress({ done, total }))
      .then(
        (r) => live && (setResults(r), setProgress(undefined)),
        (e: Error) => live && setError(e.message),
      );
    return () => {
      live = false;
    };
  }, [query, version]);
  const empty = results && !results.posts.length && !results.people.length;
  return (
    <div className="search">
      <h1>Search</h1>
      <form
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          location.hash = searchHref(text.trim()).slice(1);
        }}
      >
        <input type="search" aria-label="Search posts and people" placeholder="Words, #hashtag or @name" value={text} onChange={(e) => setText(e.target.value)} maxLength={200} autoFocus />
        <button className="primary">Search</button>
      </form>
      <p className="small muted">Searches what this browser holds: your posts and those of the people you follow, friends-only ones included. Nothing leaves this device.</p>
      {progress && (
        <p className="muted" role="status">
          Indexing {progress.done.toLocaleString('en')} of {progress.total.toLocaleString('en')} posts… <progress value={progress.done} max={progress.total} />
        </p>
      )}
      {error && <p className="error">{error}</p>}
      {!query && <p className="muted empty">Search by a word, a #hashtag or a person’s name.</p>}
      {query && empty && <p className="muted empty">Nothing here matches “{query}”.</p>}
      {results && results.people.length > 0 && (
        <section aria-label="People">
          <h2>People</h2>
          <ul className="people">
            {results.people.map((p) => (
              <li key={p.account} className="card person">
                <Avatar session={session} account={p.account} />
                <a href={profileHref(p.account, p.handle)}>
                  <strong>{p.name ?? p.handle ?? p.account}</strong>
                  {p.handle && <span className="muted"> @{p.handle}</span>}
                </a>
              </li>
            ))}
          </ul>
        </section>
      )}
      {results && results.posts.length > 0 && (
        <section aria-label="Posts">
          <h2>Posts</h2>
          <ol className="posts">
            {results.posts.map((item) => (
              <li key={refToString(item.ref)}>
                <PostCard session={session} item={item} />
              </li>
            ))}
          </ol>
        </section>
      )}
    </div>
  );
}

import { useEffect, useRef, useState } from 'react';
import { toId } from '@freehold/core';
import { refToString } from '@freehold/microblog';
import type { Session } from './session.js';
import { useLoad } from './hooks.js';
import { DeliveryMark } from './Delivery.js';
import { Compose } from './Compose.js';
import { PostCard, profileHref } from './PostCard.js';
import { PostSkeletons } from './Skeleton.js';

export function Home({ session }: { session: Session }) {
  const [limit, setLimit] = useState(30);
  const timeline = useLoad(session, () => session.mb.timeline({ limit }), [limit]);
  const sentinel = useRef<HTMLDivElement>(null);
  const full = timeline.state === 'ready' && timeline.value.length < limit;
  useEffect(() => {
    // Infinite scroll: reaching the end of the list asks for more.
    const el = sentinel.current;
    if (!el || full) return;
    const io = new IntersectionObserver((es) => es.some((e) => e.isIntersecting) && setLimit((l) => l + 30));
    io.observe(el);
    return () => io.disconnect();
  }, [full, timeline.state]);
  return (
    <div className="home">
      <section className="main-col">
        <h1>Home</h1>
        <Compose session={session} />
        {timeline.state === 'loading' && <PostSkeletons />}
        {timeline.state === 'error' && <p className="error">Could not load the timeline: {timeline.message}</p>}
        {timeline.state === 'ready' && timeline.value.length === 0 && <p className="muted empty">Nothing here yet. Write your first post, or follow someone by their handle.</p>}
        {timeline.state === 'ready' && (
          <ol className="posts" aria-label="Timeline">
            {timeline.value.map((item) => (
              <li key={refToString(item.ref)}>
                <PostCard session={session} item={item} />
              </li>
            ))}
          </ol>
        )}
        <div ref={sentinel} />
      </section>
      <aside className="side-col">
        <FollowBox session={session} />
      </aside>
    </div>
  );
}

function FollowBox({ session }: { session: Session }) {
  const [handle, setHandle] = useState('');
  const [msg, setMsg] = useState<{ ok: boolean; text: string }>();
  const [busy, setBusy] = useState(false);
  /** The handle being followed, listed at once while it is looked up. */
  const [adding, setAdding] = useState<string>();
  const following = useLoad(session, () => session.mb.following());
  const removed = useLoad(session, () => session.mb.removedBy());
  return (
    <div className="card">
      <h2>Follow</h2>
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          const wanted = handle.trim().replace(/^@/, '').toLowerCase();
          setBusy(true);
          setAdding(wanted);
          setMsg(undefined);
          try {
            const state = await session.resolve(wanted);
            const { requested } = await session.write((mb) => mb.follow(toId(state.account), wanted));
            void session.readFollowed();
            const later = ` ${handle} has not set up a microblog yet: your request to see friends-only posts goes out as soon as they have.`;
            setMsg({ ok: true, text: `Following ${handle}.${requested ? '' : later}` });
            setHandle('');
          } catch (err) {
            setMsg({ ok: false, text: (err as Error).message });
          } finally {
            setBusy(false);
            setAdding(undefined);
          }
        }}
      >
        <input value={handle} onChange={(e) => setHandle(e.target.value)} placeholder="name@host" aria-label="Handle to follow" />
        <button className="primary" disabled={!handle.includes('@') || busy}>
          {busy ? 'Looking up…' : 'Follow'}
        </button>
      </form>
      {msg && (
        <p className={msg.ok ? 'ok' : 'error'} role="status">
          {msg.text}
        </p>
      )}
      {following.state === 'ready' && (following.value.length > 0 || adding) && (
        <ul className="following">
          {adding && !following.value.some((f) => f.handle === adding) && (
            <li className="adding">
              <span>
                {adding} <span className="muted small">following…</span>
              </span>
            </li>
          )}
          {following.value.map((f) => (
            <li key={f.account}>
              <span>
                <a href={profileHref(f.account, f.handle)}>{f.handle ?? f.account}</a>{' '}
                {f.requested ? <DeliveryMark session={session} sends={[{ type: 'follow', account: f.account, since: f.since }]} /> : <span className="pill">request waits for their microblog</span>}
                {removed.state === 'ready' && (removed.value.get(f.account) ?? 0) > f.since && <span className="pill removed">removed you as a follower</span>}
              </span>
              <button className="link" onClick={() => void session.write((mb) => mb.unfollow(f.account))} aria-label={`Unfollow ${f.handle ?? f.account}`}>
                Unfollow
              </button>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

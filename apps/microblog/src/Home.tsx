import { useEffect, useRef, useState, type FormEvent } from 'react';
import { toId } from '@freehold/core';
import { refToString, type PostRef, type TimelineItem } from '@freehold/microblog';
import type { Session } from './session.js';
import { timeAgo, useLoad } from './hooks.js';
import { DeliveryMark } from './Delivery.js';

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
        <Compose session={session} />
        {timeline.state === 'loading' && <p className="muted">Loading your timeline…</p>}
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

export function Compose({ session, replyTo, onDone }: { session: Session; replyTo?: PostRef; onDone?: () => void }) {
  const [text, setText] = useState('');
  const [friends, setFriends] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const submit = async (e?: FormEvent) => {
    e?.preventDefault();
    if (!text.trim() || busy) return;
    setBusy(true);
    setError(undefined);
    try {
      await session.write((mb) => mb.post(text, { audience: friends ? 'friends' : 'public', replyTo }));
      setText('');
      onDone?.();
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="compose card" onSubmit={submit} aria-label={replyTo ? 'Reply' : 'New post'}>
      <textarea
        value={text}
        onChange={(e) => setText(e.target.value)}
        placeholder={replyTo ? 'Write a reply…' : 'What is happening? Mention people as @name@host'}
        rows={replyTo ? 2 : 3}
        maxLength={5000}
        aria-label={replyTo ? 'Reply text' : 'Post text'}
        onKeyDown={(e) => {
          if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) void submit();
        }}
        autoFocus={Boolean(replyTo)}
      />
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <div className="row">
        {!replyTo && (
          <label className="inline">
            <input type="checkbox" checked={friends} onChange={(e) => setFriends(e.target.checked)} /> Friends only
          </label>
        )}
        <span className="muted small">{5000 - text.length}</span>
        <button className="primary" disabled={!text.trim() || busy} title="Ctrl+Enter">
          {busy ? 'Posting…' : replyTo ? 'Reply' : 'Post'}
        </button>
      </div>
    </form>
  );
}

export function Avatar({ session, account }: { session: Session; account: string }) {
  const profile = useLoad(session, () => session.mb.profile(account), [account]);
  const p = profile.state === 'ready' ? profile.value : undefined;
  const url = p?.avatar ? URL.createObjectURL(new Blob([p.avatar as Uint8Array<ArrayBuffer>], { type: p.avatarType ?? 'image/png' })) : undefined;
  return url ? <img className="avatar" src={url} alt="" /> : <span className="avatar placeholder">{(p?.name ?? '?').slice(0, 1).toUpperCase()}</span>;
}

export function PostCard({ session, item }: { session: Session; item: TimelineItem }) {
  const author = useLoad(session, () => session.mb.profile(item.author), [item.author]);
  if (author.state === 'ready' && !author.value && item.author !== session.account) session.lookUp(item.author);
  const [replying, setReplying] = useState(false);
  const [showThread, setShowThread] = useState(false);
  const name = author.state === 'ready' && author.value ? author.value.name : item.author.slice(0, 8);
  const handle = author.state === 'ready' ? author.value?.handle : undefined;
  const likes = useLoad(session, () => session.likes());
  const myLike = likes.state === 'ready' ? likes.value.get(refToString(item.ref)) : undefined;
  const liked = Boolean(item.post.likedBy[session.account] ?? myLike);
  const mine = item.author === session.account;
  return (
    <article className="post card" aria-label={`Post by ${name}`}>
      <Avatar session={session} account={item.author} />
      <div className="post-body">
        <header>
          <a href={`#/u/${item.author}`} className="name">
            {name}
          </a>
          {handle && <span className="muted">@{handle}</span>}
          <span className="muted">· {timeAgo(item.post.createdAt)}</span>
          {item.post.audience === 'friends' && <span className="pill">Friends</span>}
          {mine && <DeliveryMark session={session} sends={session.mb.sentWith(item)} />}
        </header>
        {item.post.replyTo && <p className="muted small">Replying to a post</p>}
        <p className="text">{item.post.text}</p>
        <div className="actions">
          <button className="link" onClick={() => setReplying((r) => !r)} aria-expanded={replying}>
            Reply{item.post.replies.length ? ` (${item.post.replies.length})` : ''}
          </button>
          <button className={`link ${liked ? 'liked' : ''}`} aria-pressed={liked} disabled={liked} onClick={() => void session.write((mb) => mb.like(item.ref))}>
            ♥ {item.post.likes || ''}
          </button>
          {myLike && !mine && <DeliveryMark session={session} sends={[{ type: 'like', post: item.ref, at: myLike.createdAt }]} />}
          {item.post.replies.length > 0 && (
            <button className="link" onClick={() => setShowThread((s) => !s)} aria-expanded={showThread}>
              {showThread ? 'Hide thread' : 'Show thread'}
            </button>
          )}
        </div>
        {replying && <Compose session={session} replyTo={item.ref} onDone={() => setReplying(false)} />}
        {showThread && <Thread session={session} refs={item.post.replies} />}
      </div>
    </article>
  );
}

function Thread({ session, refs }: { session: Session; refs: PostRef[] }) {
  const replies = useLoad(session, async () => (await Promise.all(refs.map((r) => session.mb.getPost(r)))).filter((x): x is TimelineItem => x !== undefined), [refs.length]);
  if (replies.state !== 'ready') return <p className="muted small">Loading replies…</p>;
  if (!replies.value.length) return <p className="muted small">Replies are from accounts you do not follow yet.</p>;
  return (
    <ol className="thread">
      {replies.value.map((r) => (
        <li key={refToString(r.ref)}>
          <PostCard session={session} item={r} />
        </li>
      ))}
    </ol>
  );
}

function FollowBox({ session }: { session: Session }) {
  const [handle, setHandle] = useState('');
  const [msg, setMsg] = useState<{ ok: boolean; text: string }>();
  const [busy, setBusy] = useState(false);
  const following = useLoad(session, () => session.mb.following());
  return (
    <div className="card">
      <h2>Follow</h2>
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          setMsg(undefined);
          try {
            const state = await session.resolve(handle.trim().replace(/^@/, ''));
            await session.write((mb) => mb.follow(toId(state.account), handle.trim().replace(/^@/, '').toLowerCase()));
            void session.readFollowed();
            setMsg({ ok: true, text: `Following ${handle}` });
            setHandle('');
          } catch (err) {
            setMsg({ ok: false, text: (err as Error).message });
          } finally {
            setBusy(false);
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
      {following.state === 'ready' && following.value.length > 0 && (
        <ul className="following">
          {following.value.map((f) => (
            <li key={f.account}>
              <span>
                <a href={`#/u/${f.account}`}>{f.handle ?? f.account.slice(0, 10)}</a>{' '}
                <DeliveryMark session={session} sends={[{ type: 'follow', account: f.account, since: f.since }]} />
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

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
    const sending = text;
    if (!sending.trim() || busy) return;
    setBusy(true);
    setError(undefined);
    // The box empties at once: what is typed while this post goes out belongs to the next one.
    setText('');
    try {
      await session.write((mb) => mb.post(sending, { audience: friends ? 'friends' : 'public', replyTo }));
      onDone?.();
    } catch (err) {
      setError((err as Error).message);
      setText((typed) => (typed.trim() ? `${sending}\n${typed}` : sending));
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
  const mine = item.author === session.account;
  const [editing, setEditing] = useState(false);
  return (
    <article className="post card" aria-label={`Post by ${name}`}>
      <Avatar session={session} account={item.author} />
      <div className="post-body">
        <header>
          <a href={profileHref(item.author, handle)} className="name">
            {name}
          </a>
          {handle && <span className="muted">@{handle}</span>}
          <span className="muted">· {timeAgo(item.post.createdAt)}</span>
          {item.post.editedAt !== undefined && (
            <span className="muted small" title={`Edited ${new Date(item.post.editedAt).toLocaleString()}`}>
              · edited
            </span>
          )}
          {item.post.audience === 'friends' && <span className="pill">Friends</span>}
          {mine && <DeliveryMark session={session} sends={session.mb.sentWith(item)} />}
        </header>
        {item.post.replyTo && <p className="muted small">Replying to a post</p>}
        {editing ? <EditPost session={session} item={item} onDone={() => setEditing(false)} /> : <p className="text">{item.post.text}</p>}
        <div className="actions">
          <button className="link" onClick={() => setReplying((r) => !r)} aria-expanded={replying}>
            Reply{item.post.replies.length ? ` (${item.post.replies.length})` : ''}
          </button>
          <LikeButton session={session} item={item} liked={likes.state === 'ready' ? Boolean(myLike) : undefined} />
          {myLike && !mine && <DeliveryMark session={session} sends={[{ type: 'like', post: item.ref, at: myLike.createdAt }]} />}
          {item.post.replies.length > 0 && (
            <button className="link" onClick={() => setShowThread((s) => !s)} aria-expanded={showThread}>
              {showThread ? 'Hide thread' : 'Show thread'}
            </button>
          )}
          {mine && !editing && (
            <>
              <button className="link" onClick={() => setEditing(true)}>
                Edit
              </button>
              <button
                className="link"
                onClick={() => confirm('Delete this post? It disappears for everyone who reads it.') && void session.write((mb) => mb.deletePost(item.ref))}
              >
                Delete
              </button>
            </>
          )}
        </div>
        {replying && <Compose session={session} replyTo={item.ref} onDone={() => setReplying(false)} />}
        {showThread && <Thread session={session} refs={item.post.replies} />}
      </div>
    </article>
  );
}

/** The app's link to someone's profile: by handle where known, which is what people recognise and share. */
export const profileHref = (account: string, handle?: string): string => (handle ? `#/@${handle}` : `#/u/${account}`);

/**
 * Like and unlike at once: the button shows the person's last click until the replica agrees, and the count
 * moves with it (the author's count catches up when their devices fold the like in).
 */
function LikeButton({ session, item, liked }: { session: Session; item: TimelineItem; liked: boolean | undefined }) {
  const [wanted, setWanted] = useState<boolean>();
  useEffect(() => {
    if (wanted !== undefined && wanted === liked) setWanted(undefined);
  }, [liked, wanted]);
  const shown = wanted ?? Boolean(liked);
  const counted = item.post.likedBy[session.account] !== undefined;
  const count = item.post.likes + (shown && !counted ? 1 : 0) - (!shown && counted ? 1 : 0);
  const toggle = () => {
    const next = !shown;
    setWanted(next);
    session.write((mb) => (next ? mb.like(item.ref) : mb.unlike(item.ref))).catch(() => setWanted(undefined));
  };
  return (
    <button className={`link ${shown ? 'liked' : ''}`} aria-pressed={shown} title={shown ? 'Unlike' : 'Like'} disabled={liked === undefined} onClick={toggle}>
      ♥ {count || ''}
    </button>
  );
}

function EditPost({ session, item, onDone }: { session: Session; item: TimelineItem; onDone: () => void }) {
  const [text, setText] = useState(item.post.text);
  const [error, setError] = useState<string>();
  return (
    <form
      className="edit"
      aria-label="Edit post"
      onSubmit={(e) => {
        e.preventDefault();
        session.write((mb) => mb.editPost(item.ref, text)).then(onDone, (err: Error) => setError(err.message));
      }}
    >
      <textarea value={text} onChange={(e) => setText(e.target.value)} rows={3} maxLength={5000} aria-label="Edited text" autoFocus />
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <div className="row">
        <button type="button" onClick={onDone}>
          Cancel
        </button>
        <button className="primary" disabled={!text.trim() || text === item.post.text}>
          Save
        </button>
      </div>
    </form>
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
  const removed = useLoad(session, () => session.mb.removedBy());
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
            const { requested } = await session.write((mb) => mb.follow(toId(state.account), handle.trim().replace(/^@/, '').toLowerCase()));
            void session.readFollowed();
            const later = ` ${handle} has not set up a microblog yet: your request to see friends-only posts goes out as soon as they have.`;
            setMsg({ ok: true, text: `Following ${handle}.${requested ? '' : later}` });
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

import { useState } from 'react';
import { refToString, type PostRef, type TimelineItem } from '@freehold/microblog';
import type { Session } from './session.js';
import { useLoad } from './hooks.js';
import { Ago } from './Time.js';
import { DeliveryMark } from './Delivery.js';
import { Compose } from './Compose.js';
import { LikeButton, RepostButton } from './Reactions.js';
import { PostText } from './PostText.js';
import { PostImages, useAvatarUrl } from './Images.js';
import { DefaultAvatar } from './DefaultAvatar.js';
import { Icon } from './Icon.js';

/** The app's link to someone's profile: by handle where known, which is what people recognise and share. */
export const profileHref = (account: string, handle?: string): string => (handle ? `#/@${handle}` : `#/u/${account}`);
/** A post's own page in the app, as `/@name/POSTID` is on the provider's public pages. */
export const postHref = (account: string, post: string, handle?: string): string => `${profileHref(account, handle)}/${post}`;

export function Avatar({ session, account }: { session: Session; account: string }) {
  const profile = useLoad(session, () => session.mb.profile(account), [account]);
  const p = profile.state === 'ready' ? profile.value : undefined;
  const url = useAvatarUrl(session, account, p);
  return url ? <img className="avatar" src={url} alt="" /> : <DefaultAvatar account={account} name={p?.name} />;
}

/** A post with its actions; a repost shows the post it passes on, under who passed it on. */
export function PostCard({ session, item }: { session: Session; item: TimelineItem }) {
  if (item.post.repostOf) return <Repost session={session} item={item} original={item.post.repostOf} />;
  return <Post session={session} item={item} />;
}

function Post({ session, item }: { session: Session; item: TimelineItem }) {
  const author = useLoad(session, () => session.mb.profile(item.author), [item.author]);
  if (author.state === 'ready' && !author.value && item.author !== session.account) session.lookUp(item.author);
  const [replying, setReplying] = useState(false);
  const [showThread, setShowThread] = useState(false);
  const name = author.state === 'ready' && author.value ? author.value.name : session.nameless(item.author);
  const handle = author.state === 'ready' ? author.value?.handle : undefined;
  const likes = useLoad(session, () => session.reads.likes());
  const myLike = likes.state === 'ready' ? likes.value.get(refToString(item.ref)) : undefined;
  const mine = item.author === session.account;
  const [editing, setEditing] = useState(false);
  const [quoting, setQuoting] = useState(false);
  return (
    <article className="post card" aria-label={`Post by ${name}`}>
      <Avatar session={session} account={item.author} />
      <div className="post-body">
        <header>
          <a href={profileHref(item.author, handle)} className="name">
            {name}
          </a>
          {handle && <span className="muted">@{handle}</span>}
          <a className="muted" href={postHref(item.author, item.ref.post, handle)}>
            · <Ago at={item.post.createdAt} />
          </a>
          {item.post.editedAt !== undefined && (
            <span className="muted small" title={`Edited ${new Date(item.post.editedAt).toLocaleString()}`}>
              · edited
            </span>
          )}
          {item.post.audience === 'friends' && <span className="pill">Friends</span>}
          {mine && <DeliveryMark session={session} sends={session.mb.sentWith(item)} />}
        </header>
        {item.post.replyTo && <p className="muted small">Replying to a post</p>}
        {editing ? <EditPost session={session} item={item} onDone={() => setEditing(false)} /> : <PostText text={item.post.text} />}
        <PostImages session={session} post={item.ref} images={item.post.images} />
        {item.post.quoteOf && <QuotedPost session={session} ref_={item.post.quoteOf} />}
        <div className="actions">
          <button
            className="link"
            onClick={() => setReplying((r) => !r)}
            aria-expanded={replying}
            aria-label={`Reply${item.post.replies.length ? ` (${item.post.replies.length})` : ''}`}
            title="Reply"
          >
            <Icon name="reply" /> {item.post.replies.length || ''}
          </button>
          <LikeButton session={session} item={item} liked={likes.state === 'ready' ? Boolean(myLike) : undefined} />
          {item.post.audience === 'public' && (
            <>
              <RepostButton session={session} item={item} />
              <button className="link" onClick={() => setQuoting((q) => !q)} aria-expanded={quoting}>
                Quote
              </button>
            </>
          )}
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
        {quoting && <Compose session={session} quoteOf={item.ref} onDone={() => setQuoting(false)} />}
        {showThread && <Thread session={session} refs={item.post.replies} />}
      </div>
    </article>
  );
}

/** A post another post points to, loaded from the replica (its author's public space is fetched if missing). */
function useReferred(session: Session, ref: PostRef) {
  const loaded = useLoad(session, () => session.mb.getPost(ref), [refToString(ref)]);
  if (loaded.state === 'ready' && !loaded.value) session.lookUp(ref.account);
  return loaded;
}

/** Someone's repost: who passed it on, then the post itself with its own actions. */
function Repost({ session, item, original }: { session: Session; item: TimelineItem; original: PostRef }) {
  const by = useLoad(session, () => session.mb.profile(item.author), [item.author]);
  const post = useReferred(session, original);
  const name = item.author === session.account ? 'You' : by.state === 'ready' && by.value ? by.value.name : session.nameless(item.author);
  return (
    <div className="repost" aria-label={`Reposted by ${name}`}>
      <p className="muted small">↻ {name} reposted</p>
      {post.state === 'ready' && post.value ? <PostCard session={session} item={post.value} /> : <p className="muted small card">Loading the reposted post…</p>}
    </div>
  );
}

/** The post a quote post is about, small, under its text. */
export function QuotedPost({ session, ref_ }: { session: Session; ref_: PostRef }) {
  const post = useReferred(session, ref_);
  const author = useLoad(session, () => session.mb.profile(ref_.account), [ref_.account]);
  if (post.state !== 'ready') return <blockquote className="quoted muted small">Loading…</blockquote>;
  if (!post.value) return <blockquote className="quoted muted small">A post that is not here (deleted, or not synced yet)</blockquote>;
  return (
    <blockquote className="quoted card" aria-label="Quoted post">
      <strong>{author.state === 'ready' && author.value ? author.value.name : session.nameless(ref_.account)}</strong> <span className="muted small"><Ago at={post.value.post.createdAt} /></span>
      <PostText text={post.value.post.text} />
    </blockquote>
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

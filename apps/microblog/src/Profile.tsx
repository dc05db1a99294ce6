import { useEffect, useState } from 'react';
import { fromId, toId } from '@freehold/core';
import { PostRef, refToString, spacesOf, storeAvatar } from '@freehold/microblog';
import type { Session } from './session.js';
import { useAction, useLoad } from './hooks.js';
import { Avatar, PostCard } from './PostCard.js';
import { LinkDevice } from './Linking.js';
import { ModerationActions } from './Moderation.js';
import { avatarFrom } from './image-files.js';
import { useAvatarUrl, useBytesUrl } from './Images.js';
import { PostSkeletons } from './Skeleton.js';

/** The handle an account goes by, as this replica verified it: its own, or the one its identity log claims. */
export function handleOf(session: Session, account: string): string | undefined {
  return account === session.account ? session.handle : session.device.replica.contact(fromId(account, 'account'))?.handles[0];
}

/** A profile named by handle (`#/@name@host`), or one of its posts (`#/@name@host/POSTID`): looked up, or known from whom this account follows. */
export function HandleProfilePage({ session, handle, post }: { session: Session; handle: string; post?: string }) {
  const account = useLoad(session, async () => toId((await session.resolve(handle)).account), [handle]);
  if (account.state !== 'ready')
    return (
      <div className="profile">
        <h1>{handle}</h1>
        {account.state === 'loading' ? <p className="muted">Looking up {handle}…</p> : <p className="error">Could not find {handle}: {account.message}</p>}
      </div>
    );
  return post === undefined ? <ProfilePage session={session} account={account.value} /> : <PostPage session={session} account={account.value} post={post} />;
}

/** How many approved followers (readers of the friends space, whose membership anyone holding it can read) and follows. */
async function countsOf(session: Session, account: string): Promise<{ followers?: number; following: number }> {
  const graph = await session.device.replica.graph(spacesOf(fromId(account, 'account')).friends);
  const followers = graph.created ? [...graph.current().roles.values()].filter((r) => r === 'reader').length : undefined;
  return { followers, following: (await session.mb.following(account)).length };
}

export function ProfilePage({ session, account }: { session: Session; account: string }) {
  const self = account === session.account;
  const profile = useLoad(session, () => session.mb.profile(account), [account]);
  const posts = useLoad(session, () => session.mb.postsOf(account), [account]);
  const counts = useLoad(session, () => countsOf(session, account), [account]);
  const [editing, setEditing] = useState(false);
  const p = profile.state === 'ready' ? profile.value : undefined;
  const avatarUrl = useAvatarUrl(session, account, self && editing ? p : undefined);
  if (profile.state === 'ready' && !p && !self) session.lookUp(account);
  return (
    <div className="profile">
      <header className="card profile-head">
        <Avatar session={session} account={account} />
        <div>
          <h1>{p?.name ?? (profile.state === 'loading' ? 'Loading…' : session.nameless(account))}</h1>
          {p?.handle && <p className="muted">@{p.handle}</p>}
          {p?.bio && <p>{p.bio}</p>}
          {counts.state === 'ready' && (
            <p className="small counts">
              <span title="Approved followers, who read friends-only posts">{counts.value.followers === undefined ? '— followers' : `${counts.value.followers} follower${counts.value.followers === 1 ? '' : 's'}`}</span> ·{' '}
              <span>{counts.value.following} following</span>
            </p>
          )}
          {p?.handle && (
            <p className="small">
              <a href={`/@${p.handle.split('@')[0]}`}>Public page</a>
            </p>
          )}
        </div>
        {self && !editing && <button onClick={() => setEditing(true)}>Edit profile</button>}
        {!self && <FollowActions session={session} account={account} handle={p?.handle ?? handleOf(session, account)} name={p?.name} />}
      </header>
      {self && <LinkDevice session={session} />}
      {self && editing && <EditProfile session={session} name={p?.name ?? ''} bio={p?.bio ?? ''} current={avatarUrl} onDone={() => setEditing(false)} />}
      {posts.state === 'loading' && <PostSkeletons />}
      {posts.state === 'ready' && posts.value.length === 0 && (
        <p className="muted empty">{self ? <>You have not posted yet. <a href="#/">Write your first post</a>.</> : 'No posts you can see yet. Follow them to read what they post.'}</p>
      )}
      {posts.state === 'ready' && (
        <ol className="posts">
          {posts.value.map((item) => (
            <li key={refToString(item.ref)}>
              <PostCard session={session} item={item} />
            </li>
          ))}
        </ol>
      )}
      {posts.state === 'error' && <p className="error">{posts.message}</p>}
    </div>
  );
}

/** Follow or Unfollow, Message, Mute and Block, on someone else's profile. */
function FollowActions({ session, account, handle, name }: { session: Session; account: string; handle?: string; name?: string }) {
  const following = useLoad(session, async () => (await session.mb.following()).some((f) => f.account === account), [account]);
  const { busy, error, act } = useAction();
  const who = handle ?? name ?? 'them';
  return (
    <div className="row profile-actions">
      {following.state === 'ready' &&
        (following.value ? (
          <button disabled={busy} aria-label={`Unfollow ${who}`} onClick={() => act(() => session.write((mb) => mb.unfollow(account)))}>
            Unfollow
          </button>
        ) : (
          <button
            className="primary"
            disabled={busy}
            aria-label={`Follow ${who}`}
            onClick={() =>
              act(async () => {
                await session.write((mb) => mb.follow(account, handle));
                void session.readFollowed();
              })
            }
          >
            Follow
          </button>
        ))}
      <a className="button" href={`#/messages/${account}`} aria-label={`Message ${who}`}>
        Message
      </a>
      <ModerationActions session={session} account={account} handle={handle} who={who} />
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}

/** One post on its own page (`#/@name@host/POSTID`): what a notification opens, and what a permalink names. */
export function PostPage({ session, account, post }: { session: Session; account: string; post: string }) {
  const valid = PostRef.shape.post.safeParse(post).success;
  const item = useLoad(
    session,
    async () => (valid ? ((await session.mb.getPost({ account, post, audience: 'public' })) ?? (await session.mb.getPost({ account, post, audience: 'friends' }))) : undefined),
    [account, post],
  );
  const missing = item.state === 'ready' && !item.value && valid;
  useEffect(() => {
    // A permalink may name someone this account does not follow: ask its providers for their posts, once per post.
    if (!missing) return;
    const owner = fromId(account, 'account');
    const s = spacesOf(owner);
    const spaces = [s.public, s.friends];
    void session
      .mirror(spaces.map((space) => ({ space, owner })))
      .then(() => session.pushPull(spaces))
      .catch((e: Error) => console.warn('freehold: could not fetch the post:', e.message));
  }, [missing, account, post]);
  return (
    <div className="post-page">
      <h1>Post</h1>
      {!valid && <p className="error">That is not a post address.</p>}
      {valid && item.state === 'loading' && <p className="muted">Loading…</p>}
      {valid && item.state === 'ready' && !item.value && <p className="muted empty">This post is not here: deleted, not shared with you, or not synced yet.</p>}
      {item.state === 'ready' && item.value && <PostCard session={session} item={item.value} />}
    </div>
  );
}

function EditProfile({ session, name: initialName, bio: initialBio, current, onDone }: { session: Session; name: string; bio: string; current?: string; onDone: () => void }) {
  const [name, setName] = useState(initialName);
  const [bio, setBio] = useState(initialBio);
  const [avatar, setAvatar] = useState<Uint8Array>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  // The image as it will be saved (already scaled and cropped), or the one saved before.
  const preview = useBytesUrl(avatar, 'image/jpeg') ?? current;
  return (
    <form
      className="card"
      aria-label="Edit profile"
      onSubmit={async (e) => {
        e.preventDefault();
        setBusy(true);
        try {
          // The avatar is a blob of the public space; the profile only names it, so later edits leave it be.
          await session.write(async (mb) => mb.setProfile({ name, bio, ...(avatar && { picture: await storeAvatar(mb, avatar) }) }));
          onDone();
        } catch (err) {
          setError((err as Error).message);
        } finally {
          setBusy(false);
        }
      }}
    >
      <label>
        Display name
        <input value={name} onChange={(e) => setName(e.target.value)} maxLength={80} required />
      </label>
      <label>
        Bio
        <textarea value={bio} onChange={(e) => setBio(e.target.value)} maxLength={500} rows={3} />
      </label>
      <label>
        Avatar image
        <input
          type="file"
          accept="image/png,image/jpeg,image/webp"
          onChange={async (e) => {
            const f = e.target.files?.[0];
            setError(undefined);
            if (f) setAvatar(await avatarFrom(f).catch(() => (setError('That image could not be read'), undefined)));
          }}
        />
      </label>
      {preview && <img className="avatar preview" src={preview} alt={avatar ? 'New avatar, as it will be saved' : 'Current avatar'} />}
      {error && <p className="error">{error}</p>}
      <div className="row">
        <button type="button" onClick={onDone}>
          Cancel
        </button>
        <button className="primary" disabled={busy}>
          {busy ? 'Saving…' : 'Save'}
        </button>
      </div>
    </form>
  );
}

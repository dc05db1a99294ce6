import { useState } from 'react';
import { toId } from '@freehold/core';
import { refToString } from '@freehold/microblog';
import type { Session } from './session.js';
import { timeAgo, useLoad } from './hooks.js';
import { Avatar, PostCard, profileHref } from './PostCard.js';
import { LinkDevice } from './Linking.js';
import { DeliveryMark } from './Delivery.js';

/** Scales an image down to a square avatar (JPEG), so the profile document stays small. */
async function avatarFrom(file: File): Promise<Uint8Array> {
  const img = await createImageBitmap(file);
  const size = 160;
  const canvas = new OffscreenCanvas(size, size);
  const ctx = canvas.getContext('2d')!;
  const s = Math.min(img.width, img.height);
  ctx.drawImage(img, (img.width - s) / 2, (img.height - s) / 2, s, s, 0, 0, size, size);
  return new Uint8Array(await (await canvas.convertToBlob({ type: 'image/jpeg', quality: 0.85 })).arrayBuffer());
}

/** A profile named by handle (`#/@name@host`): looked up, or known from whom this account follows. */
export function HandleProfilePage({ session, handle }: { session: Session; handle: string }) {
  const account = useLoad(session, async () => toId((await session.resolve(handle)).account), [handle]);
  if (account.state === 'loading') return <p className="muted">Looking up {handle}…</p>;
  if (account.state === 'error') return <p className="error">Could not find {handle}: {account.message}</p>;
  return <ProfilePage session={session} account={account.value} />;
}

export function ProfilePage({ session, account }: { session: Session; account: string }) {
  const self = account === session.account;
  const profile = useLoad(session, () => session.mb.profile(account), [account]);
  const posts = useLoad(session, () => session.mb.postsOf(account), [account]);
  const [editing, setEditing] = useState(false);
  const p = profile.state === 'ready' ? profile.value : undefined;
  return (
    <div className="profile">
      <header className="card profile-head">
        <Avatar session={session} account={account} />
        <div>
          <h1>{p?.name ?? (profile.state === 'loading' ? 'Loading…' : session.nameless(account))}</h1>
          {p?.handle && <p className="muted">@{p.handle}</p>}
          {p?.bio && <p>{p.bio}</p>}
          {p?.handle && (
            <p className="small">
              <a href={`/@${p.handle.split('@')[0]}`}>Public page</a>
            </p>
          )}
        </div>
        {self && !editing && <button onClick={() => setEditing(true)}>Edit profile</button>}
      </header>
      {self && <LinkDevice session={session} />}
      {self && editing && <EditProfile session={session} name={p?.name ?? ''} bio={p?.bio ?? ''} onDone={() => setEditing(false)} />}
      {posts.state === 'ready' && posts.value.length === 0 && <p className="muted empty">No posts you can see yet.</p>}
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

function EditProfile({ session, name: initialName, bio: initialBio, onDone }: { session: Session; name: string; bio: string; onDone: () => void }) {
  const [name, setName] = useState(initialName);
  const [bio, setBio] = useState(initialBio);
  const [avatar, setAvatar] = useState<Uint8Array>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  return (
    <form
      className="card"
      aria-label="Edit profile"
      onSubmit={async (e) => {
        e.preventDefault();
        setBusy(true);
        try {
          await session.write((mb) => mb.setProfile({ name, bio, ...(avatar ? { avatar, avatarType: 'image/jpeg' as const } : {}) }));
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
            if (f) setAvatar(await avatarFrom(f).catch(() => (setError('That image could not be read'), undefined)));
          }}
        />
      </label>
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

export function InboxPage({ session }: { session: Session }) {
  const inbox = useLoad(session, () => session.mb.inbox());
  const [to, setTo] = useState('');
  const [text, setText] = useState('');
  const [status, setStatus] = useState<{ ok: boolean; text: string }>();
  const describe = (m: Awaited<ReturnType<typeof session.mb.inbox>>[number]['message']) =>
    m.type === 'dm'
      ? m.from === session.account
        ? `You: ${m.text}`
        : m.text
      : m.type === 'follow-request'
        ? 'asked to follow you'
        : m.type === 'follower-removed'
          ? 'removed you from their followers'
          : m.type === 'like'
            ? 'liked your post'
            : m.type === 'unlike'
              ? 'took back their like'
              : m.type === 'reply'
                ? 'replied to your post'
                : 'mentioned you';
  return (
    <div className="inbox">
      <form
        className="card"
        aria-label="New direct message"
        onSubmit={async (e) => {
          e.preventDefault();
          try {
            const state = await session.resolve(to.trim().replace(/^@/, ''));
            await session.write((mb) => mb.dm(toId(state.account), text));
            setText('');
            setStatus({ ok: true, text: `Sent to ${to}` });
          } catch (err) {
            setStatus({ ok: false, text: (err as Error).message });
          }
        }}
      >
        <h2>Direct message</h2>
        <input value={to} onChange={(e) => setTo(e.target.value)} placeholder="name@host" aria-label="Recipient handle" />
        <textarea value={text} onChange={(e) => setText(e.target.value)} rows={2} placeholder="Only they can read it" aria-label="Message" />
        <button className="primary" disabled={!to.includes('@') || !text.trim()}>
          Send
        </button>
        {status && <p className={status.ok ? 'ok' : 'error'}>{status.text}</p>}
      </form>
      <h2>Notifications and messages</h2>
      {inbox.state === 'loading' && <p className="muted">Loading…</p>}
      {inbox.state === 'ready' && inbox.value.length === 0 && <p className="muted empty">Nothing yet.</p>}
      {inbox.state === 'ready' && (
        <ul className="notifications">
          {inbox.value.map((i) => (
            <li key={i.id} className={`card note ${i.message.type}`}>
              <Sender session={session} account={i.message.from} />{' '}
              <span>{describe(i.message)}</span> <span className="muted small">{timeAgo(i.message.at)}</span>
              {i.message.type === 'dm' && i.message.from === session.account && <DeliveryMark session={session} sends={[{ type: 'dm', to: i.message.to, at: i.message.at }]} />}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

/** Someone by name, linked to their profile: by the handle they gave (or their profile's) until the name is known. */
function Sender({ session, account, handle }: { session: Session; account: string; handle?: string }) {
  const p = useLoad(session, () => session.mb.profile(account), [account]);
  if (p.state === 'ready' && !p.value && account !== session.account) session.lookUp(account);
  const profile = p.state === 'ready' ? p.value : undefined;
  const name = profile?.name ?? (account === session.account ? 'You' : (handle ?? session.nameless(account)));
  return (
    <a href={profileHref(account, profile?.handle ?? handle)}>
      <strong>{name}</strong>
    </a>
  );
}

export function FollowersPage({ session }: { session: Session }) {
  const followers = useLoad(session, () => session.mb.followers());
  const act = (f: (mb: Session['mb']) => Promise<void>) => void session.write(f);
  return (
    <div className="followers">
      <h1>Followers</h1>
      <p className="muted">Approved followers can read your friends-only posts. Removing one rotates the key, so they cannot read anything you post after.</p>
      {followers.state === 'loading' && <p className="muted">Loading…</p>}
      {followers.state === 'ready' && followers.value.length === 0 && <p className="muted empty">No follow requests yet.</p>}
      {followers.state === 'ready' && (
        <ul className="requests">
          {followers.value.map((f) => (
            <li key={f.account} className="card row">
              <Sender session={session} account={f.account} handle={f.handle} />
              <span className="muted">{f.handle ?? ''}</span>
              <span className={`pill ${f.status}`}>{f.status}</span>
              {(f.status === 'pending' || f.status === 'denied') && (
                <button className="primary" onClick={() => act((mb) => mb.approve(f.account))} aria-label={`Approve ${f.handle ?? 'this request'}`}>
                  Approve
                </button>
              )}
              {f.status === 'removed' && (
                <button onClick={() => act((mb) => mb.approve(f.account))} aria-label={`Allow ${f.handle ?? 'them'} again`}>
                  Allow again
                </button>
              )}
              {f.status === 'pending' && (
                <button onClick={() => act((mb) => mb.deny(f.account))} aria-label={`Deny ${f.handle ?? 'this request'}`}>
                  Deny
                </button>
              )}
              {f.status === 'approved' && (
                <button onClick={() => act((mb) => mb.removeFollower(f.account))} aria-label={`Remove ${f.handle ?? 'this follower'}`}>
                  Remove
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

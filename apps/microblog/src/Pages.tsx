import type { Follower } from '@freehold/microblog';
import type { Session } from './session.js';
import { useLoad } from './hooks.js';
import { profileHref } from './PostCard.js';
import { PostSkeletons } from './Skeleton.js';

/** Someone by name, linked to their profile: by the handle they gave (or their profile's) until the name is known. */
export function Sender({ session, account, handle }: { session: Session; account: string; handle?: string }) {
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

/** One follower or request, its buttons named for whom they act on (by handle, else by name). */
function FollowerRow({ session, follower: f, act }: { session: Session; follower: Follower; act: (f: (mb: Session['mb']) => Promise<void>) => void }) {
  const profile = useLoad(session, () => session.mb.profile(f.account), [f.account]);
  const who = f.handle ?? (profile.state === 'ready' ? profile.value?.name : undefined) ?? session.nameless(f.account);
  return (
    <li className="card row">
      <Sender session={session} account={f.account} handle={f.handle} />
      <span className="muted">{f.handle ?? ''}</span>
      <span className={`pill ${f.status}`}>{f.status}</span>
      {(f.status === 'pending' || f.status === 'denied') && (
        <button className="primary" onClick={() => act((mb) => mb.approve(f.account))} aria-label={`Approve ${who}`}>
          Approve
        </button>
      )}
      {f.status === 'removed' && (
        <button onClick={() => act((mb) => mb.approve(f.account))} aria-label={`Allow ${who} again`}>
          Allow again
        </button>
      )}
      {f.status === 'pending' && (
        <button onClick={() => act((mb) => mb.deny(f.account))} aria-label={`Deny ${who}`}>
          Deny
        </button>
      )}
      {f.status === 'approved' && (
        <button onClick={() => act((mb) => mb.removeFollower(f.account))} aria-label={`Remove ${who} from your followers`}>
          Remove
        </button>
      )}
    </li>
  );
}

export function FollowersPage({ session }: { session: Session }) {
  const followers = useLoad(session, () => session.mb.followers());
  const act = (f: (mb: Session['mb']) => Promise<void>) => void session.write(f);
  return (
    <div className="followers">
      <h1>Followers</h1>
      <p className="muted">Approved followers can read your friends-only posts. Removing one rotates the key, so they cannot read anything you post after.</p>
      {followers.state === 'loading' && <PostSkeletons count={2} />}
      {followers.state === 'ready' && followers.value.length === 0 && (
        <p className="muted empty">No follow requests yet. Give people your handle, {session.handle ?? 'from your profile'}, to follow you by.</p>
      )}
      {followers.state === 'ready' && (
        <ul className="requests">
          {followers.value.map((f) => (
            <FollowerRow key={f.account} session={session} follower={f} act={act} />
          ))}
        </ul>
      )}
    </div>
  );
}

import type { Block, Mute } from '@freehold/microblog';
import type { Session } from './session.js';
import { useAction, useLoad } from './hooks.js';
import { Sender } from './Pages.js';

const blockWarning = (who: string) =>
  `Block ${who}? Nothing they send (messages, replies, mentions, likes, follow requests) reaches you any more, their posts ` +
  'leave your timeline, and if they follow you they are removed from your followers, so they cannot read what you post ' +
  'to friends from now on. They are not told. You can unblock them in Settings.';

/** Block and Mute on someone else's profile, with what is in force now. */
export function ModerationActions({ session, account, handle, who }: { session: Session; account: string; handle?: string; who: string }) {
  const lists = useLoad(session, () => session.mb.moderation.lists(), [account]);
  const { busy, error, act } = useAction();
  if (lists.state !== 'ready') return null;
  const blocked = lists.value.blocked.has(account);
  const muted = lists.value.muted.has(account);
  return (
    <>
      {(blocked || muted) && (
        <span className="moderation-state" role="status">
          {blocked && <span className="pill restricted">You blocked them</span>}
          {muted && <span className="pill restricted">Muted</span>}
        </span>
      )}
      {muted ? (
        <button disabled={busy} aria-label={`Unmute ${who}`} onClick={() => act(() => session.write((mb) => mb.moderation.unmute(account)))}>
          Unmute
        </button>
      ) : (
        <button
          disabled={busy}
          aria-label={`Mute ${who}`}
          title="Hide their posts and notifications; their messages still reach you"
          onClick={() => act(() => session.write((mb) => mb.moderation.mute(account, handle)))}
        >
          Mute
        </button>
      )}
      {blocked ? (
        <button disabled={busy} aria-label={`Unblock ${who}`} onClick={() => act(() => session.write((mb) => mb.moderation.unblock(account)))}>
          Unblock
        </button>
      ) : (
        <button
          className="danger"
          disabled={busy}
          aria-label={`Block ${who}`}
          onClick={() => confirm(blockWarning(who)) && act(() => session.write((mb) => mb.moderation.block(account, handle)))}
        >
          Block
        </button>
      )}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
    </>
  );
}

/** Everyone this account blocked or muted, to take it back; the lists live in the private space, so every device shows the same. */
export function BlockedCard({ session }: { session: Session }) {
  const lists = useLoad(session, () => session.mb.moderation.lists());
  const { busy, error, act } = useAction();
  const row = (r: Block | Mute, undo: 'Unblock' | 'Unmute') => (
    <li key={r.account}>
      <Sender session={session} account={r.account} handle={r.handle} />
      {r.handle && <span className="muted small"> @{r.handle}</span>}
      <span className="muted small"> since {new Date(r.since).toLocaleDateString()}</span>
      <button
        disabled={busy}
        aria-label={`${undo} ${r.handle ?? r.account}`}
        onClick={() => act(() => session.write((mb) => (undo === 'Unblock' ? mb.moderation.unblock(r.account) : mb.moderation.unmute(r.account))))}
      >
        {undo}
      </button>
    </li>
  );
  const blocked = lists.state === 'ready' ? [...lists.value.blocked.values()] : [];
  const muted = lists.state === 'ready' ? [...lists.value.muted.values()] : [];
  return (
    <section className="card" aria-labelledby="blocked-title">
      <h2 id="blocked-title">Blocked and muted</h2>
      <p className="muted small">
        Nothing a blocked account sends reaches you, and it cannot read what you post to friends. A muted account&rsquo;s posts and notifications are
        hidden; its messages still come through. Only your own devices know these lists.
      </p>
      {lists.state === 'loading' && <p className="muted">Loading…</p>}
      {lists.state === 'error' && <p className="error">{lists.message}</p>}
      {lists.state === 'ready' && !blocked.length && !muted.length && (
        <p className="muted">You have blocked and muted no one. To block or mute someone, open their profile and choose Block or Mute.</p>
      )}
      {blocked.length > 0 && (
        <>
          <h3>Blocked</h3>
          <ul className="restricted-list" aria-label="Blocked accounts">
            {blocked.map((r) => row(r, 'Unblock'))}
          </ul>
          <p className="muted small">Unblocked, someone who followed you is not a follower again until you approve them.</p>
        </>
      )}
      {muted.length > 0 && (
        <>
          <h3>Muted</h3>
          <ul className="restricted-list" aria-label="Muted accounts">
            {muted.map((r) => row(r, 'Unmute'))}
          </ul>
        </>
      )}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}

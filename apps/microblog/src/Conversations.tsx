import { useEffect, useState } from 'react';
import { toId } from '@freehold/core';
import { Conversations, PostRef, type Conversation } from '@freehold/microblog';
import type { Session } from './session.js';
import { useLoad } from './hooks.js';
import { Ago } from './Time.js';
import { PostSkeletons } from './Skeleton.js';
import { DeliveryMark } from './Delivery.js';
import { Avatar, postHref, QuotedPost } from './PostCard.js';
import { Sender } from './Pages.js';
import { handleOf } from './Profile.js';

/** Marks what a page shows as read once it has loaded something unread, under the write lock like any change. */
function useMarkRead(session: Session, unread: boolean, mark: (c: Conversations) => Promise<void>, deps: unknown[]): void {
  useEffect(() => {
    if (!unread) return;
    session.write((mb) => mark(new Conversations(mb))).catch((e: Error) => console.warn('freehold: could not mark as read:', e.message));
  }, [unread, ...deps]);
}

const unreadBadge = (n: number) => (n ? <span className="badge" aria-label={`${n} unread`}>{n}</span> : null);

export function MessagesPage({ session }: { session: Session }) {
  const list = useLoad(session, () => new Conversations(session.mb).list());
  return (
    <div className="messages">
      <h1>Messages</h1>
      <NewMessage session={session} />
      {list.state === 'loading' && <PostSkeletons />}
      {list.state === 'error' && <p className="error">{list.message}</p>}
      {list.state === 'ready' && list.value.length === 0 && <p className="muted empty">No conversations yet. Write to someone by their handle, or from their profile.</p>}
      {list.state === 'ready' && list.value.length > 0 && (
        <ul className="conversations" aria-label="Conversations">
          {list.value.map((c) => (
            <ConversationRow key={c.with} session={session} c={c} />
          ))}
        </ul>
      )}
    </div>
  );
}

function ConversationRow({ session, c }: { session: Session; c: Conversation }) {
  const m = c.last.message;
  const profile = useLoad(session, () => session.mb.profile(c.with), [c.with]);
  if (profile.state === 'ready' && !profile.value) session.lookUp(c.with);
  const name = (profile.state === 'ready' && profile.value?.name) || (handleOf(session, c.with) ?? session.nameless(c.with));
  return (
    <li className={`card conversation${c.unread ? ' unread' : ''}`}>
      <Avatar session={session} account={c.with} />
      <div className="row-body">
        <a href={`#/messages/${c.with}`}>
          <strong>{name}</strong>
        </a>
        {unreadBadge(c.unread)} <span className="muted small"><Ago at={m.at} /></span>
        <p className="text">{c.last.mine ? `You: ${m.text}` : m.text}</p>
        {c.last.mine && <DeliveryMark session={session} sends={[{ type: 'dm', to: m.to, at: m.at }]} />}
      </div>
    </li>
  );
}

function NewMessage({ session }: { session: Session }) {
  const [to, setTo] = useState('');
  const [text, setText] = useState('');
  const [status, setStatus] = useState<{ ok: boolean; text: string }>();
  return (
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
      <h2>New message</h2>
      <input value={to} onChange={(e) => setTo(e.target.value)} placeholder="name@host" aria-label="Recipient handle" />
      <textarea value={text} onChange={(e) => setText(e.target.value)} rows={2} maxLength={5000} placeholder="Only they can read it" aria-label="Message" />
      <button className="primary" disabled={!to.includes('@') || !text.trim()}>
        Send
      </button>
      {status && <p className={status.ok ? 'ok' : 'error'}>{status.text}</p>}
    </form>
  );
}

/** One conversation, both ways, oldest first; opening it marks it read on every device of the account. */
export function ConversationPage({ session, account }: { session: Session; account: string }) {
  const valid = PostRef.shape.account.safeParse(account).success && account !== session.account;
  const conv = useLoad(session, async () => (valid ? new Conversations(session.mb).with(account) : undefined), [account]);
  const unread = conv.state === 'ready' && (conv.value?.unread ?? 0) > 0;
  useMarkRead(session, unread, (c) => c.markRead(account), [account]);
  const [text, setText] = useState('');
  const [error, setError] = useState<string>();
  if (!valid) return <p className="error">That is not someone you can write to.</p>;
  const name = handleOf(session, account) ?? session.nameless(account);
  return (
    <div className="conversation-page">
      <h1>
        <a href="#/messages">Messages</a> · <Sender session={session} account={account} />
      </h1>
      {conv.state === 'ready' && !conv.value && <p className="muted empty">No messages with {name} yet.</p>}
      {conv.state === 'ready' && conv.value && (
        <ol className="dms" aria-label={`Messages with ${name}`}>
          {conv.value.messages.map(({ id, message: m, mine }) => (
            <li key={id} className={`card dm${mine ? ' mine' : ''}`}>
              <p className="muted small">
                {mine ? `You to ${name}` : <Sender session={session} account={m.from} />} · <Ago at={m.at} />
                {mine && <DeliveryMark session={session} sends={[{ type: 'dm', to: m.to, at: m.at }]} />}
              </p>
              <p className="text">{m.text}</p>
            </li>
          ))}
        </ol>
      )}
      <form
        className="card"
        aria-label={`Reply to ${name}`}
        onSubmit={(e) => {
          e.preventDefault();
          setError(undefined);
          session.write((mb) => mb.dm(account, text)).then(
            () => setText(''),
            (err: Error) => setError(err.message),
          );
        }}
      >
        <textarea value={text} onChange={(e) => setText(e.target.value)} rows={2} maxLength={5000} placeholder="Only they can read it" aria-label="Message" />
        <button className="primary" disabled={!text.trim()}>
          Send
        </button>
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
      </form>
    </div>
  );
}

type Notice = Awaited<ReturnType<Conversations['notifications']>>[number]['message'];

const WHAT: Record<Notice['type'], string> = {
  'follow-request': 'asked to follow you',
  'follower-removed': 'removed you from their followers',
  like: 'liked your post',
  unlike: 'took back their like',
  repost: 'reposted your post',
  unrepost: 'took back their repost',
  reply: 'replied to your post',
  mention: 'mentioned you',
};

/** Follow requests, replies, mentions, likes and reposts; each opens the post it is about. */
export function NotificationsPage({ session }: { session: Session }) {
  const list = useLoad(session, () => new Conversations(session.mb).notifications());
  const unread = list.state === 'ready' && list.value.some((n) => n.unread);
  useMarkRead(session, unread, (c) => c.markNotificationsRead(), []);
  return (
    <div className="inbox">
      <h1>Notifications</h1>
      {list.state === 'loading' && <PostSkeletons />}
      {list.state === 'error' && <p className="error">{list.message}</p>}
      {list.state === 'ready' && list.value.length === 0 && <p className="muted empty">Nothing yet. Replies, likes, mentions and follow requests show here.</p>}
      {list.state === 'ready' && (
        <ul className="notifications">
          {list.value.map(({ id, message: m, unread }) => {
            const about = 'post' in m ? m.post : undefined;
            return (
              <li key={id} className={`card note ${m.type}${unread ? ' unread' : ''}`}>
                <Avatar session={session} account={m.from} />
                <div className="row-body">
                  <Sender session={session} account={m.from} handle={m.type === 'follow-request' ? m.handle : undefined} />{' '}
                  {about ? <a href={postHref(about.account, about.post, handleOf(session, about.account))}>{WHAT[m.type]}</a> : <span>{WHAT[m.type]}</span>}{' '}
                  <span className="muted small"><Ago at={m.at} /></span>
                  {m.type === 'follow-request' && (
                    <a className="small" href="#/followers">
                      {' '}
                      Review
                    </a>
                  )}
                  {m.type === 'reply' && <QuotedPost session={session} ref_={m.reply} />}
                  {m.type === 'mention' && <QuotedPost session={session} ref_={m.post} />}
                </div>
              </li>
            );
          })}
        </ul>
      )}
    </div>
  );
}

import { useState, type FormEvent } from 'react';
import type { PostRef } from '@freehold/microblog';
import type { Session } from './session.js';
import { QuotedPost } from './PostCard.js';

/** Writes a post, a reply (`replyTo`) or a quote post (`quoteOf`, shown under the box). */
export function Compose({ session, replyTo, quoteOf, onDone }: { session: Session; replyTo?: PostRef; quoteOf?: PostRef; onDone?: () => void }) {
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
      await session.write((mb) => mb.post(sending, { audience: friends ? 'friends' : 'public', replyTo, quoteOf }));
      onDone?.();
    } catch (err) {
      setError((err as Error).message);
      setText((typed) => (typed.trim() ? `${sending}\n${typed}` : sending));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="compose card" onSubmit={submit} aria-label={replyTo ? 'Reply' : quoteOf ? 'Quote post' : 'New post'}>
      <textarea
        value={text}
        onChange={(e) => setText(e.target.value)}
        placeholder={replyTo ? 'Write a reply…' : quoteOf ? 'Say something about it…' : 'What is happening? Mention people as @name@host'}
        rows={replyTo ? 2 : 3}
        maxLength={5000}
        aria-label={replyTo ? 'Reply text' : quoteOf ? 'Quote text' : 'Post text'}
        onKeyDown={(e) => {
          if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) void submit();
        }}
        autoFocus={Boolean(replyTo ?? quoteOf)}
      />
      {quoteOf && <QuotedPost session={session} ref_={quoteOf} />}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <div className="row">
        {!replyTo && !quoteOf && (
          <label className="inline">
            <input type="checkbox" checked={friends} onChange={(e) => setFriends(e.target.checked)} /> Friends only
          </label>
        )}
        <span className="muted small">{5000 - text.length}</span>
        <button className="primary" disabled={!text.trim() || busy} title="Ctrl+Enter">
          {busy ? 'Posting…' : replyTo ? 'Reply' : quoteOf ? 'Post quote' : 'Post'}
        </button>
      </div>
    </form>
  );
}

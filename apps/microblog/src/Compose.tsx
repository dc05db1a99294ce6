import { useEffect, useRef, useState, type FormEvent } from 'react';
import { MAX_ALT, MAX_IMAGES, type PostRef } from '@freehold/microblog';
import type { Session } from './session.js';
import { QuotedPost } from './PostCard.js';
import { imageFromFile } from './image-files.js';

/** An image picked for a post: the file, what it shows in words, and a preview of it. */
interface Picked {
  file: File;
  alt: string;
  preview: string;
}

/** Writes a post, a reply (`replyTo`) or a quote post (`quoteOf`, shown under the box). */
export function Compose({ session, replyTo, quoteOf, onDone }: { session: Session; replyTo?: PostRef; quoteOf?: PostRef; onDone?: () => void }) {
  const [text, setText] = useState('');
  const [friends, setFriends] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const [picked, setPicked] = useState<Picked[]>([]);
  const submit = async (e?: FormEvent) => {
    e?.preventDefault();
    const sending = text;
    const images = picked;
    if ((!sending.trim() && !images.length) || busy) return;
    setBusy(true);
    setError(undefined);
    // The box empties at once: what is typed while this post goes out belongs to the next one.
    setText('');
    setPicked([]);
    try {
      // Thumbnails are drawn here, before the lock: nothing of the post is stored until they all are ready.
      const inputs = await Promise.all(images.map((p) => imageFromFile(p.file, p.alt)));
      await session.write((mb) => mb.post(sending, { audience: friends ? 'friends' : 'public', replyTo, quoteOf, images: inputs }));
      for (const p of images) URL.revokeObjectURL(p.preview);
      onDone?.();
    } catch (err) {
      setError((err as Error).message);
      setText((typed) => (typed.trim() ? `${sending}\n${typed}` : sending));
      setPicked((now) => [...images, ...now].slice(0, MAX_IMAGES));
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
      {!replyTo && !quoteOf && <PickedImages picked={picked} onChange={setPicked} onError={setError} />}
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
        <button className="primary" disabled={(!text.trim() && !picked.length) || busy} title="Ctrl+Enter">
          {busy ? 'Posting…' : replyTo ? 'Reply' : quoteOf ? 'Post quote' : 'Post'}
        </button>
      </div>
    </form>
  );
}

/** Up to four images with their alt text, each with a preview from the file itself. */
function PickedImages({ picked, onChange, onError }: { picked: Picked[]; onChange: (p: Picked[]) => void; onError: (e: string | undefined) => void }) {
  const latest = useRef(picked);
  latest.current = picked;
  // The previews of a form that goes are released (those taken away, at once).
  useEffect(() => () => latest.current.forEach((p) => URL.revokeObjectURL(p.preview)), []);
  const add = (files: File[]) => {
    const room = MAX_IMAGES - picked.length;
    onError(files.length > room ? `A post carries at most ${MAX_IMAGES} images` : undefined);
    onChange([...picked, ...files.slice(0, room).map((file) => ({ file, alt: '', preview: URL.createObjectURL(file) }))]);
  };
  return (
    <div className="picked-images">
      {picked.map((p, i) => (
        <figure key={p.preview} className="picked">
          <img src={p.preview} alt={`Image ${i + 1}: ${p.alt || p.file.name}`} />
          <input
            value={p.alt}
            maxLength={MAX_ALT}
            placeholder="Describe it for people who cannot see it"
            aria-label={`Alt text for image ${i + 1}`}
            onChange={(e) => onChange(picked.map((q, j) => (j === i ? { ...q, alt: e.target.value } : q)))}
          />
          <button
            type="button"
            className="link"
            aria-label={`Remove image ${i + 1}`}
            onClick={() => {
              URL.revokeObjectURL(p.preview);
              onChange(picked.filter((_, j) => j !== i));
            }}
          >
            Remove
          </button>
        </figure>
      ))}
      {picked.length < MAX_IMAGES && (
        <label className="inline button">
          Add images
          <input
            type="file"
            accept="image/png,image/jpeg,image/webp,image/gif"
            multiple
            hidden
            aria-label="Add images"
            onChange={(e) => {
              add([...(e.target.files ?? [])]);
              e.target.value = '';
            }}
          />
        </label>
      )}
    </div>
  );
}

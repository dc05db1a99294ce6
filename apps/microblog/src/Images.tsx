import { useEffect, useMemo, useRef, useState, type RefObject } from 'react';
import { fromId, isFreeholdError } from '@freehold/core';
import { imageBytes, postImage, spacesOf, type ImageRef, type Picture, type PostRef, type Profile } from '@freehold/microblog';
import type { Session } from './session.js';
import { useVersion } from './hooks.js';

/** Whether an element is on screen or about to be: images are decrypted only then. */
function useNearViewport(ref: RefObject<Element | null>): boolean {
  const [near, setNear] = useState(false);
  useEffect(() => {
    const el = ref.current;
    if (!el || near) return;
    const seen = new IntersectionObserver((entries) => entries.some((e) => e.isIntersecting) && setNear(true), { rootMargin: '300px' });
    seen.observe(el);
    return () => seen.disconnect();
  }, [near]);
  return near;
}

/**
 * An object URL for a picture's bytes, read once `key` is set (the bytes behind a blob id never change). While
 * they are still syncing, it tries again whenever the replica changes; the URL is revoked when the view goes.
 */
export function usePictureUrl(session: Session, picture: Picture | undefined, load: (p: Picture) => Promise<Uint8Array>): { url?: string; error?: string } {
  const version = useVersion(session);
  const [got, setGot] = useState<{ blob: string; url: string }>();
  const [error, setError] = useState<string>();
  const have = picture !== undefined && got?.blob === picture.blob;
  useEffect(() => {
    if (!picture || have) return;
    let live = true;
    load(picture).then(
      (bytes) => live && setGot({ blob: picture.blob, url: URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: picture.mime })) }),
      (e: Error) => live && !isFreeholdError(e, 'not-found') && setError(e.message),
    );
    return () => {
      live = false;
    };
  }, [picture?.blob, have, have ? 0 : version]);
  useEffect(() => () => {
    if (got) URL.revokeObjectURL(got.url);
  }, [got]);
  return { url: have ? got.url : undefined, error };
}

/** An object URL for image bytes in memory, revoked when they change or the view goes. */
export function useBytesUrl(bytes: Uint8Array | undefined, type: string): string | undefined {
  const url = useMemo(() => (bytes ? URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type })) : undefined), [bytes, type]);
  useEffect(() => () => {
    if (url) URL.revokeObjectURL(url);
  }, [url]);
  return url;
}

/** An account's avatar: the blob its profile names (in its public space) or, in an older profile, the inline image. */
export function useAvatarUrl(session: Session, account: string, profile: Profile | undefined): string | undefined {
  const picture = usePictureUrl(session, profile?.picture, (p) => imageBytes(session.device, spacesOf(fromId(account, 'account')).public, p));
  const inline = useBytesUrl(profile?.picture ? undefined : profile?.avatar, profile?.avatarType ?? 'image/png');
  return picture.url ?? inline;
}

/** A post's images: thumbnails, decrypted as they come near the screen; a click shows the image itself. */
export function PostImages({ session, post, images }: { session: Session; post: PostRef; images: ImageRef[] }) {
  const [open, setOpen] = useState<ImageRef>();
  if (!images.length) return null;
  return (
    <div className={`post-images n${images.length}`}>
      {images.map((image, i) => (
        <PostImage key={`${i}:${image.blob}`} session={session} post={post} image={image} onOpen={() => setOpen(image)} />
      ))}
      {open && <FullImage session={session} post={post} image={open} onClose={() => setOpen(undefined)} />}
    </div>
  );
}

function PostImage({ session, post, image, onOpen }: { session: Session; post: PostRef; image: ImageRef; onOpen: () => void }) {
  const box = useRef<HTMLButtonElement>(null);
  const near = useNearViewport(box);
  const { url, error } = usePictureUrl(session, near ? (image.thumb ?? image) : undefined, (p) => postImage(session.mb, post, p));
  return (
    <button type="button" ref={box} className="post-image" style={{ aspectRatio: `${image.width} / ${image.height}` }} onClick={onOpen} aria-label={`Open image: ${image.alt || 'no description'}`}>
      {url ? <img src={url} alt={image.alt} loading="lazy" /> : <span className="muted small">{error ?? 'Loading image…'}</span>}
    </button>
  );
}

function FullImage({ session, post, image, onClose }: { session: Session; post: PostRef; image: ImageRef; onClose: () => void }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const { url, error } = usePictureUrl(session, image, (p) => postImage(session.mb, post, p));
  useEffect(() => dialog.current?.showModal(), []);
  return (
    <dialog ref={dialog} className="full-image" onClose={onClose} onClick={() => dialog.current?.close()} aria-label={image.alt || 'Image'}>
      {url ? <img src={url} alt={image.alt} /> : <p className="muted">{error ?? 'Loading image…'}</p>}
      {image.alt && <p className="small">{image.alt}</p>}
    </dialog>
  );
}

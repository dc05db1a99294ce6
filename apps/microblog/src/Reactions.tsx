import { useEffect, useState } from 'react';
import { refToString, type TimelineItem } from '@freehold/microblog';
import type { Session } from './session.js';
import { useLoad } from './hooks.js';
import { Icon } from './Icon.js';

/**
 * Like and unlike at once: the button shows the person's last click until the replica agrees, and the count
 * moves with it (the author's count catches up when their devices fold the like in).
 */
export function LikeButton({ session, item, liked }: { session: Session; item: TimelineItem; liked: boolean | undefined }) {
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
    <button
      className={`link ${shown ? 'liked' : ''}`}
      aria-pressed={shown}
      aria-label={`Like${count ? ` (${count})` : ''}`}
      title={shown ? 'Unlike' : 'Like'}
      disabled={liked === undefined}
      onClick={toggle}
    >
      <Icon name="like" /> {count || ''}
    </button>
  );
}

/** Repost and take it back at once, as LikeButton; the count is the author's, moved by the click until it catches up. */
export function RepostButton({ session, item }: { session: Session; item: TimelineItem }) {
  const reposts = useLoad(session, () => session.reads.reposts());
  const reposted = reposts.state === 'ready' ? reposts.value.has(refToString(item.ref)) : undefined;
  const [wanted, setWanted] = useState<boolean>();
  useEffect(() => {
    if (wanted !== undefined && wanted === reposted) setWanted(undefined);
  }, [reposted, wanted]);
  const shown = wanted ?? Boolean(reposted);
  const counted = item.post.repostedBy[session.account] !== undefined;
  const count = item.post.reposts + (shown && !counted ? 1 : 0) - (!shown && counted ? 1 : 0);
  const toggle = () => {
    const next = !shown;
    setWanted(next);
    session
      .write(async (mb) => {
        if (next) await mb.repost(item.ref);
        else await mb.unrepost(item.ref);
      })
      .catch(() => setWanted(undefined));
  };
  return (
    <button className={`link ${shown ? 'reposted' : ''}`} aria-pressed={shown} aria-label={`Repost${count ? ` (${count})` : ''}`} title={shown ? 'Undo repost' : 'Repost'} disabled={reposted === undefined} onClick={toggle}>
      <Icon name="repost" /> {count || ''}
    </button>
  );
}

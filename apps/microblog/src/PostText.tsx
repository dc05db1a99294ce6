import { segmentsOf } from '@freehold/microblog';

/** A post's text with its web addresses, mentions and hashtags as links: a hashtag opens its search. */
export function PostText({ text }: { text: string }) {
  return (
    <p className="text">
      {segmentsOf(text).map((s, i) =>
        'url' in s ? (
          <a key={i} href={s.url} target="_blank" rel="noopener noreferrer nofollow ugc">
            {s.text}
          </a>
        ) : 'mention' in s ? (
          <a key={i} href={`#/@${s.mention}`}>
            {s.text}
          </a>
        ) : 'tag' in s ? (
          <a key={i} href={searchHref(`#${s.tag}`)}>
            {s.text}
          </a>
        ) : (
          s.text
        ),
      )}
    </p>
  );
}

export const searchHref = (query: string): string => `#/search?q=${encodeURIComponent(query)}`;

/**
 * What a post's text links to, found the same way by every client: web addresses, `#hashtags` and `@name@host`
 * mentions. A mention or a hashtag starts a word (so `mail@example.com` and `a#b` are neither), and trailing
 * punctuation ends a web address, as a reader would expect of "see https://example.com.".
 */
const TOKENS =
  /(?<url>https?:\/\/[^\s<>"']*[^\s<>"'.,;:!?)\]}])|(?<=^|[\s(])(?:@(?<mention>[a-z0-9][a-z0-9_-]{0,31}@[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?(?::\d+)?)|#(?<tag>[\p{L}\p{N}_]*\p{L}[\p{L}\p{N}_]*))/giu;

/** Long enough for any real tag; a longer run is a word that happens to follow `#`. */
export const MAX_TAG = 64;

export type Segment = { text: string } | { text: string; url: string } | { text: string; mention: string } | { text: string; tag: string };

/** The text cut into plain runs and links, in order; joined back, the pieces are the text. */
export function segmentsOf(text: string): Segment[] {
  const out: Segment[] = [];
  let at = 0;
  for (const m of text.matchAll(TOKENS)) {
    const g = m.groups!;
    const link: Segment | undefined = g.url
      ? { text: m[0], url: g.url }
      : g.mention
        ? { text: m[0], mention: g.mention.toLowerCase() }
        : g.tag && g.tag.length <= MAX_TAG
          ? { text: m[0], tag: g.tag.toLowerCase() }
          : undefined;
    if (!link) continue;
    if (m.index > at) out.push({ text: text.slice(at, m.index) });
    out.push(link);
    at = m.index + m[0].length;
  }
  if (at < text.length) out.push({ text: text.slice(at) });
  return out;
}

/** The handles a post's text mentions (as @name@host), lower case, each once. */
export const mentionsIn = (text: string): string[] => [...new Set(segmentsOf(text).flatMap((s) => ('mention' in s ? [s.mention] : [])))];

/** The hashtags of a text, lower case without the `#`, each once. */
export const hashtagsIn = (text: string): string[] => [...new Set(segmentsOf(text).flatMap((s) => ('tag' in s ? [s.tag] : [])))];

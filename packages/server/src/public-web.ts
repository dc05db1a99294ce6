import { fromId, listPublicDocs, readPublicBlob, readPublicDoc, toBase64 } from '@freehold/core';
import { JSONLD_CONTEXT, POST_PREFIX, PostRef, Profile, readPost, spacesOf, type Post } from '@freehold/microblog';
import type { Provider } from './provider.js';

const escape = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export interface PublicPage {
  json: Record<string, unknown>;
  html: string;
  style: string;
}

const STYLE = `
body{font:16px/1.5 system-ui,-apple-system,sans-serif;max-width:40rem;margin:0 auto;padding:1.5rem 1rem;color:#1d2433;background:#f7f8fa}
header{display:flex;gap:1rem;align-items:center;margin-bottom:1.5rem}
header img,.ph{width:72px;height:72px;border-radius:50%;object-fit:cover;background:#dfe4ee;flex:none}
h1{margin:0;font-size:1.4rem}.handle{color:#5b6478}.bio{margin:.25rem 0 0}
article{background:#fff;border:1px solid #e3e7ef;border-radius:12px;padding:.9rem 1rem;margin:.6rem 0;white-space:pre-wrap;word-wrap:break-word}
article img{display:block;max-width:100%;height:auto;border-radius:8px;margin-top:.5rem}
time{display:block;color:#5b6478;font-size:.85rem;margin-top:.4rem}footer{color:#5b6478;font-size:.85rem;margin-top:2rem}
`;

/** Who a public page is about: the handle's account, its public space and its profile as shown. */
interface Person {
  name: string;
  handle: string;
  account: string;
  space: Uint8Array;
  base: string;
  display: string;
  bio: string;
  icon?: string;
}

async function personOf(provider: Provider, name: string): Promise<Person | undefined> {
  const entry = await provider.lookupHandle(name);
  if (!entry) return undefined;
  const space = spacesOf(fromId(entry.account, 'account')).public;
  const profile = Profile.safeParse(await readPublicDoc(provider.replica, space, 'profile'));
  return {
    name,
    handle: entry.handle,
    account: entry.account,
    space,
    base: `${provider.opts.publicUrl}/@${name}`,
    display: profile.success ? profile.data.name : name,
    bio: profile.success ? profile.data.bio : '',
    icon: profile.success ? await iconOf(provider, space, profile.data) : undefined,
  };
}

/** The avatar as a data URL (the pages load nothing else): the blob the profile names, or an older inline image. */
async function iconOf(provider: Provider, space: Uint8Array, p: Profile): Promise<string | undefined> {
  const bytes = p.picture ? await readPublicBlob(provider.replica, space, fromId(p.picture.blob, 'blob id')) : p.avatar;
  return bytes && `data:${p.picture?.mime ?? p.avatarType ?? 'image/png'};base64,${toBase64(bytes)}`;
}

/** A live post of the public space with text of its own (a repost has none to show; an Announce would carry it). */
function shown(raw: Record<string, unknown> | undefined): Post | undefined {
  const p = readPost(raw);
  return p && 'post' in p && !p.post.repostOf ? p.post : undefined;
}

/**
 * Where a replied-to post lives: its permalink here when its author has a handle here, else nothing, rather than
 * an address that would not answer.
 */
async function replyTarget(provider: Provider, who: Person, ref: PostRef): Promise<string | undefined> {
  if (ref.account === who.account) return `${who.base}/${ref.post}`;
  const row = (await provider.opts.store.handlesOf(fromId(ref.account, 'account'))).find((h) => h.dropped === undefined);
  return row && `${provider.opts.publicUrl}/@${row.name}/${ref.post}`;
}

async function noteOf(provider: Provider, who: Person, id: string, post: Post) {
  const inReplyTo = post.replyTo && (await replyTarget(provider, who, post.replyTo));
  return {
    id: `${who.base}/${id}`,
    type: 'Note',
    attributedTo: who.base,
    content: post.text,
    published: new Date(post.createdAt).toISOString(),
    url: `${who.base}/${id}`,
    ...(inReplyTo ? { inReplyTo } : {}),
    ...(post.images.length && {
      attachment: post.images.map((i, n) => ({ type: 'Image', mediaType: i.mime, url: `${who.base}/${id}/images/${n + 1}`, name: i.alt, width: i.width, height: i.height })),
    }),
  };
}
type Note = Awaited<ReturnType<typeof noteOf>>;

const images = (n: Note): string =>
  (n.attachment ?? []).map((a) => `<img src="${escape(a.url)}" alt="${escape(a.name)}" width="${a.width}" height="${a.height}" loading="lazy">`).join('');

const article = (n: Note): string =>
  `<article id="${escape(n.id.split('/').pop()!)}">${escape(n.content)}${images(n)}<time datetime="${n.published}"><a href="${escape(n.id)}">${n.published.replace('T', ' ').slice(0, 16)} UTC</a></time></article>`;

function page(who: Person, title: string, json: Record<string, unknown>, main: string, provider: Provider): string {
  const ld = JSON.stringify(json).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(title)}</title>
<script type="application/ld+json">${ld}</script>
<style>${STYLE}</style></head>
<body>
<header>${who.icon ? `<img src="${who.icon}" alt="">` : '<div class="ph"></div>'}<div><h1><a href="${escape(who.base)}">${escape(who.display)}</a></h1><div class="handle">@${escape(who.handle)}</div>${who.bio ? `<p class="bio">${escape(who.bio)}</p>` : ''}</div></header>
<main>
${main}
</main>
<footer>Account ${escape(who.account)} · served by ${escape(provider.host)}, which holds it as signed entries it cannot alter.</footer>
</body></html>`;
}

/**
 * A public profile as the provider can read it without any key: the account's public space. Rendered as HTML
 * (no JavaScript needed) with the same ActivityStreams object embedded as JSON-LD.
 */
export async function publicProfile(provider: Provider, name: string): Promise<PublicPage | undefined> {
  const who = await personOf(provider, name);
  if (!who) return undefined;
  const posts: { id: string; post: Post }[] = [];
  for (const doc of await listPublicDocs(provider.replica, who.space)) {
    if (!doc.startsWith(POST_PREFIX)) continue;
    const post = shown(await readPublicDoc(provider.replica, who.space, doc));
    if (post) posts.push({ id: doc.slice(POST_PREFIX.length), post });
  }
  posts.sort((a, b) => b.post.createdAt - a.post.createdAt);
  const notes = await Promise.all(posts.slice(0, 100).map(({ id, post }) => noteOf(provider, who, id, post)));
  const json = {
    '@context': JSONLD_CONTEXT,
    id: who.base,
    type: 'Person',
    preferredUsername: name,
    name: who.display,
    summary: who.bio,
    url: who.base,
    ...(who.icon ? { icon: who.icon } : {}),
    outbox: { id: `${who.base}/outbox`, type: 'OrderedCollection', totalItems: posts.length, orderedItems: notes },
  };
  const main = notes.length ? notes.map(article).join('\n') : '<p>No public posts yet.</p>';
  return { json, html: page(who, `${who.display} (@${who.handle})`, json, main, provider), style: STYLE };
}

/**
 * One public post at its permalink (`/@NAME/POSTID`, the id its Note carries). A post that is friends-only (in a
 * space the provider cannot read), deleted, a repost, or not there is undefined, as is an id that is not one.
 */
export async function publicPost(provider: Provider, name: string, id: string): Promise<PublicPage | undefined> {
  if (!PostRef.shape.post.safeParse(id).success) return undefined;
  const who = await personOf(provider, name);
  const post = who && shown(await readPublicDoc(provider.replica, who.space, `${POST_PREFIX}${id}`));
  if (!who || !post) return undefined;
  const note = await noteOf(provider, who, id, post);
  const json = { '@context': JSONLD_CONTEXT, ...note };
  const title = `${who.display} (@${who.handle}): ${post.text.length > 60 ? `${post.text.slice(0, 60)}…` : post.text}`;
  return { json, html: page(who, title, json, article(note), provider), style: STYLE };
}

/**
 * The Nth image (from 1) of a public post, as stored: undefined if the post is not public and live, has no such
 * image, or its bytes are not all here.
 */
export async function publicImage(provider: Provider, name: string, id: string, n: number): Promise<{ bytes: Uint8Array; mime: string } | undefined> {
  const entry = PostRef.shape.post.safeParse(id).success ? await provider.lookupHandle(name) : undefined;
  const space = entry && spacesOf(fromId(entry.account, 'account')).public;
  const image = space && shown(await readPublicDoc(provider.replica, space, `${POST_PREFIX}${id}`))?.images[n - 1];
  const bytes = image && (await readPublicBlob(provider.replica, space, fromId(image.blob, 'blob id')));
  return bytes && { bytes, mime: image.mime };
}

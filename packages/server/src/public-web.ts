import { fromId, listPublicDocs, readPublicDoc, toBase64 } from '@freehold/core';
import { JSONLD_CONTEXT, Profile, readPost, spacesOf, type Post } from '@freehold/microblog';
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
time{display:block;color:#5b6478;font-size:.85rem;margin-top:.4rem}footer{color:#5b6478;font-size:.85rem;margin-top:2rem}
`;

/**
 * A public profile as the provider can read it without any key: the account's public space. Rendered as HTML
 * (no JavaScript needed) with the same ActivityStreams object embedded as JSON-LD.
 */
export async function publicProfile(provider: Provider, name: string): Promise<PublicPage | undefined> {
  const entry = await provider.lookupHandle(name);
  if (!entry) return undefined;
  const account = entry.account;
  const accountId = fromId(account, 'account');
  const space = spacesOf(accountId).public;
  const profile = Profile.safeParse(await readPublicDoc(provider.replica, space, 'profile'));
  const posts: { id: string; post: Post }[] = [];
  for (const doc of await listPublicDocs(provider.replica, space)) {
    if (!doc.startsWith('post/')) continue;
    const p = readPost(await readPublicDoc(provider.replica, space, doc));
    // A repost has no text of its own to show here (an ActivityStreams Announce would carry it).
    if (p && 'post' in p && !p.post.repostOf) posts.push({ id: doc.slice(5), post: p.post });
  }
  posts.sort((a, b) => b.post.createdAt - a.post.createdAt);
  const base = `${provider.opts.publicUrl}/@${name}`;
  const display = profile.success ? profile.data.name : name;
  const bio = profile.success ? profile.data.bio : '';
  const icon = profile.success && profile.data.avatar ? `data:${profile.data.avatarType ?? 'image/png'};base64,${toBase64(profile.data.avatar)}` : undefined;
  const notes = posts.slice(0, 100).map(({ id, post }) => ({
    id: `${base}/posts/${id}`,
    type: 'Note',
    attributedTo: base,
    content: post.text,
    published: new Date(post.createdAt).toISOString(),
    ...(post.replyTo ? { inReplyTo: `${provider.opts.publicUrl}/accounts/${post.replyTo.account}/posts/${post.replyTo.post}` } : {}),
  }));
  const json = {
    '@context': JSONLD_CONTEXT,
    id: base,
    type: 'Person',
    preferredUsername: name,
    name: display,
    summary: bio,
    url: base,
    ...(icon ? { icon } : {}),
    outbox: { id: `${base}/outbox`, type: 'OrderedCollection', totalItems: posts.length, orderedItems: notes },
  };
  const ld = JSON.stringify(json).replace(/</g, '\\u003c');
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(display)} (@${escape(entry.handle)})</title>
<script type="application/ld+json">${ld}</script>
<style>${STYLE}</style></head>
<body>
<header>${icon ? `<img src="${icon}" alt="">` : '<div class="ph"></div>'}<div><h1>${escape(display)}</h1><div class="handle">@${escape(entry.handle)}</div>${bio ? `<p class="bio">${escape(bio)}</p>` : ''}</div></header>
<main>
${notes.length ? notes.map((n) => `<article id="${escape(n.id.split('/').pop()!)}">${escape(n.content)}<time datetime="${n.published}">${n.published.replace('T', ' ').slice(0, 16)} UTC</time></article>`).join('\n') : '<p>No public posts yet.</p>'}
</main>
<footer>Account ${escape(account)} · served by ${escape(provider.host)}, which holds it as signed entries it cannot alter.</footer>
</body></html>`;
  return { json, html, style: STYLE };
}

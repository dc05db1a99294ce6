import { encodeCard, FreeholdError, fromId, reject, toId, type Device, type IdentityState } from '@freehold/core';
import { declareMirrors as mirrorAt, inboxSettings, resolveHandle } from '@freehold/client';
import { WS } from '../ws.js';
import { formatSize, parseSize } from '@freehold/server';
import { CommandLinks } from '../links.js';
import { AVATAR_SIDE, isLive, Microblog, refToString, storeAvatar, type Message, type Mirror, type PostRef, type Profile } from '@freehold/microblog';
import { accountByPrefix, postByPrefix } from '../prefixes.js';
import { itemJson, namesOf, postsView, printPosts } from '../post-view.js';
import type { Command, Context } from '../command.js';
import { avatarFromFile, imageInputs } from '../image-inputs.js';

/**
 * Asks this account's providers to mirror the spaces it reads or writes to that belong to other accounts (see
 * declareMirrors in packages/client). One the account moved away from is reported to `links`.
 */
export function declareMirrors(device: Device, urls: Iterable<string>, mirrors: Mirror[], links?: CommandLinks): Promise<void> {
  return mirrorAt(device, urls, mirrors, WS, (url, providers) => links?.moved(url, providers));
}

/** Brings other accounts' spaces in through this account's providers, which mirror them. */
async function fetchMirrored(device: Device, links: CommandLinks, mirrors: Mirror[]): Promise<void> {
  await declareMirrors(device, device.identity().providers, mirrors, links);
  await links.reconcile(mirrors.map((m) => m.space));
}

/** The microblog over this device: what it reads of other accounts comes through the account's own providers. */
function microblogOver(device: Device, links: CommandLinks): Microblog {
  const mb: Microblog = new Microblog(device, {
    resolve: (handle) => resolve(mb, handle),
    fetch: (mirrors) => fetchMirrored(device, links, mirrors),
  });
  return mb;
}

/** Asks these providers to mirror what the account follows: one added later then takes what it wrote there too. */
export async function declareFollowed(device: Device, links: CommandLinks, urls: string[]): Promise<void> {
  await declareMirrors(device, urls, await microblogOver(device, links).mirrors());
}

/**
 * Brings in what the account follows, through its providers' mirrors (the links have reconciled the account's
 * own spaces already): a recovered device then holds what the lost one did.
 */
export async function fetchFollowed(device: Device, links: CommandLinks): Promise<void> {
  const mirrors = await microblogOver(device, links).mirrors();
  if (mirrors.length) await fetchMirrored(device, links, mirrors);
}

/**
 * Runs a microblog command over links to this account's own providers, which mirror what it follows: each
 * reconciles first (fresh data in), and what the command wrote goes out over the same connections.
 */
export async function withMicroblog<T>(ctx: Context, f: (mb: Microblog, links: CommandLinks) => Promise<T>): Promise<T> {
  const p = await ctx.profile();
  p.requireDevice();
  const device = p.device;
  const own = () => device.identity().providers;
  const links = new CommandLinks(device, ctx, () => mb.interest());
  const mb = microblogOver(device, links);
  try {
    const declared = await mb.mirrors();
    await declareMirrors(device, own(), declared, links);
    await links.connect(own());
    await mb.ensure();
    await mb.absorbInbox();
    const result = await f(mb, links);
    // A new follow is mirrored from its author's providers from now on.
    const known = new Set(declared.map((m) => toId(m.space)));
    await declareMirrors(device, own(), (await mb.mirrors()).filter((m) => !known.has(toId(m.space))), links);
    await links.flush();
    return result;
  } finally {
    links.close();
  }
}

/**
 * name@host → the account. One followed under that handle whose log (kept fresh by this account's providers)
 * still claims it needs no lookup, so writing to someone you follow never touches their provider; anyone else
 * is looked up in the host's directory and checked against their own log, which is kept.
 */
async function resolve(mb: Microblog, handle: string): Promise<IdentityState> {
  const followed = (await mb.following()).find((f) => f.handle === handle);
  const known = followed && mb.device.replica.contact(fromId(followed.account, 'account'));
  if (known?.handles.includes(handle)) return known;
  const state = await resolveHandle(handle);
  await mb.device.replica.addCard(encodeCard(state));
  return state;
}

/** name@host, an account id, or the unique start of an account id this replica knows. */
export async function accountOf(mb: Microblog, ref: string): Promise<{ account: string; handle?: string }> {
  if (!ref.includes('@')) return { account: await accountByPrefix(mb, ref) };
  const handle = ref.toLowerCase();
  return { account: toId((await resolve(mb, handle)).account), handle };
}

/** What an inbox message says, after who sent it. */
function describe(m: Message): string {
  switch (m.type) {
    case 'dm':
      return `message: ${m.text}`;
    case 'follow-request':
      return 'asked to follow you';
    case 'follower-removed':
      return 'removed you from their followers';
    case 'like':
      return `liked ${refToString(m.post)}`;
    case 'unlike':
      return `took back their like of ${refToString(m.post)}`;
    case 'repost':
      return `reposted ${refToString(m.post)}`;
    case 'unrepost':
      return `took back their repost of ${refToString(m.post)}`;
    case 'reply':
      return `replied to ${refToString(m.post)} with ${refToString(m.reply)}`;
    case 'mention':
      return `mentioned you in ${refToString(m.post)}`;
  }
}

/** A post command's target (POST as `freehold feed` prints it, or the unique start of its id), checked to be held here. */
export async function heldPost(mb: Microblog, text: string): Promise<PostRef> {
  const ref = await postByPrefix(mb, text);
  if (!(await mb.getPost(ref))) reject('not-found', `no post ${text} in your replica (follow its author first)`);
  return ref;
}

export function positiveInt(v: unknown, flag: string, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 10_000) reject('invalid-argument', `${flag} must be a whole number from 1 to 10000`);
  return n;
}

export const microblogCommands: Command[] = [
  {
    name: 'profile',
    usage: 'profile [--name NAME] [--bio TEXT] [--avatar FILE] [--json]',
    summary:
      'Show or change your public microblog profile (the avatar: a PNG, JPEG, WebP or GIF image of up to 8 MiB, ' +
      `cropped and scaled to a square of ${AVATAR_SIDE} px).`,
    options: { name: { type: 'string' }, bio: { type: 'string' }, avatar: { type: 'string' }, json: { type: 'boolean' } },
    args: [0, 0],
    async run(ctx) {
      const avatar = ctx.values.avatar === undefined ? undefined : await avatarFromFile(ctx.values.avatar as string);
      const profile = await withMicroblog(ctx, async (mb) => {
        const fields: Partial<Omit<Profile, 'schema'>> = {};
        if (ctx.values.name !== undefined) fields.name = ctx.values.name as string;
        if (ctx.values.bio !== undefined) fields.bio = ctx.values.bio as string;
        if (avatar) fields.picture = await storeAvatar(mb, avatar);
        const handle = mb.device.identity().handles[0];
        if (handle) fields.handle = handle;
        return Object.keys(fields).length > (handle ? 1 : 0) || !(await mb.profile()) ? mb.setProfile(fields) : (await mb.profile())!;
      });
      const { avatar: _avatar, ...shown } = profile;
      if (ctx.values.json) return ctx.json(shown);
      ctx.out(`${profile.name}${profile.handle ? ` (${profile.handle})` : ''}${profile.bio ? `\n${profile.bio}` : ''}`);
    },
  },
  {
    name: 'post',
    usage: 'post TEXT [--image FILE [--alt TEXT]]… [--friends] [--reply-to POST] [--quote POST] [--json]',
    summary:
      'Publish a post (public, or --friends for approved followers only), maybe quoting a public post, with up to 4 ' +
      'PNG, JPEG, WebP or GIF images of up to 8 MiB, each described by the --alt after it. Prints its id, also when ' +
      'a provider refuses it (it stays on this device).',
    options: {
      friends: { type: 'boolean' },
      'reply-to': { type: 'string' },
      quote: { type: 'string' },
      image: { type: 'string', multiple: true },
      alt: { type: 'string', multiple: true },
      json: { type: 'boolean' },
    },
    args: [1, 1],
    async run(ctx) {
      const to = ctx.values['reply-to'] as string | undefined;
      const quote = ctx.values.quote as string | undefined;
      const images = await imageInputs(ctx);
      let made: PostRef | undefined;
      const ref = await withMicroblog(ctx, async (mb, links) => {
        made = await mb.post(ctx.args[0]!, {
          images,
          audience: ctx.values.friends ? 'friends' : 'public',
          replyTo: to === undefined ? undefined : await heldPost(mb, to),
          quoteOf: quote === undefined ? undefined : await heldPost(mb, quote),
        });
        links.wrote(`post ${made.post}`);
        return made;
      }).catch((e: unknown) => {
        // Made on this device, then refused on its way out: the error line names the post, and so does the JSON.
        if (made && ctx.values.json && e instanceof FreeholdError) {
          ctx.json({ id: refToString(made), error: { reason: e.reason, message: e.message } });
        }
        throw e;
      });
      if (ctx.values.json) return ctx.json({ id: refToString(ref) });
      ctx.out(refToString(ref));
    },
  },
  {
    name: 'follow',
    usage: 'follow NAME@host',
    summary: 'Follow an account: its posts join your feed, and it gets a request to let you see friends-only posts.',
    args: [1, 1],
    async run(ctx) {
      const { requested } = await withMicroblog(ctx, async (mb) => {
        const { account, handle } = await accountOf(mb, ctx.args[0]!);
        return mb.follow(account, handle);
      });
      ctx.out(`following ${ctx.args[0]}`);
      if (!requested) {
        ctx.out(`${ctx.args[0]} has not set up a microblog yet: you see their public posts once they write some, and your request to see friends-only posts goes out when they have (with your next command)`);
      }
    },
  },
  {
    name: 'unfollow',
    usage: 'unfollow NAME@host',
    summary: 'Stop following an account.',
    args: [1, 1],
    async run(ctx) {
      await withMicroblog(ctx, async (mb) => mb.unfollow((await accountOf(mb, ctx.args[0]!)).account));
      ctx.out(`no longer following ${ctx.args[0]}`);
    },
  },
  {
    name: 'feed',
    usage: 'feed [--json] [--limit N]',
    summary: 'Your timeline: posts of the accounts you follow and your own, newest first.',
    options: { json: { type: 'boolean' }, limit: { type: 'string' } },
    args: [0, 0],
    async run(ctx) {
      const limit = positiveInt(ctx.values.limit, '--limit', 20);
      const view = await withMicroblog(ctx, async (mb) => postsView(mb, await mb.feed({ limit })));
      if (ctx.values.json) return ctx.json(view.items.map((i) => itemJson(i, view.handles)));
      if (!view.items.some(isLive)) return ctx.out('nothing yet: `freehold post TEXT`, or `freehold follow NAME@host`');
      printPosts(ctx, view);
    },
  },
  {
    name: 'dm',
    usage: 'dm NAME@host TEXT',
    summary: 'Send a direct message, sealed so only the recipient can read it.',
    args: [2, 2],
    async run(ctx) {
      await withMicroblog(ctx, async (mb) => mb.dm((await accountOf(mb, ctx.args[0]!)).account, ctx.args[1]!));
      ctx.out(`sent to ${ctx.args[0]}`);
    },
  },
  {
    name: 'inbox',
    usage: 'inbox [--json] | inbox cap SIZE | inbox purge',
    summary:
      'Direct messages and notifications (replies, likes, mentions, follow requests), newest first. `cap` bounds what ' +
      'accounts your providers do not host may leave there (e.g. 2MiB); `purge` clears what others left so far, here and at every provider.',
    options: { json: { type: 'boolean' } },
    args: [0, 2],
    async run(ctx) {
      const [action, size] = ctx.args;
      if (action !== undefined) {
        if (!((action === 'cap' && size !== undefined) || (action === 'purge' && size === undefined))) {
          reject('invalid-argument', 'usage: freehold inbox cap SIZE | freehold inbox purge');
        }
        const cap = action === 'cap' ? parseSize(size!) : undefined;
        const results = await withMicroblog(ctx, async (mb, links) => {
          const at = Date.now();
          const out = [];
          // Those that could not be reached were warned about; running this again reaches them later.
          for (const url of mb.device.identity().providers.filter((u) => links.online(u))) {
            out.push({ provider: url, ...(await inboxSettings(url, mb.device, mb.spaces.inbox, { cap, purge: action === 'purge' })) });
          }
          if (!out.length) reject('unavailable', 'none of this account’s providers answered');
          return { providers: out, local: action === 'purge' ? await mb.purgeInbox(at) : 0 };
        });
        if (ctx.values.json) return ctx.json(results);
        for (const r of results.providers) ctx.out(`${r.provider}: cap ${formatSize(r.cap)}${action === 'purge' ? `, ${r.purged} entries purged` : ''}`);
        if (action === 'purge') ctx.out(`${results.local} entries cleared from this device`);
        return;
      }
      const { items, names } = await withMicroblog(ctx, async (mb) => {
        const items = await mb.moderation.notifications(await mb.inbox());
        return { items, names: await namesOf(mb, items.map((i) => i.message.from)) };
      });
      if (ctx.values.json) return ctx.json(items.map((i) => ({ id: i.id, ...i.message, at: new Date(i.message.at).toISOString() })));
      if (!items.length) return ctx.out('inbox is empty');
      // Senders by handle where known, else by their whole id: whatever is shown here, other commands take.
      for (const { message: m } of items) ctx.out(`${new Date(m.at).toLocaleString('en')}  ${names.get(m.from) ?? m.from}  ${describe(m)}`);
    },
  },
  {
    name: 'followers',
    usage: 'followers [--json] | followers approve|deny|remove ACCOUNT',
    summary: 'Follow requests and approved followers; approve lets one read friends-only posts, remove rotates the key.',
    options: { json: { type: 'boolean' } },
    args: [0, 2],
    async run(ctx) {
      const [action, who] = ctx.args;
      if (action !== undefined) {
        if (!['approve', 'deny', 'remove'].includes(action) || who === undefined) reject('invalid-argument', 'usage: freehold followers approve|deny|remove ACCOUNT');
        await withMicroblog(ctx, async (mb) => {
          const { account } = await accountOf(mb, who);
          if (action === 'approve') await mb.approve(account);
          else if (action === 'deny') await mb.deny(account);
          else await mb.removeFollower(account);
        });
        return ctx.out(`${action === 'approve' ? 'approved' : action === 'deny' ? 'denied' : 'removed'} ${who}`);
      }
      const list = await withMicroblog(ctx, (mb) => mb.followers());
      if (ctx.values.json) return ctx.json(list.map((f) => ({ ...f, since: new Date(f.since).toISOString() })));
      if (!list.length) return ctx.out('no followers or requests yet');
      for (const f of list) ctx.out(`${f.account}  ${f.handle ?? ''}  ${f.status}`);
    },
  },
];

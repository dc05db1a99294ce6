import { refToString } from '@freehold/microblog';
import type { Command } from '../command.js';
import { postByPrefix } from '../prefixes.js';
import { heldPost, withMicroblog } from './microblog.js';

/** What one does to a post after it is written: like, repost and their undoing; the author's edit and deletion. */
export const postActionCommands: Command[] = [
  {
    name: 'like',
    usage: 'like POST',
    summary: 'Like a post (POST as `freehold feed` prints it, or the start of its id). Liking it again changes nothing.',
    args: [1, 1],
    async run(ctx) {
      const ref = await withMicroblog(ctx, async (mb) => {
        const ref = await heldPost(mb, ctx.args[0]!);
        await mb.like(ref);
        return ref;
      });
      ctx.out(`liked ${refToString(ref)}`);
    },
  },
  {
    name: 'unlike',
    usage: 'unlike POST',
    summary: 'Take back your like of a post.',
    args: [1, 1],
    async run(ctx) {
      const ref = await withMicroblog(ctx, async (mb) => {
        const ref = await postByPrefix(mb, ctx.args[0]!);
        await mb.unlike(ref);
        return ref;
      });
      ctx.out(`unliked ${refToString(ref)}`);
    },
  },
  {
    name: 'repost',
    usage: 'repost POST',
    summary: 'Pass a public post on to your followers (once); its author sees the count.',
    args: [1, 1],
    async run(ctx) {
      const ref = await withMicroblog(ctx, async (mb) => mb.repost(await heldPost(mb, ctx.args[0]!)));
      ctx.out(refToString(ref));
    },
  },
  {
    name: 'unrepost',
    usage: 'unrepost POST',
    summary: 'Take back your repost of a post.',
    args: [1, 1],
    async run(ctx) {
      const ref = await withMicroblog(ctx, async (mb) => {
        const ref = await postByPrefix(mb, ctx.args[0]!);
        await mb.unrepost(ref);
        return ref;
      });
      ctx.out(`unreposted ${refToString(ref)}`);
    },
  },
  {
    name: 'edit',
    usage: 'edit POST TEXT',
    summary: 'Replace the text of one of your posts; readers see it marked as edited.',
    args: [2, 2],
    async run(ctx) {
      const ref = await withMicroblog(ctx, async (mb) => {
        const ref = await postByPrefix(mb, ctx.args[0]!);
        await mb.editPost(ref, ctx.args[1]!);
        return ref;
      });
      ctx.out(`edited ${refToString(ref)}`);
    },
  },
  {
    name: 'delete',
    usage: 'delete POST',
    summary: 'Delete one of your posts: its text and its images go from every replica that syncs (an image another post or the profile shows stays), a tombstone stays.',
    args: [1, 1],
    async run(ctx) {
      const ref = await withMicroblog(ctx, async (mb) => {
        const ref = await postByPrefix(mb, ctx.args[0]!);
        await mb.deletePost(ref);
        return ref;
      });
      ctx.out(`deleted ${refToString(ref)}`);
    },
  },
];

import type { Command } from '../command.js';
import { accountOf, withMicroblog } from './microblog.js';

const ACTIONS = {
  block: { done: 'blocked', summary: 'Block an account: what it sends you (requests, replies, mentions, likes, reposts, messages) is dropped and it leaves your friends.' },
  unblock: { done: 'unblocked', summary: 'Take a block back: what the account sends shows again (it is not a follower again until you approve it).' },
  mute: { done: 'muted', summary: 'Mute an account: its posts and notifications are hidden from you; nothing else changes.' },
  unmute: { done: 'unmuted', summary: 'Take a mute back: its posts and notifications show again.' },
} as const;

const actionCommand = (name: keyof typeof ACTIONS): Command => ({
  name,
  usage: `${name} NAME@host`,
  summary: `${ACTIONS[name].summary} NAME@host, an account id or the unique start of one.`,
  args: [1, 1],
  async run(ctx) {
    await withMicroblog(ctx, async (mb) => {
      const { account, handle } = await accountOf(mb, ctx.args[0]!);
      const m = mb.moderation;
      if (name === 'block') await m.block(account, handle);
      else if (name === 'mute') await m.mute(account, handle);
      else if (name === 'unblock') await m.unblock(account);
      else await m.unmute(account);
    });
    ctx.out(`${ACTIONS[name].done} ${ctx.args[0]}`);
  },
});

/** Block and mute lists: kept in the account's private space, so every device of it (and no one else) has them. */
export const moderationCommands: Command[] = [
  actionCommand('block'),
  actionCommand('unblock'),
  actionCommand('mute'),
  actionCommand('unmute'),
  {
    name: 'blocked',
    usage: 'blocked [--json]',
    summary: 'The accounts you blocked and those you muted, with since when.',
    options: { json: { type: 'boolean' } },
    args: [0, 0],
    async run(ctx) {
      const { blocked, muted } = await withMicroblog(ctx, (mb) => mb.moderation.lists());
      const rows = (m: typeof blocked | typeof muted) => [...m.values()].map((r) => ({ account: r.account, handle: r.handle ?? null, since: new Date(r.since).toISOString() }));
      if (ctx.values.json) return ctx.json({ blocked: rows(blocked), muted: rows(muted) });
      if (!blocked.size && !muted.size) return ctx.out('you have blocked and muted no one');
      for (const [what, list] of [['blocked', rows(blocked)], ['muted', rows(muted)]] as const) {
        for (const r of list) ctx.out(`${what}  ${r.handle ?? r.account}  since ${new Date(r.since).toLocaleString('en')}`);
      }
    },
  },
];

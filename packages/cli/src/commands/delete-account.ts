import { FreeholdError, reject } from '@freehold/core';
import { deleteAccount } from '@freehold/client';
import { closeAccount } from '@freehold/microblog';
import type { Command } from '../command.js';
import { withMicroblog } from './microblog.js';

/** Deleting an account (see deleteAccount, packages/client): what contacts read is emptied, then providers drop the rest. */
export const deleteAccountCommand: Command = {
  name: 'account delete',
  usage: 'account delete --yes [--json]',
  summary:
    'Delete this account: every post becomes a tombstone, the profile says it was deleted, and every provider of the account drops what it holds of it (its spaces, what others sent to it, its handles). Cannot be undone; --yes says you mean it.',
  options: { yes: { type: 'boolean' }, json: { type: 'boolean' } },
  args: [0, 0],
  async run(ctx) {
    if (!ctx.values.yes) reject('invalid-argument', 'deleting an account cannot be undone: run `freehold account delete --yes` to go ahead');
    let posts = 0;
    const device = (await ctx.profile()).device;
    const results = await deleteAccount(device, async () => {
      posts = (await withMicroblog(ctx, (mb) => closeAccount(mb))).posts;
    });
    const failed = results.filter((r) => r.error !== undefined);
    if (ctx.values.json) ctx.json({ posts, providers: results, complete: failed.length === 0 });
    else {
      ctx.out(`${posts} post${posts === 1 ? '' : 's'} deleted, profile marked deleted`);
      for (const r of results) ctx.out(r.error === undefined ? `${r.provider}: deleted ${r.entries} entries in ${r.spaces} spaces` : `${r.provider}: not deleted: ${r.error}`);
    }
    if (failed.length) throw new FreeholdError('unavailable', `${failed.map((r) => r.provider).join(', ')} still hold${failed.length === 1 ? 's' : ''} the account: run \`freehold account delete --yes\` again`);
    if (!ctx.values.json) ctx.out(`this device still holds its own copy in ${ctx.home}: remove that folder to forget it here too`);
  },
};

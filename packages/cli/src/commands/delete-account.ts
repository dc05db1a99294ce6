import { FreeholdError, reject, utf8, fromUtf8 } from '@freehold/core';
import { deleteAccountAt } from '@freehold/client';
import { closeAccount } from '@freehold/microblog';
import type { Command } from '../command.js';
import { withMicroblog } from './microblog.js';

const DELETING = 'account-deletion';

interface ProviderResult {
  provider: string;
  spaces?: number;
  entries?: number;
  error?: string;
}

/**
 * Deleting an account: its posts and profile are emptied where contacts read them, then every provider of it
 * drops what it holds. A provider that could not be reached still holds it; running the command again finishes.
 */
export const deleteAccountCommand: Command = {
  name: 'account delete',
  usage: 'account delete --yes [--json]',
  summary:
    'Delete this account: every post becomes a tombstone, the profile says it was deleted, and every provider of the account drops what it holds of it (its spaces, what others sent to it, its handles). Cannot be undone; --yes says you mean it.',
  options: { yes: { type: 'boolean' }, json: { type: 'boolean' } },
  args: [0, 0],
  async run(ctx) {
    if (!ctx.values.yes) reject('invalid-argument', 'deleting an account cannot be undone: run `freehold account delete --yes` to go ahead');
    const device = (await ctx.profile()).device;
    // Once the log lists no provider, the command remembers them here, so that running it again finishes.
    const held = await device.store.getMeta(DELETING);
    const providers = held ? (JSON.parse(fromUtf8(held)) as string[]) : device.identity().providers;
    const posts = held ? 0 : (await withMicroblog(ctx, (mb) => closeAccount(mb))).posts;
    if (!held) {
      await device.store.setMeta(DELETING, utf8(JSON.stringify(providers)));
      // A log that lists a provider is consent to be hosted there: each provider is shown one that does not.
      await device.setHandles([]);
      await device.setProviders([]);
    }
    const results: ProviderResult[] = [];
    for (const provider of providers) {
      try {
        results.push({ provider, ...(await deleteAccountAt(provider, device)) });
      } catch (e) {
        results.push({ provider, error: e instanceof Error ? e.message : String(e) });
      }
    }
    const failed = results.filter((r) => r.error !== undefined);
    if (ctx.values.json) ctx.json({ posts, providers: results, complete: failed.length === 0 });
    else {
      ctx.out(`${posts} post${posts === 1 ? '' : 's'} deleted, profile marked deleted`);
      for (const r of results) ctx.out(r.error === undefined ? `${r.provider}: deleted ${r.entries} entries in ${r.spaces} spaces` : `${r.provider}: not deleted: ${r.error}`);
    }
    const remaining = failed.map((r) => r.provider);
    if (remaining.length) await device.store.setMeta(DELETING, utf8(JSON.stringify(remaining)));
    if (failed.length) throw new FreeholdError('unavailable', `${failed.map((r) => r.provider).join(', ')} still hold${failed.length === 1 ? 's' : ''} the account: run \`freehold account delete --yes\` again`);
    if (!ctx.values.json) ctx.out(`this device still holds its own copy in ${ctx.home}: remove that folder to forget it here too`);
  },
};

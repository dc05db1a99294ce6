import { encodeCard, fromId, reject, toId } from '@freehold/core';
import {
  claimHandle,
  hostOf,
  othersServe,
  outbox,
  providerInfo,
  providerStates,
  providerUrl,
  refreshLog,
  register,
  resolveHandle,
  type OutboxItem,
  type ProviderState,
} from '@freehold/client';
import { formatSize } from '@freehold/server';
import { ready, type Command } from '../command.js';
import { CommandLinks, printReport } from '../links.js';
import type { Profile } from '../profile.js';
import { declareFollowed } from './microblog.js';


export { providerUrl };

/**
 * Resolves an account argument: an account id (its log fetched from this account's providers if the replica
 * does not have it yet), or name@host looked up and verified. The log is kept either way.
 */
export async function accountRef(p: Profile, ref: string): Promise<Uint8Array> {
  if (!ref.includes('@')) {
    const account = fromId(ref, 'account');
    if (!p.device.replica.contact(account) && !(await refreshLog(p.device, account, p.device.identity().providers))) {
      reject('not-found', `no contact card for ${ref}, and none of your providers knows that account (\`freehold contact add FILE\`)`);
    }
    return account;
  }
  const state = await resolveHandle(ref);
  await p.device.replica.addCard(encodeCard(state));
  return state.account;
}

function meaning(x: ProviderState, others: boolean): string {
  switch (x.status) {
    case 'current':
      return 'holds this account and its current identity log';
    case 'behind':
      return 'holds an older identity log of this account; it catches up from this device and the other providers';
    case 'ahead':
      return 'holds a newer identity log than this device (another device changed it): `freehold sync`';
    case 'missing':
      return 'answers but holds nothing of this account (it lost its data, or has not caught up yet); it takes the account back from its other providers';
    case 'unreachable':
      return others
        ? `no answer (${x.error}). Nothing is lost: the other providers hold the account and serve its contacts; \`freehold provider remove ${x.url}\` if it does not come back`
        : `no answer (${x.error}). No provider of this account answers now: this device keeps everything and syncs when one is back`;
  }
}

export const providerCommands: Command[] = [
  {
    name: 'provider add',
    usage: 'provider add URL',
    summary: 'Register this account with a provider (a signed request), list it in the identity log and sync with it.',
    args: [1, 1],
    async run(ctx) {
      const p = await ready(ctx);
      // The provider may be reached under another name than its own (127.0.0.1 for localhost): the log lists
      // the canonical URL from its provider document.
      const { url } = await providerInfo(providerUrl(ctx.args[0]!));
      const providers = p.device.identity().providers;
      if (!providers.includes(url)) await p.device.setProviders([...providers, url]);
      const acct = await register(url, p.device);
      ctx.out(`registered with ${url} (quota ${formatSize(acct.quota)}, ${formatSize(acct.used)} used)`);
      const links = new CommandLinks(p.device, ctx);
      try {
        // Before syncing: what this account wrote in the spaces of accounts it follows is then a mirror's to keep,
        // not refused as belonging to accounts the provider does not host.
        await declareFollowed(p.device, links, [url]);
        // The other providers are synced too: each hello carries the grown log, so a device of the account that
        // syncs with any of them learns of the new provider (one that does not answer costs a warning).
        const reports = await links.connect(p.device.identity().providers, url);
        for (const r of reports) if (r.url === url) printReport(r, ctx.out);
      } finally {
        links.close();
      }
    },
  },
  {
    name: 'outbox',
    usage: 'outbox [--json]',
    summary: 'What you wrote into other people\u2019s spaces (messages, replies, likes) and whether their providers have it: pending, delivered or failed.',
    options: { json: { type: 'boolean' } },
    args: [0, 0],
    async run(ctx) {
      const p = await ready(ctx);
      const rows: (OutboxItem & { provider: string })[] = [];
      for (const url of p.device.identity().providers) {
        try {
          for (const item of await outbox(url, p.device)) rows.push({ provider: url, ...item });
        } catch (e) {
          ctx.err(`${hostOf(url)}: ${(e as Error).message} (skipped)`);
        }
      }
      rows.sort((a, b) => b.time - a.time);
      if (ctx.values.json) return ctx.json(rows);
      if (!rows.length) return ctx.out('nothing sent to other providers yet');
      for (const r of rows) {
        const d = r.delivery;
        const state = d.state === 'delivered' ? `delivered to ${hostOf(d.to)}` : d.state === 'failed' ? `failed at ${hostOf(d.to)}: ${d.message} [${d.reason}]` : 'pending';
        ctx.out(`${new Date(r.time).toLocaleString('en')}  ${r.entry.slice(0, 12)}  ${state}`);
      }
    },
  },
  {
    name: 'provider list',
    usage: 'provider list [--json]',
    summary:
      'List the providers of this account and whether each answers now: current (holds this account\u2019s current identity log), ' +
      'behind or ahead (holds an older or newer one), missing (answers but holds nothing of the account), unreachable.',
    options: { json: { type: 'boolean' } },
    args: [0, 0],
    async run(ctx) {
      const p = await ready(ctx);
      const me = p.device.identity();
      const list = await providerStates(me);
      if (ctx.values.json) return ctx.json(list);
      if (!list.length) return ctx.out('no providers yet: `freehold provider add URL`');
      for (const x of list) ctx.out(`${x.url}  ${x.status}: ${meaning(x, othersServe(list, x.url))}`);
    },
  },
  {
    name: 'provider remove',
    usage: 'provider remove URL',
    summary: 'Stop using a provider (it is removed from the identity log; your replicas keep everything).',
    args: [1, 1],
    async run(ctx) {
      const p = await ready(ctx);
      const url = providerUrl(ctx.args[0]!);
      const list = p.device.identity().providers;
      if (!list.includes(url)) reject('not-found', `${url} is not a provider of this account`);
      await p.device.setProviders(list.filter((u) => u !== url));
      ctx.out(`removed ${url}`);
    },
  },
  {
    name: 'handle claim',
    usage: 'handle claim NAME [--provider URL]',
    summary: 'Make this account reachable as NAME@host at a provider (the claim is signed in the identity log).',
    options: { provider: { type: 'string' } },
    args: [1, 1],
    async run(ctx) {
      const p = await ready(ctx);
      const providers = p.device.identity().providers;
      const url = ctx.values.provider ? providerUrl(ctx.values.provider as string) : providers[0];
      if (!url) reject('not-found', 'add a provider first: `freehold provider add URL`');
      if (!providers.includes(url)) reject('invalid-argument', `${url} is not a provider of this account (\`freehold provider add ${url}\`)`);
      const name = ctx.args[0]!.toLowerCase();
      const handle = `${name}@${(await providerInfo(url)).host}`;
      const handles = p.device.identity().handles;
      if (!handles.includes(handle)) await p.device.setHandles([...handles, handle]);
      try {
        await claimHandle(url, p.device, name);
      } catch (e) {
        // Keep the signed log truthful: a handle the provider refused is not ours.
        await p.device.setHandles(p.device.identity().handles.filter((h) => h !== handle));
        throw e;
      }
      ctx.out(handle);
    },
  },
  {
    name: 'resolve',
    usage: 'resolve NAME@host [--json]',
    summary: 'Look up a handle and verify it against the account’s own signed identity log.',
    options: { json: { type: 'boolean' } },
    args: [1, 1],
    async run(ctx) {
      const state = await resolveHandle(ctx.args[0]!);
      const info = {
        handle: ctx.args[0]!.toLowerCase(),
        account: toId(state.account),
        devices: [...state.devices.values()].filter((d) => !d.revoked).map((d) => toId(d.device)),
        providers: state.providers,
      };
      if (ctx.values.json) return ctx.json(info);
      ctx.out(`${info.handle} → ${info.account} (verified; ${info.devices.length} device${info.devices.length === 1 ? '' : 's'})`);
    },
  },
];

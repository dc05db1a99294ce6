import {
  beginRecovery,
  encodeCard,
  fromId,
  reject,
  requireCurrentPhrase,
  toId,
  type IdentityState,
  type PendingRecovery,
} from '@freehold/core';
import { phraseToSecret } from '@freehold/core/words';
import { findLog, hostOf, providerInfo } from '@freehold/client';
import type { Command, Context } from '../command.js';
import { readInput } from '../files.js';
import { CommandLinks, printReport } from '../links.js';
import { hasProfile, Profile } from '../profile.js';
import { providerUrl } from './provider.js';
import { nameHeldSpaces } from './spaces.js';
import { fetchFollowed } from './microblog.js';

/** Where `recover` looks first when no --provider is given and $FREEHOLD_PROVIDERS is unset: the provider `npm start` runs. */
const DEFAULT_PROVIDER = 'http://localhost:8787';

/** The phrase, from --phrase-file or stdin: never from the command line, where shell history and `ps` would keep it. */
async function readPhrase(ctx: Context): Promise<string> {
  if (ctx.args.length) {
    reject('invalid-argument', 'the recovery phrase is read from stdin or --phrase-file, never from the command line (shell history keeps it)');
  }
  const file = ctx.values['phrase-file'] as string | undefined;
  const phrase = (file ? readInput(file).toString('utf8') : await ctx.stdin()).trim();
  if (!phrase) reject('bad-phrase', file ? `${file} holds no recovery phrase` : 'no recovery phrase on stdin (pipe the 24 words in, or use --phrase-file FILE)');
  return phrase;
}

/**
 * Providers to ask first: --provider, else $FREEHOLD_PROVIDERS (comma or space separated), else the default; each
 * under its canonical name when it answers, the name identity logs list it by.
 */
async function firstProviders(ctx: Context): Promise<string[]> {
  const named = (ctx.values.provider as string[] | undefined) ?? [];
  const env = (process.env.FREEHOLD_PROVIDERS ?? '').split(/[\s,]+/).filter(Boolean);
  const urls = (named.length ? named : env.length ? env : [DEFAULT_PROVIDER]).map(providerUrl);
  return Promise.all(urls.map((u) => providerInfo(u).then((info) => info.url, () => u)));
}

/** The account's newest identity log from the providers, or a one-line reason why there is none. */
async function locate(account: Uint8Array, first: string[]): Promise<{ state: IdentityState; sources: string[] }> {
  const found = await findLog(account, first);
  if (found.state) return { state: found.state, sources: found.holders };
  if (!found.answered.length) {
    return reject('unavailable', `cannot reach a provider to recover from (${found.unreachable.map((u) => `${hostOf(u.url)}: ${u.error}`).join('; ')})`);
  }
  return reject(
    'not-found',
    `no provider knows account ${toId(account)}, the one this phrase names (asked ${found.answered.map(hostOf).join(', ')}): ` +
      'check the words, name the account\u2019s provider with --provider URL, or add --account ACCOUNT for a replaced phrase',
  );
}

/**
 * Recovery through the providers: finds the account's log, adds this device to it (the recovery key vouches
 * for it), publishes the grown log and takes every space the providers hold for the account.
 */
async function recoverOnline(ctx: Context, pending: PendingRecovery, name: string): Promise<void> {
  const { state, sources } = await locate(pending.account, await firstProviders(ctx));
  requireCurrentPhrase(state, pending);
  const providers = state.providers.length ? state.providers : sources;
  ctx.out(`found account ${toId(pending.account)} (${state.records.length} log records) at ${sources.map(hostOf).join(', ')}`);
  const profile = await Profile.create(ctx.home, pending.account, pending.device, name, pending);
  try {
    await profile.device.replica.addCard(encodeCard(state));
    await profile.finishRecovery();
    ctx.out(`added this device ${toId(pending.device.sign.publicKey)} to the account`);
    const links = new CommandLinks(profile.device, ctx);
    try {
      const reports = await links.connect(providers).catch((e: Error) =>
        reject('unavailable', `this device is part of the account, but none of its providers answered (${e.message}): run \`freehold sync\` once one is back`),
      );
      for (const r of reports) printReport(r, ctx.out);
      await fetchFollowed(profile.device, links);
      await nameHeldSpaces(profile);
      const spaces = await profile.device.store.spaces();
      ctx.out(`recovered: ${spaces.length} space${spaces.length === 1 ? '' : 's'} from ${reports.map((r) => hostOf(r.url)).join(', ')}`);
    } finally {
      links.close();
    }
  } finally {
    await profile.close();
  }
}

export const recoverCommand: Command = {
  name: 'recover',
  usage: 'recover [--provider URL]... [--phrase-file FILE] [--name NAME] [--account ACCOUNT] [--offline] < phrase',
  summary:
    'Make this (empty) profile a new device of the account the recovery phrase names, and take all its data from its providers. ' +
    'The phrase comes from stdin or --phrase-file. The account is looked for at --provider, else $FREEHOLD_PROVIDERS, else ' +
    `${DEFAULT_PROVIDER}, then at every provider its identity log names. --account names an account whose phrase was replaced ` +
    '(a new phrase does not name it). --offline only prepares the device: finish with `import FILE` or `sync --with DIR`.',
  options: {
    provider: { type: 'string', multiple: true },
    'phrase-file': { type: 'string' },
    name: { type: 'string' },
    account: { type: 'string' },
    offline: { type: 'boolean' },
  },
  args: [0, 24],
  async run(ctx) {
    if (hasProfile(ctx.home)) reject('invalid-argument', `a profile already exists in ${ctx.home} (recover into an empty --home)`);
    if (ctx.values.offline && ctx.values.provider) reject('invalid-argument', '--offline and --provider do not go together');
    const secret = phraseToSecret(await readPhrase(ctx));
    const name = (ctx.values.name as string | undefined) ?? 'me';
    const account = ctx.values.account ? fromId(ctx.values.account as string, 'account') : undefined;
    const pending = beginRecovery(secret, `${name}'s recovered device`, account);
    if (!ctx.values.offline) return recoverOnline(ctx, pending, name);
    const profile = await Profile.create(ctx.home, pending.account, pending.device, name, pending);
    await profile.close();
    ctx.out(`recovering account ${toId(pending.account)} on new device ${toId(pending.device.sign.publicKey)}`);
    ctx.out('next: `freehold import FILE` (an export) or `freehold sync --with DIR` (another replica) to finish');
  },
};

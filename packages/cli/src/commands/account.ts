import { writeFileSync } from 'node:fs';
import {
  createAccount,
  decodeCard,
  deviceOf,
  encodeCard,
  MAX_DEVICE_NAME,
  reject,
  toId,
  type Device,
} from '@freehold/core';
import { secretToPhrase } from '@freehold/core/words';
import { ready, type Command, type Context } from '../command.js';
import { hasProfile, Profile } from '../profile.js';
import { readInput, writeOutput } from '../files.js';
import { CommandLinks } from '../links.js';
import { unique } from '../prefixes.js';

function identityOf(device: Device) {
  const me = device.identity();
  return [...me.devices.values()].map((d) => ({
    device: toId(d.device),
    name: d.name,
    revoked: d.revoked !== undefined,
    current: toId(d.device) === toId(device.id),
  }));
}

/** A device of this account by its id or the unique start of one, as `device list` prints them. */
function deviceByPrefix(device: Device, text: string): Uint8Array {
  const all = [...device.identity().devices.values()].map((d) => [toId(d.device), d.device] as [string, Uint8Array]);
  return all.find(([id]) => id === text)?.[1] ?? unique(text, all, 'device id');
}

/**
 * Changes this account's identity log on the newest copy of it (one made on a stale copy would fork the log),
 * then hands the grown log, and any entries the change wrote, to the account's providers. An account without a
 * provider changes here only.
 */
async function changeLog<T>(ctx: Context, change: (device: Device) => Promise<T>): Promise<T> {
  const p = await ready(ctx);
  const providers = p.device.identity().providers;
  if (!providers.length) return change(p.device);
  const links = new CommandLinks(p.device, ctx);
  try {
    await links.connect(providers);
    const result = await change(p.device);
    // A reconciliation's hello carries the account's log; rotated spaces' entries follow with the flush.
    await links.reconcile([]);
    await links.flush();
    return result;
  } finally {
    links.close();
  }
}

function showPhrase(ctx: Context, phrase: string): void {
  const file = ctx.values['phrase-file'] as string | undefined;
  if (file) {
    writeFileSync(file, `${phrase}\n`, { mode: 0o600 });
    ctx.out(`recovery phrase written to ${file} (keep it offline; it is the only way back if this device is lost)`);
  } else {
    ctx.out('');
    ctx.out('Recovery phrase (shown once; write it down and keep it offline):');
    ctx.out(`  ${phrase}`);
  }
}

export const accountCommands: Command[] = [
  {
    name: 'init',
    usage: 'init [--name NAME] [--phrase-file FILE]',
    summary: 'Create a new account on this device. Prints the account id and, once, the 24-word recovery phrase.',
    options: { name: { type: 'string' }, 'phrase-file': { type: 'string' } },
    args: [0, 0],
    async run(ctx) {
      if (hasProfile(ctx.home)) reject('invalid-argument', `a profile already exists in ${ctx.home} (use --home DIR for another)`);
      const name = (ctx.values.name as string | undefined) ?? 'me';
      const acct = createAccount(`${name}'s device`, Date.now());
      const profile = await Profile.create(ctx.home, acct.state.account, acct.device, name);
      await profile.device.replica.commitIdentity(acct.state);
      await profile.close();
      ctx.out(`account ${toId(acct.state.account)}`);
      showPhrase(ctx, secretToPhrase(acct.recoverySecret));
    },
  },
  {
    name: 'recovery rotate',
    usage: 'recovery rotate [--phrase-file FILE]',
    summary: 'Replace the recovery phrase; the old one stops working. Prints the new phrase once (or writes it to FILE, mode 600).',
    options: { 'phrase-file': { type: 'string' } },
    args: [0, 0],
    async run(ctx) {
      const p = await ready(ctx);
      showPhrase(ctx, secretToPhrase(await p.device.rotateRecovery()));
      ctx.out(`to recover with it later: freehold recover --account ${toId(p.device.account)} (the new phrase does not name the account)`);
    },
  },
  {
    name: 'whoami',
    usage: 'whoami [--json]',
    summary: 'Show this profile’s account id, device id and name.',
    options: { json: { type: 'boolean' } },
    args: [0, 0],
    async run(ctx) {
      const p = await ctx.profile();
      const info = { account: toId(p.device.account), device: toId(p.device.id), name: p.name };
      if (ctx.values.json) ctx.json(info);
      else ctx.out(`account ${info.account}\ndevice  ${info.device}\nname    ${info.name}${p.recovering ? '\n(recovery not finished: import or sync)' : ''}`);
    },
  },
  {
    name: 'card',
    usage: 'card [FILE]',
    summary: 'Write this account’s contact card (its signed identity log) to FILE or stdout.',
    args: [0, 1],
    async run(ctx) {
      const p = await ctx.profile();
      p.requireDevice();
      writeOutput(ctx.args[0], Buffer.from(encodeCard(p.device.identity())).toString('base64'), ctx.out);
    },
  },
  {
    name: 'contact add',
    usage: 'contact add FILE',
    summary: 'Verify another account’s contact card and keep it, so the account can be added to spaces.',
    args: [1, 1],
    async run(ctx) {
      const p = await ctx.profile();
      const text = readInput(ctx.args[0]!).toString('utf8').trim();
      const bytes = Buffer.from(text, 'base64');
      if (!/^[A-Za-z0-9+/=\s]+$/.test(text) || bytes.length === 0) reject('malformed', `${ctx.args[0]} is not a contact card (expected the output of \`freehold card\`)`);
      const state = decodeCard(new Uint8Array(bytes));
      await p.device.replica.addCard(new Uint8Array(bytes));
      ctx.out(`contact ${toId(state.account)} added (${state.devices.size} device${state.devices.size === 1 ? '' : 's'})`);
    },
  },
  {
    name: 'device list',
    usage: 'device list [--json]',
    summary: 'List the devices of this account.',
    options: { json: { type: 'boolean' } },
    args: [0, 0],
    async run(ctx) {
      const p = await ctx.profile();
      p.requireDevice();
      const list = identityOf(p.device);
      if (ctx.values.json) return ctx.json(list);
      for (const d of list) ctx.out(`${d.device}  ${d.name}${d.current ? '  (this device)' : ''}${d.revoked ? '  [revoked]' : ''}`);
    },
  },
  {
    name: 'device revoke',
    usage: 'device revoke DEVICE',
    summary: 'Revoke a device of this account and rotate the keys of every space this account administers.',
    args: [1, 1],
    async run(ctx) {
      const rotated = await changeLog(ctx, (device) => device.revokeDevice(deviceByPrefix(device, ctx.args[0]!)));
      ctx.out(`device ${ctx.args[0]} revoked; rotated keys of ${rotated.length} space${rotated.length === 1 ? '' : 's'}`);
    },
  },
  {
    name: 'device rename',
    usage: 'device rename DEVICE NAME',
    summary: `Give a device of this account (this one or another; its id or the unique start of it) a new name, shown on every device (at most ${MAX_DEVICE_NAME} characters).`,
    args: [2, 2],
    async run(ctx) {
      const name = await changeLog(ctx, async (device) => {
        const target = deviceByPrefix(device, ctx.args[0]!);
        await device.renameDevice(target, ctx.args[1]!);
        return deviceOf(device.identity(), target)!.name;
      });
      ctx.out(`device ${ctx.args[0]} is now named “${name}”`);
    },
  },
];


import { resolve } from 'node:path';
import { exportReplica, readExport, reject, SyncSession, syncPair, toId } from '@freehold/core';
import type { Command } from '../command.js';
import { Profile, resolveHome } from '../profile.js';
import { CommandLinks, printReport, watchProviders } from '../links.js';
import { readInput } from '../files.js';
import { followLog } from '@freehold/client';
import { writeFileSync } from 'node:fs';

const kb = (n: number) => (n < 1024 ? `${n} B` : `${(n / 1024).toFixed(1)} KB`);

export const replicaCommands: Command[] = [
  {
    name: 'sync',
    usage: 'sync [--with DIR] [--watch]',
    summary: 'Reconcile with every provider of the account (or, with --with, the profile in DIR), both ways. --watch stays connected and applies live entries until interrupted.',
    options: { with: { type: 'string' }, watch: { type: 'boolean' } },
    args: [0, 0],
    async run(ctx) {
      const dir = ctx.values.with as string | undefined;
      if (!dir) {
        const p = await ctx.profile();
        p.requireDevice();
        const providers = p.device.identity().providers;
        if (!providers.length) reject('not-found', 'this account has no provider: `freehold provider add URL`, or `freehold sync --with DIR`');
        if (ctx.values.watch) return watchProviders(p.device, providers, ctx);
        const links = new CommandLinks(p.device, ctx);
        try {
          for (const r of await links.connect(providers)) printReport(r, ctx.out);
          // Keys of spaces a revoked device could read are replaced; the new epochs go out at once.
          if ((await p.device.rotateStale()).length) await links.flush();
        } finally {
          links.close();
        }
        return;
      }
      if (ctx.values.watch) reject('invalid-argument', '--watch works with providers, not with --with');
      const other = resolveHome(dir);
      if (other === ctx.home) reject('invalid-argument', '--with names this same profile');
      const me = await ctx.profile();
      const peer = await Profile.open(other);
      try {
        const mine = new SyncSession(me.device.replica, { account: me.device.account });
        const theirs = new SyncSession(peer.device.replica, { account: peer.device.account });
        const { roundTrips } = await syncPair(mine, theirs);
        const recovered = (await me.finishRecovery()) || (await peer.finishRecovery());
        if (recovered) await syncPair(new SyncSession(me.device.replica, { account: me.device.account }), new SyncSession(peer.device.replica, { account: peer.device.account }));
        const s = mine.stats;
        ctx.out(`synced with ${other}: received ${s.entriesReceived} entries, sent ${s.entriesSent} (${kb(s.bytesSent + s.bytesReceived)} in ${roundTrips} round trips)`);
        if (s.entriesRejected || theirs.stats.entriesRejected) ctx.out(`rejected: ${s.entriesRejected} here, ${theirs.stats.entriesRejected} there (invalid or not allowed)`);
        if (recovered) ctx.out('recovery finished: this device is now part of the account');
      } finally {
        await peer.close();
      }
    },
  },
  {
    name: 'export',
    usage: 'export FILE',
    summary: 'Write everything this replica holds (entries, identity and membership logs; never a secret key) to FILE.',
    args: [1, 1],
    async run(ctx) {
      const p = await ctx.profile();
      const out = await exportReplica(p.device.store, p.device.account);
      const file = resolve(ctx.args[0]!);
      writeFileSync(file, out.bytes);
      ctx.out(`exported ${out.entries} entries and ${out.cards} identity logs to ${file}`);
    },
  },
  {
    name: 'import',
    usage: 'import FILE',
    summary: 'Validate and merge an export into this replica (finishes a pending recovery).',
    args: [1, 1],
    async run(ctx) {
      const raw = readInput(ctx.args[0]!);
      const { account, cards, entries } = readExport(new Uint8Array(raw), ctx.args[0]!);
      const p = await ctx.profile();
      for (const c of cards) await p.device.replica.addCard(c);
      // The export may predate changes to the log (a move to another provider): a recovery appended to an old log
      // would fork it, so the newest is fetched from the providers it names first.
      const named = p.device.replica.contact(p.device.account)?.providers.length ?? 0;
      if (p.recovering && named > 0 && !(await followLog(p.device, p.device.account))) {
        ctx.err('freehold: warning: no provider the exported log names could be asked for a newer one; finishing the recovery on the exported log');
      }
      const recovered = await p.finishRecovery();
      let stored = 0;
      let duplicate = 0;
      const rejected = new Map<string, number>();
      let waiting: Uint8Array[] = [];
      for (let i = 0; i < entries.length; i += 2000) waiting.push(...entries.slice(i, i + 2000));
      // Entries whose dependencies come later in the file are retried until nothing more can be stored.
      for (;;) {
        const retry: Uint8Array[] = [];
        for (let i = 0; i < waiting.length; i += 2000) {
          const batch = waiting.slice(i, i + 2000);
          const results = await p.device.replica.ingest(batch);
          results.forEach((res, j) => {
            if (res.ok) stored++;
            else if (res.reason === 'duplicate') duplicate++;
            else if (res.reason === 'missing-dependency') retry.push(batch[j]!);
            else rejected.set(res.reason!, (rejected.get(res.reason!) ?? 0) + 1);
          });
        }
        if (!retry.length || retry.length === waiting.length) {
          if (retry.length) rejected.set('missing-dependency', retry.length);
          break;
        }
        waiting = retry;
      }
      ctx.out(`imported ${stored} entries (${duplicate} already held) and ${cards.length} identity logs from account ${toId(account)}`);
      for (const [reason, n] of rejected) ctx.out(`rejected ${n}: ${reason}`);
      if (recovered) ctx.out('recovery finished: this device is now part of the account');
    },
  },
];

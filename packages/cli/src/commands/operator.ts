import { resolve } from 'node:path';
import { fromId, reject, toId } from '@freehold/core';
import { DEFAULT_MIRROR_BUDGET, formatSize, MAX_MIRROR_BUDGET, openStore, parseSize, serve } from '@freehold/server';
import type { Command } from '../command.js';

const storeOptions = { data: { type: 'string' }, db: { type: 'string' } } as const;

/** A size flag's value in bytes (its default when absent), refused with the flag's name when malformed or above `max`. */
function sizeFlag(flag: string, value: unknown, fallback: number, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  let bytes: number;
  try {
    bytes = parseSize(String(value));
  } catch (e) {
    return reject('invalid-argument', `--${flag}: ${(e as Error).message}`);
  }
  if (!(bytes <= max)) reject('invalid-argument', `--${flag} ${String(value)} is more than ${formatSize(max)}`);
  return bytes;
}

const DAY_MS = 24 * 3600_000;

/** A number of days (fractions allowed) from 0 to 3650; 30 when not given. */
function days(flag: string, value: unknown): number {
  const n = Number(value ?? 30);
  if (!(n >= 0 && n <= 3650)) reject('invalid-argument', `--${flag} ${String(value)} is not a number of days (0-3650)`);
  return n;
}

export const operatorCommands: Command[] = [
  {
    name: 'serve',
    usage:
      'serve [--port 8787] [--data DIR] [--db postgres://…] [--public-url URL] [--quota SIZE] [--web DIR] [--allow-origin URL]… ' +
      '[--metrics HOST:PORT] [--max-handles 3] [--handle-grace DAYS] [--inbox-allowance SIZE] [--inbox-rate N] [--session-work A,B,H,P] ' +
      '[--mirror-budget SIZE] [--retired-grace DAYS] [--nats nats://… [--node NAME]] ' +
      '[--skip-integrity-check] [--accept-data-loss]',
    summary:
      'Run a cloud peer: WebSocket sync, accounts and quotas, handles, inboxes; SQLite in DIR (default ./data) or PostgreSQL with --db. ' +
      '--allow-origin (repeatable, * for any) lets pages from other sites open sessions; --metrics serves GET /metrics on a listener of ' +
      'its own (off by default); --max-handles caps handles per account; --handle-grace is how long a dropped handle stays reserved (default 30); ' +
      '--inbox-allowance (default 8MiB) and --inbox-rate (a minute, default 60) bound what senders hosted elsewhere leave in one inbox; ' +
      '--session-work sets the work units a second for anonymous, authenticated, hosted and peer-provider sessions (default 1000,5000,20000,100000); ' +
      '--mirror-budget bounds what the spaces mirrored for users here (from other providers) take, evicting the least recently read ' +
      'past it (default 2GiB); --retired-grace is how long an account that moved away is still answered for, pointing to where it ' +
      'lives now (default 30). ' +
      'Several nodes of one provider share one --db and one --nats server (live pushes across nodes); --node names this one in logs. ' +
      'SIGTERM drains: sessions are asked to reconnect elsewhere once their writes in flight are acknowledged. ' +
      'SQLite is checked at start and a damaged store refused: --skip-integrity-check skips the full-file check, --accept-data-loss ' +
      'starts from what the files hold. See docs/OPERATING.md.',
    options: {
      port: { type: 'string' },
      ...storeOptions,
      'public-url': { type: 'string' },
      quota: { type: 'string' },
      host: { type: 'string' },
      web: { type: 'string' },
      'allow-origin': { type: 'string', multiple: true },
      metrics: { type: 'string' },
      'max-handles': { type: 'string' },
      'handle-grace': { type: 'string' },
      'inbox-allowance': { type: 'string' },
      'inbox-rate': { type: 'string' },
      'session-work': { type: 'string' },
      'mirror-budget': { type: 'string' },
      'retired-grace': { type: 'string' },
      'skip-integrity-check': { type: 'boolean' },
      'accept-data-loss': { type: 'boolean' },
      nats: { type: 'string' },
      node: { type: 'string' },
    },
    args: [0, 0],
    async run(ctx) {
      const port = Number(ctx.values.port ?? 8787);
      if (!Number.isInteger(port) || port < 0 || port > 65535) reject('invalid-argument', `--port ${String(ctx.values.port)} is not a port number`);
      const maxHandles = Number(ctx.values['max-handles'] ?? 3);
      if (!Number.isInteger(maxHandles) || maxHandles < 0) reject('invalid-argument', `--max-handles ${String(ctx.values['max-handles'])} is not a whole number`);
      const graceDays = days('handle-grace', ctx.values['handle-grace']);
      const retiredDays = days('retired-grace', ctx.values['retired-grace']);
      const inboxRate = Number(ctx.values['inbox-rate'] ?? 60);
      if (!(Number.isInteger(inboxRate) && inboxRate > 0)) reject('invalid-argument', `--inbox-rate ${String(ctx.values['inbox-rate'])} is not a positive whole number`);
      const work = ((ctx.values['session-work'] as string | undefined) ?? '1000,5000,20000,100000').split(',').map(Number);
      if (work.length !== 4 || !work.every((n) => Number.isInteger(n) && n > 0)) {
        reject('invalid-argument', `--session-work ${String(ctx.values['session-work'])} is not four positive whole numbers, like 1000,5000,20000,100000`);
      }
      const server = await serve({
        port,
        host: ctx.values.host as string | undefined,
        data: (ctx.values.data as string | undefined) ?? 'data',
        db: ctx.values.db as string | undefined,
        publicUrl: ctx.values['public-url'] as string | undefined,
        quota: sizeFlag('quota', ctx.values.quota, 2 ** 30),
        webRoot: ctx.values.web ? resolve(ctx.values.web as string) : undefined,
        allowOrigins: ctx.values['allow-origin'] as string[] | undefined,
        metrics: ctx.values.metrics as string | undefined,
        maxHandles,
        handleGraceMs: graceDays * DAY_MS,
        retiredGraceMs: retiredDays * DAY_MS,
        inbox: { strangerBytes: sizeFlag('inbox-allowance', ctx.values['inbox-allowance'], 8 << 20), strangerAppendsPerMinute: inboxRate },
        mirrorBudget: sizeFlag('mirror-budget', ctx.values['mirror-budget'], DEFAULT_MIRROR_BUDGET, MAX_MIRROR_BUDGET),
        limits: { work: { anonymous: work[0]!, authenticated: work[1]!, hosted: work[2]!, peer: work[3]! } },
        skipIntegrityCheck: ctx.values['skip-integrity-check'] === true,
        acceptDataLoss: ctx.values['accept-data-loss'] === true,
        nats: ctx.values.nats as string | undefined,
        node: ctx.values.node as string | undefined,
      });
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          void server.close().then(resolve);
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
    },
  },
  {
    name: 'admin usage',
    usage: 'admin usage [--json] [--data DIR | --db URL]',
    summary: 'Show each hosted account’s usage and quota (operator).',
    options: { json: { type: 'boolean' }, ...storeOptions },
    args: [0, 0],
    async run(ctx) {
      const store = await openStore({ data: (ctx.values.data as string | undefined) ?? 'data', db: ctx.values.db as string | undefined });
      try {
        const rows = (await store.accounts()).map((a) => ({ account: toId(a.account), used: a.used, quota: a.quota, created: new Date(a.created).toISOString() }));
        if (ctx.values.json) return ctx.json(rows);
        if (!rows.length) return ctx.out('no accounts registered yet');
        for (const r of rows) ctx.out(`${r.account}  ${formatSize(r.used)} of ${formatSize(r.quota)}  (${((100 * r.used) / r.quota).toFixed(1)}%)`);
      } finally {
        await store.close();
      }
    },
  },
  {
    name: 'admin quota',
    usage: 'admin quota ACCOUNT SIZE [--data DIR | --db URL]',
    summary: 'Set a hosted account’s quota, e.g. 5GiB (operator; takes effect when the server next reads it).',
    options: storeOptions,
    args: [2, 2],
    async run(ctx) {
      const account = fromId(ctx.args[0]!, 'account');
      const quota = parseSize(ctx.args[1]!);
      const store = await openStore({ data: (ctx.values.data as string | undefined) ?? 'data', db: ctx.values.db as string | undefined });
      try {
        const held = await store.getAccount(account);
        if (!held) reject('not-found', `account ${ctx.args[0]} is not registered here`);
        await store.putAccount({ ...held, quota });
        ctx.out(`${ctx.args[0]}: quota ${formatSize(quota)} (${formatSize(held.used)} used)`);
      } finally {
        await store.close();
      }
    },
  },
];

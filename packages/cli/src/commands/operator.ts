import { resolve } from 'node:path';
import { fromId, reject, toId } from '@freehold/core';
import { formatSize, openStore, parseSize, serve } from '@freehold/server';
import type { Command } from '../command.js';

const storeOptions = { data: { type: 'string' }, db: { type: 'string' } } as const;

export const operatorCommands: Command[] = [
  {
    name: 'serve',
    usage:
      'serve [--port 8787] [--data DIR] [--db postgres://…] [--public-url URL] [--quota SIZE] [--web DIR] [--skip-integrity-check] [--accept-data-loss]',
    summary:
      'Run a cloud peer: WebSocket sync, accounts and quotas, handles, inboxes; SQLite in DIR (default ./data) or PostgreSQL with --db. ' +
      'SQLite is checked at start and a damaged store is refused: --skip-integrity-check skips the full-file check, ' +
      '--accept-data-loss starts anyway from what the files hold (see docs/OPERATING.md).',
    options: {
      port: { type: 'string' },
      ...storeOptions,
      'public-url': { type: 'string' },
      quota: { type: 'string' },
      host: { type: 'string' },
      web: { type: 'string' },
      'skip-integrity-check': { type: 'boolean' },
      'accept-data-loss': { type: 'boolean' },
    },
    args: [0, 0],
    async run(ctx) {
      const port = Number(ctx.values.port ?? 8787);
      if (!Number.isInteger(port) || port < 0 || port > 65535) reject('invalid-argument', `--port ${String(ctx.values.port)} is not a port number`);
      const server = await serve({
        port,
        host: ctx.values.host as string | undefined,
        data: (ctx.values.data as string | undefined) ?? 'data',
        db: ctx.values.db as string | undefined,
        publicUrl: ctx.values['public-url'] as string | undefined,
        quota: parseSize((ctx.values.quota as string | undefined) ?? '1GiB'),
        webRoot: ctx.values.web ? resolve(ctx.values.web as string) : undefined,
        skipIntegrityCheck: ctx.values['skip-integrity-check'] === true,
        acceptDataLoss: ctx.values['accept-data-loss'] === true,
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

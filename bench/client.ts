import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { encodeCard, openDoc, toBase64, toId, type Device } from '@freehold/core';
import { installNativeCrypto } from '@freehold/node';
import { ProviderLink } from '@freehold/client';
import { Microblog, spacesOf } from '@freehold/microblog';
import { buildAndServe, launchChromium } from '../test-support/browser.js';
import { registered } from './accounts.js';
import { startServer, WS } from './server.js';
import { median, type Row } from './table.js';

installNativeCrypto();

const offline = { resolve: async () => Promise.reject(new Error('offline')), fetch: async () => {} };

/** One reconciliation of `d` with the provider at `url`, which must take every entry it is sent. */
async function synced(url: string, d: Device, interest: Uint8Array[] = []): Promise<void> {
  const refused: string[] = [];
  const link = await ProviderLink.connect(url, d, WS);
  try {
    await link.sync(d, { interest, onAck: (_stored, rejected) => refused.push(...rejected.map(([, reason, message]) => `${reason}: ${message}`)) });
  } finally {
    link.close();
  }
  if (refused.length) throw new Error(`the provider refused ${refused.length} entries of ${toId(d.account)}, the first: ${refused[0]}`);
}

/**
 * A reader following `authors` accounts that wrote `perAuthor` public posts each, as one replica's contents.
 * Every account is registered with the provider at `url` and has synced there, so the provider holds (and took)
 * all of it, as it would for a reader whose follows are hosted where it is.
 */
async function replica(url: string, authors: number, perAuthor: number) {
  const reader = await registered(url);
  const mb = new Microblog(reader, offline);
  await mb.ensure();
  const follows: Record<string, unknown> = {};
  for (let a = 0; a < authors; a++) {
    const author = await registered(url);
    const amb = new Microblog(author, offline);
    await amb.ensure();
    for (let p = 0; p < perAuthor; p++) await amb.post(`post ${p} by author ${a}: ${'lorem ipsum '.repeat(4)}`);
    await synced(url, author);
    // Copied rather than pulled: the reader's replica is set up, not measured.
    await reader.replica.addCard(encodeCard(author.identity()));
    await reader.store.putEntries(await author.store.spaceEntries(spacesOf(author.account).public));
    follows[toId(author.account)] = { schema: 'microblog.follow@1', account: toId(author.account), since: Date.now() };
  }
  const following = await openDoc(reader, mb.spaces.public, 'following');
  following.merge(follows);
  await following.flush();
  await synced(url, reader, await mb.interest());
  const store = reader.store;
  const rows = [];
  for (const s of await store.spaces()) rows.push(...(await store.spaceEntries(s)));
  return {
    account: toBase64(reader.account),
    sign: toBase64(reader.keys.sign.seed),
    signPublic: toBase64(reader.keys.sign.publicKey),
    boxPublic: toBase64(reader.keys.box.publicKey),
    box: toBase64(reader.keys.box.secretKey),
    cards: (await store.cards()).map((c) => [toBase64(c.account), toBase64(c.card)]),
    rows: rows.map((r) => ({ ...r, id: toBase64(r.id), space: toBase64(r.space), doc: toBase64(r.doc), device: toBase64(r.device), bytes: toBase64(r.bytes) })),
  };
}

/** Calls one of the functions bench/client/main.ts puts on the page's window. */
function call<T>(page: Page, name: string, arg?: unknown): Promise<T> {
  return page.evaluate(([n, a]) => (window as unknown as Record<string, (a: unknown) => Promise<T>>)[n as string]!(a), [name, arg] as const);
}

/** Runs `f` under a CPU profile of the page, written to FREEHOLD_BENCH_PROFILE/`name`.cpuprofile when that is set. */
async function profiled<T>(page: Page, name: string, f: () => Promise<T>): Promise<T> {
  const dir = process.env.FREEHOLD_BENCH_PROFILE;
  if (!dir) return f();
  mkdirSync(dir, { recursive: true });
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Profiler.enable');
  await cdp.send('Profiler.setSamplingInterval', { interval: 100 });
  await cdp.send('Profiler.start');
  const out = await f();
  writeFileSync(join(dir, `${name}.cpuprofile`), JSON.stringify((await cdp.send('Profiler.stop')).profile));
  return out;
}

interface Measured {
  firstScreen: number;
  heap: number;
  search: { build: number; query: number };
  post: number;
  ack: number;
}

/** Every scenario on one replica, loaded into a fresh page, with a provider of its own. */
async function measureAt(browser: Browser, site: string, authors: number, perAuthor: number): Promise<Measured> {
  const total = authors * perAuthor;
  const provider = await startServer('sqlite', ['--allow-origin', new URL(site).origin]);
  try {
    const setup = { name: `bench-${total}`, ...(await replica(provider.url, authors, perAuthor)) };
    const page = await (await browser.newContext()).newPage();
    if (process.env.FREEHOLD_BENCH_DEBUG) page.on('console', (m) => console.log(m.text()));
    const ready = () => page.waitForFunction(() => (window as unknown as { __ready?: boolean }).__ready === true);
    await page.goto(site);
    await ready();
    await call(page, '__load', setup);
    const keys = { name: setup.name, account: setup.account, sign: setup.sign, signPublic: setup.signPublic, box: setup.box, boxPublic: setup.boxPublic };
    const runs = [];
    for (let i = 0; i < 5; i++) {
      await page.reload();
      await ready();
      // Retained heap is measured as a difference: the page's isolate still holds some of the loading run's garbage.
      const heapBefore = await call<number>(page, '__heap');
      const run = await profiled(page, `client-${total}-${i}`, () => call<{ ms: number; posts: number }>(page, '__firstScreen', keys));
      runs.push({ ...run, heap: (await call<number>(page, '__heap')) - heapBefore });
    }
    if (runs.some((r) => r.posts !== 50)) throw new Error('the timeline did not fill its first screen');
    const found = await call<{ build: number; query: number; posts: number; hits: number }>(page, '__search');
    if (found.posts !== total || !found.hits) throw new Error(`the search index holds ${found.posts} posts and found ${found.hits}`);
    const posted = await profiled(page, `client-post-${total}`, () => call<{ ms: number; shown: boolean }>(page, '__post'));
    if (!posted.shown) throw new Error('a new post did not show in its own timeline');
    const linked = await call<{ refused: string[] }>(page, '__connect', provider.url);
    if (linked.refused.length) throw new Error(`the provider refused what the page sent as it linked: ${linked.refused[0]}`);
    const acked = await profiled(page, `client-ack-${total}`, () => call<{ ms: number; refused: string[] }>(page, '__acked'));
    if (acked.refused.length) throw new Error(`a post was not acknowledged: ${acked.refused[0]}`);
    await page.context().close();
    return { firstScreen: median(runs.map((r) => r.ms)), heap: median(runs.map((r) => r.heap)), search: found, post: posted.ms, ack: acked.ms };
  } finally {
    await provider.stop();
  }
}

export async function clientBench(): Promise<Row[]> {
  const out = mkdtempSync(join(tmpdir(), 'freehold-bench-client-'));
  const site = await buildAndServe(fileURLToPath(new URL('./client', import.meta.url)), out);
  const browser = await launchChromium(['--js-flags=--expose-gc', '--enable-precise-memory-info']);
  try {
    const small = await measureAt(browser, site.url, 200, 10);
    const big = await measureAt(browser, site.url, 200, 50);
    const held = '10k posts / 200 followed';
    return [
      { name: `first 50 timeline posts on screen, IndexedDB, ${held}`, value: big.firstScreen, unit: 'ms', target: '≤ 200 ms', lowerIsBetter: true },
      { name: '  same with 2k posts held (cost should follow the screen, not the total)', value: small.firstScreen, unit: 'ms', lowerIsBetter: true },
      { name: 'search results (median query), 10k posts indexed', value: big.search.query, unit: 'ms', target: '≤ 50 ms', lowerIsBetter: true },
      { name: '  building the index on the first search, 10k posts', value: big.search.build, unit: 'ms', lowerIsBetter: true, baselineName: '2k posts', baseline: small.search.build },
      { name: `a new post in its own timeline (written, signed, stored, timeline read again), ${held}`, value: big.post, unit: 'ms', target: '≤ 50 ms', lowerIsBetter: true, baselineName: '2k posts', baseline: small.post },
      { name: `a new post acknowledged by the provider (written, signed, stored, sent; durable there), ${held}`, value: big.ack, unit: 'ms', target: '≤ 150 ms', lowerIsBetter: true, baselineName: '2k posts', baseline: small.ack },
      { name: 'JS heap the first screen retains (open replica + model), 10k posts held', value: big.heap / 2 ** 20, unit: ' MiB', baselineName: 'with 2k posts held', baseline: small.heap / 2 ** 20 },
    ];
  } finally {
    await browser.close();
    await site.close();
    rmSync(out, { recursive: true, force: true });
  }
}

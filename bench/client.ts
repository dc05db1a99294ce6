import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createAccount, Device, encodeCard, openDoc, toBase64, toId, type Store } from '@freehold/core';
import { MemoryStore } from '@freehold/stores';
import { installNativeCrypto } from '@freehold/node';
import { Microblog, spacesOf } from '@freehold/microblog';
import { buildAndServe, launchChromium } from '../test-support/browser.js';
import type { Row } from './table.js';

installNativeCrypto();

async function device(store: Store): Promise<Device> {
  const acct = createAccount('bench', Date.now());
  await store.putCard(acct.state.account, encodeCard(acct.state));
  return Device.open(store, acct.device, acct.state.account);
}

const offline = { resolve: async () => Promise.reject(new Error('offline')), fetch: async () => {} };

/** A reader following `authors` accounts that wrote `perAuthor` public posts each, as one replica's contents. */
async function replica(authors: number, perAuthor: number) {
  const store = new MemoryStore();
  const reader = await device(store);
  const mb = new Microblog(reader, offline);
  await mb.ensure();
  const follows: Record<string, unknown> = {};
  for (let a = 0; a < authors; a++) {
    const author = await device(new MemoryStore());
    const amb = new Microblog(author, offline);
    await amb.ensure();
    for (let p = 0; p < perAuthor; p++) await amb.post(`post ${p} by author ${a}: ${'lorem ipsum '.repeat(4)}`);
    await store.putCard(author.account, encodeCard(author.identity()));
    await store.putEntries(await author.store.spaceEntries(spacesOf(author.account).public));
    follows[toId(author.account)] = { schema: 'microblog.follow@1', account: toId(author.account), since: Date.now() };
  }
  const following = await openDoc(reader, mb.spaces.public, 'following');
  following.merge(follows);
  await following.flush();
  const rows = [];
  for (const s of await store.spaces()) rows.push(...(await store.spaceEntries(s)));
  return {
    account: toBase64(reader.account),
    sign: toBase64(reader.keys.sign.seed),
    box: toBase64(reader.keys.box.secretKey),
    cards: (await store.cards()).map((c) => [toBase64(c.account), toBase64(c.card)]),
    rows: rows.map((r) => ({ ...r, id: toBase64(r.id), space: toBase64(r.space), doc: toBase64(r.doc), device: toBase64(r.device), bytes: toBase64(r.bytes) })),
  };
}

export async function clientBench(): Promise<Row[]> {
  const out = mkdtempSync(join(tmpdir(), 'freehold-bench-client-'));
  const site = await buildAndServe(fileURLToPath(new URL('./client', import.meta.url)), out);
  const browser = await launchChromium(['--js-flags=--expose-gc', '--enable-precise-memory-info']);
  try {
    const rows: Row[] = [];
    const results: Record<number, { ms: number; heap: number }> = {};
    const searches: Record<number, { build: number; query: number }> = {};
    const posts: Record<number, number> = {};
    for (const [authors, perAuthor] of [
      [200, 10],
      [200, 50],
    ] as const) {
      const setup = { name: `bench-${authors * perAuthor}`, ...(await replica(authors, perAuthor)) };
      const page = await (await browser.newContext()).newPage();
      if (process.env.FREEHOLD_BENCH_DEBUG) page.on('console', (m) => console.log(m.text()));
      await page.goto(site.url);
      await page.waitForFunction(() => (window as unknown as { __ready?: boolean }).__ready === true);
      await page.evaluate((s) => (window as unknown as { __load(s: unknown): Promise<void> }).__load(s), setup);
      const keys = { name: setup.name, account: setup.account, sign: setup.sign, box: setup.box };
      const runs = [];
      for (let i = 0; i < 5; i++) {
        await page.reload();
        await page.waitForFunction(() => (window as unknown as { __ready?: boolean }).__ready === true);
        // Retained heap is measured as a difference: the page's isolate still holds some of the loading run's garbage.
        const heapBefore = await page.evaluate(() => (window as unknown as { __heap(): number }).__heap());
        const cdp = process.env.FREEHOLD_BENCH_PROFILE ? await page.context().newCDPSession(page) : undefined;
        if (cdp) await cdp.send('Profiler.enable').then(() => cdp.send('Profiler.setSamplingInterval', { interval: 100 })).then(() => cdp.send('Profiler.start'));
        const run = await page.evaluate((s) => (window as unknown as { __firstScreen(s: unknown): Promise<{ ms: number; posts: number }> }).__firstScreen(s), keys);
        runs.push({ ...run, heap: (await page.evaluate(() => (window as unknown as { __heap(): number }).__heap())) - heapBefore });
        if (cdp) writeFileSync(join(process.env.FREEHOLD_BENCH_PROFILE!, `client-${authors * perAuthor}-${i}.cpuprofile`), JSON.stringify((await cdp.send('Profiler.stop')).profile));
      }
      if (runs.some((r) => r.posts !== 50)) throw new Error('the timeline did not fill its first screen');
      const found = await page.evaluate(() => (window as unknown as { __search(): Promise<{ build: number; query: number; posts: number; hits: number }> }).__search());
      if (found.posts !== authors * perAuthor || !found.hits) throw new Error(`the search index holds ${found.posts} posts and found ${found.hits}`);
      searches[authors * perAuthor] = found;
      const cdp = process.env.FREEHOLD_BENCH_PROFILE ? await page.context().newCDPSession(page) : undefined;
      if (cdp) await cdp.send('Profiler.enable').then(() => cdp.send('Profiler.setSamplingInterval', { interval: 100 })).then(() => cdp.send('Profiler.start'));
      const posted = await page.evaluate(() => (window as unknown as { __post(): Promise<{ ms: number; shown: boolean }> }).__post());
      if (cdp) writeFileSync(join(process.env.FREEHOLD_BENCH_PROFILE!, `client-post-${authors * perAuthor}.cpuprofile`), JSON.stringify((await cdp.send('Profiler.stop')).profile));
      if (!posted.shown) throw new Error('a new post did not show in its own timeline');
      posts[authors * perAuthor] = posted.ms;
      const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
      results[authors * perAuthor] = { ms: median(runs.map((r) => r.ms)), heap: median(runs.map((r) => r.heap)) };
      await page.context().close();
    }
    const small = results[2000]!;
    const big = results[10_000]!;
    rows.push({ name: 'first 50 timeline posts on screen, IndexedDB, 10k posts / 200 followed', value: big.ms, unit: 'ms', target: '≤ 200 ms', lowerIsBetter: true });
    rows.push({ name: '  same with 2k posts held (cost should follow the screen, not the total)', value: small.ms, unit: 'ms', lowerIsBetter: true });
    rows.push({ name: 'search results (median query), 10k posts indexed', value: searches[10_000]!.query, unit: 'ms', target: '≤ 50 ms', lowerIsBetter: true });
    rows.push({ name: '  building the index on the first search, 10k posts', value: searches[10_000]!.build, unit: 'ms', lowerIsBetter: true, baselineName: '2k posts', baseline: searches[2000]!.build });
    rows.push({ name: 'a new post in its own timeline (written, signed, stored, timeline read again), 10k posts / 200 followed', value: posts[10_000]!, unit: 'ms', target: '≤ 50 ms', lowerIsBetter: true, baselineName: '2k posts', baseline: posts[2000]! });
    rows.push({ name: 'JS heap the first screen retains (open replica + model), 10k posts held', value: big.heap / 2 ** 20, unit: ' MiB', baselineName: 'with 2k posts held', baseline: small.heap / 2 ** 20 });
    return rows;
  } finally {
    await browser.close();
    await site.close();
    rmSync(out, { recursive: true, force: true });
  }
}

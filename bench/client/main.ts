// Runs in Chromium: loads a prepared replica into IndexedDB, then times the first 50 timeline posts on screen.
import { Device, fromBase64, type EntryRow } from '@freehold/core';
import { ReconnectingLink, type WebSocketFactory } from '@freehold/client';
import { IndexedDbStore } from '@freehold/stores/indexeddb';
import { Microblog } from '@freehold/microblog';
import { SearchIndex } from '@freehold/microblog/search';

interface Setup {
  name: string;
  account: string;
  sign: string;
  signPublic: string;
  box: string;
  boxPublic: string;
  cards: [string, string][];
  rows: { id: string; space: string; doc: string; kind: number; device: string; seq: number; time: number; bytes: string }[];
}

const b = (s: string) => fromBase64(s);

async function load(setup: Setup): Promise<void> {
  const store = await IndexedDbStore.open(setup.name);
  for (const [account, card] of setup.cards) await store.putCard(b(account), b(card));
  const rows: EntryRow[] = setup.rows.map((r) => ({ ...r, id: b(r.id), space: b(r.space), doc: b(r.doc), device: b(r.device), bytes: b(r.bytes) }));
  for (let i = 0; i < rows.length; i += 2000) await store.putEntries(rows.slice(i, i + 2000));
  await store.close();
}

async function firstScreen(setup: Pick<Setup, 'name' | 'account' | 'sign' | 'signPublic' | 'box' | 'boxPublic'>): Promise<{ ms: number; posts: number }> {
  const t0 = performance.now();
  const store = await IndexedDbStore.open(setup.name);
  // As the web app loads its keys: the public keys stored beside the secrets (apps/microblog/src/keys.ts).
  const keys = { sign: { seed: b(setup.sign), publicKey: b(setup.signPublic) }, box: { secretKey: b(setup.box), publicKey: b(setup.boxPublic) } };
  const device = await Device.open(store, keys, b(setup.account));
  const opened = performance.now() - t0;
  const mb = new Microblog(device, { resolve: async () => Promise.reject(new Error('offline')), fetch: async () => {} });
  const items = await mb.timeline({ limit: 50 });
  console.log(`open ${opened.toFixed(0)} ms, timeline ${(performance.now() - t0 - opened).toFixed(0)} ms`);
  const list = document.getElementById('timeline')!;
  list.replaceChildren(
    ...items.map((i) => {
      const li = document.createElement('li');
      li.textContent = i.post.text;
      return li;
    }),
  );
  await new Promise((r) => requestAnimationFrame(() => r(undefined)));
  // Kept reachable as the app keeps them, so the heap figure counts the open replica and model.
  (window as unknown as { __app: Microblog }).__app = mb;
  return { ms: performance.now() - t0, posts: items.length };
}

/**
 * Builds the search index over the whole replica (what the first search in a session waits for), then times
 * queries against it: a word in every post, a rare word, a prefix and a hashtag-free miss.
 */
async function search(): Promise<{ build: number; query: number; posts: number; hits: number }> {
  const mb = (window as unknown as { __app: Microblog }).__app;
  const index = new SearchIndex(mb);
  const t0 = performance.now();
  await index.refresh();
  const build = performance.now() - t0;
  const times: number[] = [];
  let hits = 0;
  for (let round = 0; round < 5; round++) {
    for (const q of ['lorem', 'author 17', 'ips', 'post 42', 'nowhere']) {
      const t = performance.now();
      hits += index.search(q).posts.length;
      times.push(performance.now() - t);
    }
  }
  times.sort((a, b) => a - b);
  return { build, query: times[Math.floor(times.length / 2)]!, posts: index.size, hits };
}

/** A new post, timed until the timeline read after it shows it (what the app does after Post): medians of 5. */
async function post(): Promise<{ ms: number; shown: boolean }> {
  const mb = (window as unknown as { __app: Microblog }).__app;
  const times: number[] = [];
  let shown = true;
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    const ref = await mb.post(`a new post ${i}`);
    shown &&= (await mb.timeline({ limit: 50 })).some((p) => p.ref.post === ref.post);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return { ms: times[2]!, shown };
}

/** The page's link to the provider, as the web app keeps one per provider. */
let link: ReconnectingLink | undefined;

/** Links the open replica to the provider and waits for the first reconciliation; answers what it refused. */
async function connect(url: string): Promise<{ refused: string[] }> {
  const mb = (window as unknown as { __app: Microblog }).__app;
  // No recheck: it reconciles again every 15 s while a followed account's friends space is not readable here,
  // which is the app's own doing and would land in the middle of some posts.
  link = new ReconnectingLink(url, mb.device, { WebSocket: WebSocket as unknown as WebSocketFactory, interest: () => mb.interest(), recheckMs: 0 }).start();
  await link.settled();
  if (link.status !== 'online') throw new Error(`could not link to ${url}: ${link.lastError}`);
  return { refused: link.lastSync!.refused.map((r) => `${r.reason}: ${r.message}`) };
}

/**
 * A new post, timed until the provider has acknowledged it over the open link, which it does once the entry is
 * durable there (what the app's flush after Post waits for): the median of 9.
 */
async function acked(): Promise<{ ms: number; refused: string[] }> {
  const mb = (window as unknown as { __app: Microblog }).__app;
  const times: number[] = [];
  const refused: string[] = [];
  for (let i = 0; i < 9; i++) {
    const t = performance.now();
    await mb.post(`an acknowledged post ${i}`);
    const r = await link!.flush();
    times.push(performance.now() - t);
    if (!r.delivered || !r.sent) refused.push(r.error ?? 'the post was not sent');
    refused.push(...r.refused.map((x) => `${x.reason}: ${x.message}`));
  }
  link!.close();
  times.sort((a, b) => a - b);
  return { ms: times[4]!, refused };
}

/** Live JS heap after a full collection (the bench starts Chromium with --expose-gc and precise memory info). */
function heap(): number {
  (globalThis as unknown as { gc(): void }).gc();
  return (performance as unknown as { memory: { usedJSHeapSize: number } }).memory.usedJSHeapSize;
}

Object.assign(window, { __load: load, __firstScreen: firstScreen, __search: search, __post: post, __connect: connect, __acked: acked, __heap: heap });
(window as unknown as { __ready: boolean }).__ready = true;

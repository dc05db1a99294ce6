// The service worker keeps the app itself on the device, so it opens (and reads and writes its local replica)
// when the provider that serves it is down. It touches nothing but the app shell: sync, public profiles and the
// API always go to the network.
declare const self: ServiceWorkerGlobalScope;
export {};

const CACHE = 'freehold-app';
const SHELL = '/';

/**
 * Every file of this worker's build under /assets/, written in by the build (vite.config.ts): the screens the page
 * fetches only when first opened are among them, and must open offline too.
 */
declare const BUILD_ASSETS: string[];

/** The hashed files the page references (its script and stylesheet), read from the page itself. */
const assetsOf = (html: string): string[] => [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]!);

/**
 * Stores this version of the page and its assets with those of this worker's build (a newer page brings a newer
 * worker, which keeps its own), and forgets assets neither refers to any more.
 */
async function keep(page: Response): Promise<void> {
  const cache = await caches.open(CACHE);
  const assets = [...new Set([...assetsOf(await page.clone().text()), ...BUILD_ASSETS])];
  const missing: string[] = [];
  for (const a of assets) if (!(await cache.match(a))) missing.push(a);
  await cache.addAll(missing);
  await cache.put(SHELL, page);
  for (const req of await cache.keys()) {
    const path = new URL(req.url).pathname;
    if (path.startsWith('/assets/') && !assets.includes(path)) await cache.delete(req);
  }
}

self.addEventListener('install', (event) => {
  event.waitUntil(fetch(SHELL, { cache: 'no-cache' }).then((r) => (r.ok ? keep(r) : undefined)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== 'GET' || url.origin !== self.location.origin) return;
  if (event.request.mode === 'navigate' && (url.pathname === '/' || url.pathname === '/index.html')) {
    // The newest page when the provider answers, the kept one when it does not.
    event.respondWith(
      fetch(event.request).then(
        (r) => {
          if (r.ok) event.waitUntil(keep(r.clone()));
          return r;
        },
        async () => (await caches.match(SHELL)) ?? Response.error(),
      ),
    );
  } else if (url.pathname.startsWith('/assets/')) {
    event.respondWith(caches.match(event.request).then((hit) => hit ?? fetch(event.request)));
  }
});

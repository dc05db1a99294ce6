import { fileURLToPath } from 'node:url';
import { Repo, type AutomergeUrl, type DocHandle } from '@automerge/automerge-repo';
import { WebSocketClientAdapter } from '@automerge/automerge-repo-network-websocket';
import { freePort } from '../../../test-support/net.js';
import { CountingProxy } from '../proxy.js';
import { chunk, du, rssOf, sleep, startProcess, stopProcess } from '../process.js';
import { docBody, type FanoutWrite, type Loaded, type System } from '../system.js';

const SERVER = fileURLToPath(new URL('../servers/automerge.ts', import.meta.url));

interface Doc {
  title?: string;
  body?: string;
  n?: number;
}

const client = (port: number) => new Repo({ network: [new WebSocketClientAdapter(`ws://127.0.0.1:${port}`)] });

/** Resolves once the repo has met the server (its WebSocket being open is not enough). */
async function joined(repo: Repo): Promise<void> {
  while (repo.peers.length === 0) await sleep(10);
}

/**
 * Finds a document, asking again while the server answers that it does not have it yet (it stores what it is
 * sent asynchronously, so a document just written elsewhere can be briefly unavailable).
 */
async function find(repo: Repo, url: AutomergeUrl): Promise<DocHandle<Doc>> {
  const deadline = performance.now() + 120_000;
  for (;;) {
    try {
      return await repo.find<Doc>(url);
    } catch (e) {
      if (!/unavailable/.test((e as Error).message) || performance.now() > deadline) throw e;
      await sleep(200);
    }
  }
}

const changed = (h: DocHandle<Doc>, ok: (d: Doc) => boolean) =>
  new Promise<void>((resolve) => {
    if (ok(h.doc() ?? {})) return resolve();
    const on = () => {
      if (!ok(h.doc() ?? {})) return;
      h.off('change', on);
      resolve();
    };
    h.on('change', on);
  });

export function automerge(): System {
  return {
    name: 'automerge-repo (NodeFS)',

    async start(dir) {
      const port = await freePort();
      const { child } = await startProcess(process.execPath, ['--import', 'tsx', SERVER, String(port), dir], /listening/, {});
      return { url: `ws://127.0.0.1:${port}`, port, pid: child.pid!, rss: () => rssOf(child.pid!), diskBytes: async () => du(dir), stop: () => stopProcess(child) };
    },

    // A Repo announces what it holds to the server; the wire going quiet means the server has taken it all.
    async seed(server, docs) {
      const proxy = await CountingProxy.start(server.port);
      const repo = client(proxy.port);
      await joined(repo);
      const urls: AutomergeUrl[] = [];
      for (let i = 0; i < docs; i++) urls.push(repo.create<Doc>(docBody(i)).url);
      await proxy.quiet(2000);
      await repo.shutdown();
      await proxy.close();
      return urls;
    },

    async coldLoad(port, seeded): Promise<Loaded> {
      const urls = seeded as AutomergeUrl[];
      const repo = client(port);
      await joined(repo);
      const handles: DocHandle<Doc>[] = [];
      for (const group of chunk(urls, 1000)) handles.push(...(await Promise.all(group.map((u) => find(repo, u)))));
      const last = handles[handles.length - 1]!.doc()?.title;
      if (last !== docBody(urls.length - 1).title) throw new Error(`cold sync incomplete: ${String(last)}`);
      let adapter = repo.networkSubsystem.adapters[0]!;
      return {
        async reconnect(p) {
          repo.networkSubsystem.removeNetworkAdapter(adapter);
          adapter = new WebSocketClientAdapter(`ws://127.0.0.1:${p}`);
          repo.networkSubsystem.addNetworkAdapter(adapter);
          await adapter.whenReady();
          return 'sent';
        },
        close: () => repo.shutdown(),
      };
    },

    async ingest(server, clients, ms) {
      const window = 4;
      const observer = client(server.port);
      const writers = await Promise.all(
        Array.from({ length: clients }, async () => {
          const repo = client(server.port);
          await joined(repo);
          const h = repo.create<Doc>({ n: -1 });
          await sleep(300);
          return { repo, h, o: await find(observer, h.url) };
        }),
      );
      let total = 0;
      const t0 = performance.now();
      await Promise.all(
        writers.map(async ({ h, o }) => {
          // The observer seeing a write through the server is its acknowledgement.
          let i = 0;
          for (; performance.now() - t0 < ms; i++) {
            const n = i;
            h.change((d) => {
              d.n = n;
            });
            if (i >= window) await changed(o, (d) => (d.n ?? -1) >= n - window);
          }
          await changed(o, (d) => (d.n ?? -1) >= i - 1);
          total += i;
        }),
      );
      const rate = total / ((performance.now() - t0) / 1000);
      await Promise.all([observer, ...writers.map((w) => w.repo)].map((r) => r.shutdown()));
      return rate;
    },

    async fanout(server, port, subscribers, writes) {
      const writer = client(server.port);
      await joined(writer);
      const h = writer.create<Doc>({ n: -1 });
      await sleep(300);
      let sentAt = 0;
      let got = 0;
      const latencies: number[] = [];
      const timed: FanoutWrite[] = [];
      const repos: Repo[] = [];
      for (const group of chunk(Array.from({ length: subscribers }, (_, i) => i), 50)) {
        await Promise.all(
          group.map(async () => {
            const repo = client(port);
            repos.push(repo);
            const sub = await find(repo, h.url);
            sub.on('change', () => {
              if (!sentAt) return;
              latencies.push(performance.now() - sentAt);
              got++;
            });
          }),
        );
      }
      for (let i = 0; i < writes; i++) {
        const target = got + subscribers;
        sentAt = performance.now();
        h.change((d) => {
          d.n = i;
        });
        while (got < target) await sleep(1);
        timed.push({ sent: sentAt, delivered: performance.now() });
      }
      await Promise.all([writer, ...repos].map((r) => r.shutdown()));
      return { latencies, writes: timed };
    },

    async idle(server, connections) {
      const writer = client(server.port);
      await joined(writer);
      const h = writer.create<Doc>({ n: 0 });
      await sleep(300);
      const repos: Repo[] = [];
      for (const group of chunk(Array.from({ length: connections }, (_, i) => i), 100)) {
        await Promise.all(
          group.map(async () => {
            const repo = client(server.port);
            repos.push(repo);
            await find(repo, h.url);
          }),
        );
      }
      return async () => {
        await Promise.all([writer, ...repos].map((r) => r.shutdown()));
      };
    },
  };
}

import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import * as Y from 'yjs';
import { WebsocketProvider } from 'y-websocket';
import { freePort } from '../../../test-support/net.js';
import { chunk, du, rssOf, sleep, startProcess, stopProcess } from '../process.js';
import { docBody, type FanoutWrite, type Loaded, type System } from '../system.js';

const SERVER = fileURLToPath(new URL('../node_modules/@y/websocket-server/src/server.js', import.meta.url));
/** y-websocket opens one connection per document; this many are open at once while loading many. */
const BATCH = 250;

function provider(port: number, room: string, doc: Y.Doc): WebsocketProvider {
  const p = new WebsocketProvider(`ws://127.0.0.1:${port}`, room, doc, { WebSocketPolyfill: WebSocket as never, disableBc: true });
  // No presence: only document updates cross the wire.
  p.awareness.setLocalState(null);
  return p;
}

const synced = (p: WebsocketProvider) =>
  new Promise<void>((resolve) => {
    if (p.synced) return resolve();
    const on = (s: boolean) => {
      if (!s) return;
      p.off('sync', on);
      resolve();
    };
    p.on('sync', on);
  });

/** Resolves once the document holds a title. */
const titled = (d: Y.Doc) =>
  new Promise<void>((resolve) => {
    const has = () => d.getMap('root').has('title');
    if (has()) return resolve();
    const on = () => {
      if (!has()) return;
      d.off('update', on);
      resolve();
    };
    d.on('update', on);
  });

/**
 * Connects each document, waits for its sync, disconnects: at most BATCH connections at a time. The server may
 * answer a document's sync before it has loaded it from LevelDB (the stored state follows as an update), so a
 * document that should hold data is waited for until it does.
 */
async function syncAll(port: number, docs: Y.Doc[]): Promise<void> {
  for (const group of chunk(
    docs.map((d, i) => [d, i] as const),
    BATCH,
  )) {
    const ps = group.map(([d, i]) => provider(port, `doc-${i}`, d));
    await Promise.all(ps.map((p, k) => Promise.all([synced(p), titled(group[k]![0])])));
    for (const p of ps) p.destroy();
  }
}

export function yjs(): System {
  return {
    name: 'y-websocket (LevelDB)',

    async start(dir) {
      const port = await freePort();
      const { child } = await startProcess(process.execPath, [SERVER], /running at/, { HOST: '127.0.0.1', PORT: String(port), YPERSISTENCE: dir });
      return { url: `ws://127.0.0.1:${port}`, port, pid: child.pid!, rss: () => rssOf(child.pid!), diskBytes: async () => du(dir), stop: () => stopProcess(child) };
    },

    async seed(server, docs) {
      const all = Array.from({ length: docs }, (_, i) => {
        const d = new Y.Doc();
        const root = d.getMap('root');
        for (const [k, v] of Object.entries(docBody(i))) root.set(k, v);
        return d;
      });
      await syncAll(server.port, all);
      // The server writes to LevelDB after it applied an update; give the last ones time to land.
      await sleep(1000);
      return docs;
    },

    async coldLoad(port, seeded): Promise<Loaded> {
      const docs = Array.from({ length: seeded as number }, () => new Y.Doc());
      await syncAll(port, docs);
      const last = docs[docs.length - 1]!.getMap('root').get('title');
      if (last !== docBody(docs.length - 1).title) throw new Error(`cold sync incomplete: ${String(last)}`);
      return { reconnect: async (p) => (await syncAll(p, docs), 'synced'), close: async () => {} };
    },

    async ingest(server, clients, ms) {
      const window = 4;
      const pairs = await Promise.all(
        Array.from({ length: clients }, async (_, c) => {
          const wdoc = new Y.Doc();
          const odoc = new Y.Doc();
          const w = provider(server.port, `ingest-${c}`, wdoc);
          const o = provider(server.port, `ingest-${c}`, odoc);
          await Promise.all([synced(w), synced(o)]);
          return { w, o, wdoc, odoc };
        }),
      );
      let total = 0;
      const t0 = performance.now();
      await Promise.all(
        pairs.map(async ({ wdoc, odoc }) => {
          const seen = () => (odoc.getMap('root').get('n') as number | undefined) ?? -1;
          // The observer seeing a write through the server is its acknowledgement: y-websocket has no other.
          const until = (n: number) =>
            new Promise<void>((resolve) => {
              if (seen() >= n) return resolve();
              const on = () => {
                if (seen() < n) return;
                odoc.off('update', on);
                resolve();
              };
              odoc.on('update', on);
            });
          let i = 0;
          for (; performance.now() - t0 < ms; i++) {
            wdoc.getMap('root').set('n', i);
            if (i >= window) await until(i - window);
          }
          await until(i - 1);
          total += i;
        }),
      );
      const rate = total / ((performance.now() - t0) / 1000);
      for (const p of pairs) for (const x of [p.w, p.o]) x.destroy();
      return rate;
    },

    async fanout(server, port, subscribers, writes) {
      const wdoc = new Y.Doc();
      const w = provider(server.port, 'feed', wdoc);
      await synced(w);
      let sentAt = 0;
      let got = 0;
      const latencies: number[] = [];
      const timed: FanoutWrite[] = [];
      const subs: WebsocketProvider[] = [];
      for (const group of chunk(Array.from({ length: subscribers }, (_, i) => i), 50)) {
        const ps = group.map(() => {
          const d = new Y.Doc();
          d.on('update', () => {
            if (!sentAt) return;
            latencies.push(performance.now() - sentAt);
            got++;
          });
          return provider(port, 'feed', d);
        });
        await Promise.all(ps.map(synced));
        subs.push(...ps);
      }
      for (let i = 0; i < writes; i++) {
        const target = got + subscribers;
        sentAt = performance.now();
        wdoc.getMap('root').set('n', i);
        while (got < target) await sleep(1);
        timed.push({ sent: sentAt, delivered: performance.now() });
      }
      for (const p of [...subs, w]) p.destroy();
      return { latencies, writes: timed };
    },

    async idle(server, connections) {
      const ps: WebsocketProvider[] = [];
      for (const group of chunk(Array.from({ length: connections }, (_, i) => i), 100)) {
        const batch = group.map(() => provider(server.port, 'idle', new Y.Doc()));
        await Promise.all(batch.map(synced));
        ps.push(...batch);
      }
      return async () => {
        for (const p of ps) p.destroy();
      };
    },
  };
}

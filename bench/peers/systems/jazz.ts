import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import WebSocket from 'ws';
import { LocalNode, type CoID, type RawCoMap } from 'cojson';
import { WasmCrypto } from 'cojson/crypto/WasmCrypto';
import { createWebSocketPeer } from 'cojson-transport-ws';
import { freePort } from '../../../test-support/net.js';
import { chunk, du, rssOf, sleep, startProcess, stopProcess } from '../process.js';
import { docBody, type FanoutWrite, type Loaded, type System } from '../system.js';

const SERVER = fileURLToPath(new URL('../node_modules/jazz-run/dist/index.js', import.meta.url));
const crypto = await WasmCrypto.create();
let peers = 0;

/** A node with its own agent (key pair) and one open connection to the sync server. */
async function node(port: number): Promise<{ node: LocalNode; ws: WebSocket }> {
  const secret = crypto.newRandomAgentSecret();
  const n = new LocalNode(secret, crypto.newRandomSessionID(crypto.getAgentID(secret)), crypto);
  return { node: n, ws: await connect(n, port) };
}

/** Loading before the connection is open finds no peer to ask, so callers get an open one. */
async function connect(n: LocalNode, port: number): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}`);
  n.syncManager.addPeer(createWebSocketPeer({ id: `server-${peers++}`, role: 'server', websocket: ws as never, expectPings: false }));
  await new Promise((resolve, reject) => (ws.once('open', resolve), ws.once('error', reject)));
  return ws;
}

/**
 * A map in a group everyone may read (values are still encrypted and signed, as in every Jazz map), once the
 * server has acknowledged both.
 */
async function sharedMap(n: LocalNode, init: Record<string, string | number>): Promise<RawCoMap> {
  const group = n.createGroup();
  group.addMember('everyone', 'reader');
  const map = group.createMap(init);
  await Promise.all([group.id, map.id].map((id) => n.syncManager.waitForSync(id)));
  return map;
}

const close = (c: { node: LocalNode; ws: WebSocket }) => {
  c.ws.close();
  c.node.gracefulShutdown();
};

const until = (m: RawCoMap, ok: (m: RawCoMap) => boolean) =>
  new Promise<void>((resolve) => {
    let done = false;
    const stop: () => void = m.core.node.subscribe(m.id, (v) => {
      if (done || v === 'unavailable' || !ok(v as RawCoMap)) return;
      done = true;
      resolve();
      queueMicrotask(() => stop());
    });
  });

export function jazz(): System {
  return {
    name: 'Jazz (jazz-run sync, SQLite)',
    // jazz-run's sync server sends every connection a JSON ping every 1.5 s.
    keepalive: '{"type":"ping"',

    async start(dir) {
      const port = await freePort();
      const db = join(dir, 'sync.db');
      const { child } = await startProcess(process.execPath, [SERVER, 'sync', '--port', String(port), '--db', db], /listening on/);
      return { url: `ws://127.0.0.1:${port}`, port, pid: child.pid!, rss: () => rssOf(child.pid!), diskBytes: async () => du(dir), stop: () => stopProcess(child) };
    },

    async seed(server, docs) {
      const { node: n, ws } = await node(server.port);
      const group = n.createGroup();
      group.addMember('everyone', 'reader');
      const ids: CoID<RawCoMap>[] = [];
      for (let i = 0; i < docs; i++) ids.push(group.createMap(docBody(i)).id);
      // The server's acknowledgement of each value's known state.
      await Promise.all([group.id, ...ids].map((id) => n.syncManager.waitForSync(id, 600_000)));
      ws.close();
      n.gracefulShutdown();
      return ids;
    },

    async coldLoad(port, seeded): Promise<Loaded> {
      const ids = seeded as CoID<RawCoMap>[];
      const client = await node(port);
      const n = client.node;
      let ws = client.ws;
      const maps: RawCoMap[] = [];
      for (const group of chunk(ids, 1000)) {
        for (const m of await Promise.all(group.map((id) => n.load(id)))) {
          if (m === 'unavailable') throw new Error('cold sync: a map was unavailable');
          maps.push(m);
        }
      }
      const last = maps[maps.length - 1]!.get('title');
      if (last !== docBody(ids.length - 1).title) throw new Error(`cold sync incomplete: ${String(last)}`);
      return {
        // In sync once the server has confirmed its known state of every value (the wire never goes quiet:
        // the server pings every 1.5 s).
        async reconnect(p) {
          ws.close();
          await sleep(100);
          const id = `server-${peers}`;
          ws = await connect(n, p);
          await Promise.all(ids.map((v) => n.syncManager.waitForSyncWithPeer(id, v, 600_000)));
          return 'synced';
        },
        async close() {
          ws.close();
          n.gracefulShutdown();
        },
      };
    },

    async ingest(server, clients, ms) {
      const window = 4;
      const observer = await node(server.port);
      // Set up one at a time: several new agents creating groups at once left some never acknowledged.
      const writers: (Awaited<ReturnType<typeof node>> & { map: RawCoMap; o: RawCoMap })[] = [];
      for (let c = 0; c < clients; c++) {
        const w = await node(server.port);
        const map = await sharedMap(w.node, { n: -1 });
        const o = await observer.node.load(map.id);
        if (o === 'unavailable') throw new Error('observer could not load a writer map');
        writers.push({ ...w, map, o: o as RawCoMap });
      }
      let total = 0;
      const t0 = performance.now();
      await Promise.all(
        writers.map(async ({ map, o }) => {
          // The observer seeing a write through the server is its acknowledgement.
          const seen = (m: RawCoMap) => (m.get('n') as number | undefined) ?? -1;
          let i = 0;
          for (; performance.now() - t0 < ms; i++) {
            map.set('n', i);
            const n = i;
            if (i >= window) await until(o, (m) => seen(m) >= n - window);
          }
          const last = i - 1;
          await until(o, (m) => seen(m) >= last);
          total += i;
        }),
      );
      const rate = total / ((performance.now() - t0) / 1000);
      for (const w of [observer, ...writers]) close(w);
      return rate;
    },

    async fanout(server, port, subscribers, writes) {
      const writer = await node(server.port);
      const map = await sharedMap(writer.node, { n: -1 });
      let sentAt = 0;
      let got = 0;
      const latencies: number[] = [];
      const timed: FanoutWrite[] = [];
      const subs: Awaited<ReturnType<typeof node>>[] = [];
      // One at a time: new peers loading at once made the sync server time some of them out.
      for (let k = 0; k < subscribers; k++) {
        const s = await node(port);
        subs.push(s);
        let last = -1;
        s.node.subscribe(map.id, (v) => {
          if (v === 'unavailable') return;
          const n = ((v as RawCoMap).get('n') as number | undefined) ?? -1;
          if (!sentAt || n === last) return;
          last = n;
          latencies.push(performance.now() - sentAt);
          got++;
        });
        if ((await s.node.load(map.id)) === 'unavailable') throw new Error('subscriber could not load the map');
      }
      for (let i = 0; i < writes; i++) {
        const target = got + subscribers;
        sentAt = performance.now();
        map.set('n', i);
        while (got < target) await sleep(1);
        timed.push({ sent: sentAt, delivered: performance.now() });
      }
      for (const s of [writer, ...subs]) close(s);
      return { latencies, writes: timed };
    },

    async idle(server, connections) {
      const writer = await node(server.port);
      const map = await sharedMap(writer.node, { n: 0 });
      const subs: Awaited<ReturnType<typeof node>>[] = [];
      // One at a time, as in fan-out.
      for (let k = 0; k < connections; k++) {
        const s = await node(server.port);
        subs.push(s);
        if ((await s.node.load(map.id)) === 'unavailable') throw new Error('idle client could not load the map');
      }
      return async () => {
        for (const s of [writer, ...subs]) close(s);
      };
    },
  };
}

import { fileURLToPath } from 'node:url';
import pg from 'pg';
import WebSocket from 'ws';
import { addDevice, decodeFrame, Device, encodeCard, encodeFrame, newDeviceKeys, openDoc, possessionProof, Replica, SyncSession, type DocHandle } from '@freehold/core';
import { MemoryStore, PostgresStore } from '@freehold/stores';
import { installNativeCrypto } from '@freehold/node';
import { ProviderLink, type WebSocketFactory } from '@freehold/client';
import { chunk, du, rssOf, startProcess, stopProcess } from '../process.js';
import { docBody, type FanoutWrite, type Loaded, type System } from '../system.js';
import { registered } from '../../accounts.js';

installNativeCrypto();
const WS = WebSocket as unknown as WebSocketFactory;
const BIN = fileURLToPath(new URL('../../../packages/cli/bin/freehold.cjs', import.meta.url));
const PG_URL = process.env.FREEHOLD_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';
const local = (port: number) => `http://127.0.0.1:${port}`;
let schemas = 0;
/** PEERS_PROFILE=DIR writes a CPU profile of each Freehold server to DIR when it stops. */
const profile = process.env.PEERS_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.PEERS_PROFILE}`] : [];

/** Writes one document edit and pushes its entry, as a connected client does. */
async function pushEdit(link: ProviderLink, h: DocHandle, fields: Record<string, unknown>): Promise<void> {
  h.merge(fields);
  const e = await h.flush();
  link.send(encodeFrame(['entries', [e!.bytes]]));
}

/** Waits for the provider's acknowledgement of one entries frame (sent after the entries are durable). */
async function acked(link: ProviderLink): Promise<void> {
  for (;;) {
    const f = decodeFrame(await link.next());
    if (f[0] !== 'ack') continue;
    if (f[2].length) throw new Error(`refused: ${f[2][0]![1]} ${f[2][0]![2]}`);
    return;
  }
}

interface Seeded {
  owner: Device;
  space: Uint8Array;
  reader: ReturnType<typeof newDeviceKeys>;
  docs: number;
}

export function freehold(store: 'sqlite' | 'postgres'): System {
  return {
    name: store === 'sqlite' ? 'Freehold (SQLite)' : 'Freehold (PostgreSQL)',

    async start(dir) {
      const schema = `fh_peers_${process.pid}_${schemas++}`;
      const args = store === 'sqlite' ? ['--data', dir] : ['--db', `${PG_URL}?schema=${schema}`];
      const { child, match } = await startProcess(process.execPath, [...profile, BIN, 'serve', '--port', '0', '--host', '127.0.0.1', '--quota', '100GiB', ...args], /"event":"start".*?"url":"([^"]+)"/);
      const url = match[1]!;
      return {
        url,
        port: Number(new URL(url).port),
        pid: child.pid!,
        rss: () => rssOf(child.pid!),
        async diskBytes() {
          if (store === 'sqlite') return du(dir);
          const client = new pg.Client({ connectionString: PG_URL });
          await client.connect();
          try {
            const r = await client.query<{ bytes: string }>(
              "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) AS bytes FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'r'",
              [schema],
            );
            return Number(r.rows[0]!.bytes);
          } finally {
            await client.end();
          }
        },
        stop: () => stopProcess(child),
        async dispose() {
          if (store !== 'postgres') return;
          const s = await PostgresStore.open(PG_URL, schema);
          await s.drop();
          await s.close();
        },
      };
    },

    // An account writes the documents into a private (encrypted) space; a new device of the account reads them.
    async seed(server, docs): Promise<Seeded> {
      const owner = await registered(server.url);
      const space = await owner.createSpace(false);
      for (let i = 0; i < docs; i++) {
        const h = await openDoc(owner, space, `doc-${i}`, { autoSnapshot: false });
        h.merge(docBody(i));
        await h.flush();
      }
      const reader = newDeviceKeys();
      addDevice(owner.identity(), owner.keys.sign, owner.currentAccountSecret(), { sign: reader.sign.publicKey, box: reader.box.publicKey, name: 'reader', proof: possessionProof(owner.account, reader) }, Date.now());
      await owner.replica.commitIdentity(owner.identity());
      const link = await ProviderLink.connect(server.url, owner, WS);
      await link.sync(owner);
      link.close();
      return { owner, space, reader, docs };
    },

    async coldLoad(port, seeded): Promise<Loaded> {
      const { owner, space, reader, docs } = seeded as Seeded;
      const store = new MemoryStore();
      await store.putCard(owner.account, encodeCard(owner.identity()));
      const device = await Device.open(store, reader, owner.account);
      const link = await ProviderLink.connect(local(port), device, WS);
      await link.sync(device);
      link.close();
      if ((await openDoc(device, space, `doc-${docs - 1}`)).toJSON().title !== docBody(docs - 1).title) throw new Error('cold sync incomplete');
      return {
        async reconnect(p) {
          const again = await ProviderLink.connect(local(p), device, WS);
          await again.sync(device);
          again.close();
          return 'synced';
        },
        async close() {},
      };
    },

    async ingest(server, clients, ms) {
      const writers = await Promise.all(
        Array.from({ length: clients }, async () => {
          const d = await registered(server.url);
          const space = await d.createSpace(false);
          const link = await ProviderLink.connect(server.url, d, WS);
          await link.sync(d);
          return { link, doc: await openDoc(d, space, 'counter', { autoSnapshot: false }) };
        }),
      );
      const window = 4;
      let total = 0;
      const t0 = performance.now();
      await Promise.all(
        writers.map(async ({ link, doc }) => {
          let inflight = 0;
          for (let i = 0; performance.now() - t0 < ms; i++) {
            await pushEdit(link, doc, { n: i });
            if (++inflight < window) continue;
            await acked(link);
            inflight--;
            total++;
          }
          for (; inflight > 0; inflight--, total++) await acked(link);
        }),
      );
      const rate = total / ((performance.now() - t0) / 1000);
      for (const w of writers) w.link.close();
      return rate;
    },

    // A public space: its readers are anonymous, like visitors of a public profile; each verifies what it gets.
    async fanout(server, port, subscribers, writes) {
      const writer = await registered(server.url);
      const space = await writer.createSpace(true);
      const wlink = await ProviderLink.connect(server.url, writer, WS);
      await wlink.sync(writer);
      const doc = await openDoc(writer, space, 'feed', { autoSnapshot: false });
      const card = encodeCard(writer.identity());
      let sentAt = 0;
      const latencies: number[] = [];
      const timed: FanoutWrite[] = [];
      let got = 0;
      const readers: ProviderLink[] = [];
      for (const group of chunk(Array.from({ length: subscribers }, (_, i) => i), 50)) {
        readers.push(
          ...(await Promise.all(
            group.map(async () => {
              const replica = await Replica.open(new MemoryStore());
              await replica.addCard(card);
              const link = await ProviderLink.connect(local(port), null, WS);
              const session = new SyncSession(replica, { account: new Uint8Array(0), peer: null, interest: [space] });
              await link.subscribe([space]);
              void link
                .watch(session, (f) => {
                  if (f[0] !== 'entries') return;
                  latencies.push(performance.now() - sentAt);
                  got++;
                })
                .catch(() => {});
              return link;
            }),
          )),
        );
      }
      for (let i = 0; i < writes; i++) {
        const target = got + subscribers;
        sentAt = performance.now();
        await pushEdit(wlink, doc, { n: i });
        await acked(wlink);
        while (got < target) await new Promise((r) => setTimeout(r, 1));
        timed.push({ sent: sentAt, delivered: performance.now() });
      }
      for (const l of [...readers, wlink]) l.close();
      return { latencies, writes: timed };
    },

    async idle(server, connections) {
      const writer = await registered(server.url);
      const space = await writer.createSpace(true);
      const wlink = await ProviderLink.connect(server.url, writer, WS);
      await wlink.sync(writer);
      wlink.close();
      const links: ProviderLink[] = [];
      for (const group of chunk(Array.from({ length: connections }, (_, i) => i), 100)) {
        links.push(
          ...(await Promise.all(
            group.map(async () => {
              const link = await ProviderLink.connect(server.url, null, WS);
              await link.subscribe([space]);
              return link;
            }),
          )),
        );
      }
      return async () => {
        for (const l of links) l.close();
      };
    },
  };
}

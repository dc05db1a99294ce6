import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import type { Store } from '@freehold/core';
import { PostgresStore, SqliteStore } from '@freehold/stores';
import { FaultProxy } from '../../../test-support/fault-proxy.js';
import { freePort } from '../../../test-support/net.js';
import { PG_URL } from './helpers.js';
import { spawnServer } from './process.js';

type Server = Awaited<ReturnType<typeof spawnServer>>;

/** Providers running now: killed if the test process exits without stopping them (a test that timed out). */
const running = new Set<Server>();
process.once('exit', () => {
  for (const s of running) s.child.kill('SIGKILL');
});

/** Ports handed out here: a provider's port stays free while it is down, and must not go to another node. */
const handedOut = new Set<number>();
async function unusedPort(): Promise<number> {
  for (;;) {
    const port = await freePort();
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
}

/** Where a provider keeps its data: a SQLite folder or a PostgreSQL schema of the test database. */
export type NodeStorage = { dir: string } | { schema: string };

/**
 * One `freehold serve` process behind a fault-injecting proxy. The proxy's address is the provider's public URL,
 * so identity logs name it and other providers reach this one through it. The provider can be killed and
 * started again on the same port, and its store read while it runs or after it stopped.
 */
export class ProviderNode {
  private server: Server | undefined;
  /** What earlier runs of the process wrote. */
  private past = '';

  private constructor(
    readonly name: string,
    private readonly port: number,
    readonly proxy: FaultProxy,
    readonly storage: NodeStorage,
  ) {}

  static async create(name: string, storage: NodeStorage, random: () => number): Promise<ProviderNode> {
    const port = await unusedPort();
    return new ProviderNode(name, port, await FaultProxy.start(await unusedPort(), port, random), storage);
  }

  /** The provider's canonical URL: its proxy. */
  get url(): string {
    return this.proxy.url;
  }

  /** The provider itself, not through the proxy (it answers under any of its names). */
  get directUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.server !== undefined;
  }

  /** Where the running process serves GET /metrics, if it was started with `--metrics`. */
  get metricsUrl(): string | undefined {
    return this.server?.metricsUrl;
  }

  /** Starts the process, with `flags` besides the port, URL and storage. */
  async start(flags: string[] = []): Promise<void> {
    const store = 'dir' in this.storage ? ['--data', this.storage.dir] : ['--db', `${PG_URL}?schema=${this.storage.schema}`];
    this.server = await spawnServer(['--port', String(this.port), '--public-url', this.url, ...store, ...flags]);
    running.add(this.server);
  }

  /** Stops the process: SIGKILL for a crash, SIGTERM for a clean stop. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    running.delete(s);
    // A provider must exit promptly when told to; one that hangs is killed and reported.
    let hung = false;
    const guard = setTimeout(() => {
      hung = true;
      s.child.kill('SIGKILL');
    }, 15_000);
    await s.stop(signal);
    clearTimeout(guard);
    this.past += `${s.output()}--- stopped with ${hung ? `${signal}, then SIGKILL after 15 s` : signal}\n`;
    if (hung) throw new Error(`${this.name} did not exit within 15 s of ${signal}:\n${s.output().split('\n').slice(-20).join('\n')}`);
  }

  /** What every run of the process wrote (its JSON log). */
  output(): string {
    return this.past + (this.server?.output() ?? '');
  }

  /** Ids (hex) of the entries the store holds in a space, read beside the running provider. */
  async peek(space: Uint8Array): Promise<Set<string>> {
    if ('dir' in this.storage) {
      const db = new Database(join(this.storage.dir, 'provider.db'), { readonly: true, fileMustExist: true });
      try {
        const ids = db.prepare('SELECT id FROM entries WHERE space = (SELECT n FROM refs WHERE value = ?)').pluck().all(Buffer.from(space)) as Buffer[];
        return new Set(ids.map((b) => b.toString('hex')));
      } catch {
        return new Set(); // not created yet
      } finally {
        db.close();
      }
    }
    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    try {
      const { rows } = await client.query(`SELECT id FROM ${this.storage.schema}.entries WHERE space = $1`, [Buffer.from(space)]);
      return new Set((rows as { id: Buffer }[]).map((r) => r.id.toString('hex')));
    } catch {
      return new Set();
    } finally {
      await client.end();
    }
  }

  /** The provider's store through the Store interface, once the provider has stopped. */
  async openStore(): Promise<Store> {
    if ('dir' in this.storage) return new SqliteStore(join(this.storage.dir, 'provider.db'));
    return PostgresStore.open(PG_URL, this.storage.schema);
  }

  /** Stops the provider and the proxy, and drops a PostgreSQL schema (even if the provider would not stop). */
  async dispose(): Promise<void> {
    try {
      await this.stop();
    } finally {
      await this.proxy.close();
      if ('schema' in this.storage) {
        const s = await PostgresStore.open(PG_URL, this.storage.schema);
        await s.drop();
        await s.close();
      }
    }
  }
}
